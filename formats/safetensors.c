/* safetensors.c — the safetensors format: an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON ({name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}), then the data.
 * The reader validates like the reference implementation (huggingface/safetensors) and stricter;
 * the writer emits the header for the streaming writer. The strict JSON layer is json.c. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "json.h"

/* ---- Reader ---------------------------------------------------------------------------------- */

#define ST_MAX_HEADER UINT64_C(100000000) /* the reference implementation's limit */

#define DT_NAME(id, name, size) " " name
static const char help_corrupt[] = "the file is truncated, corrupt, or not a safetensors file";
static const char help_entry[] =
    "each tensor entry is {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [BEGIN, END]}";
static const char help_dtype[] = "safetensors dtypes are:" WBR_DTYPE_LIST(DT_NAME);
static const char help_layout[] =
    "the tensors' data_offsets must tile the data section exactly (sorted by begin, each tensor "
    "starting where the previous ends); re-save the file with a correct writer";
static const char help_meta[] = "\"__metadata__\" maps strings to strings";
#undef DT_NAME

typedef struct st_span {
  uint64_t begin, end;
  size_t idx; /* position in the set */
} st_span;

static int span_cmp(const void *a, const void *b) {
  const st_span *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* One tensor entry: dtype, shape and data_offsets, each exactly once, nothing else. */
static int st_entry(const wbr_json *j, wbr_ctx *ctx, const char *path, const char *who,
                    const cJSON *e, uint64_t data_len, wbr_dtype *dtype, int *ndim,
                    int64_t *shape, st_span *span) {
  if (!cJSON_IsObject(e))
    return wbr_fail(ctx, WBR_EFORMAT, path, help_entry,
                    "%s: entry is %s, expected an object with dtype, shape and data_offsets", who,
                    wbr_json_kind(e));
  const cJSON *f_dtype = NULL, *f_shape = NULL, *f_offs = NULL;
  for (const cJSON *f = e->child; f; f = f->next) {
    const cJSON **slot = strcmp(f->string, "dtype") == 0          ? &f_dtype
                         : strcmp(f->string, "shape") == 0        ? &f_shape
                         : strcmp(f->string, "data_offsets") == 0 ? &f_offs
                                                                  : NULL;
    char key[256];
    wbr_json_show(key, sizeof key, f->string);
    if (!slot)
      return wbr_fail(ctx, WBR_EFORMAT, path,
                      "a tensor entry has only dtype, shape and data_offsets; free-form strings "
                      "belong in \"__metadata__\"",
                      "%s: unknown key \"%s\"", who, key);
    if (*slot)
      return wbr_fail(ctx, WBR_EFORMAT, path, help_entry, "%s: key \"%s\" appears twice", who, key);
    *slot = f;
  }
  if (!f_dtype) return wbr_fail(ctx, WBR_EFORMAT, path, help_entry, "%s: missing \"dtype\"", who);
  if (!f_shape) return wbr_fail(ctx, WBR_EFORMAT, path, help_entry, "%s: missing \"shape\"", who);
  if (!f_offs)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_entry, "%s: missing \"data_offsets\"", who);

  if (!cJSON_IsString(f_dtype))
    return wbr_fail(ctx, WBR_EFORMAT, path, help_dtype,
                    "%s: \"dtype\" is %s, expected a string such as \"F32\"", who,
                    wbr_json_kind(f_dtype));
  /* Exact spelling, as the reference reader requires ("f32" is not a safetensors dtype). */
  unsigned dt = 0;
  while (dt < WBR_DTYPE_COUNT && strcmp(wbr_dtype_name((wbr_dtype)dt), f_dtype->valuestring)) dt++;
  if (dt == WBR_DTYPE_COUNT) {
    char shown[64];
    wbr_json_show(shown, sizeof shown, f_dtype->valuestring);
    return wbr_fail(ctx, WBR_EFORMAT, path, help_dtype, "%s: unknown dtype \"%s\"", who, shown);
  }
  *dtype = (wbr_dtype)dt;

  int rc = wbr_json_shape(j, ctx, path, who, f_shape, shape, ndim, help_entry);
  if (rc) return rc;

  if (!cJSON_IsArray(f_offs) || !f_offs->child || !f_offs->child->next ||
      f_offs->child->next->next)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_entry,
                    "%s: \"data_offsets\" is %s, expected a list of two integers [begin, end]",
                    who, cJSON_IsArray(f_offs) ? "a list of another length" : wbr_json_kind(f_offs));
  rc = wbr_json_uint(j, ctx, path, who, "data_offsets[0]", f_offs->child, &span->begin,
                        help_entry);
  if (!rc)
    rc = wbr_json_uint(j, ctx, path, who, "data_offsets[1]", f_offs->child->next, &span->end,
                        help_entry);
  if (rc) return rc;
  if (span->begin > span->end)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_entry,
                    "%s: data_offsets [%llu, %llu] end before they begin", who,
                    (unsigned long long)span->begin, (unsigned long long)span->end);

  char sh[256];
  wbr_shape_str(sh, sizeof sh, *ndim, shape);
  uint64_t nelem, nbytes;
  if (!wbr_shape_nelem(*ndim, shape, &nelem))
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s: shape %s has more elements than fit in 64 bits", who, sh);
  if (!wbr_mul_u64(nelem, wbr_dtype_size(*dtype), &nbytes))
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s: shape %s of %s needs more bytes than fit in 64 bits", who, sh,
                    wbr_dtype_name(*dtype));
  if (span->end - span->begin != nbytes)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s: data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s needs %llu",
                    who, (unsigned long long)span->begin, (unsigned long long)span->end,
                    (unsigned long long)(span->end - span->begin), sh, wbr_dtype_name(*dtype),
                    (unsigned long long)nbytes);
  if (span->end > data_len)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s: data_offsets [%llu, %llu] reach past the end of the data section (%llu "
                    "bytes)",
                    who, (unsigned long long)span->begin, (unsigned long long)span->end,
                    (unsigned long long)data_len);
  return 0;
}

