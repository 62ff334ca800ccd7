/*
 * N-API binding for libdeflate's whole-buffer gzip compressor and decompressor (the system library, Debian
 * package libdeflate-dev). Each call compresses one block into one complete gzip member on
 * the libuv thread pool, so the JavaScript thread keeps parsing COPY data meanwhile; the
 * stream in packages/core/src/pipeline/gzip.ts concatenates the members (valid gzip: gunzip,
 * zcat and Node's gunzip read every member).
 *
 * A compressor belongs to one stream and is used by at most one call at a time (the stream
 * waits for a block before starting the next); the async work holds a reference to it so it
 * is not collected while a thread uses it.
 */
#include <libdeflate.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(env, call)                                   \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      napi_throw_error((env), NULL, "napi call failed: " #call); \
      return NULL;                                         \
    }                                                      \
  } while (0)

typedef struct {
  struct libdeflate_compressor *compressor;
} Compressor;

typedef struct {
  napi_async_work work;
  napi_ref callback;
  napi_ref input_ref;
  napi_ref compressor_ref;
  Compressor *compressor;
  const uint8_t *input;
  size_t input_len;
  uint8_t *output;
  size_t output_len;
} Job;

static void free_compressor(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Compressor *c = data;
  if (c->compressor) libdeflate_free_compressor(c->compressor);
  free(c);
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
  Compressor *c = calloc(1, sizeof(Compressor));
  if (!c) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  c->compressor = libdeflate_alloc_compressor(level);
  if (!c->compressor) {
    free(c);
    napi_throw_error(env, NULL, "libdeflate_alloc_compressor failed");
    return NULL;
  }
  napi_value external;
  if (napi_create_external(env, c, free_compressor, NULL, &external) != napi_ok) {
    free_compressor(env, c, NULL);
    napi_throw_error(env, NULL, "napi_create_external failed");
    return NULL;
  }
  return external;
}

static void execute(napi_env env, void *data) {
  (void)env;
  Job *job = data;
  size_t bound = libdeflate_gzip_compress_bound(job->compressor->compressor, job->input_len);
  job->output = malloc(bound);
  if (!job->output) return;
  job->output_len = libdeflate_gzip_compress(job->compressor->compressor, job->input, job->input_len, job->output, bound);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *job = data;
  napi_value callback, global, argv[2], undefined;
  napi_get_reference_value(env, job->callback, &callback);
  napi_get_global(env, &global);
  napi_get_undefined(env, &undefined);
  if (status != napi_ok || !job->output || job->output_len == 0) {
    napi_value msg;
    const char *text = status != napi_ok ? "libdeflate: work was cancelled"
                       : !job->output     ? "libdeflate: out of memory"
                                          : "libdeflate: output did not fit its bound";
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &argv[0]);
    argv[1] = undefined;
  } else {
    void *copy;
    argv[0] = undefined;
    /* A copy at the exact size: the bound is larger than the output, and holding the
       malloc'd block alive through an external buffer would keep that slack. */
    napi_create_buffer_copy(env, job->output_len, job->output, &copy, &argv[1]);
  }
  free(job->output);
  napi_delete_reference(env, job->input_ref);
  napi_delete_reference(env, job->compressor_ref);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_call_function(env, global, callback, 2, argv, NULL);
}

/* gzipCompress(compressor: External, input: Buffer, callback: (err, out) => void): void */
static napi_value gzip_compress(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "gzipCompress(compressor, buffer, callback)");
    return NULL;
  }
  Compressor *c;
  bool is_buffer;
  napi_valuetype cb_type;
  if (napi_get_value_external(env, argv[0], (void **)&c) != napi_ok) {
    napi_throw_type_error(env, NULL, "first argument must be a compressor");
    return NULL;
  }
  CHECK(env, napi_is_buffer(env, argv[1], &is_buffer));
  CHECK(env, napi_typeof(env, argv[2], &cb_type));
  if (!is_buffer || cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "gzipCompress(compressor, buffer, callback)");
    return NULL;
  }
  Job *job = calloc(1, sizeof(Job));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  void *input;
  napi_value name;
  job->compressor = c;
  CHECK(env, napi_get_buffer_info(env, argv[1], &input, &job->input_len));
  job->input = input;
  CHECK(env, napi_create_reference(env, argv[0], 1, &job->compressor_ref));
  CHECK(env, napi_create_reference(env, argv[1], 1, &job->input_ref));
  CHECK(env, napi_create_reference(env, argv[2], 1, &job->callback));
  CHECK(env, napi_create_string_utf8(env, "libdeflate.gzip", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, execute, complete, job, &job->work));
  CHECK(env, napi_queue_async_work(env, job->work));
  return NULL;
}

/* gzipCompressSync(compressor: External, input: Buffer): Buffer (for tests and small inputs) */
static napi_value gzip_compress_sync(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  Compressor *c;
  void *input, *copy;
  size_t input_len;
  bool is_buffer;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&c) != napi_ok ||
      napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "gzipCompressSync(compressor, buffer)");
    return NULL;
  }
  CHECK(env, napi_get_buffer_info(env, argv[1], &input, &input_len));
  size_t bound = libdeflate_gzip_compress_bound(c->compressor, input_len);
  uint8_t *out = malloc(bound);
  if (!out) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  size_t n = libdeflate_gzip_compress(c->compressor, input, input_len, out, bound);
  if (n == 0) {
    free(out);
    napi_throw_error(env, NULL, "libdeflate: output did not fit its bound");
    return NULL;
  }
  napi_status s = napi_create_buffer_copy(env, n, out, &copy, &result);
  free(out);
  CHECK(env, s);
  return result;
}

