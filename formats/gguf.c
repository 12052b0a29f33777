/* gguf.c — the GGUF format (llama.cpp's, versions 2 and 3): a header of metadata key/values and
 * tensor infos, then the tensor data, each tensor at an aligned offset. GGUF lists dims
 * innermost first (ne[0] varies fastest); our shapes are outermost first, so dims are reversed
 * both ways. Metadata becomes the set's string metadata; non-string values are kept as text with
 * their GGUF types recorded in one extra entry, "gguf.types", so a GGUF -> GGUF (or GGUF ->
 * safetensors -> GGUF) conversion writes every value back with its type. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "json.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4      /* ggml's GGML_MAX_DIMS */
#define GGUF_MAX_NAME 63     /* ggml's GGML_MAX_NAME (64) less the NUL */
#define GGUF_MAX_NESTING 8   /* arrays of arrays: far beyond what any model uses */
#define TYPES_KEY "gguf.types"

static const char help_corrupt[] = "the file is truncated, corrupt, or not a GGUF file";

/* ---- ggml tensor types ------------------------------------------------------------------------ */

typedef struct ggml_type_info {
  const char *name;
  uint32_t block;  /* elements per block (1 for plain types); 0: no such type */
  uint32_t size;   /* bytes per block */
  int dtype;       /* our dtype, or -1 for quantized types */
} ggml_type_info;

/* Indexed by the ggml type number; gaps are types removed from the format. */
static const ggml_type_info ggml_types[] = {
    [0] = {"F32", 1, 4, WBR_F32},       [1] = {"F16", 1, 2, WBR_F16},
    [2] = {"Q4_0", 32, 18, -1},         [3] = {"Q4_1", 32, 20, -1},
    [6] = {"Q5_0", 32, 22, -1},         [7] = {"Q5_1", 32, 24, -1},
    [8] = {"Q8_0", 32, 34, -1},         [9] = {"Q8_1", 32, 36, -1},
    [10] = {"Q2_K", 256, 84, -1},       [11] = {"Q3_K", 256, 110, -1},
    [12] = {"Q4_K", 256, 144, -1},      [13] = {"Q5_K", 256, 176, -1},
    [14] = {"Q6_K", 256, 210, -1},      [15] = {"Q8_K", 256, 292, -1},
    [16] = {"IQ2_XXS", 256, 66, -1},    [17] = {"IQ2_XS", 256, 74, -1},
    [18] = {"IQ3_XXS", 256, 98, -1},    [19] = {"IQ1_S", 256, 50, -1},
    [20] = {"IQ4_NL", 32, 18, -1},      [21] = {"IQ3_S", 256, 110, -1},
    [22] = {"IQ2_S", 256, 82, -1},      [23] = {"IQ4_XS", 256, 136, -1},
    [24] = {"I8", 1, 1, WBR_I8},        [25] = {"I16", 1, 2, WBR_I16},
    [26] = {"I32", 1, 4, WBR_I32},      [27] = {"I64", 1, 8, WBR_I64},
    [28] = {"F64", 1, 8, WBR_F64},      [29] = {"IQ1_M", 256, 56, -1},
    [30] = {"BF16", 1, 2, WBR_BF16},    [34] = {"TQ1_0", 256, 54, -1},
    [35] = {"TQ2_0", 256, 66, -1},      [39] = {"MXFP4", 32, 17, -1},
};
#define NGGML (sizeof ggml_types / sizeof ggml_types[0])

static int ggml_type_of(wbr_dtype dt) {
  for (unsigned i = 0; i < NGGML; i++)
    if (ggml_types[i].block && ggml_types[i].dtype == (int)dt) return (int)i;
  return -1;
}

/* The ggml type of an opaque tensor, found by its encoding's name (wbr_opaque), or -1. */
static int ggml_type_named(const char *type) {
  for (unsigned i = 0; i < NGGML; i++)
    if (ggml_types[i].block && ggml_types[i].dtype < 0 && strcmp(ggml_types[i].name, type) == 0)
      return (int)i;
  return -1;
}

/* ---- metadata value types --------------------------------------------------------------------- */

enum {
  GV_U8, GV_I8, GV_U16, GV_I16, GV_U32, GV_I32, GV_F32, GV_BOOL, GV_STR, GV_ARR, GV_U64, GV_I64,
  GV_F64, GV_COUNT
};
static const char *const gv_names[GV_COUNT] = {"u8",  "i8",   "u16", "i16", "u32", "i32", "f32",
                                               "bool", "str", "arr", "u64", "i64", "f64"};
/* Smallest encoding of one value, to bound counts by the bytes left. */
static const uint8_t gv_min[GV_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8};

/* ---- Reader ----------------------------------------------------------------------------------- */