/* The reference's layout rule: sorted by begin, the tensors tile [0, data_len) exactly. */
static int st_check_layout(const wbr_tensorset *ts, wbr_ctx *ctx, const char *path,
                           st_span *spans, size_t n, uint64_t data_len) {
  qsort(spans, n, sizeof *spans, span_cmp);
  uint64_t pos = 0;
  char a[256], b[256];
  for (size_t i = 0; i < n; i++) {
    const st_span *s = &spans[i];
    wbr_json_show(b, sizeof b, ts->t[s->idx].name);
    if (s->begin < pos) {
      const st_span *p = &spans[i - 1]; /* pos > 0 means there is a previous span */
      wbr_json_show(a, sizeof a, ts->t[p->idx].name);
      return wbr_fail(ctx, WBR_EFORMAT, path, help_layout,
                      "tensors '%s' and '%s' overlap: data_offsets [%llu, %llu] and [%llu, %llu]",
                      a, b, (unsigned long long)p->begin, (unsigned long long)p->end,
                      (unsigned long long)s->begin, (unsigned long long)s->end);
    }
    if (s->begin > pos) {
      if (i == 0)
        return wbr_fail(ctx, WBR_EFORMAT, path, help_layout,
                        "no tensor covers bytes [0, %llu) of the data section (before '%s')",
                        (unsigned long long)s->begin, b);
      wbr_json_show(a, sizeof a, ts->t[spans[i - 1].idx].name);
      return wbr_fail(ctx, WBR_EFORMAT, path, help_layout,
                      "no tensor covers bytes [%llu, %llu) of the data section (between '%s' and "
                      "'%s')",
                      (unsigned long long)pos, (unsigned long long)s->begin, a, b);
    }
    pos = s->end;
  }
  if (pos != data_len) {
    if (n == 0)
      return wbr_fail(ctx, WBR_EFORMAT, path, help_layout,
                      "the header lists no tensors but %llu bytes of data follow it",
                      (unsigned long long)data_len);
    wbr_json_show(a, sizeof a, ts->t[spans[n - 1].idx].name);
    return wbr_fail(ctx, WBR_EFORMAT, path, help_layout,
                    "the data section has %llu bytes after the last tensor ('%s' ends at %llu, "
                    "the section is %llu bytes)",
                    (unsigned long long)(data_len - pos), a, (unsigned long long)pos,
                    (unsigned long long)data_len);
  }
  return 0;
}

