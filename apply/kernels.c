/* kernels.c — tensor kernels for `wbr apply`: one strided-copy engine (permute, slice, concat-into)
 * with a cache-blocked transpose at its core, float casts with exact IEEE rounding done in
 * integer arithmetic, and zero-copy span emitters for slices and concatenations.
 * See kernels.h for the contracts. */
#include "kernels.h"

#include <string.h>

#include "packed.h"

#include "base/half.h"
#include "base/util.h"

/* ---- Shapes ------------------------------------------------------------------------------- */

bool wbr_shape_bytes(size_t *out, size_t esize, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > WBR_MAX_DIMS) return false;
  uint64_t n = esize;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || !wbr_mul_u64(n, (uint64_t)shape[i], &n)) return false;
  }
  if (n > SIZE_MAX) return false;
  *out = (size_t)n;
  return true;
}

static bool esize_ok(size_t esize) { return esize == 1 || esize == 2 || esize == 4 || esize == 8; }

/* ---- The strided-copy engine ---------------------------------------------------------------- */

/* A copy described axis by axis, in destination order: len[i] elements along axis i, at
 * source stride ss[i] and destination stride ds[i] (in elements). Permute, slice and
 * concat-into all reduce to this. */
typedef struct layout {
  int n;
  int64_t len[WBR_MAX_DIMS];
  int64_t ss[WBR_MAX_DIMS];
  int64_t ds[WBR_MAX_DIMS];
} layout;

/* Drop axes of length 1 (they move nothing) and merge neighbours that are adjacent and in order
 * in both source and destination: (0, 2, 1, 3) on [a, b, c, d] becomes a batched transpose of
 * c*d-element rows, HWIO -> OIHW becomes a [9, I, O] -> [O, I, 9] problem. */
static void layout_simplify(layout *l) {
  int k = 0;
  for (int i = 0; i < l->n; i++) {
    if (l->len[i] == 1) continue;
    if (k > 0 && l->ss[k - 1] == l->ss[i] * l->len[i] && l->ds[k - 1] == l->ds[i] * l->len[i]) {
      l->len[k - 1] *= l->len[i];
      l->ss[k - 1] = l->ss[i];
      l->ds[k - 1] = l->ds[i];
      continue;
    }
    l->len[k] = l->len[i];
    l->ss[k] = l->ss[i];
    l->ds[k] = l->ds[i];
    k++;
  }
  l->n = k;
}

/* The blocked transpose. Element (ib, ia) moves from src[ib*sb + ia] to dst[ia*da + ib] (sb,
 * da in elements) for 0 <= ia < na, 0 <= ib < nb. The matrix is cut into tiles
 * (source and destination tile stay in L1/L2 while both are walked) and each tile into V x V
 * micro-blocks of one 16-byte vector per row (V = 16 / element size): V row loads, log2(V)
 * rounds of interleaving, V row stores. With GCC/Clang vector extensions that is SSE2 code on
 * any x86-64 (NEON on ARM); other compilers get the scalar micro-block. Loads and stores go
 * through memcpy, so any alignment works. */
/* Tile: TILE_A source columns by TILE_B_BYTES / element-size source rows, so each destination
 * row segment a tile writes is 256 bytes (4 cache lines) whatever the element size (measured
 * best on x86-64 for F32 and F16; see bench/README.md). */
#define TILE_A 64
#define TILE_B_BYTES 256

#if defined(__GNUC__) || defined(__clang__)
typedef uint8_t wbr_v16b __attribute__((vector_size(16)));
typedef uint16_t wbr_v8h __attribute__((vector_size(16)));
typedef uint32_t wbr_v4s __attribute__((vector_size(16)));
typedef uint64_t wbr_v2d __attribute__((vector_size(16)));
#if defined(__clang__)
#define SHUF(VT, a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(VT, a, b, ...) __builtin_shuffle(a, b, (VT){__VA_ARGS__})
#endif
#define LO1(a, b) SHUF(wbr_v16b, a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define HI1(a, b) SHUF(wbr_v16b, a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#define LO2(a, b) SHUF(wbr_v8h, a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define HI2(a, b) SHUF(wbr_v8h, a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#define LO4(a, b) SHUF(wbr_v4s, a, b, 0, 4, 1, 5)
#define HI4(a, b) SHUF(wbr_v4s, a, b, 2, 6, 3, 7)
#define LO8(a, b) SHUF(wbr_v2d, a, b, 0, 2)
#define HI8(a, b) SHUF(wbr_v2d, a, b, 1, 3)

/* Transpose a V x V block: applying the perfect shuffle (row i pairs with row i + V/2, their
 * interleaved low and high halves become rows 2i and 2i + 1) log2(V) times transposes it.
 * sbb and dab are the row strides in bytes. */
