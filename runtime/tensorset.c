/* tensorset.c — the ordered, name-indexed tensor set, and opening one from a file: the file is
 * memory-mapped read-only and handed to its format's reader, so only the header is parsed and
 * tensor bytes are read by the OS on demand. */
#include "tensorset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../formats/format.h"

bool wbr_shape_nelem(int ndim, const int64_t *shape, uint64_t *out) {
  uint64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || !wbr_mul_u64(n, (uint64_t)shape[i], &n)) return false;
  }
  *out = n;
  return true;
}

int wbr_tensorset_new(wbr_tensorset **out, wbr_ctx *ctx) {
  if (!out) return WBR_EUSAGE;
  wbr_tensorset *ts = calloc(1, sizeof *ts);
  *out = ts;
  if (!ts) return wbr_oom(ctx);
  ts->ctx = ctx;
  ts->format = "memory";
  ts->fd = -1;
  wbr_map_init(&ts->index);
  wbr_map_init(&ts->meta_index);
  return 0;
}

void wbr_tensorset_free(wbr_tensorset *ts) {
  if (!ts) return;
  for (size_t i = 0; i < ts->n; i++) free(ts->t[i].name);
  free(ts->t);
  wbr_map_free(&ts->index);
  for (size_t i = 0; i < ts->nmeta; i++) {
    free(ts->meta_key[i]);
    free(ts->meta_val[i]);
  }
  free(ts->meta_key);
  free(ts->meta_val);
  wbr_map_free(&ts->meta_index);
  free(ts->path);
  if (ts->map_base) munmap(ts->map_base, ts->map_len);
  if (ts->fd >= 0) close(ts->fd);
  for (size_t i = 0; i < ts->nchildren; i++) wbr_tensorset_free(ts->children[i]);
  free(ts->children);
  free(ts->owned);
  free(ts);
}

int wbr_ts_append(wbr_tensorset *ts, const char *name, size_t name_len, wbr_dtype dtype, int ndim,
                  const int64_t *shape, const uint8_t *data) {
  wbr_tensor t = {.dtype = dtype, .ndim = ndim, .data = data};
  if (ndim < 0 || ndim > WBR_MAX_DIMS) return 2;
  if (ndim) memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
  if (!wbr_shape_nelem(ndim, shape, &t.nelem) ||
      !wbr_mul_u64(t.nelem, wbr_dtype_size(dtype), &t.nbytes))
    return 2;
  if (ts->n == ts->cap) {
    size_t cap = ts->cap ? ts->cap * 2 : 16;
    wbr_tensor *nt = realloc(ts->t, cap * sizeof *nt);
    if (!nt) return -1;
    ts->t = nt;
    ts->cap = cap;
    /* Names moved with the array only as pointers, so the map's borrowed keys stay valid. */
  }
  t.name = wbr_strndup(name, name_len);
  if (!t.name) return -1;
  int r = wbr_map_put(&ts->index, t.name, ts->n, NULL);
  if (r != 0) {
    free(t.name);
    return r < 0 ? -1 : 1;
  }
  ts->t[ts->n++] = t;
  return 0;
}

int wbr_ts_adopt(wbr_tensorset *ts, wbr_tensorset *child) {
  wbr_tensorset **c = realloc(ts->children, (ts->nchildren + 1) * sizeof *c);
  if (!c) {
    wbr_tensorset_free(child);
    return wbr_oom(ts->ctx);
  }
  ts->children = c;
  c[ts->nchildren++] = child;
  return 0;
}

bool wbr_ts_in_mapping(const wbr_tensorset *ts, const uint8_t *p, uint64_t n) {
  const uint8_t *base = ts->map_base;
  return base && ts->fd >= 0 && p >= base && n <= ts->map_len && (uint64_t)(p - base) <= ts->map_len - n;
}

int wbr_tensorset_add(wbr_tensorset *ts, const char *name, wbr_dtype dtype, int ndim,
                      const int64_t *shape, const void *data) {
  if (!ts || !name || (ndim > 0 && !shape) || (unsigned)dtype >= WBR_DTYPE_COUNT)
    return WBR_EUSAGE;
  int r = wbr_ts_append(ts, name, strlen(name), dtype, ndim, shape, data);
  switch (r) {
  case 0:
    if (data) ts->has_data = true;
    return 0;
  case 1:
    return wbr_fail(ts->ctx, WBR_EINPUT, NULL, "tensor names in one set must be unique",
                    "tensor '%s' is already in the set", name);
  case 2:
    return wbr_fail(ts->ctx, WBR_EINPUT, NULL, NULL,
                    "tensor '%s': shape has more than %d dimensions, a negative size, or more "
                    "elements than fit in 64 bits",
                    name, WBR_MAX_DIMS);
  default:
    return wbr_oom(ts->ctx);
  }
}

size_t wbr_tensorset_count(const wbr_tensorset *ts) { return ts ? ts->n : 0; }

