/* Tessel runtime C API. Every fallible call returns a tessel_status: NULL on success, otherwise
 * an object the caller frees with tessel_status_free. Every handle has a create/release pair.
 * No exception crosses this boundary. */
#ifndef TESSEL_TESSEL_H_
#define TESSEL_TESSEL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessel_status_s* tessel_status;
typedef struct tessel_model_s tessel_model;
typedef struct tessel_session_s tessel_session;

typedef enum {
  TESSEL_OK = 0,
  TESSEL_INVALID_ARGUMENT = 1,
  TESSEL_UNSUPPORTED = 2,
  TESSEL_CORRUPT = 3,
  TESSEL_NOT_FOUND = 4,
  TESSEL_IO = 5,
  TESSEL_INTERNAL = 6,
  TESSEL_RESOURCE_EXHAUSTED = 7
} tessel_status_code;

typedef enum {
  TESSEL_DTYPE_UNDEFINED = 0,
  TESSEL_DTYPE_F32 = 1,
  TESSEL_DTYPE_U8 = 2,
  TESSEL_DTYPE_I8 = 3,
  TESSEL_DTYPE_I32 = 4,
  TESSEL_DTYPE_I64 = 5,
  TESSEL_DTYPE_BOOL = 6,
  TESSEL_DTYPE_F64 = 7,
  TESSEL_DTYPE_F16 = 8,  /* IEEE binary16, 2 bytes */
  TESSEL_DTYPE_BF16 = 9, /* bfloat16: the upper 16 bits of an f32 */
  TESSEL_DTYPE_I16 = 10,
  TESSEL_DTYPE_U16 = 11,
  TESSEL_DTYPE_U32 = 12,
  TESSEL_DTYPE_U64 = 13
} tessel_dtype;

tessel_status_code tessel_status_get_code(tessel_status status);
const char* tessel_status_get_message(tessel_status status);
void tessel_status_free(tessel_status status);

/* Loads a .tsl artifact (read into memory the model owns, verified; the file is kept open). */
tessel_status tessel_model_load_file(const char* path, tessel_model** out_model);
/* Loads from bytes the call copies; `data` may be freed when it returns. */
tessel_status tessel_model_load_memory(const void* data, size_t size, tessel_model** out_model);
/* Loads from bytes read in place, without a copy: the caller keeps them alive and unchanged until
 * tessel_model_release. `data` must be 64-byte aligned (constants are used where they lie). */
tessel_status tessel_model_load_memory_borrowed(const void* data, size_t size,
                                                tessel_model** out_model);
void tessel_model_release(tessel_model* model);

typedef struct {
  const char* name; /* valid while the model lives */
  tessel_dtype dtype;
  size_t rank;
  const int64_t* dims; /* valid while the model lives */
  size_t byte_size;
} tessel_tensor_info;

size_t tessel_model_input_count(const tessel_model* model);
size_t tessel_model_output_count(const tessel_model* model);
tessel_status tessel_model_input_info(const tessel_model* model, size_t index,
                                      tessel_tensor_info* out);
tessel_status tessel_model_output_info(const tessel_model* model, size_t index,
                                       tessel_tensor_info* out);

/* Grows at the end only: struct_size tells the library which fields the caller knows, so a
 * program built against an older header keeps working. Fill it with tessel_session_options_init
 * before setting fields. */
typedef struct {
  size_t struct_size;  /* sizeof(tessel_session_options) as the caller compiled it */
  const char* backend; /* NULL or "" = the artifact's plan; otherwise preferred where it can */
  int32_t threads; /* kernel threads, the caller included; 0 = every core this process may use */
  /* Bytes the session's arenas (tensors, workspace) may take; 0 = half the physical memory. A
   * model needing more fails in tessel_session_create with TESSEL_RESOURCE_EXHAUSTED before
   * anything is allocated. With either search, when set, the plan also keeps its weights plus its
   * arenas within it, taking leaner kernels (and plain layouts) where the fastest need more
   * (docs/search.md, Memory). */
  int64_t memory_budget;
  /* TESSEL_PRECISION_F32 (0, the default): values kept as the model's dtypes say.
   * TESSEL_PRECISION_F16_STORAGE: a GPU backend may keep f32 weights and tensors as IEEE half
   * where its device reads them, computing in f32 (results to about rtol 1e-2). */
  int32_t precision;
  /* How backends and kernels are chosen (docs/search.md): TESSEL_SEARCH_OFF (0, the default) the
   * artifact's plan, first fit for the rest; TESSEL_SEARCH_MODEL the cost model over every
   * backend's kernels; TESSEL_SEARCH_MEASURE the same with each candidate timed on this device
   * when the model is first prepared (seconds; keep them in profile_cache). */
  int32_t search;
  /* With TESSEL_SEARCH_MEASURE: a profile cache file to take times from and add new ones to
   * (NULL or "" = measure every time, keep nothing); with either search, its kernels' fitted
   * lines calibrate the estimates of what is not measured. */
  const char* profile_cache;
  /* With either search: the bytes of weights the kernels may keep (packed or transformed copies,
   * else the constants they read in place); the search takes slower, leaner kernels where the
   * fastest keep more (docs/search.md, Memory). 0 = no bound. A plan that cannot fit fails
   * with TESSEL_RESOURCE_EXHAUSTED. */
  int64_t weight_budget;
} tessel_session_options;