typedef struct rd {
  const uint8_t *p;
  size_t len, pos;
  wbr_ctx *ctx;
  const char *path;
  const char *where; /* "metadata 'general.name'", for messages */
} rd;

static int truncated(rd *r, size_t need) {
  return wbr_fail(r->ctx, WBR_EFORMAT, r->path, help_corrupt,
                  "%s: needs %zu bytes at offset %zu, past the end of the file (%zu bytes)",
                  r->where, need, r->pos, r->len);
}

static uint64_t get_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static int rd_uint(rd *r, int n, uint64_t *out) {
  *out = 0;
  if (r->len - r->pos < (size_t)n) return truncated(r, (size_t)n);
  *out = get_le(r->p + r->pos, n);
  r->pos += (size_t)n;
  return 0;
}

/* A GGUF string: u64 length, then the bytes (not NUL-terminated). Points into the file. */
static int rd_str(rd *r, const char **s, uint64_t *n) {
  *s = NULL;
  int rc = rd_uint(r, 8, n);
  if (rc) return rc;
  if (*n > r->len - r->pos) {
    r->pos -= 8;
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, help_corrupt,
                    "%s: string of %llu bytes at offset %zu runs past the end of the file (%zu "
                    "bytes)",
                    r->where, (unsigned long long)*n, r->pos, r->len);
  }
  *s = (const char *)r->p + r->pos;
  r->pos += (size_t)*n;
  return 0;
}

/* Names and keys: non-empty UTF-8 without NUL, copied to a C string. */
static int rd_name(rd *r, const char *what, char **out) {
  const char *s = NULL;
  uint64_t n = 0;
  int rc = rd_str(r, &s, &n);
  if (rc) return rc;
  if (n == 0)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, help_corrupt, "%s: %s is empty", r->where, what);
  if (memchr(s, 0, (size_t)n) || !wbr_utf8_valid((const uint8_t *)s, (size_t)n, NULL))
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "GGUF names and keys are UTF-8 text",
                    "%s: %s at offset %zu is not UTF-8 text", r->where, what,
                    r->pos - (size_t)n);
  *out = wbr_strndup(s, (size_t)n);
  return *out ? 0 : wbr_oom_file(r->ctx, r->path);
}

/* A JSON string literal of length-delimited bytes (NUL allowed, as \u0000). */
static void json_bytes(wbr_buf *b, const char *s, size_t n) {
  wbr_buf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      wbr_buf_putc(b, '\\');
      wbr_buf_putc(b, (char)c);
    } else if (c == '\n') {
      wbr_buf_puts(b, "\\n");
    } else if (c == '\t') {
      wbr_buf_puts(b, "\\t");
    } else if (c == '\r') {
      wbr_buf_puts(b, "\\r");
    } else if (c < 0x20) {
      wbr_buf_printf(b, "\\u%04x", c);
    } else {
      wbr_buf_putc(b, (char)c);
    }
  }
  wbr_buf_putc(b, '"');
}

/* Read one value of type t into text (scalars bare, strings JSON-quoted when inside an array,
 * arrays as [a,b,...]) and its type spelling into ty ("u32", "[str]", "[[f32]]", "[mixed]"). */
