/* manifest.c — JSON manifests: a tensor set's names, shapes and dtypes without data, used as the
 * target of a mapping. {"metadata": {...}, "tensors": {"name": {"shape": [..], "dtype": "F32"}}}
 * with "metadata" optional; entry order is the model's definition order and is kept. The strict
 * JSON layer (json.h) lives in safetensors.c. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format.h"
#include "json.h"


#define DT_NAME(id, name, size) " " name
static const char help_shape[] =
    "a manifest is {\"tensors\": {\"NAME\": {\"shape\": [2, 3], \"dtype\": \"F32\"}, ...}}";
static const char help_dtype[] = "dtypes are:" WBR_DTYPE_LIST(DT_NAME)
    " (also as PyTorch and NumPy name them: float32, torch.bfloat16, half, int64, bool ...)";

/* The dtype names people write in a hand-made or exported manifest (PyTorch, NumPy, JAX), read
 * as the safetensors name they mean; a "torch.", "np.", "numpy." or "jnp." prefix is ignored.
 * Not "float" or "int": PyTorch and NumPy mean different sizes by them. */
static int dtype_alias(wbr_dtype *out, const char *name) {
  static const struct {
    const char *alias;
    wbr_dtype dt;
  } aliases[] = {
      {"float64", WBR_F64}, {"double", WBR_F64},   {"fp64", WBR_F64},     {"float32", WBR_F32},
      {"fp32", WBR_F32},     {"float16", WBR_F16},  {"half", WBR_F16},
      {"fp16", WBR_F16},    {"bfloat16", WBR_BF16}, {"float8_e4m3fn", WBR_F8_E4M3}, {"float8_e4m3", WBR_F8_E4M3},
      {"float8_e5m2", WBR_F8_E5M2}, {"int64", WBR_I64}, {"long", WBR_I64}, {"int32", WBR_I32},
      {"int16", WBR_I16},    {"short", WBR_I16},    {"int8", WBR_I8},
      {"uint8", WBR_U8},    {"uint16", WBR_U16},   {"uint32", WBR_U32},   {"uint64", WBR_U64},
      {"bool", WBR_BOOL},    {"boolean", WBR_BOOL}, {"bool_", WBR_BOOL},
  };
  static const char *const prefixes[] = {"torch.", "numpy.", "np.", "jnp."};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (strncasecmp(name, prefixes[i], strlen(prefixes[i])) == 0) name += strlen(prefixes[i]);
  if (wbr_dtype_parse(out, name, strlen(name)) == 0) return 0; /* torch.F32 is no one's spelling, but harmless */
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcasecmp(name, aliases[i].alias) == 0) {
      *out = aliases[i].dt;
      return 0;
    }
  return -1;
}
#undef DT_NAME

