/*
 * N-API binding to the system libdeflate (Debian package libdeflate-dev): whole-buffer gzip
 * compression and decompression, run on the libuv thread pool so the JavaScript thread
 * keeps streaming meanwhile. The streams in packages/core/src/pipeline/gzip.ts use it:
 * compression writes one complete gzip member per block (concatenated members are one
 * valid gzip file for gunzip, zcat and Node's zlib); decompression reads such members back
 * one by one.
 *
 * A compressor or decompressor belongs to one stream, which runs at most one call at a
 * time; each call holds references to it and to its buffers, so none of them is collected
 * while a thread uses them.
 */
#include <libdeflate.h>
#include <node_api.h>
#include <stdlib.h>

#define CHECK(env, call)                                         \
  do {                                                           \
    if ((call) != napi_ok) {                                     \
      napi_throw_error((env), NULL, "napi call failed: " #call); \
      return NULL;                                               \
    }                                                            \
  } while (0)

/* ---- shared plumbing ------------------------------------------------------------------ */

/* The references and work item every asynchronous call holds; first member of each job. */
typedef struct {
  napi_async_work work;
  napi_ref callback;
  napi_ref refs[3]; /* the (de)compressor and the buffers in use; unused ones stay NULL */
} Call;

static napi_value wrap_external(napi_env env, void *data, napi_finalize finalize) {
  napi_value external;
  if (napi_create_external(env, data, finalize, NULL, &external) != napi_ok) {
    finalize(env, data, NULL);
    napi_throw_error(env, NULL, "napi_create_external failed");
    return NULL;
  }
  return external;
}

/* Holds `values` (the callback last) and queues the work. Returns false with an exception set on failure. */
static bool start_call(napi_env env, Call *call, const char *name, napi_value *values, size_t count, napi_value callback,
                       napi_async_execute_callback execute, napi_async_complete_callback complete) {
  napi_value resource_name;
  for (size_t i = 0; i < count; i++)
    if (napi_create_reference(env, values[i], 1, &call->refs[i]) != napi_ok) goto fail;
  if (napi_create_reference(env, callback, 1, &call->callback) != napi_ok) goto fail;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok) goto fail;
  if (napi_create_async_work(env, NULL, resource_name, execute, complete, call, &call->work) != napi_ok) goto fail;
  if (napi_queue_async_work(env, call->work) != napi_ok) goto fail;
  return true;
fail:
  for (size_t i = 0; i < count; i++)
    if (call->refs[i]) napi_delete_reference(env, call->refs[i]);
  if (call->callback) napi_delete_reference(env, call->callback);
  if (call->work) napi_delete_async_work(env, call->work);
  napi_throw_error(env, NULL, "could not start the libdeflate call");
  return false;
}

/* Releases the call (and frees `job`, whose first member it is), then calls back with argv. */
static void finish_call(napi_env env, Call *call, void *job, size_t argc, napi_value *argv) {
  napi_value callback, global;
  napi_get_reference_value(env, call->callback, &callback);
  napi_get_global(env, &global);
  for (size_t i = 0; i < sizeof(call->refs) / sizeof(call->refs[0]); i++)
    if (call->refs[i]) napi_delete_reference(env, call->refs[i]);
  napi_delete_reference(env, call->callback);
  napi_delete_async_work(env, call->work);
  free(job);
  napi_call_function(env, global, callback, argc, argv, NULL);
}

static napi_value error_value(napi_env env, const char *text) {
  napi_value msg, err;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  return err;
}

/* ---- compression ---------------------------------------------------------------------- */

static void free_compressor(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  libdeflate_free_compressor(data);
}

/* createCompressor(level: number): External */
static napi_value create_compressor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t level;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &level) != napi_ok || level < 0 || level > 12) {
    napi_throw_range_error(env, NULL, "level must be an integer 0..12");
    return NULL;
  }
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
  if (!c) {
    napi_throw_error(env, NULL, "libdeflate_alloc_compressor failed");
    return NULL;
  }
  return wrap_external(env, c, free_compressor);
}