static int rd_value(rd *r, uint32_t t, int depth, bool in_array, wbr_buf *text, wbr_buf *ty) {
  uint64_t u = 0;
  int rc = 0;
  switch (t) {
  case GV_U8: case GV_U16: case GV_U32: case GV_U64: {
    int n = t == GV_U8 ? 1 : t == GV_U16 ? 2 : t == GV_U32 ? 4 : 8;
    if ((rc = rd_uint(r, n, &u))) return rc;
    wbr_buf_printf(text, "%llu", (unsigned long long)u);
    break;
  }
  case GV_I8: case GV_I16: case GV_I32: case GV_I64: {
    int n = t == GV_I8 ? 1 : t == GV_I16 ? 2 : t == GV_I32 ? 4 : 8;
    if ((rc = rd_uint(r, n, &u))) return rc;
    int64_t v = n == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * n)) >> (64 - 8 * n);
    wbr_buf_printf(text, "%lld", (long long)v);
    break;
  }
  case GV_F32: {
    if ((rc = rd_uint(r, 4, &u))) return rc;
    uint32_t b = (uint32_t)u;
    float f;
    memcpy(&f, &b, 4);
    wbr_buf_printf(text, "%.9g", (double)f);
    break;
  }
  case GV_F64: {
    if ((rc = rd_uint(r, 8, &u))) return rc;
    double d;
    memcpy(&d, &u, 8);
    wbr_buf_printf(text, "%.17g", d);
    break;
  }
  case GV_BOOL:
    if ((rc = rd_uint(r, 1, &u))) return rc;
    if (u > 1)
      return wbr_fail(r->ctx, WBR_EFORMAT, r->path, help_corrupt,
                      "%s: bool at offset %zu is %llu, expected 0 or 1", r->where, r->pos - 1,
                      (unsigned long long)u);
    wbr_buf_puts(text, u ? "true" : "false");
    break;
  case GV_STR: {
    const char *s = NULL;
    if ((rc = rd_str(r, &s, &u))) return rc;
    if (!wbr_utf8_valid((const uint8_t *)s, (size_t)u, NULL))
      return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "GGUF strings are UTF-8",
                      "%s: string at offset %zu is not valid UTF-8", r->where,
                      r->pos - (size_t)u);
    if (in_array) {
      json_bytes(text, s, (size_t)u);
    } else {
      if (memchr(s, 0, (size_t)u))
        return wbr_fail(r->ctx, WBR_EFORMAT, r->path,
                        "metadata strings are kept as C strings; a NUL byte cannot be kept",
                        "%s: string at offset %zu contains a NUL byte", r->where,
                        r->pos - (size_t)u);
      wbr_buf_put(text, s, (size_t)u);
    }
    break;
  }
  case GV_ARR: {
    if (depth >= GGUF_MAX_NESTING)
      return wbr_fail(r->ctx, WBR_EFORMAT, r->path, help_corrupt,
                      "%s: arrays nested deeper than %d levels", r->where, GGUF_MAX_NESTING);
    uint64_t et, n;
    if ((rc = rd_uint(r, 4, &et)) || (rc = rd_uint(r, 8, &n))) return rc;
    if (et >= GV_COUNT)
      return wbr_fail(r->ctx, WBR_EFORMAT, r->path, help_corrupt,
                      "%s: array of unknown value type %llu (at offset %zu)", r->where,
                      (unsigned long long)et, r->pos - 12);
    if (n > (r->len - r->pos) / gv_min[et])
      return wbr_fail(r->ctx, WBR_EFORMAT, r->path, help_corrupt,
                      "%s: array of %llu %s values at offset %zu cannot fit in the %zu bytes "
                      "left in the file",
                      r->where, (unsigned long long)n, gv_names[et], r->pos - 12,
                      r->len - r->pos);
    wbr_buf_putc(text, '[');
    wbr_buf inner;
    wbr_buf_init(&inner);
    bool mixed = false;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
      if (i) wbr_buf_putc(text, ',');
      wbr_buf ety;
      wbr_buf_init(&ety);
      rc = rd_value(r, (uint32_t)et, depth + 1, true, text, &ety);
      if (rc == 0 && et == GV_ARR) {
        /* Inner arrays carry their own element type; keep one spelling when they agree. */
        if (i == 0) wbr_buf_puts(&inner, ety.p ? ety.p : "");
        else if (!inner.p || !ety.p || strcmp(inner.p, ety.p) != 0) mixed = true;
      }
      wbr_buf_free(&ety);
      if (text->oom) rc = wbr_oom_file(r->ctx, r->path);
    }
    wbr_buf_putc(text, ']');
    if (et != GV_ARR) wbr_buf_printf(ty, "[%s]", gv_names[et]);
    else if (mixed || n == 0) wbr_buf_puts(ty, "[mixed]");
    else wbr_buf_printf(ty, "[%s]", inner.p ? inner.p : "");
    wbr_buf_free(&inner);
    return rc;
  }
  default:
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, help_corrupt,
                    "%s: unknown value type %u (at offset %zu)", r->where, t, r->pos - 4);
  }
  if (t != GV_ARR && ty) wbr_buf_puts(ty, gv_names[t]);
  return 0;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