#define UNROLL _Pragma("GCC unroll 16")
#define DEFINE_MICRO(NAME, VT, V, LO, HI)                                                      \
  static inline void NAME(uint8_t *d, const uint8_t *s, int64_t sbb, int64_t dab) {            \
    VT r[V], t[V];                                                                             \
    UNROLL for (int i = 0; i < V; i++) memcpy(&r[i], s + i * sbb, 16);                         \
    UNROLL for (int st = 1; st < V; st <<= 1) {                                                \
      UNROLL for (int i = 0; i < V / 2; i++) {                                                 \
        t[2 * i] = LO(r[i], r[i + V / 2]);                                                     \
        t[2 * i + 1] = HI(r[i], r[i + V / 2]);                                                 \
      }                                                                                        \
      UNROLL for (int i = 0; i < V; i++) r[i] = t[i];                                          \
    }                                                                                          \
    UNROLL for (int i = 0; i < V; i++) memcpy(d + i * dab, &r[i], 16);                         \
  }
DEFINE_MICRO(micro1, wbr_v16b, 16, LO1, HI1)
DEFINE_MICRO(micro2, wbr_v8h, 8, LO2, HI2)
DEFINE_MICRO(micro4, wbr_v4s, 4, LO4, HI4)
DEFINE_MICRO(micro8, wbr_v2d, 2, LO8, HI8)
#else
#define DEFINE_MICRO(NAME, T, V)                                                               \
  static void NAME(uint8_t *d, const uint8_t *s, int64_t sbb, int64_t dab) {                   \
    for (int a = 0; a < V; a++)                                                                \
      for (int b = 0; b < V; b++) memcpy(d + a * dab + b * sizeof(T), s + b * sbb + a * sizeof(T), sizeof(T)); \
  }
DEFINE_MICRO(micro1, uint8_t, 16)
DEFINE_MICRO(micro2, uint16_t, 8)
DEFINE_MICRO(micro4, uint32_t, 4)
DEFINE_MICRO(micro8, uint64_t, 2)
#endif

#define DEFINE_TRANSPOSE(NAME, ES, MICRO)                                                      \
  static void NAME(uint8_t *dst, const uint8_t *src, int64_t na, int64_t nb, int64_t sb,       \
                   int64_t da) {                                                               \
    const int64_t V = 16 / ES, fa = na - na % V, fb = nb - nb % V, TILE_B = TILE_B_BYTES / ES; \
    for (int64_t ib0 = 0; ib0 < fb; ib0 += TILE_B) {                                           \
      int64_t ib1 = ib0 + TILE_B < fb ? ib0 + TILE_B : fb;                                     \
      for (int64_t ia0 = 0; ia0 < fa; ia0 += TILE_A) {                                         \
        int64_t ia1 = ia0 + TILE_A < fa ? ia0 + TILE_A : fa;                                   \
        for (int64_t ia = ia0; ia < ia1; ia += V)                                              \
          for (int64_t ib = ib0; ib < ib1; ib += V)                                            \
            MICRO(dst + (ia * da + ib) * ES, src + (ib * sb + ia) * ES, sb * ES, da * ES);     \
      }                                                                                        \
    }                                                                                          \
    /* the edges that do not fill a micro-block: columns fa.. of every row, rows fb.. */     \
    for (int64_t ib = 0; ib < nb; ib++)                                                        \
      for (int64_t ia = fa; ia < na; ia++)                                                     \
        memcpy(dst + (ia * da + ib) * ES, src + (ib * sb + ia) * ES, ES);                      \
    for (int64_t ia = 0; ia < fa; ia++)                                                        \
      for (int64_t ib = fb; ib < nb; ib++)                                                     \
        memcpy(dst + (ia * da + ib) * ES, src + (ib * sb + ia) * ES, ES);                      \
  }

DEFINE_TRANSPOSE(transpose1, 1, micro1)
DEFINE_TRANSPOSE(transpose2, 2, micro2)
DEFINE_TRANSPOSE(transpose4, 4, micro4)
DEFINE_TRANSPOSE(transpose8, 8, micro8)

/* The packed transpose for matrices beyond the caches (the loop and its tile: WBR_DEFINE_PACKED
 * in packed.h): tiles go through a stack buffer of at most 64 KiB, each source row read as a
 * 512-byte run, and out with streaming stores as 256-byte destination runs. SSE2 micro-blocks
 * for 4- and 8-byte elements here; 2-byte elements take kernels_x86.c's AVX2 16 x 16 blocks
 * (the SSE2 8 x 8 block measured slower than unpacked for them). Only at an x86 level; the
 * unpacked transpose above is the reference. */
#define PACK_MIN_BYTES (1 << 20) /* smaller outputs stay in the caches: regular stores */

#define DEFINE_PACKED(NAME, ES, MICRO) WBR_DEFINE_PACKED(, NAME, ES, 16 / (ES), MICRO)
DEFINE_PACKED(packed4, 4, micro4)
DEFINE_PACKED(packed8, 8, micro8)

