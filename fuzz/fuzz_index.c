/* fuzz_index.c — libFuzzer target for the sharded safetensors index reader (`make fuzz`). The
 * shards are files, so this exercises the JSON and weight-map validation: the index is placed in
 * a directory that does not exist, so no shard can open. Any input must give exactly one error
 * (or, for an empty weight map, an empty set), never a crash or a hang. Each input is read as a
 * safetensors index and as a PyTorch one (NAME.bin.index.json). */
#include <stddef.h>
#include <stdint.h>

#include "weightbridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size, const char *name) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return;
  wbr_tensorset *ts;
  int rc = wbr_tensorset_open_memory(&ts, ctx, name, data, size);
  if (rc == 0 && wbr_tensorset_count(ts) != 0) __builtin_trap(); /* no shard can exist */
  if (rc != 0 && wbr_ctx_error_count(ctx) != 1) __builtin_trap();
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size, "/nonexistent-wbr-fuzz/m.safetensors.index.json");
  one(data, size, "/nonexistent-wbr-fuzz/pytorch_model.bin.index.json");
  return 0;
}
