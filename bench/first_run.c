/* Loads a .tsl through the C API alone, creates a session, runs it once on seeded inputs, and
 * prints load and first-run times as JSON: what an app embedding libtessel_runtime pays, and,
 * run under an RSS probe, the runtime's peak memory (no compiler linked in).
 * Usage: tessel_first_run MODEL.tsl [THREADS] */
#include "tessel/tessel.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double nowMs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int fail(tessel_status s) {
  fprintf(stderr, "tessel_first_run: %s\n", tessel_status_get_message(s));
  tessel_status_free(s);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: tessel_first_run MODEL.tsl [THREADS]\n");
    return 2;
  }
  const double t0 = nowMs();
  tessel_model* model = NULL;
  tessel_status s = tessel_model_load_file(argv[1], &model);
  if (s) return fail(s);
  tessel_session_options opts;
  tessel_session_options_init(&opts);
  opts.threads = argc > 2 ? atoi(argv[2]) : 1;
  tessel_session* session = NULL;
  if ((s = tessel_session_create(model, &opts, &session))) return fail(s);
  const double t1 = nowMs();
  unsigned seed = 1234;
  for (size_t i = 0; i < tessel_model_input_count(model); ++i) {
    tessel_tensor_info info;
    if ((s = tessel_model_input_info(model, i, &info))) return fail(s);
    unsigned char* bytes = calloc(info.byte_size ? info.byte_size : 1, 1);
    if (!bytes) return 1;
    if (info.dtype == TESSEL_DTYPE_F32)
      for (size_t k = 0; k < info.byte_size / 4; ++k) {
        seed = seed * 1103515245u + 12345u;
        ((float*)bytes)[k] = (float)(seed >> 8) / 8388608.f - 1.f;
      }
    s = tessel_session_set_input(session, i, bytes, info.byte_size);
    free(bytes);
    if (s) return fail(s);
  }
  if ((s = tessel_session_run(session))) return fail(s);
  const double t2 = nowMs();
  printf("{\"load_ms\": %.3f, \"first_run_ms\": %.3f, \"load_and_first_ms\": %.3f}\n", t1 - t0,
         t2 - t1, t2 - t0);
  tessel_session_release(session);
  tessel_model_release(model);
  return 0;
}
