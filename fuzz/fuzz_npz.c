/* fuzz_npz.c — libFuzzer target for the NumPy readers (`make fuzz`): the first byte picks .npz
 * (the zip reader, stored and deflated entries, each .npy header) or a single .npy. Any input
 * must give a set or exactly one error, never a crash, a hang or an out-of-bounds read; a set
 * that parses has every tensor's bytes touched. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_lazy.h"
#include "weightbridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const wbr_tensorset *ts) {
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < wbr_tensorset_count(ts); i++) {
    wbr_tensor_info t;
    if (wbr_tensorset_get(ts, i, &t) != 0) __builtin_trap();
    if ((size_t)wbr_tensorset_find(ts, t.name) != i) __builtin_trap();
    if (t.nbytes != t.nelem * wbr_dtype_size(t.dtype)) __builtin_trap();
    const uint8_t *p = t.data;
    for (uint64_t k = 0; p && k < t.nbytes; k++) sink ^= p[k];
  }
  (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return 0;
  wbr_tensorset *ts;
  const char *name = data[0] & 1 ? "fuzz/a.npy" : "fuzz/a.npz";
  int rc = wbr_tensorset_open_memory(&ts, ctx, name, data + 1, size - 1);
  if (rc == 0) {
    touch(ts);
    fill_lazy(ctx, ts);
  }
  else if (wbr_ctx_error_count(ctx) != 1) __builtin_trap(); /* one clear error, exactly */
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
  return 0;
}
