/* fuzz_lazy.h — for the reader fuzz targets whose readers describe bytes instead of copying
 * them (fuzz_torch, fuzz_npz): make every such tensor's bytes as apply would, so gathering and
 * inflating are fuzzed too. Included by one target each (they are separate programs). */
#ifndef WBR_FUZZ_LAZY_H
#define WBR_FUZZ_LAZY_H

#include <stdlib.h>

#include "formats/format.h"

/* What apply does with a tensor whose bytes are made on demand (a strided view, a deflated or
 * converted array): make them, within a size a fuzzer can afford. Errors are fine (a bad CRC, a
 * budget refused); crashes and out-of-bounds reads are not. */
static void fill_lazy(wbr_ctx *ctx, const wbr_tensorset *ts) {
  for (size_t i = 0; i < ts->n; i++) {
    const wbr_tensor *t = &ts->t[i];
    if (!t->lazy || t->nbytes > (16u << 20)) continue;
    uint8_t *p = malloc(t->nbytes ? (size_t)t->nbytes : 1);
    if (p) (void)wbr_tensor_fill(ctx, t, p);
    free(p);
  }
}

#endif
