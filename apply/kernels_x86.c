/* kernels_x86.c — the x86-64 fast paths of the kernels, chosen at run time: F16C/AVX2 and
 * AVX-512 casts between F32, F16 and BF16. Each function carries its own target attribute, so
 * the build needs no -march and the binary runs on any x86-64; the portable code in kernels.c
 * stays the reference (and does the tails). Results are bit-identical to it: the hardware
 * F16 conversions round to nearest even with the rounding given in the instruction (not
 * MXCSR), and the BF16 rounding is kernels.c's integer formula, lane by lane. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

#include "packed.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define WBR_X86 1
#endif

/* ---- Casts ---------------------------------------------------------------------------------- */

#ifdef WBR_X86
#define ROUND_RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* kernels.c's wbr_f32_to_bf16 and wbr_bf16_to_f32 lane by lane, written once with vector
 * extensions for 8 and 16 lanes: round by one add (ties to even by the kept LSB), a NaN lane gets
 * the quiet bit instead (results in the low 16 bits); widening quiets a NaN. */
typedef uint32_t wbr_v8u __attribute__((vector_size(32)));
typedef uint32_t wbr_v16u __attribute__((vector_size(64)));
#define DEFINE_BF16_LANES(VT, ROUND, QUIET, TARGET)                                             \
  __attribute__((target(TARGET))) static inline VT ROUND(VT x) {                                \
    VT r = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;                                              \
    VT nan = (VT)((x & 0x7fffffffu) > 0x7f800000u);                                             \
    return (r & ~nan) | (((x >> 16) | 0x40u) & nan);                                            \
  }                                                                                             \
  __attribute__((target(TARGET))) static inline VT QUIET(VT r) {                                \
    return r | ((VT)((r & 0x7fffffffu) > 0x7f800000u) & 0x400000u);                             \
  }
DEFINE_BF16_LANES(wbr_v8u, round_v8, quiet_v8, "avx2")
DEFINE_BF16_LANES(wbr_v16u, round_v16, quiet_v16, "avx512f,avx512bw,avx512vl")

__attribute__((target("avx2"))) static inline __m256i bf16_round8(__m256i x) {
  return (__m256i)round_v8((wbr_v8u)x);
}

/* Two vectors of 8 BF16 results (low halves of the lanes) packed into 16 in order. */
__attribute__((target("avx2"))) static inline void store_pack16(uint8_t *d, __m256i lo,
                                                                 __m256i hi) {
  __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
  _mm256_storeu_si256((__m256i *)(void *)d, p);
}

__attribute__((target("avx2"))) static inline __m256i bf16_widen8(const uint8_t *s) {
  __m128i b = _mm_loadu_si128((const __m128i *)(const void *)s);
  return (__m256i)quiet_v8((wbr_v8u)_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16));
}

__attribute__((target("avx2,f16c"))) static size_t cast_avx2(uint8_t *d, wbr_dtype to,
                                                             const uint8_t *s, wbr_dtype from,
                                                             size_t n) {
  size_t i = 0;
  if (from == WBR_F32 && to == WBR_F16) {
    for (; i + 8 <= n; i += 8) {
      __m256 x = _mm256_loadu_ps((const float *)(const void *)(s + 4 * i));
      _mm_storeu_si128((__m128i *)(void *)(d + 2 * i), _mm256_cvtps_ph(x, ROUND_RNE));
    }
  } else if (from == WBR_F16 && to == WBR_F32) {
    for (; i + 8 <= n; i += 8) {
      __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i));
      _mm256_storeu_ps((float *)(void *)(d + 4 * i), _mm256_cvtph_ps(h));
    }
  } else if (from == WBR_F32 && to == WBR_BF16) {
    for (; i + 16 <= n; i += 16) {
      __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(s + 4 * i));
      __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(s + 4 * i + 32));
      store_pack16(d + 2 * i, bf16_round8(a), bf16_round8(b));
    }
  } else if (from == WBR_BF16 && to == WBR_F32) {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_si256((__m256i *)(void *)(d + 4 * i), bf16_widen8(s + 2 * i));
  } else if (from == WBR_F16 && to == WBR_BF16) {
    /* one pass: widening is exact, so the BF16 rounding is the only rounding */
    for (; i + 16 <= n; i += 16) {
      __m128i h0 = _mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i));
      __m128i h1 = _mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i + 16));
      store_pack16(d + 2 * i, bf16_round8(_mm256_castps_si256(_mm256_cvtph_ps(h0))),
                   bf16_round8(_mm256_castps_si256(_mm256_cvtph_ps(h1))));
    }
  } else if (from == WBR_BF16 && to == WBR_F16) {
    for (; i + 8 <= n; i += 8) {
      __m256 x = _mm256_castsi256_ps(bf16_widen8(s + 2 * i));
      _mm_storeu_si128((__m128i *)(void *)(d + 2 * i), _mm256_cvtps_ph(x, ROUND_RNE));
    }
  }
  return i;
}