typedef struct {
  Call call;
  struct libdeflate_compressor *compressor;
  const uint8_t *input;
  size_t input_len;
  uint8_t *output;
  size_t output_len;
} GzipJob;

static void gzip_execute(napi_env env, void *data) {
  (void)env;
  GzipJob *job = data;
  size_t bound = libdeflate_gzip_compress_bound(job->compressor, job->input_len);
  job->output = malloc(bound);
  if (job->output) job->output_len = libdeflate_gzip_compress(job->compressor, job->input, job->input_len, job->output, bound);
}

static void gzip_complete(napi_env env, napi_status status, void *data) {
  GzipJob *job = data;
  napi_value argv[2];
  napi_get_undefined(env, &argv[0]);
  napi_get_undefined(env, &argv[1]);
  if (status != napi_ok) {
    argv[0] = error_value(env, "libdeflate: work was cancelled");
  } else if (!job->output) {
    argv[0] = error_value(env, "libdeflate: out of memory");
  } else if (job->output_len == 0) {
    argv[0] = error_value(env, "libdeflate: output did not fit its bound");
  } else {
    /* A copy at the exact size: the bound is larger than the output, and holding the
       malloc'd block alive through an external buffer would keep that slack. A failed copy
       must be an error: a missing member would still leave valid gzip behind. */
    void *copy;
    if (napi_create_buffer_copy(env, job->output_len, job->output, &copy, &argv[1]) != napi_ok) {
      napi_get_undefined(env, &argv[1]);
      argv[0] = error_value(env, "libdeflate: could not allocate the output buffer");
    }
  }
  free(job->output);
  finish_call(env, &job->call, job, 2, argv);
}

/* gzipCompress(compressor: External, input: Buffer, callback: (err, out) => void): void */
static napi_value gzip_compress(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *compressor, *input;
  size_t input_len;
  bool is_buffer = false;
  napi_valuetype cb_type = napi_undefined;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_external(env, argv[0], &compressor) != napi_ok ||
      napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer || napi_typeof(env, argv[2], &cb_type) != napi_ok ||
      cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "gzipCompress(compressor, buffer, callback)");
    return NULL;
  }
  CHECK(env, napi_get_buffer_info(env, argv[1], &input, &input_len));
  GzipJob *job = calloc(1, sizeof(GzipJob));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->compressor = compressor;
  job->input = input;
  job->input_len = input_len;
  if (!start_call(env, &job->call, "libdeflate.gzip", argv, 2, argv[2], gzip_execute, gzip_complete)) free(job);
  return NULL;
}

/* ---- decompression -------------------------------------------------------------------- */

/* Upper bound for sizes passed in as doubles (also rejects NaN through the comparisons). */
#define MAX_SIZE ((double)(1u << 30))

static void free_decompressor(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  libdeflate_free_decompressor(data);
}

/* createDecompressor(): External */
static napi_value create_decompressor(napi_env env, napi_callback_info info) {
  (void)info;
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (!d) {
    napi_throw_error(env, NULL, "libdeflate_alloc_decompressor failed");
    return NULL;
  }
  return wrap_external(env, d, free_decompressor);
}

typedef struct {
  Call call;
  struct libdeflate_decompressor *decompressor;
  const uint8_t *input;
  size_t input_len;
  uint8_t *output;
  size_t output_len;
  size_t member_bytes, max_member_in;
  bool final;
  size_t consumed, produced;
  enum libdeflate_result result;
} GunzipJob;

/*
 * Whole gzip members, one after the other, while there is room in the output for one more
 * member of `member_bytes` and the input left holds at least `max_member_in` bytes (so a
 * member is never cut off by the end of the buffer), or, when `final`, until the input is
 * used up: then a truncated last member is an error, as is anything after the last member.
 * Each member's CRC-32 and length are checked by libdeflate.
 */
