/* format.c — the registry of weight-file formats (chosen by file extension) and writing a whole
 * tensor set through the streaming writer. New formats add one line to `formats`. */
#include "format.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const wbr_format *const formats[] = {
    &wbr_format_safetensors,
    &wbr_format_manifest,
    &wbr_format_torch,
    &wbr_format_gguf,
    &wbr_format_sharded,
    &wbr_format_npy,
    &wbr_format_npz,
};
#define NFORMATS (sizeof formats / sizeof formats[0])

const wbr_format *wbr_format_for_path(const char *path) {
  /* The longest matching extension wins: "x.safetensors.index.json" is a sharded checkpoint's
   * index, not a manifest. */
  size_t n = strlen(path), best_len = 0;
  const wbr_format *best = NULL;
  for (size_t i = 0; i < NFORMATS; i++) {
    for (const char *const *e = formats[i]->exts; *e; e++) {
      size_t l = strlen(*e);
      if (n > l && l > best_len && strcasecmp(path + n - l, *e) == 0) {
        best = formats[i];
        best_len = l;
      }
    }
  }
  return best;
}

void wbr_format_extensions(char *buf, size_t n) {
  wbr_buf b;
  wbr_buf_init(&b);
  for (size_t i = 0; i < NFORMATS; i++) {
    wbr_buf_puts(&b, i ? ", " : "");
    for (const char *const *e = formats[i]->exts; *e; e++)
      wbr_buf_printf(&b, "%s%s", e == formats[i]->exts ? "" : " ", *e);
    wbr_buf_printf(&b, " (%s)", formats[i]->what);
  }
  snprintf(buf, n, "%s", b.p ? b.p : "");
  wbr_buf_free(&b);
}

int wbr_oom_file(wbr_ctx *ctx, const char *path) {
  return wbr_fail(ctx, WBR_ENOMEM, path,
                  "free memory or raise this process's limit (ulimit -v), then run again",
                  "out of memory");
}

int wbr_format_no_key(wbr_ctx *ctx, const char *path, const char *key) {
  const wbr_format *fmt = wbr_format_for_path(path);
  return wbr_fail(ctx, WBR_EINPUT, path, "FILE#KEY selects an entry of a PyTorch checkpoint; drop the '#...'",
                  "a %s file has no entries to select ('#%s')", fmt ? fmt->name : "?", key);
}

int wbr_tensor_fill(wbr_ctx *ctx, const wbr_tensor *t, uint8_t *dst) {
  if (t->lazy) return t->lazy->fill(t->lazy, ctx, t, dst);
  if (t->nbytes && !t->data)
    return wbr_fail(ctx, WBR_EINPUT, NULL, "read the tensors from a weight file, not a manifest",
                    "tensor '%s' has no data", t->name);
  if (t->nbytes) memcpy(dst, t->data, (size_t)t->nbytes);
  return 0;
}

void *wbr_ts_own_block(wbr_tensorset *ts, wbr_ctx *ctx, size_t n) {
  /* A child set owns the block, so the set's own `owned` (open_memory's copy) stays as it is. */
  wbr_tensorset *c;
  if (wbr_tensorset_new(&c, ctx)) return NULL;
  c->owned = calloc(1, n ? n : 1);
  if (!c->owned) {
    wbr_tensorset_free(c);
    wbr_oom(ctx);
    return NULL;
  }
  void *p = c->owned;
  return wbr_ts_adopt(ts, c) == 0 ? p : NULL;
}

/* Write a lazy tensor's bytes: made in a buffer of its size, one tensor at a time. */
static int write_lazy(wbr_writer *w, wbr_ctx *ctx, const char *path, const wbr_tensor *t) {
  uint8_t *buf = t->nbytes <= SIZE_MAX ? malloc(t->nbytes ? (size_t)t->nbytes : 1) : NULL;
  if (!buf) {
    char sz[32];
    wbr_bytes_str(sz, sizeof sz, t->nbytes);
    return wbr_fail(ctx, WBR_ENOMEM, path, "free memory, or write the tensors to a smaller output",
                    "out of memory making the %s of tensor '%s'", sz, t->name);
  }
  int rc = wbr_tensor_fill(ctx, t, buf);
  if (rc == 0) rc = wbr_writer_write(w, buf, (size_t)t->nbytes);
  free(buf);
  return rc;
}