static int gguf_read(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                     const uint8_t *bytes, size_t len) {
  if (key) return wbr_format_no_key(ctx, path, key);
  rd r = {bytes, len, 0, ctx, path, "header"};
  if (len < 4 || memcmp(bytes, "GGUF", 4) != 0)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "not a GGUF file: it does not start with \"GGUF\"");
  r.pos = 4;
  uint64_t version, ntensors, nkv;
  int rc = rd_uint(&r, 4, &version);
  if (rc) return rc;
  if ((version & 0xFFFF) == 0 && version)
    return wbr_fail(ctx, WBR_EFORMAT, path, "convert it with llama.cpp's gguf tools to little-endian",
                    "big-endian GGUF files are not supported");
  if (version != 2 && version != 3)
    return wbr_fail(ctx, WBR_EFORMAT, path,
                    "re-save the file with a current llama.cpp or gguf-py (GGUF version 3)",
                    "GGUF version %llu is not supported (versions 2 and 3 are)",
                    (unsigned long long)version);
  if ((rc = rd_uint(&r, 8, &ntensors)) || (rc = rd_uint(&r, 8, &nkv))) return rc;
  if (nkv > (len - r.pos) / 13)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "header claims %llu metadata entries, more than the file's %zu bytes can hold",
                    (unsigned long long)nkv, len);
  if (ntensors > (len - r.pos) / 24)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "header claims %llu tensors, more than the file's %zu bytes can hold",
                    (unsigned long long)ntensors, len);

  /* Metadata. */
  uint64_t alignment = GGUF_DEFAULT_ALIGNMENT;
  wbr_buf types, text, ty;
  wbr_buf_init(&types);
  wbr_buf_init(&text);
  wbr_buf_init(&ty);
  wbr_map seen;
  wbr_map_init(&seen);
  char **keys = calloc(nkv ? (size_t)nkv : 1, sizeof *keys);
  if (!keys) rc = wbr_oom_file(ctx, path);
  size_t ntyped = 0;
  char where[320], shown[256];
  for (uint64_t i = 0; i < nkv && rc == 0; i++) {
    snprintf(where, sizeof where, "metadata entry %llu", (unsigned long long)i);
    r.where = where;
    rc = rd_name(&r, "key", &keys[i]);
    if (rc) break;
    wbr_json_show(shown, sizeof shown, keys[i]);
    snprintf(where, sizeof where, "metadata '%s'", shown);
    int pr = wbr_map_put(&seen, keys[i], 0, NULL);
    if (pr < 0) {
      rc = wbr_oom_file(ctx, path);
      break;
    }
    if (pr == 1) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, "metadata keys must be unique", "%s appears twice",
                    where);
      break;
    }
    if (strcmp(keys[i], TYPES_KEY) == 0) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, "rename the key",
                    "metadata key '" TYPES_KEY "' is reserved by weightbridge (it records the "
                    "types of GGUF values)");
      break;
    }
    uint64_t t;
    if ((rc = rd_uint(&r, 4, &t))) break;
    if (t >= GV_COUNT) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s: unknown value type %llu (at offset %zu)", where, (unsigned long long)t,
                    r.pos - 4);
      break;
    }
    text.len = 0;
    if (text.p) text.p[0] = 0;
    ty.len = 0;
    if (ty.p) ty.p[0] = 0;
    size_t vpos = r.pos;
    rc = rd_value(&r, (uint32_t)t, 0, false, &text, &ty);
    if (rc) break;
    if (text.oom || ty.oom) {
      rc = wbr_oom_file(ctx, path);
      break;
    }
    if (strcmp(keys[i], "general.alignment") == 0) {
      uint32_t a = t == GV_U32 ? (uint32_t)get_le(bytes + vpos, 4) : 0;
      if (t != GV_U32)
        rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                      "metadata 'general.alignment' is of type %s, expected u32", gv_names[t]);
      else if (a == 0 || (a & (a - 1)) != 0)
        rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                      "metadata 'general.alignment' is %u, expected a power of two", a);
      alignment = a;
      if (rc) break;
    }
    rc = wbr_tensorset_meta_set(ts, keys[i], text.p ? text.p : "");
    if (rc == 0 && t != GV_STR) {
      wbr_buf_puts(&types, ntyped++ ? "," : "{");
      wbr_buf_json_str(&types, keys[i]);
      wbr_buf_putc(&types, ':');
      wbr_buf_json_str(&types, ty.p ? ty.p : "");
    }
  }
  if (rc == 0 && ntyped) {
    wbr_buf_putc(&types, '}');
    rc = types.oom ? wbr_oom_file(ctx, path) : wbr_tensorset_meta_set(ts, TYPES_KEY, types.p);
  }
  wbr_buf_free(&types);
  wbr_buf_free(&text);
  wbr_buf_free(&ty);
  wbr_map_free(&seen);
  for (uint64_t i = 0; keys && i < nkv; i++) free(keys[i]);
  free(keys);
  if (rc) return rc;

  /* Tensor infos. Data pointers are fixed up once the data section's start is known. */
  uint64_t *offs = malloc((ntensors ? (size_t)ntensors : 1) * sizeof *offs);
  if (!offs) return wbr_oom_file(ctx, path);
  for (uint64_t i = 0; i < ntensors && rc == 0; i++) {
    snprintf(where, sizeof where, "tensor info %llu", (unsigned long long)i);
    r.where = where;
    char *name = NULL;
    rc = rd_name(&r, "tensor name", &name);
    if (rc) break;
    wbr_json_show(shown, sizeof shown, name);
    snprintf(where, sizeof where, "tensor '%s'", shown);
    uint64_t nd, t, off, dims[GGUF_MAX_DIMS];
    rc = rd_uint(&r, 4, &nd);
    if (rc == 0 && nd > GGUF_MAX_DIMS)
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s has %llu dimensions, GGUF allows at most %d", where,
                    (unsigned long long)nd, GGUF_MAX_DIMS);
    for (uint64_t d = 0; d < nd && rc == 0; d++) {
      rc = rd_uint(&r, 8, &dims[d]);
      /* 2^53: what JSON readers hold exactly, so the shape survives a manifest. */
      if (rc == 0 && dims[d] > (UINT64_C(1) << 53))
        rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "%s: ne[%llu] is %llu, larger than 2^53",
                      where, (unsigned long long)d, (unsigned long long)dims[d]);
    }
    if (rc == 0) rc = rd_uint(&r, 4, &t);
    if (rc == 0) rc = rd_uint(&r, 8, &off);
    if (rc) {
      free(name);
      break;
    }
    if (t >= NGGML || !ggml_types[t].block) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "%s has unknown tensor type %llu",
                    where, (unsigned long long)t);
    } else if (ggml_types[t].dtype < 0) {
      /* Quantized: carried as opaque blocks (U8 [nbytes]) with its type and logical shape, so
       * rules can rename or drop it and a GGUF output writes it back unchanged. */
      uint64_t nelem = 1;
      bool ok = true;
      for (uint64_t d = 0; d < nd && ok; d++) ok = wbr_mul_u64(nelem, dims[d], &nelem);
      uint64_t blocks = nelem / ggml_types[t].block, nbytes = 0;
      if (!ok || nelem % ggml_types[t].block || (nd && dims[0] % ggml_types[t].block) ||
          !wbr_mul_u64(blocks, ggml_types[t].size, &nbytes) || nbytes > (UINT64_C(1) << 53)) {
        rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                      "%s is %s, whose rows must be whole blocks of %u values, but ne[0] is %llu",
                      where, ggml_types[t].name, ggml_types[t].block,
                      (unsigned long long)(nd ? dims[0] : 1));
      } else {
        int64_t flat = (int64_t)nbytes;
        int ar = wbr_ts_append(ts, name, strlen(name), WBR_U8, 1, &flat, NULL);
        if (ar == 1)
          rc = wbr_fail(ctx, WBR_EFORMAT, path, "tensor names must be unique", "%s appears twice", where);
        else if (ar != 0)
          rc = wbr_oom_file(ctx, path);
        else {
          wbr_tensor *q = &ts->t[ts->n - 1];
          q->opaque.type = ggml_types[t].name;
          q->opaque.ndim = (int)nd;
          for (uint64_t d = 0; d < nd; d++) q->opaque.shape[d] = (int64_t)dims[nd - 1 - d];
        }
      }
      offs[i] = off;
    } else {
      int64_t shape[GGUF_MAX_DIMS];
      for (uint64_t d = 0; d < nd; d++) shape[d] = (int64_t)dims[nd - 1 - d];
      int ar = wbr_ts_append(ts, name, strlen(name), (wbr_dtype)ggml_types[t].dtype, (int)nd,
                             shape, NULL);
      char sh[160];
      wbr_shape_str(sh, sizeof sh, (int)nd, shape);
      if (ar == 1)
        rc = wbr_fail(ctx, WBR_EFORMAT, path, "tensor names must be unique",
                      "%s appears twice", where);
      else if (ar == 2)
        rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                      "%s: shape %s of %s needs more bytes than fit in 64 bits", where, sh,
                      ggml_types[t].name);
      else if (ar < 0)
        rc = wbr_oom_file(ctx, path);
      offs[i] = off;
    }
    free(name);
  }
  if (rc) {
    free(offs);
    return rc;
  }

  /* The data section starts at the next multiple of the alignment; ggml (and we) require each
   * tensor at the packed offset: in order, each padded to the alignment. */
  uint64_t data_start = align_up(r.pos, alignment);
  uint64_t expect = 0;
  for (size_t i = 0; i < ts->n && rc == 0; i++) {
    wbr_tensor *t = &ts->t[i];
    wbr_json_show(shown, sizeof shown, t->name);
    uint64_t end;
    if (offs[i] != expect)
      rc = wbr_fail(ctx, WBR_EFORMAT, path,
                    "GGUF tensors are stored in order, each padded to general.alignment; "
                    "re-save the file with llama.cpp or gguf-py",
                    "tensor '%s' has data offset %llu, expected %llu", shown,
                    (unsigned long long)offs[i], (unsigned long long)expect);
    else if (!wbr_add_u64(data_start, offs[i], &end) || !wbr_add_u64(end, t->nbytes, &end) ||
             end > len)
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "tensor '%s': %llu bytes at data offset %llu run past the end of the file "
                    "(the data section starts at %llu, the file has %zu bytes)",
                    shown, (unsigned long long)t->nbytes, (unsigned long long)offs[i],
                    (unsigned long long)data_start, len);
    else
      t->data = bytes + data_start + offs[i];
    if (rc == 0 && !wbr_add_u64(expect, align_up(t->nbytes, alignment), &expect))
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "tensor data exceeds 2^64 bytes");
  }
  free(offs);
  return rc;
}

