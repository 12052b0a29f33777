/* fuzz_set.h — the shared body of the tensor-set reader fuzz targets: open the input as a file
 * of the given name; it must give a set or exactly one error, never a crash or an out-of-bounds
 * read; a set that parses has every tensor's info and bytes touched, and its manifest must read
 * back as the same tensors. Included by one fuzz target each (they are separate programs). */
#ifndef WBR_FUZZ_SET_H
#define WBR_FUZZ_SET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "weightbridge.h"

/* Touch everything a reader hands out, and check the manifest round trip holds. */
static void check_set(wbr_ctx *ctx, const wbr_tensorset *ts) {
  volatile uint8_t sink = 0;
  size_t n = wbr_tensorset_count(ts);
  for (size_t i = 0; i < n; i++) {
    wbr_tensor_info t;
    if (wbr_tensorset_get(ts, i, &t) != 0) __builtin_trap();
    if ((size_t)wbr_tensorset_find(ts, t.name) != i) __builtin_trap();
    uint64_t nelem = 1;
    for (int d = 0; d < t.ndim; d++) nelem *= (uint64_t)t.shape[d];
    if (nelem != t.nelem || t.nbytes != t.nelem * wbr_dtype_size(t.dtype)) __builtin_trap();
    const uint8_t *p = t.data;
    for (uint64_t k = 0; p && k < t.nbytes; k++) sink ^= p[k];
  }
  for (size_t i = 0; i < wbr_tensorset_meta_count(ts); i++) {
    const char *k, *v;
    wbr_tensorset_meta_get(ts, i, &k, &v);
    sink ^= (uint8_t)(strlen(k) + strlen(v));
  }
  (void)sink;
  char *m = wbr_tensorset_to_manifest(ts);
  if (!m) return;
  wbr_tensorset *back;
  if (wbr_tensorset_open_memory(&back, ctx, "roundtrip.json", m, strlen(m)) != 0) __builtin_trap();
  if (wbr_tensorset_count(back) != n) __builtin_trap();
  for (size_t i = 0; i < n; i++) {
    wbr_tensor_info a, b;
    wbr_tensorset_get(ts, i, &a);
    wbr_tensorset_get(back, i, &b);
    if (strcmp(a.name, b.name) || a.dtype != b.dtype || a.ndim != b.ndim ||
        memcmp(a.shape, b.shape, (size_t)a.ndim * sizeof *a.shape))
      __builtin_trap();
  }
  wbr_tensorset_free(back);
  wbr_free(m);
}

static int fuzz_tensorset(const uint8_t *data, size_t size, const char *name) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return 0;
  wbr_tensorset *ts;
  int rc = wbr_tensorset_open_memory(&ts, ctx, name, data, size);
  if (rc == 0) check_set(ctx, ts);
  else if (wbr_ctx_error_count(ctx) != 1) __builtin_trap(); /* one clear error, exactly */
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
  return 0;
}

#endif