/* Dimensions a JSON reader holds exactly (the safetensors and manifest readers' limit). */
#define EXACT_DIM_MAX (INT64_C(1) << 53)

static int check_dims(wbr_writer *w, const wbr_name_rules *r, const char *shown, int nd,
                      const int64_t *shape) {
  for (int d = 0; d < nd; d++)
    if (shape[d] > EXACT_DIM_MAX)
      return wbr_fail(w->ctx, WBR_EINPUT, w->path, "check the reshape in the rules",
                      "cannot write tensor '%s' to %s: dimension %d is %lld, larger than 2^53 "
                      "(its readers refuse it)", shown, r->format, d, (long long)shape[d]);
  return 0;
}

int wbr_writer_check_layout(wbr_writer *w, const wbr_name_rules *r) {
  const wbr_tensorset *ts = w->layout;
  char shown[256];
  for (size_t i = 0; i < ts->n; i++) {
    const wbr_tensor *t = &ts->t[i];
    size_t nl = strlen(t->name), bad;
    wbr_json_show(shown, sizeof shown, t->name);
    char why[96] = "";
    if (r->unnamed) ;
    else if (nl == 0) snprintf(why, sizeof why, "its name is empty");
    else if (!wbr_utf8_valid((const uint8_t *)t->name, nl, &bad))
      snprintf(why, sizeof why, "its name is not UTF-8 (byte %zu)", bad);
    else if (r->max_name && nl > r->max_name)
      snprintf(why, sizeof why, "its name is %zu bytes, the format allows %zu", nl, r->max_name);
    else if (r->reserved && strcmp(t->name, r->reserved) == 0)
      return wbr_fail(w->ctx, WBR_EINPUT, w->path, "rename the tensor in the rules",
                      "cannot write a tensor named '%s' to %s", shown, r->format);
    if (why[0])
      return wbr_fail(w->ctx, WBR_EINPUT, w->path, "rename the tensor in the rules",
                      "cannot write tensor '%s' to %s: %s", shown, r->format, why);
    int rc = check_dims(w, r, shown, t->ndim, t->shape);
    if (!rc && t->quant) rc = check_dims(w, r, shown, t->qndim, t->qshape);
    if (rc) return rc;
  }
  return 0;
}

int wbr_tensorset_write(const wbr_tensorset *ts, wbr_ctx *ctx, const char *path) {
  if (!ts || !path) return WBR_EUSAGE;
  const wbr_format *fmt = wbr_format_for_path(path);
  if (fmt && fmt->has_data && ts->n && !ts->has_data)
    return wbr_fail(ctx, WBR_EINPUT, path, "write a manifest (.json) instead, or read a weight file",
                    "cannot write a %s file: the tensor set has names and shapes but no data",
                    fmt->name);
  wbr_writer *w;
  int rc = wbr_writer_open(&w, ctx, path, ts, NULL);
  if (rc) return rc;
  if (fmt && fmt->has_data) {
    for (size_t i = 0; i < ts->n && rc == 0; i++) {
      const wbr_tensor *t = &ts->t[i];
      if (t->lazy)
        rc = write_lazy(w, ctx, path, t);
      else if (t->nbytes && !t->data)
        rc = wbr_fail(ctx, WBR_EINPUT, path, "give every tensor its bytes (wbr_tensorset_add with data)",
                      "tensor '%s' has no data to write", t->name);
      else
        rc = wbr_writer_write(w, t->data, (size_t)t->nbytes);
    }
  }
  if (rc == 0) rc = wbr_writer_commit(w);
  wbr_writer_free(w);
  return rc;
}