#define AVX512 "avx512f,avx512bw,avx512vl"
__attribute__((target(AVX512))) static inline __m512i bf16_round16(__m512i x) {
  return (__m512i)round_v16((wbr_v16u)x);
}

__attribute__((target(AVX512))) static inline __m512i bf16_widen16(const uint8_t *s) {
  __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)s);
  return (__m512i)quiet_v16((wbr_v16u)_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
}

#define ST256(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define LD256(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

__attribute__((target("avx512f,avx512bw,avx512vl,f16c"))) static size_t cast_avx512(
    uint8_t *d, wbr_dtype to, const uint8_t *s, wbr_dtype from, size_t n) {
  size_t i = 0;
  if (from == WBR_F32 && to == WBR_F16) {
    for (; i + 16 <= n; i += 16)
      ST256(d + 2 * i, _mm512_cvtps_ph(_mm512_loadu_ps((const void *)(s + 4 * i)), ROUND_RNE));
  } else if (from == WBR_F16 && to == WBR_F32) {
    for (; i + 16 <= n; i += 16)
      _mm512_storeu_ps((void *)(d + 4 * i), _mm512_cvtph_ps(LD256(s + 2 * i)));
  } else if (from == WBR_F32 && to == WBR_BF16) {
    for (; i + 16 <= n; i += 16)
      ST256(d + 2 * i,
            _mm512_cvtepi32_epi16(bf16_round16(_mm512_loadu_si512((const void *)(s + 4 * i)))));
  } else if (from == WBR_BF16 && to == WBR_F32) {
    for (; i + 16 <= n; i += 16) _mm512_storeu_si512((void *)(d + 4 * i), bf16_widen16(s + 2 * i));
  } else if (from == WBR_F16 && to == WBR_BF16) {
    for (; i + 16 <= n; i += 16) {
      __m512i x = _mm512_castps_si512(_mm512_cvtph_ps(LD256(s + 2 * i)));
      ST256(d + 2 * i, _mm512_cvtepi32_epi16(bf16_round16(x)));
    }
  } else if (from == WBR_BF16 && to == WBR_F16) {
    for (; i + 16 <= n; i += 16)
      ST256(d + 2 * i, _mm512_cvtps_ph(_mm512_castsi512_ps(bf16_widen16(s + 2 * i)), ROUND_RNE));
  }
  return i;
}
#endif

size_t wbr_cast_simd(void *dst, wbr_dtype to, const void *src, wbr_dtype from, size_t n) {
#ifdef WBR_X86
  switch (wbr_cpu_level()) {
    case WBR_CPU_AVX512: return cast_avx512(dst, to, src, from, n);
    case WBR_CPU_AVX2: return cast_avx2(dst, to, src, from, n);
    default: return 0;
  }
#else
  (void)dst, (void)to, (void)src, (void)from, (void)n;
  return 0;
#endif
}

/* ---- 2-byte transposes ---------------------------------------------------------------------- */

#ifdef WBR_X86
#define UNROLL8 _Pragma("GCC unroll 8") /* the blocks' vectors stay in registers */
/* Transpose the 8 x 8 blocks of 16-bit elements in each 128-bit lane of x[0..8) (row i of a
 * block in x[i]; column j in x[j] after): the SSE2 unpack sequence, lane by lane. */