static int st_read(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                   const uint8_t *bytes, size_t len) {
  if (key) return wbr_format_no_key(ctx, path, key);
  if (len < 8)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "file is %zu bytes: too short for safetensors (it starts with an 8-byte "
                    "header length)",
                    len);
  uint64_t n = le64(bytes);
  if (n == 0) return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "header length is 0");
  if (n > ST_MAX_HEADER)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "header length %llu exceeds the limit of %llu bytes", (unsigned long long)n,
                    (unsigned long long)ST_MAX_HEADER);
  if (n > len - 8)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "header length %llu runs past the end of the file (%zu bytes follow it)",
                    (unsigned long long)n, len - 8);
  const char *hdr = (const char *)bytes + 8;
  if (hdr[0] != '{')
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "header does not start with '{' (it must be a JSON object)");

  wbr_json *j;
  size_t eoff;
  char err[160];
  int rc = wbr_json_parse(&j, hdr, (size_t)n, &eoff, err, sizeof err);
  if (rc == WBR_ENOMEM) return wbr_oom_file(ctx, path);
  if (rc)
    return wbr_fail(ctx, rc, path, help_corrupt, "header is not valid JSON: %s at header byte %zu",
                    err, eoff);
  const cJSON *root = wbr_json_root(j);
  const uint8_t *data = bytes + 8 + n;
  uint64_t data_len = (uint64_t)len - 8 - n;
  size_t count = 0;
  for (const cJSON *e = root->child; e; e = e->next) count++;
  st_span *spans = malloc((count ? count : 1) * sizeof *spans);
  if (!spans) {
    wbr_json_free(j);
    return wbr_oom_file(ctx, path);
  }
  size_t nt = 0;
  bool seen_meta = false;
  char shown[256], who[300];
  for (const cJSON *e = root->child; e && rc == 0; e = e->next) {
    wbr_json_show(shown, sizeof shown, e->string);
    if (strcmp(e->string, "__metadata__") == 0) {
      if (seen_meta)
        rc = wbr_fail(ctx, WBR_EFORMAT, path, help_meta, "\"__metadata__\" appears twice");
      else
        rc = wbr_json_meta(ctx, path, "__metadata__", e, ts, help_meta);
      seen_meta = true;
      continue;
    }
    if (!e->string[0]) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, "give every tensor a non-empty name",
                    "a tensor has an empty name");
      break;
    }
    snprintf(who, sizeof who, "tensor '%s'", shown);
    wbr_dtype dtype = WBR_F32;
    int ndim = 0;
    int64_t shape[WBR_MAX_DIMS];
    st_span *sp = &spans[nt];
    rc = st_entry(j, ctx, path, who, e, data_len, &dtype, &ndim, shape, sp);
    if (rc) break;
    sp->idx = ts->n;
    int r = wbr_ts_append(ts, e->string, strlen(e->string), dtype, ndim, shape, data + sp->begin);
    if (r == 1)
      rc = wbr_fail(ctx, WBR_EFORMAT, path, "tensor names must be unique; rename or drop one",
                    "tensor '%s' appears twice in the header", shown);
    else if (r == 2) /* st_entry checked sizes; kept so a future change cannot slip through */
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "%s: shape too large", who);
    else if (r < 0)
      rc = wbr_oom_file(ctx, path);
    else
      nt++;
  }
  if (rc == 0) rc = st_check_layout(ts, ctx, path, spans, nt, data_len);
  free(spans);
  wbr_json_free(j);
  return rc;
}

/* ---- Writer ---------------------------------------------------------------------------------- */

static int utf8_or_fail(wbr_writer *w, const char *what, const char *s) {
  if (wbr_utf8_valid((const uint8_t *)s, strlen(s), NULL)) return 0;
  char shown[256];
  wbr_json_show(shown, sizeof shown, s);
  return wbr_fail(w->ctx, WBR_EFORMAT, w->path, "safetensors headers are UTF-8 JSON",
                  "cannot write %s '%s': it is not valid UTF-8", what, shown);
}

/* The header lists __metadata__ first, then the tensors in layout order with contiguous
 * data_offsets, and is padded with spaces (the format allows trailing whitespace) so the data
 * starts 8-byte aligned and, when the layout says where its tensors come from, so that the most
 * bytes of copied tensors keep their source offset mod 4096 (see st_align_pad). */
static const wbr_name_rules st_names = {.format = "safetensors",
                                        .reserved = "__metadata__"};

typedef struct st_want {
  uint64_t start; /* data start (mod 4096) that puts this tensor at its source's alignment */
  uint64_t bytes;
} st_want;