int wbr_tensorset_get(const wbr_tensorset *ts, size_t i, wbr_tensor_info *out) {
  if (!ts || !out || i >= ts->n) return WBR_EUSAGE;
  const wbr_tensor *t = &ts->t[i];
  out->name = t->name;
  out->dtype = t->dtype;
  out->ndim = t->ndim;
  out->shape = t->shape;
  out->nelem = t->nelem;
  out->nbytes = t->nbytes;
  out->data = t->data;
  out->quantized = t->quant ? t->quant_name : NULL;
  out->quant_ndim = t->quant ? t->qndim : 0;
  out->quant_shape = t->quant ? t->qshape : NULL;
  return 0;
}

long wbr_tensorset_find(const wbr_tensorset *ts, const char *name) {
  size_t i;
  if (!ts || !name || !wbr_map_get(&ts->index, name, &i)) return -1;
  return (long)i;
}

int wbr_tensorset_has_data(const wbr_tensorset *ts) { return ts && ts->has_data; }

const char *wbr_tensorset_format(const wbr_tensorset *ts) { return ts ? ts->format : ""; }

size_t wbr_tensorset_meta_count(const wbr_tensorset *ts) { return ts ? ts->nmeta : 0; }

int wbr_tensorset_meta_get(const wbr_tensorset *ts, size_t i, const char **key,
                           const char **value) {
  if (!ts || i >= ts->nmeta) return WBR_EUSAGE;
  if (key) *key = ts->meta_key[i];
  if (value) *value = ts->meta_val[i];
  return 0;
}

long wbr_ts_meta_find(const wbr_tensorset *ts, const char *key) {
  size_t i;
  return ts && key && wbr_map_get(&ts->meta_index, key, &i) ? (long)i : -1;
}

int wbr_tensorset_meta_set(wbr_tensorset *ts, const char *key, const char *value) {
  if (!ts || !key || !value) return WBR_EUSAGE;
  char *v = wbr_strdup(value);
  if (!v) return wbr_oom(ts->ctx);
  long at = wbr_ts_meta_find(ts, key);
  if (at >= 0) {
    free(ts->meta_val[at]);
    ts->meta_val[at] = v;
    return 0;
  }
  if (ts->nmeta == ts->meta_cap) {
    size_t cap = ts->meta_cap ? ts->meta_cap * 2 : 8;
    char **nk = realloc(ts->meta_key, cap * sizeof *nk);
    if (nk) ts->meta_key = nk;
    char **nv = nk ? realloc(ts->meta_val, cap * sizeof *nv) : NULL;
    if (nv) ts->meta_val = nv;
    if (!nk || !nv) {
      free(v);
      return wbr_oom(ts->ctx);
    }
    ts->meta_cap = cap;
  }
  char *k = wbr_strdup(key);
  /* The map borrows the key string, which lives (and keeps its address) as long as the set. */
  if (!k || wbr_map_put(&ts->meta_index, k, ts->nmeta, NULL) < 0) {
    free(k);
    free(v);
    return wbr_oom(ts->ctx);
  }
  ts->meta_key[ts->nmeta] = k;
  ts->meta_val[ts->nmeta] = v;
  ts->nmeta++;
  return 0;
}

int wbr_ts_file_ids(const wbr_tensorset *ts, wbr_file_ids *ids) {
  if (!ts) return 0;
  if (ts->path && wbr_file_ids_add(ids, ts->dev, ts->ino, ts->path) != 0) return -1;
  for (size_t i = 0; i < ts->nchildren; i++)
    if (wbr_ts_file_ids(ts->children[i], ids) != 0) return -1;
  return 0;
}

static const wbr_format *format_or_fail(wbr_ctx *ctx, const char *path) {
  const wbr_format *fmt = wbr_format_for_path(path);
  if (!fmt) {
    char exts[384], help[512];
    wbr_format_extensions(exts, sizeof exts);
    snprintf(help, sizeof help, "name the file with one of the extensions weightbridge reads: %s", exts);
    wbr_fail(ctx, WBR_EINPUT, path, help, "unknown file type (by extension)");
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
    return rc < 0 ? rc : WBR_EINPUT;
  }
  ts->has_data = fmt->has_data;
  *out = ts;
  return 0;
}

static int open_file(wbr_tensorset **out, wbr_ctx *ctx, const char *path, const char *key);

int wbr_tensorset_open(wbr_tensorset **out, wbr_ctx *ctx, const char *spec) {
  if (!out || !spec) return WBR_EUSAGE;
  *out = NULL;
  /* FILE#KEY selects an entry of a container (a sub-dict of a PyTorch checkpoint): split at the
   * last '#' when the name before it has a known extension and the whole name is no file. */
  char *path = wbr_strdup(spec);
  if (!path) return wbr_oom(ctx);
  const char *key = NULL;
  char *hash = strrchr(path, '#');
  if (hash && access(spec, F_OK) != 0) {
    *hash = 0;
    if (wbr_format_for_path(path)) key = hash + 1;
    else *hash = '#';
  }
  int rc = open_file(out, ctx, path, key);
  free(path);
  return rc;
}

static int open_file(wbr_tensorset **out, wbr_ctx *ctx, const char *path, const char *key) {
  const wbr_format *fmt = format_or_fail(ctx, path);
  if (!fmt) return WBR_EINPUT;
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
  if (!fmt) return WBR_EINPUT;
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