/* ---- Writer ----------------------------------------------------------------------------------- */

typedef struct gw_state {
  uint64_t alignment;
} gw_state;

static void put_le(wbr_buf *b, uint64_t v, int n) {
  char c[8];
  for (int i = 0; i < n; i++) c[i] = (char)(v >> (8 * i));
  wbr_buf_put(b, c, (size_t)n);
}

static void put_str(wbr_buf *b, const char *s, size_t n) {
  put_le(b, n, 8);
  wbr_buf_put(b, s, n);
}

/* Parsing a typed value's text back into GGUF bytes. */
typedef struct tp {
  const char *s;
  size_t i;
} tp;

static void tp_space(tp *p) {
  while (p->s[p->i] == ' ' || p->s[p->i] == '\n' || p->s[p->i] == '\t' || p->s[p->i] == '\r')
    p->i++;
}

/* Parse a type spelling: "u32", "[str]", "[[f32]]". Returns the outer type; *elem points past. */
static int tp_type(const char *s, size_t *len) {
  for (int t = 0; t < GV_COUNT; t++) {
    size_t n = strlen(gv_names[t]);
    if (t != GV_ARR && strncmp(s, gv_names[t], n) == 0) {
      *len = n;
      return t;
    }
  }
  if (s[0] == '[') {
    size_t n;
    if (tp_type(s + 1, &n) < 0 || s[1 + n] != ']') return -1;
    *len = n + 2;
    return GV_ARR;
  }
  return -1;
}

