/* fuzz_torch.c — libFuzzer target for the PyTorch checkpoint reader (zip + restricted pickle +
 * tensor views). Any input must give a set or exactly one error, never a crash, a hang or an
 * out-of-bounds read; a set that parses has every tensor's bytes touched and its names survive a
 * manifest round trip. Each input is read twice: as a .pt and as a Lightning .ckpt (whose reader
 * looks for "state_dict" first). Seeds: fuzz/corpus/fuzz_torch (small torch.save files). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_lazy.h"
#include "weightbridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size, const char *name) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return;
  wbr_tensorset *ts;
  int rc = wbr_tensorset_open_memory(&ts, ctx, name, data, size);
  if (rc == 0) {
    volatile uint8_t sink = 0;
    size_t n = wbr_tensorset_count(ts);
    for (size_t i = 0; i < n; i++) {
      wbr_tensor_info t;
      if (wbr_tensorset_get(ts, i, &t) != 0) __builtin_trap();
      if ((size_t)wbr_tensorset_find(ts, t.name) != i) __builtin_trap();
      const uint8_t *p = t.data;
      for (uint64_t k = 0; p && k < t.nbytes; k++) sink ^= p[k];
    }
    (void)sink;
    fill_lazy(ctx, ts);
    char *m = wbr_tensorset_to_manifest(ts);
    if (m) {
      wbr_tensorset *back;
      if (wbr_tensorset_open_memory(&back, ctx, "roundtrip.json", m, strlen(m)) != 0) __builtin_trap();
      if (wbr_tensorset_count(back) != n) __builtin_trap();
      wbr_tensorset_free(back);
      wbr_free(m);
    }
  } else if (wbr_ctx_error_count(ctx) != 1) {
    __builtin_trap(); /* one clear error, exactly */
  }
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size, "fuzz.pt");
  one(data, size, "fuzz.ckpt");
  return 0;
}
