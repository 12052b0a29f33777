/* format.c — the registry of weight-file formats (chosen by file extension) and opening a tensor
 * set from a file: the file is memory-mapped read-only and handed to its format's reader, so
 * only the header is parsed and tensor bytes are read by the OS on demand. New formats add one
 * line to `formats`. */
#include "../base/text.h" /* wbr_edit_distance, for "did you mean" */
#include "format.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const wbr_format *const formats[] = {
    &wbr_format_safetensors,
    &wbr_format_manifest,
    &wbr_format_torch,
    &wbr_format_gguf,
    &wbr_format_sharded,
    &wbr_format_sharded_torch,
    &wbr_format_lightning,
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

/* ---- Formats by name (wbr_tensorset_open_as, wbr_writer_options.format, --from/--to) ----------
 * A name matches a format's own name, one of its extensions without the dot, or an alias,
 * ignoring case and treating '-', '_' and ' ' alike: "sharded-safetensors", "PyTorch", "pt",
 * ".bin", "ckpt", "json" all name something. */
static const struct {
  const char *alias;
  const wbr_format *fmt;
} aliases[] = {{"torch", &wbr_format_torch}, {"pth-index", &wbr_format_sharded_torch},
               {"bin-index", &wbr_format_sharded_torch}, {"safetensors-index", &wbr_format_sharded},
               {"pl", &wbr_format_lightning}};