static bool packed_transpose(uint8_t *dst, const uint8_t *src, size_t esize, int64_t na,
                             int64_t nb, int64_t sb, int64_t da) {
  /* 1-byte elements stay unpacked; 2-byte ones are packed from AVX2 up */
  if (esize < 2 || wbr_cpu_level() < WBR_CPU_SSE2 ||
      (uint64_t)na * (uint64_t)nb * esize < PACK_MIN_BYTES)
    return false;
  if (esize == 2) {
    if (!wbr_transpose2_simd(dst, src, na, nb, sb, da)) return false;
  } else if (esize == 4) {
    packed4(dst, src, na, nb, sb, da);
  } else {
    packed8(dst, src, na, nb, sb, da);
  }
  wbr_stream_fence();
  return true;
}

static void transpose_2d(uint8_t *dst, const uint8_t *src, size_t esize, int64_t na, int64_t nb,
                         int64_t sb, int64_t da) {
  if (packed_transpose(dst, src, esize, na, nb, sb, da)) return;
  switch (esize) {
    case 1: transpose1(dst, src, na, nb, sb, da); break;
    case 2: transpose2(dst, src, na, nb, sb, da); break;
    case 4: transpose4(dst, src, na, nb, sb, da); break;
    default: transpose8(dst, src, na, nb, sb, da); break;
  }
}

/* Walk every index of the axes in `outer` (count no, outermost first) and call the inner copy
 * at each source/destination offset (in elements). */
typedef struct walk {
  int no;
  int64_t len[WBR_MAX_DIMS], ss[WBR_MAX_DIMS], ds[WBR_MAX_DIMS];
} walk;

static void layout_copy(uint8_t *dst, const uint8_t *src, size_t esize, layout *l) {
  layout_simplify(l);
  const int64_t es = (int64_t)esize;
  if (l->n == 0) {
    memcpy(dst, src, esize);
    return;
  }
  int n = l->n;
  /* Which inner kernel: a run of whole rows (memcpy), a 2-D transpose between the source's
   * unit-stride axis and the destination's, or element by element (a source with no unit
   * stride: a selection along its last axis). */
  enum { ROWS, TRANSPOSE, ELEMS } kind;
  int a = -1;
  if (l->ss[n - 1] == 1 && l->ds[n - 1] == 1) kind = ROWS;
  else {
    for (int i = 0; i < n - 1; i++)
      if (l->ss[i] == 1) a = i;
    kind = a >= 0 && l->ds[n - 1] == 1 ? TRANSPOSE : ELEMS;
  }
  walk w = {0};
  for (int i = 0; i < n - 1; i++) {
    if (kind == TRANSPOSE && i == a) continue;
    w.len[w.no] = l->len[i];
    w.ss[w.no] = l->ss[i];
    w.ds[w.no] = l->ds[i];
    w.no++;
  }
  int64_t idx[WBR_MAX_DIMS] = {0};
  int64_t so = 0, dof = 0;
  for (;;) {
    const uint8_t *s = src + so * es;
    uint8_t *d = dst + dof * es;
    switch (kind) {
      case ROWS: memcpy(d, s, (size_t)(l->len[n - 1] * es)); break;
      case TRANSPOSE:
        transpose_2d(d, s, esize, l->len[a], l->len[n - 1], l->ss[n - 1], l->ds[a]);
        break;
      case ELEMS:
        for (int64_t i = 0; i < l->len[n - 1]; i++)
          memcpy(d + i * l->ds[n - 1] * es, s + i * l->ss[n - 1] * es, esize);
        break;
    }
    int k = w.no - 1;
    for (; k >= 0; k--) {
      if (++idx[k] < w.len[k]) {
        so += w.ss[k];
        dof += w.ds[k];
        break;
      }
      so -= w.ss[k] * (w.len[k] - 1);
      dof -= w.ds[k] * (w.len[k] - 1);
      idx[k] = 0;
    }
    if (k < 0) break;
  }
}

/* Row-major strides (in elements) of a contiguous tensor. */
static void strides_of(int64_t *st, int ndim, const int64_t *shape) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i];
  }
}

/* ---- Permute ------------------------------------------------------------------------------ */

bool wbr_perm_is_valid(int ndim, const int *perm) {
  if (ndim < 0 || ndim > WBR_MAX_DIMS) return false;
  unsigned seen = 0;
  for (int i = 0; i < ndim; i++) {
    if (perm[i] < 0 || perm[i] >= ndim || (seen & (1u << perm[i]))) return false;
    seen |= 1u << perm[i];
  }
  return true;
}

/* The copy layout of a permute of src_shape, len[i] elements along output axis i, into a
 * contiguous dst_shape; the source and destination strides are left in sst and dst_st. */
