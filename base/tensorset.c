/* tensorset.c — the ordered, name-indexed tensor set: the container only. Opening one from a
 * file is formats/format.c's job (wbr_tensorset_open). */
#include "tensorset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>


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
  /* Names move with the array only as pointers, so the map's borrowed keys stay valid. */
  if (!wbr_grow(&ts->t, &ts->cap, ts->n + 1, sizeof *ts->t, 16)) return -1;
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
    return wbr_fail(ts->ctx, WBR_EFORMAT, NULL, "tensor names in one set must be unique",
                    "tensor '%s' is already in the set", name);
  case 2:
    return wbr_fail(ts->ctx, WBR_EFORMAT, NULL, NULL,
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
  out->quantized = t->opaque.type;
  out->quant_ndim = t->opaque.type ? t->opaque.ndim : 0;
  out->quant_shape = t->opaque.type ? t->opaque.shape : NULL;
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