static void gunzip_execute(napi_env env, void *data) {
  (void)env;
  GunzipJob *job = data;
  job->result = LIBDEFLATE_SUCCESS;
  while (job->consumed < job->input_len) {
    size_t in_left = job->input_len - job->consumed;
    size_t out_left = job->output_len - job->produced;
    if (!job->final && in_left < job->max_member_in) break;
    if (out_left < job->member_bytes) break;
    size_t in_used = 0, out_used = 0;
    /* Room for exactly one recorded member: a larger member is refused wherever it falls. */
    job->result = libdeflate_gzip_decompress_ex(job->decompressor, job->input + job->consumed, in_left,
                                                job->output + job->produced, job->member_bytes, &in_used, &out_used);
    if (job->result != LIBDEFLATE_SUCCESS) return;
    job->consumed += in_used;
    job->produced += out_used;
  }
}

static void gunzip_complete(napi_env env, napi_status status, void *data) {
  GunzipJob *job = data;
  napi_value argv[3];
  napi_get_undefined(env, &argv[0]);
  napi_get_undefined(env, &argv[1]);
  napi_get_undefined(env, &argv[2]);
  if (status != napi_ok) {
    argv[0] = error_value(env, "libdeflate: work was cancelled");
  } else if (job->result == LIBDEFLATE_INSUFFICIENT_SPACE) {
    argv[0] = error_value(env, "invalid gzip data: a member truncated, corrupt or larger than its recorded size");
  } else if (job->result != LIBDEFLATE_SUCCESS) {
    argv[0] = error_value(env, "invalid or truncated gzip data");
  } else {
    napi_create_double(env, (double)job->consumed, &argv[1]);
    napi_create_double(env, (double)job->produced, &argv[2]);
  }
  finish_call(env, &job->call, job, 3, argv);
}

/* gunzipMembers(decompressor, input, output, memberBytes, maxMemberIn, final, callback(err, consumed, produced)) */
static napi_value gunzip_members(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  void *decompressor, *input, *output;
  size_t input_len, output_len;
  bool in_buf = false, out_buf = false, final = false;
  double member_bytes = 0, max_member_in = 0;
  napi_valuetype cb_type = napi_undefined;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7 || napi_get_value_external(env, argv[0], &decompressor) != napi_ok ||
      napi_is_buffer(env, argv[1], &in_buf) != napi_ok || !in_buf || napi_is_buffer(env, argv[2], &out_buf) != napi_ok ||
      !out_buf || napi_get_value_double(env, argv[3], &member_bytes) != napi_ok || !(member_bytes >= 1 && member_bytes <= MAX_SIZE) ||
      napi_get_value_double(env, argv[4], &max_member_in) != napi_ok || !(max_member_in >= 1 && max_member_in <= MAX_SIZE) ||
      napi_get_value_bool(env, argv[5], &final) != napi_ok || napi_typeof(env, argv[6], &cb_type) != napi_ok ||
      cb_type != napi_function) {
    napi_throw_type_error(env, NULL,
                          "gunzipMembers(decompressor, input, output, memberBytes, maxMemberIn, final, callback)");
    return NULL;
  }
  CHECK(env, napi_get_buffer_info(env, argv[1], &input, &input_len));
  CHECK(env, napi_get_buffer_info(env, argv[2], &output, &output_len));
  GunzipJob *job = calloc(1, sizeof(GunzipJob));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->decompressor = decompressor;
  job->input = input;
  job->input_len = input_len;
  job->output = output;
  job->output_len = output_len;
  job->member_bytes = (size_t)member_bytes;
  job->max_member_in = (size_t)max_member_in;
  job->final = final;
  if (!start_call(env, &job->call, "libdeflate.gunzip", argv, 3, argv[6], gunzip_execute, gunzip_complete)) free(job);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"createCompressor", NULL, create_compressor, NULL, NULL, NULL, napi_default, NULL},
      {"gzipCompress", NULL, gzip_compress, NULL, NULL, NULL, napi_default, NULL},
      {"createDecompressor", NULL, create_decompressor, NULL, NULL, NULL, napi_default, NULL},
      {"gunzipMembers", NULL, gunzip_members, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
