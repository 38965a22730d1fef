/* A C program linked against libtessel_runtime only: it runs a model that plans at run time
 * (a Reshape whose shape is an input), which makes the runtime load libtessel_graph on demand,
 * at two shapes, and checks outputs and shapes. Usage: dynamic_model MODEL.tsl */
#include "tessel/tessel.h"

#include <stdio.h>
#include <string.h>

static int check(tessel_status s, const char* what) {
  if (!s) return 1;
  fprintf(stderr, "%s: %s\n", what, tessel_status_get_message(s));
  tessel_status_free(s);
  return 0;
}

/* Runs data [2,3,4] reshaped to (rows, cols); 1 when output and shape are right. */
static int reshape(tessel_session* session, int64_t rows, int64_t cols) {
  float data[24];
  for (int i = 0; i < 24; ++i) data[i] = (float)i * 0.5f - 3.0f;
  const int64_t dataDims[3] = {2, 3, 4}, shapeDims[1] = {2}, shape[2] = {rows, cols};
  if (!check(tessel_session_set_input_shape(session, 0, dataDims, 3), "shape of data") ||
      !check(tessel_session_set_input(session, 0, data, sizeof data), "data") ||
      !check(tessel_session_set_input_shape(session, 1, shapeDims, 1), "shape of shape") ||
      !check(tessel_session_set_input(session, 1, shape, sizeof shape), "shape") ||
      !check(tessel_session_run(session), "run"))
    return 0;
  const void* out = NULL;
  size_t size = 0, rank = 0;
  int64_t dims[4];
  if (!check(tessel_session_get_output(session, 0, &out, &size), "output") ||
      !check(tessel_session_get_output_shape(session, 0, dims, 4, &rank), "output shape"))
    return 0;
  if (rank != 2 || dims[0] != rows || dims[1] != cols || size != sizeof data ||
      memcmp(out, data, sizeof data) != 0) {
    fprintf(stderr, "wrong output for (%lld, %lld)\n", (long long)rows, (long long)cols);
    return 0;
  }
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  tessel_model* model = NULL;
  if (!check(tessel_model_load_file(argv[1], &model), "load")) return 1;
  tessel_tensor_info info;
  if (tessel_model_input_count(model) != 2 ||
      !check(tessel_model_input_info(model, 1, &info), "input info") || info.rank != 1 ||
      info.dims[0] != 2) {
    fprintf(stderr, "unexpected inputs\n");
    return 1;
  }
  tessel_session* session = NULL;
  if (!check(tessel_session_create(model, NULL, &session), "session")) return 1;
  /* An input whose shape was not set for its current shape is refused, as is a wrong size. */
  tessel_status early = tessel_session_run(session);
  if (tessel_status_get_code(early) != TESSEL_INVALID_ARGUMENT) return 1;
  tessel_status_free(early);
  int ok = reshape(session, 2, 12) && reshape(session, 4, 6) && reshape(session, 2, 12);
  tessel_session_release(session);
  tessel_model_release(model);
  if (ok) printf("dynamic model through the C API: ok\n");
  return ok ? 0 : 1;
}
