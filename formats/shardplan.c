/* shardplan.c — how a sharded safetensors output splits its tensors (wbr_shard_assign,
 * sharded.h): shared by the sharded writer and the model-directory writer (which writes one
 * model.safetensors when the plan has one shard), in a file of its own so that neither calls
 * the other. */
#include "sharded.h"

size_t wbr_shard_assign(const wbr_tensorset *ts, uint64_t max, size_t *shard_of) {
  size_t n = 0;
  uint64_t cur = 0; /* bytes of the open shard */
  for (size_t i = 0; i < ts->n; i++) {
    uint64_t b = ts->t[i].nbytes, sum;
    bool fits = wbr_add_u64(cur, b, &sum) && sum <= max;
    if (n == 0 || (cur > 0 && b > 0 && !fits)) {
      n++;
      cur = 0;
    }
    cur += b; /* cannot overflow: a sum past 2^64 started a new shard */
    if (shard_of) shard_of[i] = n - 1;
  }
  return n;
}
