/* kernels.h — the tensor kernels `wbr apply` runs: permute (transpose), cast between the float
 * dtypes, and slicing / concatenation along an axis. Internal to the library. Every kernel is a
 * pure function of its arguments (no globals, no allocation, no diagnostics); the VM checks the
 * plan first and reports, so a negative return here (WBR_EUSAGE) means the caller passed
 * arguments that the plan should have rejected, and the VM reports it as an internal error.
 *
 * Conventions shared by every kernel:
 *  - Tensors are dense and row-major ("contiguous", C order). Shapes are int64_t[ndim] with
 *    0 <= ndim <= WBR_MAX_DIMS and every dim >= 0 (a 0-size dim makes an empty tensor: nothing is
 *    read or written). `esize` is the element size in bytes: 1, 2, 4 or 8.
 *  - Source pointers may have any alignment (they point into a memory-mapped file): every load
 *    goes through memcpy, which compiles to a plain unaligned load. Destinations likewise.
 *  - Source and destination must not overlap.
 *  - A reshape of a contiguous tensor is a view: the bytes are the same, only the shape changes,
 *    so there is no reshape kernel. (Row-major order is what makes this true; a reshape never
 *    needs data movement here because every kernel produces contiguous output.)
 *
 * How the VM keeps memory near one tensor (see DESIGN.md "Peak memory"):
 *  - rename / reshape / a whole tensor: write the source bytes straight from the mapping.
 *  - slice, split, select, unstack: wbr_slice_stream emits the output as spans that point into
 *    the source — no buffer at all; when wbr_slice_is_contiguous is true it is a single span.
 *  - concat, stack: wbr_concat_stream emits spans of the parts in output order — no buffer.
 *  - cast: elementwise, so wbr_cast_stream converts through a small scratch buffer (e.g. 1 MiB)
 *    and emits chunk by chunk; any of the span emitters above can feed it (see its comment).
 *  - permute / transpose: the only kernel that needs an output buffer, the whole tensor or, with
 *    wbr_permute_rows, a stripe of its output rows at a time. Casting commutes
 *    with data movement, so a chain "permute, cast" permutes into one buffer (in whichever
 *    dtype is smaller: cast first when narrowing, last when widening) and casts while
 *    streaming. A chain "concat, permute" permutes each part straight into its place in the
 *    one output buffer with wbr_permute_put, so it never needs a second buffer.
 */
#ifndef WBR_OPS_H
#define WBR_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightbridge.h"
#include "base/cpu.h"  /* wbr_cpu_level: which fast paths run */
#include "base/util.h" /* wbr_permute_shape, wbr_cast_supported (shared with the VM) */

/* A consumer of output bytes, e.g. a wrapper around wbr_writer_write. Returns 0 or a negative
 * wbr_error, which stops the producer and is returned by it unchanged. */
typedef int (*wbr_emit_fn)(void *userdata, const void *bytes, size_t len);

/* ---- Shapes ------------------------------------------------------------------------------- */

/* Product of the dims times esize, in *out. False if a dim is negative, ndim is out of range
 * or the product overflows size_t. */
bool wbr_shape_bytes(size_t *out, size_t esize, int ndim, const int64_t *shape);

/* ---- Permute ------------------------------------------------------------------------------ */

/* True if perm[0..ndim) is a permutation of 0..ndim-1 and 0 <= ndim <= WBR_MAX_DIMS. */
bool wbr_perm_is_valid(int ndim, const int *perm);

/* dst = the permutation of src, with numpy's np.transpose(src, perm) semantics: output axis i
 * is input axis perm[i], so dst's shape is wbr_permute_shape(shape, perm) and
 *   dst[i0, ..., i(n-1)] = src[j]  where  j[perm[k]] = i[k].
 * A 2-D transpose is perm (1, 0); PyTorch OIHW -> TF HWIO is (2, 3, 1, 0), HWIO -> OIHW is
 * (3, 2, 0, 1). Axes of size 1 are ignored and axes that stay adjacent and in order are merged
 * first, so e.g. (0, 2, 1, 3) becomes a batched 2-D transpose of rows; the identity is one
 * memcpy; transposes are cache-blocked. On x86-64 a 2-D transpose of >= 1 MiB of 4- or 8-byte
 * elements (2-byte ones from AVX2 up) is packed through a 64 KiB stack buffer and written with
 * streaming stores (fenced before returning), so the caller's thread needs that much stack.
 * Returns 0, or WBR_EUSAGE for a bad perm, esize or shape. */
int wbr_permute(void *dst, const void *src, size_t esize, int ndim, const int64_t *shape,
                const int *perm);

/* Like wbr_permute, but the permuted src (shape P = wbr_permute_shape(src_shape, perm)) is
 * written into the range [start, start + P[axis]) along `axis` of a larger contiguous dst of
 * shape dst_shape (same ndim; equal to P on every other axis). Building a concatenation of
 * permuted parts this way needs one buffer; with the identity perm it is the inverse of
 * wbr_slice_copy (concat into a buffer). Returns 0 or WBR_EUSAGE. */
int wbr_permute_put(void *dst, const int64_t *dst_shape, int axis, int64_t start,
                    const void *src, size_t esize, int ndim, const int64_t *src_shape,
                    const int *perm);

/* Rows [row0, row0 + nrows) along output axis 0 of wbr_permute(src, perm): dst holds just those
 * rows (contiguous, nrows * (product of the output's other dims) elements). With row0 = 0 and
 * nrows = the output's first dim it is wbr_permute. Lets apply produce a permuted tensor stripe
 * by stripe into a small buffer, and threads split one tensor. 0 or WBR_EUSAGE.
 * (A 0-dim tensor is one row: row0 0, nrows 0 or 1.) */