static void permute_layout(layout *l, int64_t *sst, int64_t *dst_st, int ndim,
                           const int64_t *len, const int64_t *src_shape, const int *perm,
                           const int64_t *dst_shape) {
  strides_of(sst, ndim, src_shape);
  strides_of(dst_st, ndim, dst_shape);
  l->n = ndim;
  for (int i = 0; i < ndim; i++) {
    l->len[i] = len[i];
    l->ss[i] = sst[perm[i]];
    l->ds[i] = dst_st[i];
  }
}

int wbr_permute_put(void *dst, const int64_t *dst_shape, int axis, int64_t start,
                    const void *src, size_t esize, int ndim, const int64_t *src_shape,
                    const int *perm) {
  size_t sbytes, dbytes;
  if (!esize_ok(esize) || !wbr_perm_is_valid(ndim, perm) ||
      !wbr_shape_bytes(&sbytes, esize, ndim, src_shape) ||
      !wbr_shape_bytes(&dbytes, esize, ndim, dst_shape))
    return WBR_EUSAGE;
  int64_t p[WBR_MAX_DIMS];
  wbr_permute_shape(p, ndim, src_shape, perm);
  if (ndim == 0) {
    if (axis != 0 || start != 0) return WBR_EUSAGE;
  } else {
    if (axis < 0 || axis >= ndim || start < 0 || start > dst_shape[axis] ||
        p[axis] > dst_shape[axis] - start)
      return WBR_EUSAGE;
    for (int i = 0; i < ndim; i++)
      if (i != axis && p[i] != dst_shape[i]) return WBR_EUSAGE;
  }
  if (sbytes == 0) return 0;
  int64_t sst[WBR_MAX_DIMS], dst_st[WBR_MAX_DIMS];
  layout l;
  permute_layout(&l, sst, dst_st, ndim, p, src_shape, perm, dst_shape);
  uint8_t *d = (uint8_t *)dst + (ndim ? start * dst_st[axis] * (int64_t)esize : 0);
  layout_copy(d, src, esize, &l);
  return 0;
}

int wbr_permute(void *dst, const void *src, size_t esize, int ndim, const int64_t *shape,
                const int *perm) {
  if (!wbr_perm_is_valid(ndim, perm)) return WBR_EUSAGE;
  int64_t p[WBR_MAX_DIMS];
  wbr_permute_shape(p, ndim, shape, perm);
  return wbr_permute_put(dst, p, 0, 0, src, esize, ndim, shape, perm);
}

/* The rows are a sub-box of the full permute: the same layout with axis 0 cut to nrows and the
 * source advanced by row0 steps of the input axis that becomes output axis 0; the destination
 * strides of the other axes do not depend on the first dim, so they are the full output's. */
int wbr_permute_rows(void *dst, const void *src, size_t esize, int ndim, const int64_t *shape,
                     const int *perm, int64_t row0, int64_t nrows) {
  size_t sbytes;
  if (!esize_ok(esize) || !wbr_perm_is_valid(ndim, perm) ||
      !wbr_shape_bytes(&sbytes, esize, ndim, shape))
    return WBR_EUSAGE;
  if (ndim == 0) { /* a scalar is one row of one element */
    if (row0 != 0 || nrows < 0 || nrows > 1) return WBR_EUSAGE;
    if (nrows == 1) memcpy(dst, src, esize);
    return 0;
  }
  int64_t p[WBR_MAX_DIMS];
  wbr_permute_shape(p, ndim, shape, perm);
  if (row0 < 0 || nrows < 0 || row0 > p[0] || nrows > p[0] - row0) return WBR_EUSAGE;
  if (sbytes == 0 || nrows == 0) return 0;
  int64_t sst[WBR_MAX_DIMS], dst_st[WBR_MAX_DIMS];
  layout l;
  p[0] = nrows;
  permute_layout(&l, sst, dst_st, ndim, p, shape, perm, p);
  const uint8_t *s = (const uint8_t *)src + row0 * sst[perm[0]] * (int64_t)esize;
  layout_copy(dst, s, esize, &l);
  return 0;
}

/* ---- Slice and concatenate ------------------------------------------------------------------- */

/* Split a shape around `axis`: outer = product of dims before it, inner = bytes of one index
 * along it. Validates everything the slice kernels need. */
static bool slice_geometry(int64_t *outer, int64_t *inner, size_t esize, int ndim,
                           const int64_t *shape, int axis, int64_t start, int64_t len) {
  size_t total;
  if (!esize_ok(esize) || ndim < 1 || !wbr_shape_bytes(&total, esize, ndim, shape)) return false;
  if (axis < 0 || axis >= ndim || start < 0 || len < 0 || start > shape[axis] ||
      len > shape[axis] - start)
    return false;
  int64_t o = 1, in = (int64_t)esize;
  for (int i = 0; i < axis; i++) o *= shape[i];
  for (int i = axis + 1; i < ndim; i++) in *= shape[i];
  *outer = o;
  *inner = in;
  return true;
}

