/* Sequence and optional inputs and outputs through the C API, from a C program linked against the
 * runtime only. Usage: sequence_model SEQUENCE_INSERT.tsl OPTIONAL_HAS_ELEMENT.tsl
 * (ONNX's test_sequence_insert_at_back: a sequence of int64 tensors and an int64[3] tensor in,
 * the sequence with the tensor appended out; test_optional_has_element_empty: an optional float
 * scalar in, whether it has a value out). Prints nothing on success. */
#include "tessel/tessel.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define EXPECT(cond)                                                                               \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                          \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

/* The call succeeds; otherwise its message is printed and counted. */
static void ok(tessel_status s, const char* what) {
  if (!s) return;
  fprintf(stderr, "%s: %s\n", what, tessel_status_get_message(s));
  tessel_status_free(s);
  ++failures;
}

/* The call fails with a message containing `needle`. */
static void fails(tessel_status s, const char* needle, const char* what) {
  if (!s) {
    fprintf(stderr, "%s: succeeded, expected an error containing '%s'\n", what, needle);
    ++failures;
    return;
  }
  if (!strstr(tessel_status_get_message(s), needle)) {
    fprintf(stderr, "%s: '%s' lacks '%s'\n", what, tessel_status_get_message(s), needle);
    ++failures;
  }
  tessel_status_free(s);
}

/* Output 0's tensor k is `want` (n int64 values, shape [n]). */
static void expectItem(tessel_session* s, size_t k, const int64_t* want, size_t n) {
  const void* data = NULL;
  size_t size = 0, rank = 9;
  int64_t dims[4] = {0};
  ok(tessel_session_get_output_item(s, 0, k, &data, &size), "get_output_item");
  ok(tessel_session_get_output_item_shape(s, 0, k, dims, 4, &rank), "get_output_item_shape");
  EXPECT(rank == 1 && dims[0] == (int64_t)n);
  EXPECT(size == n * sizeof(int64_t));
  if (data && size == n * sizeof(int64_t)) EXPECT(memcmp(data, want, size) == 0);
}

static void sequenceInsert(const char* path) {
  tessel_model* m = NULL;
  ok(tessel_model_load_file(path, &m), "load");
  if (!m) return;
  tessel_value_kind kind = TESSEL_VALUE_TENSOR;
  ok(tessel_model_input_kind(m, 0, &kind), "input_kind 0");
  EXPECT(kind == TESSEL_VALUE_SEQUENCE);
  ok(tessel_model_input_kind(m, 1, &kind), "input_kind 1");
  EXPECT(kind == TESSEL_VALUE_TENSOR);
  ok(tessel_model_output_kind(m, 0, &kind), "output_kind 0");
  EXPECT(kind == TESSEL_VALUE_SEQUENCE);
  fails(tessel_model_input_kind(m, 2, &kind), "out of range", "input_kind 2");

  tessel_session* s = NULL;
  ok(tessel_session_create(m, NULL, &s), "session");
  if (!s) {
    tessel_model_release(m);
    return;
  }
  const int64_t a[3] = {1, 2, 3}, b[2] = {4, 5}, t[3] = {7, 8, 9};
  const int64_t shapeA[1] = {3}, shapeB[1] = {2};
  const int64_t* dims[2] = {shapeA, shapeB};
  const size_t ranks[2] = {1, 1}, sizes[2] = {sizeof a, sizeof b};
  const void* data[2] = {a, b};

  /* The plain setters and getters refuse the sequence, naming what to use instead. */
  fails(tessel_session_set_input(s, 0, a, sizeof a), "tessel_session_set_input_items",
        "set_input on a sequence");
  fails(tessel_session_set_input_items(s, 1, 1, dims, ranks, data, sizes), "is a tensor",
        "set_input_items on a tensor");
  fails(tessel_session_run(s), "was not set", "run before the sequence is set");
  fails(tessel_session_set_input_items(s, 0, TESSEL_NO_VALUE, NULL, NULL, NULL, NULL),
        "needs a value", "no value for a sequence");
  const size_t wrongSizes[2] = {sizeof a, sizeof a};
  fails(tessel_session_set_input_items(s, 0, 2, dims, ranks, data, wrongSizes), "takes 16 bytes",
        "a tensor of the wrong size");

  ok(tessel_session_set_input_items(s, 0, 2, dims, ranks, data, sizes), "set_input_items");
  ok(tessel_session_set_input(s, 1, t, sizeof t), "set_input 1");
  ok(tessel_session_run(s), "run");
  size_t count = 0;
  ok(tessel_session_get_output_item_count(s, 0, &count), "item_count");
  EXPECT(count == 3);
  expectItem(s, 0, a, 3);
  expectItem(s, 1, b, 2);
  expectItem(s, 2, t, 3);
  const void* out = NULL;
  size_t size = 0;
  fails(tessel_session_get_output(s, 0, &out, &size), "tessel_session_get_output_item",
        "get_output on a sequence");
  fails(tessel_session_get_output_item(s, 0, 3, &out, &size), "holds 3 tensors",
        "an item past the end");

  /* An empty sequence: the output holds the tensor alone (a new plan). */
  ok(tessel_session_set_input_items(s, 0, 0, NULL, NULL, NULL, NULL), "empty sequence");
  ok(tessel_session_run(s), "run empty");
  ok(tessel_session_get_output_item_count(s, 0, &count), "item_count empty");
  EXPECT(count == 1);
  expectItem(s, 0, t, 3);

  tessel_session_release(s);
  tessel_model_release(m);
}

static void optionalHasElement(const char* path) {
  tessel_model* m = NULL;
  ok(tessel_model_load_file(path, &m), "load optional");
  if (!m) return;
  tessel_value_kind kind = TESSEL_VALUE_TENSOR;
  ok(tessel_model_input_kind(m, 0, &kind), "input_kind optional");
  EXPECT(kind == TESSEL_VALUE_OPTIONAL);
  tessel_session* s = NULL;
  ok(tessel_session_create(m, NULL, &s), "session optional");
  if (!s) {
    tessel_model_release(m);
    return;
  }
  const float x = 1.5f;
  const int64_t* dims[2] = {NULL, NULL};
  const size_t ranks[2] = {0, 0}, sizes[2] = {sizeof x, sizeof x};
  const void* data[2] = {&x, &x};
  fails(tessel_session_set_input_items(s, 0, 2, dims, ranks, data, sizes), "one tensor at most",
        "two tensors for an optional");
  for (int present = 0; present < 2; ++present) {
    if (present)
      ok(tessel_session_set_input_items(s, 0, 1, dims, ranks, data, sizes), "optional value");
    else
      ok(tessel_session_set_input_items(s, 0, TESSEL_NO_VALUE, NULL, NULL, NULL, NULL),
         "optional without a value");
    ok(tessel_session_run(s), "run optional");
    const void* out = NULL;
    size_t size = 0;
    ok(tessel_session_get_output(s, 0, &out, &size), "has_element output");
    EXPECT(size == 1);
    if (out && size == 1) EXPECT(*(const uint8_t*)out == (present ? 1 : 0));
  }
  tessel_session_release(s);
  tessel_model_release(m);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SEQUENCE_INSERT.tsl OPTIONAL_HAS_ELEMENT.tsl\n", argv[0]);
    return 2;
  }
  sequenceInsert(argv[1]);
  optionalHasElement(argv[2]);
  return failures ? 1 : 0;
}
