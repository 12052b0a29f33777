/* tensor_bytes.h — for the reader tests: a tensor's bytes whether the reader mapped them (data)
 * or describes them to be made on demand (a strided .pt view, a deflated or converted .npy):
 * what apply reads, through the internal wbr_tensor_fill. */
#ifndef WBR_TEST_TENSOR_BYTES_H
#define WBR_TEST_TENSOR_BYTES_H

#include <stdlib.h>

#include "formats/format.h"

/* Tensor i's bytes in a malloc'd buffer (caller frees), or NULL if they cannot be made. */
static inline uint8_t *tensor_bytes(wbr_ctx *ctx, const wbr_tensorset *ts, size_t i) {
  const wbr_tensor *t = &ts->t[i];
  uint8_t *p = malloc(t->nbytes ? (size_t)t->nbytes : 1);
  if (p && wbr_tensor_fill(ctx, t, p) != 0) {
    free(p);
    p = NULL;
  }
  return p;
}

#endif