enum { TESSEL_PRECISION_F32 = 0, TESSEL_PRECISION_F16_STORAGE = 1 };
enum { TESSEL_SEARCH_OFF = 0, TESSEL_SEARCH_MODEL = 1, TESSEL_SEARCH_MEASURE = 2 };

void tessel_session_options_init(tessel_session_options* options);

/* Sessions of one model share its prepared kernels (packed weights); each session has its own
 * arena and may run on its own thread. `options` may be NULL (defaults). */
tessel_status tessel_session_create(const tessel_model* model,
                                    const tessel_session_options* options,
                                    tessel_session** out_session);
void tessel_session_release(tessel_session* session);
/* Sets the shape input `index` has from now on, for models whose input dims are known only at
 * run time (-1 in tessel_model_input_info's dims; docs/dynamic-shapes.md). Call it before
 * tessel_session_set_input when the shape changes; a run with a new shape plans again (recent
 * plans are cached). On a compiled model only the fixed shape is accepted. */
tessel_status tessel_session_set_input_shape(tessel_session* session, size_t index,
                                             const int64_t* dims, size_t rank);
/* Copies `size` bytes (exactly the input's byte size, for its current shape) into input `index`. */
tessel_status tessel_session_set_input(tessel_session* session, size_t index, const void* data,
                                       size_t size);
tessel_status tessel_session_run(tessel_session* session);
/* Points at output `index`; valid until the next run or the session's release. */
tessel_status tessel_session_get_output(const tessel_session* session, size_t index,
                                        const void** data, size_t* size);
/* Output `index`'s shape after the last run: its rank in *rank, its dims in dims[0..rank) when
 * `capacity` (the length of dims) holds them (an error otherwise, *rank still set). */
tessel_status tessel_session_get_output_shape(const tessel_session* session, size_t index,
                                              int64_t* dims, size_t capacity, size_t* rank);
/* Sequence and optional inputs and outputs (ONNX's sequence and optional types), on models that
 * plan at run time: an input or output holds a tensor, or a list of tensors of the dtype its
 * info gives (its dims and byte size are then empty and 0). */
typedef enum {
  TESSEL_VALUE_TENSOR = 0,
  TESSEL_VALUE_SEQUENCE = 1,          /* any number of tensors */
  TESSEL_VALUE_OPTIONAL = 2,          /* one tensor, or none */
  TESSEL_VALUE_OPTIONAL_SEQUENCE = 3, /* a sequence, or none */
} tessel_value_kind;
tessel_status tessel_model_input_kind(const tessel_model* model, size_t index,
                                      tessel_value_kind* kind);
tessel_status tessel_model_output_kind(const tessel_model* model, size_t index,
                                       tessel_value_kind* kind);
/* Sets a sequence or optional input's tensors for the next runs: `count` of them, tensor k with
 * ranks[k] dims at dims[k] and sizes[k] bytes at data[k] (copied; exactly its byte size). An
 * optional takes 0 or 1; TESSEL_NO_VALUE as `count` gives an optional (or optional sequence) no
 * value. The plain setters refuse these inputs, and this one refuses tensor inputs. */
#define TESSEL_NO_VALUE ((size_t)-1)
tessel_status tessel_session_set_input_items(tessel_session* session, size_t index, size_t count,
                                             const int64_t* const* dims, const size_t* ranks,
                                             const void* const* data, const size_t* sizes);
/* After a run, a sequence or optional output: how many tensors it holds in *count (0 for an
 * optional without a value), then tensor `item`'s bytes (valid until the next run or the
 * session's release) and shape (as tessel_session_get_output_shape). The plain getters refuse
 * these outputs. */
tessel_status tessel_session_get_output_item_count(const tessel_session* session, size_t index,
                                                   size_t* count);
tessel_status tessel_session_get_output_item(const tessel_session* session, size_t index,
                                             size_t item, const void** data, size_t* size);
tessel_status tessel_session_get_output_item_shape(const tessel_session* session, size_t index,
                                                   size_t item, int64_t* dims, size_t capacity,
                                                   size_t* rank);
/* Bytes of the session's planned arenas, all memory spaces (peak memory for intermediate tensors
 * and kernel workspace). */
int64_t tessel_session_arena_bytes(const tessel_session* session);
/* The thread count the session runs kernels with. */
int32_t tessel_session_threads(const tessel_session* session);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSEL_TESSEL_H_ */