/* ---- decompression ------------------------------------------------------------------ */

typedef struct {
  struct libdeflate_decompressor *decompressor;
} Decompressor;

static void free_decompressor(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Decompressor *d = data;
  if (d->decompressor) libdeflate_free_decompressor(d->decompressor);
  free(d);
}

/* createDecompressor(): External */
static napi_value create_decompressor(napi_env env, napi_callback_info info) {
  (void)info;
  Decompressor *d = calloc(1, sizeof(Decompressor));
  if (!d) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  d->decompressor = libdeflate_alloc_decompressor();
  if (!d->decompressor) {
    free(d);
    napi_throw_error(env, NULL, "libdeflate_alloc_decompressor failed");
    return NULL;
  }
  napi_value external;
  if (napi_create_external(env, d, free_decompressor, NULL, &external) != napi_ok) {
    free_decompressor(env, d, NULL);
    napi_throw_error(env, NULL, "napi_create_external failed");
    return NULL;
  }
  return external;
}

typedef struct {
  napi_async_work work;
  napi_ref callback, input_ref, output_ref, decompressor_ref;
  Decompressor *decompressor;
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
    job->result = libdeflate_gzip_decompress_ex(job->decompressor->decompressor, job->input + job->consumed, in_left,
                                                job->output + job->produced, out_left, &in_used, &out_used);
    if (job->result != LIBDEFLATE_SUCCESS) return;
    job->consumed += in_used;
    job->produced += out_used;
  }
}

static void gunzip_complete(napi_env env, napi_status status, void *data) {
  GunzipJob *job = data;
  napi_value callback, global, argv[3], undefined;
  napi_get_reference_value(env, job->callback, &callback);
  napi_get_global(env, &global);
  napi_get_undefined(env, &undefined);
  if (status != napi_ok || job->result != LIBDEFLATE_SUCCESS) {
    napi_value msg;
    const char *text = status != napi_ok                                    ? "libdeflate: work was cancelled"
                       : job->result == LIBDEFLATE_INSUFFICIENT_SPACE ? "gzip member larger than its recorded size"
                                                                          : "invalid or truncated gzip data";
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &argv[0]);
    argv[1] = undefined;
    argv[2] = undefined;
  } else {
    argv[0] = undefined;
    napi_create_double(env, (double)job->consumed, &argv[1]);
    napi_create_double(env, (double)job->produced, &argv[2]);
  }
  napi_delete_reference(env, job->input_ref);
  napi_delete_reference(env, job->output_ref);
  napi_delete_reference(env, job->decompressor_ref);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_call_function(env, global, callback, 3, argv, NULL);
}

/* gunzipMembers(decompressor, input, output, memberBytes, maxMemberIn, final, callback(err, consumed, produced)) */
static napi_value gunzip_members(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Decompressor *d;
  bool in_buf = false, out_buf = false, final = false;
  double member_bytes = 0, max_member_in = 0;
  napi_valuetype cb_type = napi_undefined;
  if (argc < 7 || napi_get_value_external(env, argv[0], (void **)&d) != napi_ok ||
      napi_is_buffer(env, argv[1], &in_buf) != napi_ok || !in_buf || napi_is_buffer(env, argv[2], &out_buf) != napi_ok ||
      !out_buf || napi_get_value_double(env, argv[3], &member_bytes) != napi_ok || member_bytes < 1 ||
      napi_get_value_double(env, argv[4], &max_member_in) != napi_ok || max_member_in < 1 ||
      napi_get_value_bool(env, argv[5], &final) != napi_ok || napi_typeof(env, argv[6], &cb_type) != napi_ok ||
      cb_type != napi_function) {
    napi_throw_type_error(env, NULL,
                          "gunzipMembers(decompressor, input, output, memberBytes, maxMemberIn, final, callback)");
    return NULL;
  }
  GunzipJob *job = calloc(1, sizeof(GunzipJob));
  if (!job) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  void *input, *output;
  napi_value name;
  job->decompressor = d;
  job->member_bytes = (size_t)member_bytes;
  job->max_member_in = (size_t)max_member_in;
  job->final = final;
  CHECK(env, napi_get_buffer_info(env, argv[1], &input, &job->input_len));
  CHECK(env, napi_get_buffer_info(env, argv[2], &output, &job->output_len));
  job->input = input;
  job->output = output;
  CHECK(env, napi_create_reference(env, argv[0], 1, &job->decompressor_ref));
  CHECK(env, napi_create_reference(env, argv[1], 1, &job->input_ref));
  CHECK(env, napi_create_reference(env, argv[2], 1, &job->output_ref));
  CHECK(env, napi_create_reference(env, argv[6], 1, &job->callback));
  CHECK(env, napi_create_string_utf8(env, "libdeflate.gunzip", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, gunzip_execute, gunzip_complete, job, &job->work));
  CHECK(env, napi_queue_async_work(env, job->work));
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"createCompressor", NULL, create_compressor, NULL, NULL, NULL, napi_default, NULL},
      {"gzipCompress", NULL, gzip_compress, NULL, NULL, NULL, napi_default, NULL},
      {"gzipCompressSync", NULL, gzip_compress_sync, NULL, NULL, NULL, napi_default, NULL},
      {"createDecompressor", NULL, create_decompressor, NULL, NULL, NULL, napi_default, NULL},
      {"gunzipMembers", NULL, gunzip_members, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