bool wbr_slice_is_contiguous(size_t *offset, size_t *nbytes, size_t esize, int ndim,
                             const int64_t *shape, int axis, int64_t start, int64_t len) {
  int64_t outer, inner;
  if (!slice_geometry(&outer, &inner, esize, ndim, shape, axis, start, len)) return false;
  if (outer > 1 && len > 0 && inner > 0) return false;
  if (offset) *offset = outer == 1 ? (size_t)(start * inner) : 0;
  if (nbytes) *nbytes = outer == 1 ? (size_t)(len * inner) : 0;
  return true;
}

int wbr_slice_copy(void *dst, const void *src, size_t esize, int ndim, const int64_t *shape,
                   int axis, int64_t start, int64_t len) {
  int64_t outer, inner;
  if (!slice_geometry(&outer, &inner, esize, ndim, shape, axis, start, len)) return WBR_EUSAGE;
  const uint8_t *s = (const uint8_t *)src + start * inner;
  uint8_t *d = dst;
  size_t run = (size_t)(len * inner);
  if (run == 0) return 0;
  for (int64_t o = 0; o < outer; o++) memcpy(d + o * (int64_t)run, s + o * shape[axis] * inner, run);
  return 0;
}

int wbr_slice_put(void *dst, size_t esize, int ndim, const int64_t *dst_shape, int axis,
                  int64_t start, const void *part, int64_t len) {
  int64_t outer, inner;
  if (!slice_geometry(&outer, &inner, esize, ndim, dst_shape, axis, start, len))
    return WBR_EUSAGE;
  uint8_t *d = (uint8_t *)dst + start * inner;
  const uint8_t *s = part;
  size_t run = (size_t)(len * inner);
  if (run == 0) return 0;
  for (int64_t o = 0; o < outer; o++) memcpy(d + o * dst_shape[axis] * inner, s + o * (int64_t)run, run);
  return 0;
}

int wbr_slice_stream(wbr_emit_fn emit, void *userdata, const void *src, size_t esize, int ndim,
                     const int64_t *shape, int axis, int64_t start, int64_t len) {
  int64_t outer, inner;
  if (!emit || !slice_geometry(&outer, &inner, esize, ndim, shape, axis, start, len))
    return WBR_EUSAGE;
  const uint8_t *s = (const uint8_t *)src + start * inner;
  size_t run = (size_t)(len * inner);
  if (run == 0) return 0;
  if (len == shape[axis]) { /* the whole tensor: one span however many outer rows */
    run *= (size_t)outer;
    outer = 1;
  }
  for (int64_t o = 0; o < outer; o++) {
    int rc = emit(userdata, s + o * shape[axis] * inner, run);
    if (rc < 0) return rc;
  }
  return 0;
}

int wbr_concat_stream(wbr_emit_fn emit, void *userdata, size_t esize, int ndim,
                      const int64_t *out_shape, int axis, size_t nparts,
                      const void *const *parts, const int64_t *lens) {
  int64_t outer, inner;
  if (!emit || !slice_geometry(&outer, &inner, esize, ndim, out_shape, axis, 0, 0))
    return WBR_EUSAGE;
  int64_t sum = 0;
  for (size_t i = 0; i < nparts; i++) {
    if (lens[i] < 0 || lens[i] > out_shape[axis] - sum) return WBR_EUSAGE;
    sum += lens[i];
  }
  if (sum != out_shape[axis]) return WBR_EUSAGE;
  if (inner == 0) return 0;
  for (int64_t o = 0; o < outer; o++) {
    for (size_t i = 0; i < nparts; i++) {
      size_t run = (size_t)(lens[i] * inner);
      if (run == 0) continue;
      int rc = emit(userdata, (const uint8_t *)parts[i] + o * (int64_t)run, run);
      if (rc < 0) return rc;
    }
  }
  return 0;
}

/* ---- Cast --------------------------------------------------------------------------------- */

/* Converters over n elements, each processing blocks of CAST_BLOCK: a block is loaded into a
 * local array (unaligned loads via memcpy), converted with a branch-free loop the compiler
 * vectorises, and stored. The blocked form keeps every access a fixed-size memcpy. */
#define CAST_BLOCK 64