static int want_cmp(const void *a, const void *b) {
  const st_want *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Spaces to add to a header of hlen bytes (8 + hlen already a multiple of 8) so that the data
 * start is the one most copied bytes want: a kernel copy (copy_file_range) between equal page
 * offsets is the cheapest (+40% measured otherwise). A multiple of 8 below 4096; 0 without a
 * hint or when nothing gains. */
static size_t st_align_pad(const wbr_tensorset *ts, size_t hlen) {
  if (!ts->src_offset || ts->n == 0) return 0;
  st_want *v = malloc(ts->n * sizeof *v);
  if (!v) return 0; /* only speed is lost */
  size_t n = 0;
  uint64_t off = 0;
  for (size_t i = 0; i < ts->n; off += ts->t[i++].nbytes) {
    uint64_t s = ts->src_offset[i];
    if (s == UINT64_MAX || ts->t[i].nbytes == 0 || (s - off) % 8) continue;
    v[n++] = (st_want){(s - off) % 4096, ts->t[i].nbytes};
  }
  qsort(v, n, sizeof *v, want_cmp);
  uint64_t best = 0, best_bytes = 0, start = (8 + hlen) % 4096;
  for (size_t i = 0, j; i < n; i = j) {
    uint64_t sum = 0;
    for (j = i; j < n && v[j].start == v[i].start; j++) sum += v[j].bytes;
    if (sum > best_bytes) best = v[i].start, best_bytes = sum;
  }
  free(v);
  return best_bytes ? (size_t)((best + 4096 - start) % 4096) : 0;
}

static int st_begin(wbr_writer *w) {
  const wbr_tensorset *ts = w->layout;
  int rc = wbr_writer_check_layout(w, &st_names);
  if (rc) return rc;
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_putc(&b, '{');
  if (ts->nmeta) {
    wbr_buf_puts(&b, "\"__metadata__\":{");
    for (size_t i = 0; i < ts->nmeta && rc == 0; i++) {
      rc = utf8_or_fail(w, "metadata key", ts->meta_key[i]);
      if (!rc) rc = utf8_or_fail(w, "metadata value", ts->meta_val[i]);
      if (i) wbr_buf_putc(&b, ',');
      wbr_buf_json_str(&b, ts->meta_key[i]);
      wbr_buf_putc(&b, ':');
      wbr_buf_json_str(&b, ts->meta_val[i]);
    }
    wbr_buf_putc(&b, '}');
  }
  uint64_t off = 0;
  for (size_t i = 0; i < ts->n && rc == 0; i++) {
    const wbr_tensor *t = &ts->t[i];
    uint64_t end;
    if (!wbr_add_u64(off, t->nbytes, &end)) {
      rc = wbr_fail(w->ctx, WBR_EFORMAT, w->path, "write fewer or smaller tensors",
                    "cannot write safetensors: the tensors hold more than 2^64 bytes");
      break;
    }
    if (b.len > 1 || i) wbr_buf_putc(&b, ',');
    wbr_buf_json_str(&b, t->name);
    wbr_buf_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[", wbr_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
      wbr_buf_printf(&b, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    wbr_buf_printf(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                   (unsigned long long)end);
    off = end;
  }
  wbr_buf_putc(&b, '}');
  while (b.len % 8) wbr_buf_putc(&b, ' ');
  size_t pad = rc == 0 ? st_align_pad(ts, b.len) : 0;
  if (b.len + pad <= ST_MAX_HEADER)
    while (pad--) wbr_buf_putc(&b, ' ');
  if (rc == 0 && b.oom) rc = wbr_oom_file(w->ctx, w->path);
  if (rc == 0 && b.len > ST_MAX_HEADER)
    rc = wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                  "split the tensors over several files (readers refuse larger headers)",
                  "the safetensors header would be %zu bytes, over the %llu-byte limit", b.len,
                  (unsigned long long)ST_MAX_HEADER);
  if (rc == 0) {
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)b.len >> (8 * i));
    rc = wbr_writer_emit(w, len8, sizeof len8);
    if (rc == 0) rc = wbr_writer_emit(w, b.p, b.len);
  }
  wbr_buf_free(&b);
  return rc;
}

static const char *const st_exts[] = {".safetensors", NULL};

const wbr_format wbr_format_safetensors = {
    .name = "safetensors",
    .exts = st_exts,
    .what = "weights",
    .has_data = true,
    .read = st_read,
    .begin = st_begin,
};