static int name_char(char c) {
  if (c == '_' || c == ' ') return '-';
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool same_name(const char *typed, const char *name) {
  if (*typed == '.') typed++;
  if (*name == '.') name++;
  for (; *typed && *name; typed++, name++)
    if (name_char(*typed) != name_char(*name)) return false;
  return !*typed && !*name;
}

const wbr_format *wbr_format_named(const char *name) {
  if (!name || !*name) return NULL;
  for (size_t i = 0; i < NFORMATS; i++) {
    if (same_name(name, formats[i]->name)) return formats[i];
    for (const char *const *e = formats[i]->exts; *e; e++)
      if (same_name(name, *e)) return formats[i];
  }
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (same_name(name, aliases[i].alias)) return aliases[i].fmt;
  return NULL;
}

void wbr_format_names(char *buf, size_t n) {
  wbr_buf b;
  wbr_buf_init(&b);
  for (size_t i = 0; i < NFORMATS; i++) {
    wbr_buf_puts(&b, i ? ", " : "");
    for (const char *c = formats[i]->name; *c; c++) wbr_buf_putc(&b, *c == ' ' ? '-' : *c);
    wbr_buf_puts(&b, " (");
    for (const char *const *e = formats[i]->exts; *e; e++)
      wbr_buf_printf(&b, "%s%s", e == formats[i]->exts ? "" : " ", *e);
    wbr_buf_puts(&b, ")");
  }
  snprintf(buf, n, "%s", b.p ? b.p : "");
  wbr_buf_free(&b);
}

const wbr_format *wbr_format_or_fail(wbr_ctx *ctx, const char *name, const char *what) {
  const wbr_format *fmt = wbr_format_named(name);
  if (!fmt) {
    /* The closest format name within two edits ("safetensor", "lightnin"). */
    char close[64] = "";
    size_t best = 3, nl = name ? strlen(name) : 0;
    for (size_t i = 0; i < NFORMATS && name; i++) {
      size_t d = wbr_edit_distance(name, nl, formats[i]->name, strlen(formats[i]->name),
                                   WBR_EDIT_TRANSPOSE | WBR_EDIT_FOLD_CASE);
      if (d >= best) continue;
      best = d;
      snprintf(close, sizeof close, "%s", formats[i]->name);
      for (char *c = close; *c; c++) *c = *c == ' ' ? '-' : *c; /* as the list spells it */
    }
    char names[512], help[700];
    wbr_format_names(names, sizeof names);
    snprintf(help, sizeof help, "%s%s%sthe formats are: %s", *close ? "did you mean '" : "", close,
             *close ? "'? " : "", names);
    wbr_fail(ctx, WBR_EUSAGE, NULL, help, "unknown %s format '%s'", what, name ? name : "");
  }
  return fmt;
}

int wbr_format_check(wbr_ctx *ctx, const char *name) {
  return wbr_format_or_fail(ctx, name, "file") ? 0 : WBR_EUSAGE;
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
  return wbr_fail(ctx, WBR_EFORMAT, path, "FILE#KEY selects an entry of a PyTorch checkpoint; drop the '#...'",
                  "%s%s file has no entries to select ('#%s')", fmt ? "a " : "this", fmt ? fmt->name : "", key);
}

int wbr_tensor_fill(wbr_ctx *ctx, const wbr_tensor *t, uint8_t *dst) {
  if (t->lazy) return t->lazy->fill(t->lazy, ctx, t, dst);
  if (t->nbytes && !t->data)
    return wbr_fail(ctx, WBR_EFORMAT, NULL, "read the tensors from a weight file, not a manifest",
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

static const wbr_format *format_or_fail(wbr_ctx *ctx, const char *path) {
  const wbr_format *fmt = wbr_format_for_path(path);
  if (!fmt) {
    char exts[512], help[768];
    wbr_format_extensions(exts, sizeof exts);
    snprintf(help, sizeof help,
             "name the file with one of the extensions weightbridge reads: %s; or give its format "
             "(wbr: --from FORMAT for SRC or FILE, --target-format FORMAT for TARGET)", exts);
    wbr_fail(ctx, WBR_EFORMAT, path, help, "unknown file type (by extension)");
  }
  return fmt;
}

static int read_into(wbr_tensorset **out, wbr_tensorset *ts, const wbr_format *fmt,
                     const char *path, const char *key, const uint8_t *bytes, size_t len) {
  ts->format = fmt->name;
  int rc = fmt->read(ts, ts->ctx, path, key, bytes, len);
  if (rc != 0) {
    wbr_tensorset_free(ts);
    *out = NULL;
    return rc < 0 ? rc : WBR_EFORMAT;
  }
  ts->has_data = fmt->has_data;
  *out = ts;
  return 0;
}

static int open_file(wbr_tensorset **out, wbr_ctx *ctx, const char *path, const char *key,
                     const wbr_format *fmt);

int wbr_tensorset_open_as(wbr_tensorset **out, wbr_ctx *ctx, const char *spec, const char *format) {
  if (!out || !spec) return WBR_EUSAGE;
  *out = NULL;
  const wbr_format *fmt = NULL;
  if (format && !(fmt = wbr_format_or_fail(ctx, format, "input"))) return WBR_EUSAGE;
  /* FILE#KEY selects an entry of a container (a sub-dict of a PyTorch checkpoint): split at the
   * last '#' when the name before it has a known extension (or the format is given) and the
   * whole name is no file. */
  char *path = wbr_strdup(spec);
  if (!path) return wbr_oom(ctx);
  const char *key = NULL;
  char *hash = strrchr(path, '#');
  if (hash && access(spec, F_OK) != 0) {
    *hash = 0;
    if (fmt || wbr_format_for_path(path)) key = hash + 1;
    else *hash = '#';
  }
  struct stat st;
  int rc;
  if (!fmt && !key && stat(path, &st) == 0 && S_ISDIR(st.st_mode) && !wbr_format_for_path(path)) {
    rc = wbr_dir_hf.open(out, ctx, path); /* a model directory (formats/hfdir.c) */
  } else {
    if (!fmt) fmt = format_or_fail(ctx, path);
    rc = fmt ? open_file(out, ctx, path, key, fmt) : WBR_EFORMAT;
  }
  free(path);
  return rc;
}

int wbr_tensorset_open(wbr_tensorset **out, wbr_ctx *ctx, const char *spec) {
  return wbr_tensorset_open_as(out, ctx, spec, NULL);
}

static int open_file(wbr_tensorset **out, wbr_ctx *ctx, const char *path, const char *key,
                     const wbr_format *fmt) {
  struct stat st;
  int fd = wbr_io_open_read(ctx, path, NULL, &st);
  if (fd < 0) return fd;
  wbr_tensorset *ts;
  int rc = wbr_tensorset_new(&ts, ctx);
  if (rc) {
    close(fd);
    return rc;
  }
  size_t len = (size_t)st.st_size;
  const uint8_t *bytes = (const uint8_t *)"";
  if (len > 0) {
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      rc = wbr_fail_errno(ctx, path, "cannot map");
      close(fd);
      wbr_tensorset_free(ts);
      return rc;
    }
    ts->map_base = m;
    ts->map_len = len;
    bytes = m;
  }
  ts->fd = fd;
  ts->dev = st.st_dev;
  ts->ino = st.st_ino;
  ts->path = wbr_strdup(path);
  if (!ts->path) {
    wbr_tensorset_free(ts);
    return wbr_oom(ctx);
  }
  return read_into(out, ts, fmt, path, key, bytes, len);
}

int wbr_tensorset_open_memory(wbr_tensorset **out, wbr_ctx *ctx, const char *name,
                              const void *bytes, size_t len) {
  if (!out || !name || (!bytes && len)) return WBR_EUSAGE;
  *out = NULL;
  const wbr_format *fmt = format_or_fail(ctx, name);
  if (!fmt) return WBR_EFORMAT;
  wbr_tensorset *ts;
  int rc = wbr_tensorset_new(&ts, ctx);
  if (rc) return rc;
  /* One spare byte so readers may rely on a NUL after the bytes; the copy is the set's own. */
  ts->owned = malloc(len + 1);
  if (!ts->owned) {
    wbr_tensorset_free(ts);
    return wbr_oom(ctx);
  }
  if (len) memcpy(ts->owned, bytes, len);
  ((uint8_t *)ts->owned)[len] = 0;
  return read_into(out, ts, fmt, name, NULL, ts->owned, len);
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
  if (t->opaque.type) wbr_shape_str(buf, n, t->opaque.ndim, t->opaque.shape);
  else wbr_shape_str(buf, n, t->ndim, t->shape);
}

static uint64_t params_of(const wbr_tensor *t) {
  if (!t->opaque.type) return t->nelem;
  uint64_t ne = 1;
  for (int d = 0; d < t->opaque.ndim; d++) ne *= (uint64_t)t->opaque.shape[d];
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
    wbr_buf_printf(&b, "  %-7s  %-*s  %12llu\n", t->opaque.type ? t->opaque.type : wbr_dtype_name(t->dtype),
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