int wbr_permute_rows(void *dst, const void *src, size_t esize, int ndim, const int64_t *shape,
                     const int *perm, int64_t row0, int64_t nrows);

/* ---- Cast --------------------------------------------------------------------------------- */

/* Convert n elements. IEEE 754 semantics, computed with integer arithmetic only (independent of
 * the FPU's rounding mode and of flush-to-zero): round to nearest, ties to even, in ONE rounding
 * step (F64 -> F16 does not round through F32); overflow gives +-Inf; results below the
 * smallest normal become subnormals or +-0, correctly rounded; +-0 and +-Inf keep their sign;
 * every NaN stays a NaN of the same sign, made quiet, with as many of its payload's high bits as
 * fit (so its payload can never truncate to Inf). Widening is exact except that a signalling
 * NaN becomes quiet. Returns 0, or WBR_EUSAGE if !wbr_cast_supported(from, to). */
int wbr_cast(void *dst, wbr_dtype to, const void *src, wbr_dtype from, size_t n);

/* Convert n elements of src through `scratch` (scratch_len bytes, at least one output element;
 * 1 MiB is plenty) and emit the result in order, chunk by chunk, so a cast never needs a buffer
 * the size of the tensor. To cast a slice or a concatenation, call this from the emit function
 * given to wbr_slice_stream / wbr_concat_stream (their spans are whole elements). Returns 0,
 * WBR_EUSAGE, or the first negative value emit returned. */
int wbr_cast_stream(wbr_emit_fn emit, void *userdata, wbr_dtype to, const void *src,
                    wbr_dtype from, size_t n, void *scratch, size_t scratch_len);

/* ---- Slice and concatenate along an axis ---------------------------------------------------- */

/* The range [start, start + len) along `axis` of a contiguous tensor of shape `shape` is one
 * contiguous run of bytes exactly when every dim before `axis` is 1 (always for axis 0), or
 * the range is empty. Then *offset and *nbytes (either may be NULL) give that run relative to
 * the tensor's first byte, and the VM can write straight from the source mapping: split and
 * select along axis 0 and concat along axis 0 need no copy. Returns false (offsets untouched)
 * otherwise or when the arguments are invalid. */
bool wbr_slice_is_contiguous(size_t *offset, size_t *nbytes, size_t esize, int ndim,
                             const int64_t *shape, int axis, int64_t start, int64_t len);

/* dst (contiguous, shape = shape with shape[axis] = len) = the range [start, start + len) along
 * `axis` of src (contiguous, shape `shape`). Serves split, slice, select (len 1; the caller
 * drops the axis from the shape — a view) and unstack. Returns 0 or WBR_EUSAGE (bad axis,
 * range outside the axis, bad shape or esize). */
int wbr_slice_copy(void *dst, const void *src, size_t esize, int ndim, const int64_t *shape,
                   int axis, int64_t start, int64_t len);

/* The inverse: write `part` (contiguous, shape = dst_shape with [axis] = len) into the range
 * [start, start + len) along `axis` of dst (contiguous, shape dst_shape). Concatenation into a
 * buffer is one call per part; stack is concat after inserting a size-1 axis at `axis` in every
 * part's shape (a view). Returns 0 or WBR_EUSAGE. */
int wbr_slice_put(void *dst, size_t esize, int ndim, const int64_t *dst_shape, int axis,
                  int64_t start, const void *part, int64_t len);

/* Emit the slice that wbr_slice_copy would produce as spans pointing into src, in output order,
 * without copying: one span per index of the dims before `axis` (merged into one span when the
 * slice is contiguous). Returns 0, WBR_EUSAGE, or the first negative value emit returned. */
int wbr_slice_stream(wbr_emit_fn emit, void *userdata, const void *src, size_t esize, int ndim,
                     const int64_t *shape, int axis, int64_t start, int64_t len);

/* Emit the concatenation of nparts parts along `axis` without building it: out_shape is the
 * result's shape, part i has out_shape with [axis] = lens[i] (sum of lens = out_shape[axis]) and
 * its bytes at parts[i]. Spans point into the parts, in output order. Returns 0, WBR_EUSAGE, or
 * the first negative value emit returned. */
int wbr_concat_stream(wbr_emit_fn emit, void *userdata, size_t esize, int ndim,
                      const int64_t *out_shape, int axis, size_t nparts,
                      const void *const *parts, const int64_t *lens);

/* ---- Run-time CPU dispatch (apply/kernels_x86.c) -------------------------------------------- */

/* The vector part of wbr_cast at the level in force: converts a prefix of the n elements and
 * returns its length (0 when no fast path fits); the caller converts the rest portably. */
size_t wbr_cast_simd(void *dst, wbr_dtype to, const void *src, wbr_dtype from, size_t n);

/* The packed 2-D transpose of 2-byte elements at the level in force (AVX2 and up: 16 x 16
 * micro-blocks), with wbr_permute's transpose contract: element (ib, ia) of src (row stride sb
 * elements) to (ia, ib) of dst (row stride da), 0 <= ia < na, 0 <= ib < nb. Streaming stores,
 * not fenced. Returns false, doing nothing, when the level has no such path. */
bool wbr_transpose2_simd(void *dst, const void *src, int64_t na, int64_t nb, int64_t sb,
                         int64_t da);

/* Copy nrows rows of len bytes (rows dst_stride / src_stride bytes apart) with streaming
 * (non-temporal) stores where the level has them, plain memcpy otherwise; the writes are only
 * ordered for other threads after wbr_stream_fence(). */
void wbr_stream_rows(void *dst, size_t dst_stride, const void *src, size_t src_stride,
                     size_t nrows, size_t len);
void wbr_stream_fence(void);

#endif