static void cast_f32_f16(uint8_t *dst, const uint8_t *src, size_t n) {
  size_t i = 0;
  for (; i + CAST_BLOCK <= n; i += CAST_BLOCK) {
    uint32_t in[CAST_BLOCK];
    uint16_t out[CAST_BLOCK];
    memcpy(in, src + i * 4, sizeof in);
    /* Fast when every element is a normal F16 after rounding, or zero (the common case);
     * otherwise the exact per-element path. */
    int special = 0;
    for (int k = 0; k < CAST_BLOCK; k++) {
      special |= wbr_f32_f16_needs_slow(in[k]);
      out[k] = wbr_f32_to_f16_fast(in[k]);
    }
    if (special) /* redo just the elements that need it, not the whole block */
      for (int k = 0; k < CAST_BLOCK; k++)
        if (wbr_f32_f16_needs_slow(in[k]))
          out[k] = (uint16_t)wbr_fp_convert(in[k], WBR_FP_F32, WBR_FP_F16);
    memcpy(dst + i * 2, out, sizeof out);
  }
  for (; i < n; i++) {
    uint32_t x;
    memcpy(&x, src + i * 4, 4);
    uint16_t h = wbr_f32_to_f16(x);
    memcpy(dst + i * 2, &h, 2);
  }
}

static void cast_f16_f32(uint8_t *dst, const uint8_t *src, size_t n) {
  size_t i = 0;
  for (; i + CAST_BLOCK <= n; i += CAST_BLOCK) {
    uint16_t in[CAST_BLOCK];
    uint32_t out[CAST_BLOCK];
    memcpy(in, src + i * 2, sizeof in);
    int special = 0;
    for (int k = 0; k < CAST_BLOCK; k++) {
      special |= wbr_f16_f32_needs_slow(in[k]);
      out[k] = wbr_f16_to_f32_fast(in[k]);
    }
    if (special)
      for (int k = 0; k < CAST_BLOCK; k++)
        if (wbr_f16_f32_needs_slow(in[k]))
          out[k] = (uint32_t)wbr_fp_convert(in[k], WBR_FP_F16, WBR_FP_F32);
    memcpy(dst + i * 4, out, sizeof out);
  }
  for (; i < n; i++) {
    uint16_t h;
    memcpy(&h, src + i * 2, 2);
    uint32_t x = wbr_f16_to_f32(h);
    memcpy(dst + i * 4, &x, 4);
  }
}

static void cast_f32_bf16(uint8_t *dst, const uint8_t *src, size_t n) {
  size_t i = 0;
  for (; i + CAST_BLOCK <= n; i += CAST_BLOCK) {
    uint32_t in[CAST_BLOCK];
    uint16_t out[CAST_BLOCK];
    memcpy(in, src + i * 4, sizeof in);
    for (int k = 0; k < CAST_BLOCK; k++) out[k] = wbr_f32_to_bf16(in[k]);
    memcpy(dst + i * 2, out, sizeof out);
  }
  for (; i < n; i++) {
    uint32_t x;
    memcpy(&x, src + i * 4, 4);
    uint16_t h = wbr_f32_to_bf16(x);
    memcpy(dst + i * 2, &h, 2);
  }
}

static void cast_bf16_f32(uint8_t *dst, const uint8_t *src, size_t n) {
  size_t i = 0;
  for (; i + CAST_BLOCK <= n; i += CAST_BLOCK) {
    uint16_t in[CAST_BLOCK];
    uint32_t out[CAST_BLOCK];
    memcpy(in, src + i * 2, sizeof in);
    for (int k = 0; k < CAST_BLOCK; k++) out[k] = wbr_bf16_to_f32(in[k]);
    memcpy(dst + i * 4, out, sizeof out);
  }
  for (; i < n; i++) {
    uint16_t h;
    memcpy(&h, src + i * 2, 2);
    uint32_t x = wbr_bf16_to_f32(h);
    memcpy(dst + i * 4, &x, 4);
  }
}

/* F16 <-> BF16 in one pass, element by element through an F32 value in a register: the
 * widening step is exact, so there is still exactly one rounding. Like the casts above, a block
 * takes the branch-free fast form and then redoes only its special elements exactly. */
static uint16_t f16_to_bf16_one(uint16_t h) { return wbr_f32_to_bf16(wbr_f16_to_f32(h)); }
static uint16_t bf16_to_f16_one(uint16_t b) { return wbr_f32_to_f16(wbr_bf16_to_f32(b)); }

/* Elements [i, n) of a 16-bit to 16-bit cast, one at a time. */
static void tail16(uint8_t *dst, const uint8_t *src, size_t i, size_t n,
                   uint16_t (*one)(uint16_t)) {
  for (; i < n; i++) {
    uint16_t h;
    memcpy(&h, src + i * 2, 2);
    h = one(h);
    memcpy(dst + i * 2, &h, 2);
  }
}

/* The branch-free fast form of a block; returns nonzero if some element needs the exact path. */
static int block_f16_bf16(uint16_t *out, const uint16_t *in) {
  int special = 0;
  for (int k = 0; k < CAST_BLOCK; k++) {
    special |= wbr_f16_f32_needs_slow(in[k]);
    out[k] = wbr_f32_to_bf16(wbr_f16_to_f32_fast(in[k]));
  }
  return special;
}