/* A syntax error with its line, column and source line, like the compiler's diagnostics. */
static int syntax_error(wbr_ctx *ctx, const char *path, const char *text, size_t len, size_t off,
                        const char *what) {
  size_t ls = 0;
  int line = 1;
  for (size_t i = 0; i < off && i < len; i++)
    if (text[i] == '\n') line++, ls = i + 1;
  size_t le = ls;
  while (le < len && text[le] != '\n' && text[le] != '\r' && le - ls < 240) le++;
  char src[256];
  size_t o = 0;
  for (size_t i = ls; i < le && o + 1 < sizeof src; i++) {
    unsigned char c = (unsigned char)text[i];
    src[o++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
  }
  src[o] = 0;
  /* Columns count bytes, so a caret under multi-byte text may sit right of the spot; the
   * message stays exact. */
  int col = (int)(off - ls) + 1;
  char msg[256];
  snprintf(msg, sizeof msg, "manifest is not valid JSON: %s", what);
  wbr_diag d = {.severity = WBR_SEV_ERROR,
                .file = path,
                .line = line,
                .col = col,
                .message = msg,
                .source_line = off - ls <= o ? src : NULL,
                .span = 1,
                .help = help_shape};
  return wbr_report(ctx, WBR_EFORMAT, &d);
}

static int mf_entry(const wbr_json *j, wbr_ctx *ctx, const char *path, wbr_tensorset *ts,
                    const cJSON *e) {
  char shown[256], who[300];
  wbr_json_show(shown, sizeof shown, e->string);
  if (!e->string[0])
    return wbr_fail(ctx, WBR_EFORMAT, path, "give every tensor a non-empty name",
                    "a tensor has an empty name");
  snprintf(who, sizeof who, "tensor '%s'", shown);
  if (!cJSON_IsObject(e))
    return wbr_fail(ctx, WBR_EFORMAT, path, help_shape,
                    "%s: entry is %s, expected an object with \"shape\" and \"dtype\"", who,
                    wbr_json_kind(e));
  const cJSON *f_shape = NULL, *f_dtype = NULL;
  for (const cJSON *f = e->child; f; f = f->next) {
    const cJSON **slot = strcmp(f->string, "shape") == 0   ? &f_shape
                         : strcmp(f->string, "dtype") == 0 ? &f_dtype
                                                           : NULL;
    char key[256];
    wbr_json_show(key, sizeof key, f->string);
    if (!slot)
      return wbr_fail(ctx, WBR_EFORMAT, path, "a manifest entry has only \"shape\" and \"dtype\"",
                      "%s: unknown key \"%s\"", who, key);
    if (*slot)
      return wbr_fail(ctx, WBR_EFORMAT, path, help_shape, "%s: key \"%s\" appears twice", who, key);
    *slot = f;
  }
  if (!f_shape) return wbr_fail(ctx, WBR_EFORMAT, path, help_shape, "%s: missing \"shape\"", who);
  if (!f_dtype) return wbr_fail(ctx, WBR_EFORMAT, path, help_dtype, "%s: missing \"dtype\"", who);
  if (!cJSON_IsString(f_dtype))
    return wbr_fail(ctx, WBR_EFORMAT, path, help_dtype,
                    "%s: \"dtype\" is %s, expected a string such as \"F32\"", who,
                    wbr_json_kind(f_dtype));
  wbr_dtype dtype;
  /* Manifests are often written by hand, so the dtype's case does not matter ("bf16"). */
  if (wbr_dtype_parse(&dtype, f_dtype->valuestring, strlen(f_dtype->valuestring)) != 0 &&
      dtype_alias(&dtype, f_dtype->valuestring) != 0) {
    char dt[64];
    wbr_json_show(dt, sizeof dt, f_dtype->valuestring);
    return wbr_fail(ctx, WBR_EFORMAT, path, help_dtype, "%s: unknown dtype \"%s\"", who, dt);
  }
  int64_t shape[WBR_MAX_DIMS];
  int ndim;
  int rc = wbr_json_shape(j, ctx, path, who, f_shape, shape, &ndim, help_shape);
  if (rc) return rc;
  char sh[256];
  wbr_shape_str(sh, sizeof sh, ndim, shape);
  switch (wbr_ts_append(ts, e->string, strlen(e->string), dtype, ndim, shape, NULL)) {
  case 0:
    return 0;
  case 1:
    return wbr_fail(ctx, WBR_EFORMAT, path, "tensor names must be unique; remove one of them",
                    "tensor '%s' appears twice in \"tensors\"", shown);
  case 2:
    return wbr_fail(ctx, WBR_EFORMAT, path, help_shape,
                    "%s: shape %s of %s has more elements or bytes than fit in 64 bits", who, sh,
                    wbr_dtype_name(dtype));
  default:
    return wbr_oom_file(ctx, path);
  }
}

static int mf_read(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *entry,
                   const uint8_t *bytes, size_t len) {
  if (entry) return wbr_format_no_key(ctx, path, entry);
  const char *text = (const char *)bytes;
  size_t i = 0;
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
  if (i == len)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_shape, "manifest is empty");
  wbr_json *j;
  size_t eoff;
  char err[160];
  int rc = wbr_json_parse(&j, text, len, &eoff, err, sizeof err);
  if (rc == WBR_ENOMEM) return wbr_oom_file(ctx, path);
  if (rc == WBR_EINTERNAL)
    return wbr_fail(ctx, rc, path, "this is a bug in weightbridge: please report it with the file", "%s", err);
  if (rc) return syntax_error(ctx, path, text, len, eoff, err);
  const cJSON *root = wbr_json_root(j);
  const cJSON *tensors = NULL, *meta = NULL;
  if (!cJSON_IsObject(root)) {
    rc = wbr_fail(ctx, WBR_EFORMAT, path, help_shape,
                  "manifest is %s, expected an object with a \"tensors\" key", wbr_json_kind(root));
    goto done;
  }
  /* Unknown top-level keys are errors, not warnings: a misspelt key would otherwise drop
   * information without anyone noticing. */
  for (const cJSON *e = root->child; e; e = e->next) {
    const cJSON **slot = strcmp(e->string, "tensors") == 0    ? &tensors
                         : strcmp(e->string, "metadata") == 0 ? &meta
                                                              : NULL;
    char key[256];
    wbr_json_show(key, sizeof key, e->string);
    if (!slot) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path,
                    "a manifest has the keys \"tensors\" and (optionally) \"metadata\"",
                    "unknown top-level key \"%s\"", key);
      goto done;
    }
    if (*slot) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_shape, "top-level key \"%s\" appears twice", key);
      goto done;
    }
    *slot = e;
  }
  if (!tensors) {
    rc = wbr_fail(ctx, WBR_EFORMAT, path, help_shape, "manifest has no \"tensors\" key");
    goto done;
  }
  if (!cJSON_IsObject(tensors)) {
    rc = wbr_fail(ctx, WBR_EFORMAT, path, help_shape,
                  "\"tensors\" is %s, expected an object mapping names to {\"shape\", \"dtype\"}",
                  wbr_json_kind(tensors));
    goto done;
  }
  for (const cJSON *e = tensors->child; e && rc == 0; e = e->next)
    rc = mf_entry(j, ctx, path, ts, e);
  if (rc == 0 && meta)
    rc = wbr_json_meta(ctx, path, "metadata", meta, ts, "\"metadata\" maps strings to strings");
done:
  wbr_json_free(j);
  return rc;
}

/* The text is wbr_tensorset_to_manifest's (format.c), so `wbr inspect --json` and a written
 * manifest are the same bytes. */
static const wbr_name_rules mf_names = {.format = "a manifest"};

static int mf_begin(wbr_writer *w) {
  int rc = wbr_writer_check_layout(w, &mf_names);
  if (rc) return rc;
  char *s = wbr_tensorset_to_manifest(w->layout);
  if (!s) return wbr_oom_file(w->ctx, w->path);
  rc = wbr_writer_emit(w, s, strlen(s));
  free(s);
  return rc;
}

static const char *const mf_exts[] = {".json", NULL};

const wbr_format wbr_format_manifest = {
    .name = "manifest",
    .exts = mf_exts,
    .what = "manifest",
    .has_data = false,
    .opaque_ok = true, /* a manifest lists an opaque tensor as its bytes: U8 [nbytes] */
    .read = mf_read,
    .begin = mf_begin,
};