__attribute__((target("avx2"))) static inline void lanes8x8_16(__m256i *x) {
  __m256i a[8], b[8];
  UNROLL8 for (int i = 0; i < 4; i++) {
    a[2 * i] = _mm256_unpacklo_epi16(x[2 * i], x[2 * i + 1]);
    a[2 * i + 1] = _mm256_unpackhi_epi16(x[2 * i], x[2 * i + 1]);
  }
  UNROLL8 for (int h = 0; h < 8; h += 4) {
    b[h] = _mm256_unpacklo_epi32(a[h], a[h + 2]);
    b[h + 1] = _mm256_unpackhi_epi32(a[h], a[h + 2]);
    b[h + 2] = _mm256_unpacklo_epi32(a[h + 1], a[h + 3]);
    b[h + 3] = _mm256_unpackhi_epi32(a[h + 1], a[h + 3]);
  }
  UNROLL8 for (int j = 0; j < 4; j++) {
    x[2 * j] = _mm256_unpacklo_epi64(b[j], b[j + 4]);
    x[2 * j + 1] = _mm256_unpackhi_epi64(b[j], b[j + 4]);
  }
}

/* One 16 x 16 block of 16-bit elements (row strides sbb, dab in bytes): rows i and i + 8 are
 * paired lane-wise (low lanes in x[i], high lanes in y[i]); after the in-lane 8 x 8 transposes
 * x[j] is destination row j and y[j] destination row 8 + j. */
__attribute__((target("avx2"))) static inline void micro16x16(uint8_t *d, const uint8_t *s,
                                                              int64_t sbb, int64_t dab) {
  __m256i x[8], y[8];
  UNROLL8 for (int i = 0; i < 8; i++) {
    __m256i r0 = LD256(s + i * sbb), r1 = LD256(s + (i + 8) * sbb);
    x[i] = _mm256_permute2x128_si256(r0, r1, 0x20);
    y[i] = _mm256_permute2x128_si256(r0, r1, 0x31);
  }
  lanes8x8_16(x);
  lanes8x8_16(y);
  UNROLL8 for (int j = 0; j < 8; j++) {
    ST256(d + j * dab, x[j]);
    ST256(d + (j + 8) * dab, y[j]);
  }
}

WBR_DEFINE_PACKED(__attribute__((target("avx2"))), packed2_avx2, 2, 16, micro16x16)
#endif

bool wbr_transpose2_simd(void *dst, const void *src, int64_t na, int64_t nb, int64_t sb,
                         int64_t da) {
#ifdef WBR_X86
  if (wbr_cpu_level() >= WBR_CPU_AVX2) {
    packed2_avx2(dst, src, na, nb, sb, da);
    return true;
  }
#else
  (void)dst, (void)src, (void)na, (void)nb, (void)sb, (void)da;
#endif
  return false;
}

/* ---- Streaming stores ----------------------------------------------------------------------- */

#ifdef WBR_X86
/* One row: plain stores up to a 16-byte boundary of dst, then 16-byte streaming stores, then
 * the tail. A whole line is written by consecutive stores, so write-combining fills it. */
static void stream_row(uint8_t *d, const uint8_t *s, size_t len) {
  size_t head = (16 - ((uintptr_t)d & 15)) & 15;
  if (head > len) head = len;
  memcpy(d, s, head);
  size_t i = head;
  for (; i + 64 <= len; i += 64) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 32));
    __m128i e = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 48));
    _mm_stream_si128((__m128i *)(void *)(d + i), a);
    _mm_stream_si128((__m128i *)(void *)(d + i + 16), b);
    _mm_stream_si128((__m128i *)(void *)(d + i + 32), c);
    _mm_stream_si128((__m128i *)(void *)(d + i + 48), e);
  }
  for (; i + 16 <= len; i += 16)
    _mm_stream_si128((__m128i *)(void *)(d + i),
                     _mm_loadu_si128((const __m128i *)(const void *)(s + i)));
  memcpy(d + i, s + i, len - i);
}
#endif

void wbr_stream_rows(void *dst, size_t dst_stride, const void *src, size_t src_stride,
                     size_t nrows, size_t len) {
  uint8_t *d = dst;
  const uint8_t *s = src;
#ifdef WBR_X86
  if (wbr_cpu_level() >= WBR_CPU_SSE2) {
    for (size_t r = 0; r < nrows; r++) stream_row(d + r * dst_stride, s + r * src_stride, len);
    return;
  }
#endif
  for (size_t r = 0; r < nrows; r++) memcpy(d + r * dst_stride, s + r * src_stride, len);
}

void wbr_stream_fence(void) {
#ifdef WBR_X86
  _mm_sfence();
#endif
}