static int block_bf16_f16(uint16_t *out, const uint16_t *in) {
  int special = 0;
  for (int k = 0; k < CAST_BLOCK; k++) {
    uint32_t x = wbr_bf16_to_f32(in[k]);
    special |= wbr_f32_f16_needs_slow(x);
    out[k] = wbr_f32_to_f16_fast(x);
  }
  return special;
}

static void cast_half_half(uint8_t *dst, const uint8_t *src, size_t n, bool to_bf16) {
  uint16_t (*one)(uint16_t) = to_bf16 ? f16_to_bf16_one : bf16_to_f16_one;
  size_t i = 0;
  for (; i + CAST_BLOCK <= n; i += CAST_BLOCK) {
    uint16_t in[CAST_BLOCK], out[CAST_BLOCK];
    memcpy(in, src + i * 2, sizeof in);
    if (to_bf16 ? block_f16_bf16(out, in) : block_bf16_f16(out, in))
      for (int k = 0; k < CAST_BLOCK; k++)
        if (to_bf16 ? wbr_f16_f32_needs_slow(in[k])
                    : wbr_f32_f16_needs_slow(wbr_bf16_to_f32(in[k])))
          out[k] = one(in[k]);
    memcpy(dst + i * 2, out, sizeof out);
  }
  tail16(dst, src, i, n, one);
}

/* F64 <-> F32/F16/BF16 in blocks, like the casts above: a branch-free fast form for the values
 * whose result is a normal number or zero (narrowing: rebias the exponent, then round the
 * dropped mantissa bits to nearest even with one add that carries into the exponent, as
 * wbr_f32_to_f16_fast does; widening: shift and rebias, exact), then the general converter for
 * just the other elements (subnormal results or inputs, overflow, Inf, NaN); the converter is the
 * reference the tests compare with. */
typedef struct f64_fmt {
  int mbits, ebits, dbias;  /* the narrow format's mantissa and exponent bits, exponent bias */
  uint64_t min_a, lim_a;    /* |x| bits of an F64 that narrows to a normal: [min_a, lim_a) */
  uint32_t nmin, nlim;      /* |h| bits of a normal narrow value: [nmin, nlim) */
} f64_fmt;

static inline f64_fmt f64_fmt_of(wbr_fpfmt f) {
  f64_fmt g;
  g.mbits = wbr_fp_mbits(f);
  g.ebits = wbr_fp_ebits(f);
  g.dbias = (1 << (g.ebits - 1)) - 1;
  const int emax = (1 << g.ebits) - 2 - g.dbias, sh = 52 - g.mbits;
  g.min_a = (uint64_t)(1023 + 1 - g.dbias) << 52;
  /* the largest finite value plus half an ulp: from there up, rounding gives Inf */
  g.lim_a = ((uint64_t)(1023 + emax) << 52) | (((1ull << g.mbits) - 1) << sh) | (1ull << (sh - 1));
  g.nmin = 1u << g.mbits;
  g.nlim = (uint32_t)((1u << g.ebits) - 1) << g.mbits;
  return g;
}

__attribute__((always_inline)) static inline void f64_narrow(uint8_t *dst, const uint8_t *src,
                                                             size_t n, wbr_fpfmt f) {
  const f64_fmt g = f64_fmt_of(f);
  const int sh = 52 - g.mbits, osz = g.mbits == 23 ? 4 : 2;
  const uint64_t rebias = (uint64_t)(1023 - g.dbias) << 52;
  for (size_t i = 0; i < n; i += CAST_BLOCK) {
    const size_t m = n - i < CAST_BLOCK ? n - i : CAST_BLOCK;
    uint64_t in[CAST_BLOCK] = {0};
    uint32_t out[CAST_BLOCK];
    memcpy(in, src + i * 8, m * 8);
    int slow = 0;
    for (int k = 0; k < CAST_BLOCK; k++) {
      const uint64_t a = in[k] & 0x7fffffffffffffffull;
      slow |= (int)(((a - g.min_a) >= (g.lim_a - g.min_a)) & (a != 0));
      const uint64_t r = (a + ((1ull << (sh - 1)) - 1) + ((a >> sh) & 1) - rebias) >> sh;
      out[k] = (uint32_t)(((in[k] >> 63) << (g.mbits + g.ebits)) | (a ? r : 0));
    }
    for (size_t k = 0; slow && k < m; k++) {
      const uint64_t a = in[k] & 0x7fffffffffffffffull;
      if ((a - g.min_a) >= (g.lim_a - g.min_a) && a != 0)
        out[k] = (uint32_t)wbr_fp_convert(in[k], WBR_FP_F64, f);
    }
    if (osz == 4) memcpy(dst + i * 4, out, m * 4);
    else
      for (size_t k = 0; k < m; k++) {
        uint16_t h = (uint16_t)out[k];
        memcpy(dst + (i + k) * 2, &h, 2);
      }
  }
}