/* A JSON string at p (on its quote) into out (GGUF string: length then bytes). */
static bool tp_string(tp *p, wbr_buf *out) {
  if (p->s[p->i] != '"') return false;
  p->i++;
  wbr_buf tmp;
  wbr_buf_init(&tmp);
  bool ok = false;
  for (;;) {
    char c = p->s[p->i];
    if (c == 0 || (unsigned char)c < 0x20) break;
    p->i++;
    if (c == '"') {
      ok = true;
      break;
    }
    if (c != '\\') {
      wbr_buf_putc(&tmp, c);
      continue;
    }
    char e = p->s[p->i++];
    const char *esc = strchr("\"\\/bfnrt", e);
    if (e && esc) {
      static const char val[] = "\"\\/\b\f\n\r\t";
      wbr_buf_putc(&tmp, val[esc - "\"\\/bfnrt"]);
      continue;
    }
    if (e != 'u') break;
    int cp = wbr_hex4(p->s + p->i);
    if (cp < 0) break;
    p->i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
      int lo = wbr_hex4(p->s + p->i + 2);
      if (lo < 0xDC00 || lo > 0xDFFF) break;
      p->i += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      break;
    }
    char u[4];
    int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n == 1) u[0] = (char)cp;
    else if (n == 2) u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F));
    else if (n == 3)
      u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
      u[2] = (char)(0x80 | (cp & 0x3F));
    else
      u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
      u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F));
    wbr_buf_put(&tmp, u, (size_t)n);
  }
  if (ok) put_str(out, tmp.p ? tmp.p : "", tmp.len);
  wbr_buf_free(&tmp);
  return ok;
}

