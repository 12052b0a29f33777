/* format.c — the registry of weight-file formats (chosen by file extension) and writing a whole
 * tensor set through the streaming writer. New formats add one line to `formats`. */
#include "format.h"

#include <stdio.h>
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

int wbr_format_no_key(wbr_ctx *ctx, const char *path, const char *key) {
  const wbr_format *fmt = wbr_format_for_path(path);
  return wbr_fail(ctx, WBR_EINPUT, path, "FILE#KEY selects an entry of a PyTorch checkpoint; drop the '#...'",
                  "a %s file has no entries to select ('#%s')", fmt ? fmt->name : "?", key);
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
      if (t->nbytes && !t->data)
        rc = wbr_fail(ctx, WBR_EINPUT, path, NULL, "tensor '%s' has no data to write", t->name);
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