__attribute__((always_inline)) static inline void f64_widen(uint8_t *dst, const uint8_t *src,
                                                            size_t n, wbr_fpfmt f) {
  const f64_fmt g = f64_fmt_of(f);
  const int isz = g.mbits == 23 ? 4 : 2, top = g.mbits + g.ebits;
  const uint64_t rebias = (uint64_t)(1023 - g.dbias) << 52;
  for (size_t i = 0; i < n; i += CAST_BLOCK) {
    const size_t m = n - i < CAST_BLOCK ? n - i : CAST_BLOCK;
    uint32_t in[CAST_BLOCK] = {0};
    uint64_t out[CAST_BLOCK];
    if (isz == 4) memcpy(in, src + i * 4, m * 4);
    else
      for (size_t k = 0; k < m; k++) {
        uint16_t h;
        memcpy(&h, src + (i + k) * 2, 2);
        in[k] = h;
      }
    int slow = 0;
    for (int k = 0; k < CAST_BLOCK; k++) {
      const uint32_t a = in[k] & ((1u << top) - 1);
      slow |= (int)(((a - g.nmin) >= (g.nlim - g.nmin)) & (a != 0));
      const uint64_t r = ((uint64_t)a << (52 - g.mbits)) + rebias;
      out[k] = ((uint64_t)(in[k] >> top) << 63) | (a ? r : 0);
    }
    for (size_t k = 0; slow && k < m; k++) {
      const uint32_t a = in[k] & ((1u << top) - 1);
      if ((a - g.nmin) >= (g.nlim - g.nmin) && a != 0)
        out[k] = wbr_fp_convert(in[k], f, WBR_FP_F64);
    }
    memcpy(dst + i * 8, out, m * 8);
  }
}

static void cast_f64(uint8_t *dst, wbr_dtype to, const uint8_t *src, wbr_dtype from, size_t n) {
  if (from == WBR_F64 && to == WBR_F32) f64_narrow(dst, src, n, WBR_FP_F32);
  else if (from == WBR_F64 && to == WBR_F16) f64_narrow(dst, src, n, WBR_FP_F16);
  else if (from == WBR_F64) f64_narrow(dst, src, n, WBR_FP_BF16);
  else if (from == WBR_F32) f64_widen(dst, src, n, WBR_FP_F32);
  else if (from == WBR_F16) f64_widen(dst, src, n, WBR_FP_F16);
  else f64_widen(dst, src, n, WBR_FP_BF16);
}

int wbr_cast(void *dst, wbr_dtype to, const void *src, wbr_dtype from, size_t n) {
  if (!wbr_cast_supported(from, to)) return WBR_EUSAGE;
  uint8_t *d = dst;
  const uint8_t *s = src;
  if (n == 0) return 0;
  if (from == to) {
    uint64_t bytes;
    if (!wbr_mul_u64(n, wbr_dtype_size(from), &bytes) || bytes > SIZE_MAX) return WBR_EUSAGE;
    memcpy(d, s, (size_t)bytes);
    return 0;
  }
  /* the vector fast path (kernels_x86.c) does a prefix; the portable code the rest */
  if (wbr_cpu_level() >= WBR_CPU_AVX2 && from != WBR_F64 && to != WBR_F64) {
    size_t done = wbr_cast_simd(d, to, s, from, n);
    d += done * wbr_dtype_size(to);
    s += done * wbr_dtype_size(from);
    n -= done;
    if (n == 0) return 0;
  }
  if (from == WBR_F32 && to == WBR_F16) cast_f32_f16(d, s, n);
  else if (from == WBR_F16 && to == WBR_F32) cast_f16_f32(d, s, n);
  else if (from == WBR_F32 && to == WBR_BF16) cast_f32_bf16(d, s, n);
  else if (from == WBR_BF16 && to == WBR_F32) cast_bf16_f32(d, s, n);
  else if (from == WBR_F16 && to == WBR_BF16) cast_half_half(d, s, n, true);
  else if (from == WBR_BF16 && to == WBR_F16) cast_half_half(d, s, n, false);
  else cast_f64(d, to, s, from, n);
  return 0;
}

int wbr_cast_stream(wbr_emit_fn emit, void *userdata, wbr_dtype to, const void *src,
                    wbr_dtype from, size_t n, void *scratch, size_t scratch_len) {
  if (!emit || !wbr_cast_supported(from, to)) return WBR_EUSAGE;
  size_t ss = wbr_dtype_size(from), ds = wbr_dtype_size(to);
  size_t chunk = scratch_len / ds;
  if (n > 0 && chunk == 0) return WBR_EUSAGE;
  const uint8_t *s = src;
  for (size_t i = 0; i < n; i += chunk) {
    size_t m = n - i < chunk ? n - i : chunk;
    wbr_cast(scratch, to, s + i * ss, from, m);
    int rc = emit(userdata, scratch, m * ds);
    if (rc < 0) return rc;
  }
  return 0;
}