/* One value of type spelled `type` at p into out. */
static bool tp_value(tp *p, const char *type, wbr_buf *out, int depth) {
  size_t tl;
  int t = tp_type(type, &tl);
  tp_space(p);
  const char *s = p->s + p->i;
  char *end = NULL;
  errno = 0;
  switch (t) {
  case GV_U8: case GV_U16: case GV_U32: case GV_U64: {
    if (*s == '-' || *s == '+' || *s == ' ') return false;
    unsigned long long v = strtoull(s, &end, 10);
    int n = t == GV_U8 ? 1 : t == GV_U16 ? 2 : t == GV_U32 ? 4 : 8;
    if (end == s || errno || (n < 8 && v >> (8 * n))) return false;
    put_le(out, v, n);
    break;
  }
  case GV_I8: case GV_I16: case GV_I32: case GV_I64: {
    if (*s == '+' || *s == ' ') return false;
    long long v = strtoll(s, &end, 10);
    int n = t == GV_I8 ? 1 : t == GV_I16 ? 2 : t == GV_I32 ? 4 : 8;
    long long lim = n == 8 ? 0 : 1LL << (8 * n - 1);
    if (end == s || errno || (n < 8 && (v < -lim || v >= lim))) return false;
    put_le(out, (uint64_t)v, n);
    break;
  }
  case GV_F32: case GV_F64: {
    if (*s == ' ') return false;
    double d = strtod(s, &end); /* nan, inf and out-of-range values are kept as strtod reads them */
    if (end == s) return false;
    if (t == GV_F32) {
      float f = (float)d;
      uint32_t b;
      memcpy(&b, &f, 4);
      put_le(out, b, 4);
    } else {
      uint64_t b;
      memcpy(&b, &d, 8);
      put_le(out, b, 8);
    }
    break;
  }
  case GV_BOOL:
    if (strncmp(s, "true", 4) == 0) end = (char *)s + 4, put_le(out, 1, 1);
    else if (strncmp(s, "false", 5) == 0) end = (char *)s + 5, put_le(out, 0, 1);
    else return false;
    break;
  case GV_STR:
    if (depth == 0) { /* a top-level string is the text itself */
      put_str(out, s, strlen(s));
      p->i += strlen(s);
      return true;
    }
    return tp_string(p, out);
  case GV_ARR: {
    if (depth >= GGUF_MAX_NESTING || *s != '[') return false;
    p->i++;
    const char *et = type + 1;
    size_t el;
    int e = tp_type(et, &el);
    if (e < 0) return false;
    /* The count precedes the values: reserve it and patch it. */
    put_le(out, (uint64_t)e, 4);
    size_t count_at = out->len;
    put_le(out, 0, 8);
    uint64_t n = 0;
    tp_space(p);
    if (p->s[p->i] == ']') {
      p->i++;
    } else {
      for (;;) {
        if (!tp_value(p, et, out, depth + 1)) return false;
        n++;
        tp_space(p);
        if (p->s[p->i] == ',') {
          p->i++;
          continue;
        }
        if (p->s[p->i] != ']') return false;
        p->i++;
        break;
      }
    }
    if (!out->oom)
      for (int k = 0; k < 8; k++) out->p[count_at + (size_t)k] = (char)(n >> (8 * k));
    return true;
  }
  default:
    return false;
  }
  p->i += (size_t)(end - s);
  return true;
}

static int gw_fail_meta(wbr_writer *w, const char *key, const char *type, const char *val) {
  char k[256], v[64];
  wbr_json_show(k, sizeof k, key);
  wbr_json_show(v, sizeof v, val);
  return wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                  "metadata '" TYPES_KEY "' gives the GGUF type of each non-string value; fix the "
                  "value or remove its entry there to write it as a string",
                  "cannot write metadata '%s' as GGUF type %s: its value '%s' is not one", k,
                  type, v);
}

/* llama.cpp's limit on names; our reader's limit on dimensions. */
static const wbr_name_rules gguf_names = {.format = "GGUF", .max_name = GGUF_MAX_NAME};

