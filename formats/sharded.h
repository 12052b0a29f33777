/* sharded.h — settings of the sharded safetensors writer (formats/sharded.c): an output named
 * NAME.safetensors.index.json is written as shards NAME-0000K-of-0000N.safetensors of at most a
 * maximum size each, plus the index. */
#ifndef WBR_SHARDED_H
#define WBR_SHARDED_H

#include "format.h"

/* Default maximum shard size: 5 GB (5 * 10^9 bytes), as Hugging Face's save_pretrained. */
#define WBR_SHARD_DEFAULT_MAX UINT64_C(5000000000)

/* wbr_writer_options.max_shard_bytes (weightbridge.h) sets the maximum per shard. */

/* Greedy, in layout order, as Hugging Face does: a shard takes tensors while its data stays
 * within `max` bytes; a tensor larger than the maximum gets a shard of its own. Fills
 * shard_of[i] (may be NULL) and returns the number of shards (0 for an empty layout). */
size_t wbr_shard_assign(const wbr_tensorset *ts, uint64_t max, size_t *shard_of);

#endif
