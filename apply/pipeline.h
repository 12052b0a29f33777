/* pipeline.h — the stripe pipeline of apply: a permute and/or cast of one mapped source tensor
 * made a few MiB of output at a time into small reused buffers, emitted, and the source pages
 * given back, so that memory stays a few MiB whatever the tensor's size. Internal to apply. */
#ifndef WBR_PIPELINE_H
#define WBR_PIPELINE_H

#include "base/tensorset.h"
#include "kernels.h"
#include "pool.h"
#include "vm/plan.h"

#define WBR_PIPE_MAX_THREADS 64

/* Buffers reused from tensor to tensor (allocated on first use, freed by wbr_pipe_free). */
typedef struct wbr_pipe {
  const wbr_tensorset *src; /* the plan's source: its mapping is what gets released */
  unsigned threads;         /* parts each stripe is made in (<= WBR_PIPE_MAX_THREADS) */
  wbr_pool *pool;           /* started on first use when threads > 1 */
  bool no_pool;             /* it could not be: work alone */
  uint8_t *stripe, *cast, *block[WBR_PIPE_MAX_THREADS];
  int own;     /* after a failed wbr_pipe_emit: its own error (unreported), 0 when fn's */
  void *fault; /* own == WBR_EFORMAT: a part took a SIGBUS at this address */
} wbr_pipe;

/* True when nd is a chain the pipeline makes: [cast] of a permute of a (reshaped) source, or a
 * cast of one, whose source bytes are mapped (not lazy); false leaves it to the general path. */
bool wbr_pipe_takes(const wbr_pipe *p, const wbr_node *nd);

/* Emit nd's bytes in order through fn (which receives pieces of at most a few MiB). Returns 0,
 * the first error fn returned (p->own 0), or with p->own set (nothing reported): WBR_ENOMEM,
 * WBR_EINTERNAL when a kernel refused arguments the plan should have rejected, or WBR_EFORMAT
 * when reading the source faulted (SIGBUS at p->fault: the file shrank). Diagnostics, and fn,
 * only on the calling thread. */
int wbr_pipe_emit(wbr_pipe *p, const wbr_node *nd, wbr_emit_fn fn, void *ud);

/* The same into dst (nd's bytes, contiguous): rows and casts are made straight in place. */
int wbr_pipe_make(wbr_pipe *p, const wbr_node *nd, void *dst);

void wbr_pipe_free(wbr_pipe *p);

/* Give back the pages of src's mapping wholly inside [ptr, ptr + n) (read already, not needed
 * again soon): resident memory stays near the buffers, not buffers + source. A no-op for bytes
 * outside the mapping. */
void wbr_release_mapped(const wbr_tensorset *src, const void *ptr, size_t n);

/* For each output of plan, its bytes' offset in the source file when apply copies them
 * unchanged, else UINT64_MAX (the output layout's src_offset); free() it. NULL: out of memory. */
uint64_t *wbr_copy_offsets(const wbr_plan *plan);

#endif