static int gw_begin(wbr_writer *w) {
  const wbr_tensorset *ts = w->layout;
  char shown[256];
  int checked = wbr_writer_check_layout(w, &gguf_names);
  if (checked) return checked;
  /* The recorded types of non-string values. */
  wbr_json *types = NULL;
  const cJSON *troot = NULL;
  for (size_t i = 0; i < ts->nmeta; i++) {
    if (strcmp(ts->meta_key[i], TYPES_KEY) != 0) continue;
    size_t eoff;
    char err[160];
    int rc = wbr_json_parse(&types, ts->meta_val[i], strlen(ts->meta_val[i]), &eoff, err,
                            sizeof err);
    if (rc == WBR_ENOMEM) return wbr_oom_file(w->ctx, w->path);
    if (rc == 0 && !cJSON_IsObject(wbr_json_root(types))) {
      wbr_json_free(types);
      types = NULL;
      snprintf(err, sizeof err, "not an object");
      eoff = 0;
      rc = WBR_EFORMAT;
    }
    if (rc)
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                      "'" TYPES_KEY "' is a JSON object {key: \"u32\"|\"f32\"|\"[str]\"|...}",
                      "cannot write GGUF: metadata '" TYPES_KEY "' is not valid: %s at byte %zu",
                      err, eoff);
    troot = wbr_json_root(types);
  }

  wbr_buf b;
  wbr_buf_init(&b);
  int rc = 0;
  uint64_t alignment = GGUF_DEFAULT_ALIGNMENT;
  uint64_t nkv = 0;
  wbr_buf kv;
  wbr_buf_init(&kv);
  for (size_t i = 0; i < ts->nmeta && rc == 0; i++) {
    const char *k = ts->meta_key[i], *v = ts->meta_val[i];
    if (strcmp(k, TYPES_KEY) == 0) continue;
    const cJSON *te = troot ? cJSON_GetObjectItemCaseSensitive(troot, k) : NULL;
    const char *type = cJSON_IsString(te) ? te->valuestring : "str";
    if (strcmp(k, "general.alignment") == 0) type = "u32"; /* ggml reads it as u32 only */
    size_t tl;
    int t = tp_type(type, &tl);
    if (t < 0 || type[tl]) {
      wbr_json_show(shown, sizeof shown, k);
      char ty[64];
      wbr_json_show(ty, sizeof ty, type);
      rc = wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                    "GGUF value types are u8 i8 u16 i16 u32 i32 u64 i64 f32 f64 bool str and "
                    "arrays of one type ([u32], [[str]]); arrays of arrays of several types "
                    "cannot be written back",
                    "cannot write metadata '%s': unsupported GGUF type '%s'", shown, ty);
      break;
    }
    put_str(&kv, k, strlen(k));
    put_le(&kv, (uint64_t)t, 4);
    size_t vat = kv.len;
    tp p = {v, 0};
    bool ok = tp_value(&p, type, &kv, 0);
    tp_space(&p);
    if (!ok || p.s[p.i]) {
      rc = gw_fail_meta(w, k, type, v);
      break;
    }
    if (strcmp(k, "general.alignment") == 0) {
      uint32_t a = (uint32_t)get_le((const uint8_t *)kv.p + vat, 4);
      if (a == 0 || (a & (a - 1)) || a > (1u << 24)) {
        rc = wbr_fail(w->ctx, WBR_EFORMAT, w->path, "give a power of two up to 16777216",
                      "cannot write GGUF: metadata 'general.alignment' is %u", a);
        break;
      }
      alignment = a;
    }
    nkv++;
  }
  wbr_json_free(types);

  uint64_t off = 0;
  wbr_buf infos;
  wbr_buf_init(&infos);
  for (size_t i = 0; i < ts->n && rc == 0; i++) {
    const wbr_tensor *t = &ts->t[i];
    wbr_json_show(shown, sizeof shown, t->name);
    int gt = t->opaque.type ? ggml_type_named(t->opaque.type) : ggml_type_of(t->dtype);
    int ndim = t->opaque.type ? t->opaque.ndim : t->ndim;
    const int64_t *shape = t->opaque.type ? t->opaque.shape : t->shape;
    size_t nl = strlen(t->name);
    if (gt < 0)
      rc = wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                    "GGUF holds F32 F16 BF16 F64 I8 I16 I32 I64; cast the tensor in the rules",
                    "cannot write tensor '%s' to GGUF: it is %s", shown, wbr_dtype_name(t->dtype));
    else if (t->ndim > GGUF_MAX_DIMS)
      rc = wbr_fail(w->ctx, WBR_EFORMAT, w->path, "reshape it to at most 4 dimensions in the rules",
                    "cannot write tensor '%s' to GGUF: it has %d dimensions, GGUF allows %d",
                    shown, t->ndim, GGUF_MAX_DIMS);
    if (rc) break;
    put_str(&infos, t->name, nl);
    put_le(&infos, (uint64_t)ndim, 4);
    for (int d = ndim - 1; d >= 0; d--) put_le(&infos, (uint64_t)shape[d], 8);
    put_le(&infos, (uint64_t)gt, 4);
    put_le(&infos, off, 8);
    off += align_up(t->nbytes, alignment);
  }

  if (rc == 0) {
    wbr_buf_put(&b, "GGUF", 4);
    put_le(&b, 3, 4);
    put_le(&b, ts->n, 8);
    put_le(&b, nkv, 8);
    wbr_buf_put(&b, kv.p, kv.len);
    wbr_buf_put(&b, infos.p, infos.len);
    while (b.len % alignment) wbr_buf_putc(&b, 0);
    if (b.oom || kv.oom || infos.oom) rc = wbr_oom_file(w->ctx, w->path);
  }
  gw_state *st = NULL;
  if (rc == 0) {
    st = calloc(1, sizeof *st);
    if (!st) rc = wbr_oom_file(w->ctx, w->path);
  }
  if (rc == 0) {
    st->alignment = alignment;
    w->state = st;
    rc = wbr_writer_emit(w, b.p, b.len);
  }
  wbr_buf_free(&b);
  wbr_buf_free(&kv);
  wbr_buf_free(&infos);
  return rc;
}

static int gw_tensor_end(wbr_writer *w, size_t i) {
  const gw_state *st = w->state;
  static const uint8_t zeros[64];
  uint64_t n = w->layout->t[i].nbytes, pad = align_up(n, st->alignment) - n;
  int rc = 0;
  while (pad && rc == 0) {
    size_t k = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
    rc = wbr_writer_emit(w, zeros, k);
    pad -= k;
  }
  return rc;
}

static const char *const gguf_exts[] = {".gguf", NULL};

const wbr_format wbr_format_gguf = {
    .name = "gguf",
    .exts = gguf_exts,
    .what = "weights",
    .has_data = true,
    .opaque_ok = true,
    .read = gguf_read,
    .begin = gw_begin,
    .tensor_end = gw_tensor_end,
};