char *wbr_tensorset_to_manifest(const wbr_tensorset *ts) {
  if (!ts) return NULL;
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_puts(&b, "{");
  if (ts->nmeta) {
    /* Metadata first, so it survives a round trip through a manifest. */
    wbr_buf_puts(&b, "\"metadata\": {");
    for (size_t i = 0; i < ts->nmeta; i++) {
      wbr_buf_puts(&b, i ? ", " : "");
      wbr_buf_json_str(&b, ts->meta_key[i]);
      wbr_buf_puts(&b, ": ");
      wbr_buf_json_str(&b, ts->meta_val[i]);
    }
    wbr_buf_puts(&b, "},\n ");
  }
  wbr_buf_puts(&b, "\"tensors\": {");
  for (size_t i = 0; i < ts->n; i++) {
    const wbr_tensor *t = &ts->t[i];
    wbr_buf_puts(&b, i ? ",\n  " : "\n  ");
    wbr_buf_json_str(&b, t->name);
    wbr_buf_puts(&b, ": {\"shape\": [");
    for (int d = 0; d < t->ndim; d++)
      wbr_buf_printf(&b, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    wbr_buf_printf(&b, "], \"dtype\": \"%s\"}", wbr_dtype_name(t->dtype));
  }
  wbr_buf_puts(&b, ts->n ? "\n}}\n" : "}}\n");
  return wbr_buf_take(&b);
}

/* ---- The table of `wbr inspect` ---------------------------------------------------------- */

/* A quantized tensor is shown with its type and logical shape (its bytes are U8 [nbytes]). */
static void shape_cell(char *buf, size_t n, const wbr_tensor *t) {
  if (t->quant) wbr_shape_str(buf, n, t->qndim, t->qshape);
  else wbr_shape_str(buf, n, t->ndim, t->shape);
}

static uint64_t params_of(const wbr_tensor *t) {
  if (!t->quant) return t->nelem;
  uint64_t ne = 1;
  for (int d = 0; d < t->qndim; d++) ne *= (uint64_t)t->qshape[d];
  return ne;
}

/* Display width of a cleaned name: bytes less UTF-8 continuation bytes. */
static int text_width(const char *s) {
  int w = 0;
  for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

char *wbr_tensorset_render(const wbr_tensorset *ts, const char *path) {
  if (!ts) return NULL;
  wbr_buf b, name;
  wbr_buf_init(&b);
  wbr_buf_init(&name);
  int wname = 4, wshape = 5;
  uint64_t params = 0, bytes = 0;
  char sh[256];
  for (size_t i = 0; i < ts->n; i++) {
    name.len = 0;
    wbr_buf_put_clean(&name, ts->t[i].name, false);
    int l = name.p ? text_width(name.p) : 0;
    shape_cell(sh, sizeof sh, &ts->t[i]);
    if (l > wname) wname = l;
    if ((int)strlen(sh) > wshape) wshape = (int)strlen(sh);
    params += params_of(&ts->t[i]);
    bytes += ts->t[i].nbytes;
  }
  if (wname > 80) wname = 80;
  wbr_buf_put_clean(&b, path ? path : "", false);
  wbr_buf_printf(&b, ": %s, %zu tensors, %llu parameters, %llu bytes\n", ts->format, ts->n,
                 (unsigned long long)params, (unsigned long long)bytes);
  wbr_buf_printf(&b, "%-*s  %-7s  %-*s  %12s\n", wname, "name", "dtype", wshape, "shape", "bytes");
  for (size_t i = 0; i < ts->n; i++) {
    const wbr_tensor *t = &ts->t[i];
    name.len = 0;
    wbr_buf_put_clean(&name, t->name, false);
    const char *nm = name.p ? name.p : "";
    shape_cell(sh, sizeof sh, t);
    /* Pad by display width: printf's %-*s counts bytes. */
    wbr_buf_puts(&b, nm);
    for (int k = text_width(nm); k < wname; k++) wbr_buf_putc(&b, ' ');
    wbr_buf_printf(&b, "  %-7s  %-*s  %12llu\n", t->quant ? t->quant_name : wbr_dtype_name(t->dtype),
                   wshape, sh, (unsigned long long)t->nbytes);
  }
  for (size_t i = 0; i < ts->nmeta; i++) {
    wbr_buf_puts(&b, "metadata: ");
    wbr_buf_put_clean(&b, ts->meta_key[i], false);
    wbr_buf_puts(&b, " = ");
    wbr_buf_put_clean(&b, ts->meta_val[i], false);
    wbr_buf_putc(&b, '\n');
  }
  wbr_buf_free(&name);
  return wbr_buf_take(&b);
}
