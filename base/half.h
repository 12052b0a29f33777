/* half.h — bit-exact conversions between the IEEE binary float formats weightbridge casts:
 * F64, F32, F16 (binary16) and BF16 (bfloat16). Integer arithmetic only, so the results do not
 * depend on the FPU's rounding mode or on flush-to-zero set by a host program. One general
 * converter handles every case; the F32 <-> F16/BF16 fast paths cover the common ranges in a
 * branch-free form the compiler vectorises and defer to it for the rest. Internal header. */
#ifndef WBR_HALF_H
#define WBR_HALF_H

#include <stdbool.h>
#include <stdint.h>

typedef enum wbr_fpfmt { WBR_FP_F64, WBR_FP_F32, WBR_FP_F16, WBR_FP_BF16 } wbr_fpfmt;

/* Exponent and stored-mantissa widths. */
static inline int wbr_fp_ebits(wbr_fpfmt f) {
  switch (f) {
    case WBR_FP_F64: return 11;
    case WBR_FP_F32: return 8;
    case WBR_FP_F16: return 5;
    case WBR_FP_BF16: return 8;
  }
  return 8;
}

static inline int wbr_fp_mbits(wbr_fpfmt f) {
  switch (f) {
    case WBR_FP_F64: return 52;
    case WBR_FP_F32: return 23;
    case WBR_FP_F16: return 10;
    case WBR_FP_BF16: return 7;
  }
  return 23;
}

/* Convert the bit pattern x (in the low bits) from one format to another: round to nearest,
 * ties to even, in one step; overflow to +-Inf; gradual underflow; +-0 and +-Inf kept; a NaN
 * keeps its sign and the high bits of its payload and gets the quiet bit (the top mantissa
 * bit), so it can never become an Inf. */
static inline uint64_t wbr_fp_convert(uint64_t x, wbr_fpfmt from, wbr_fpfmt to) {
  const int se = wbr_fp_ebits(from), sm = wbr_fp_mbits(from);
  const int de = wbr_fp_ebits(to), dm = wbr_fp_mbits(to);
  const uint64_t semax = (1ull << se) - 1, demax = (1ull << de) - 1;
  const int64_t sbias = (1 << (se - 1)) - 1, dbias = (1 << (de - 1)) - 1;
  const uint64_t e = (x >> sm) & semax, m = x & ((1ull << sm) - 1);
  const uint64_t sign = ((x >> (se + sm)) & 1) << (de + dm);
  const uint64_t inf = demax << dm;
  if (e == semax) {
    if (m == 0) return sign | inf;
    uint64_t payload = sm >= dm ? m >> (sm - dm) : m << (dm - sm);
    return sign | inf | payload | (1ull << (dm - 1));
  }
  if (e == 0 && m == 0) return sign;
  /* value = sig * 2^exp, then normalised so that sig's top bit is bit 63. */
  uint64_t sig;
  int64_t exp;
  if (e == 0) {
    sig = m;
    exp = 1 - sbias - sm;
  } else {
    sig = m | (1ull << sm);
    exp = (int64_t)e - sbias - sm;
  }
  int lz = __builtin_clzll(sig);
  sig <<= lz;
  exp -= lz;
  const int64_t E = exp + 63; /* value = 1.f * 2^E */
  if (E + dbias >= (int64_t)demax) return sign | inf;
  const bool normal = E >= 1 - dbias;
  /* Bits of sig below the destination's last mantissa bit (more for a subnormal result). */
  int64_t shift = 63 - dm + (normal ? 0 : (1 - dbias) - E);
  if (shift > 64) return sign; /* below half the smallest subnormal */
  uint64_t q, rem, half;
  if (shift == 64) {
    q = 0;
    rem = sig;
    half = 1ull << 63;
  } else {
    q = sig >> shift;
    rem = sig & ((1ull << shift) - 1);
    half = 1ull << (shift - 1);
  }
  if (rem > half || (rem == half && (q & 1))) q++;
  /* q includes the implicit bit for a normal, so adding it carries into the exponent exactly
   * when rounding overflows the mantissa; a subnormal rounding up to 2^dm becomes the smallest
   * normal by the same carry. */
  uint64_t r = normal ? ((uint64_t)(E + dbias - 1) << dm) + q : q;
  if (r >= inf) r = inf;
  return sign | r;
}

/* ---- F32 <-> F16 -------------------------------------------------------------------------- */

/* 1 unless x rounds to a normal F16 (|x| in [2^-14, 65520)) or is +-0. */
static inline int wbr_f32_f16_needs_slow(uint32_t x) {
  uint32_t a = x & 0x7fffffffu;
  /* bitwise, not short-circuit, operators: this must stay a branch-free, vectorisable test */
  return (int)(((a - 0x38800000u) >= (0x477ff000u - 0x38800000u)) & (a != 0));
}

/* Valid only when !wbr_f32_f16_needs_slow(x): rebias the exponent and round the 13 dropped
 * mantissa bits to nearest even (the add carries into the exponent when it must). */
static inline uint16_t wbr_f32_to_f16_fast(uint32_t x) {
  uint32_t a = x & 0x7fffffffu;
  uint32_t r = (a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u) >> 13;
  return (uint16_t)(((x >> 16) & 0x8000u) | (a ? r : 0u));
}

static inline uint16_t wbr_f32_to_f16(uint32_t x) {
  return wbr_f32_f16_needs_slow(x) ? (uint16_t)wbr_fp_convert(x, WBR_FP_F32, WBR_FP_F16)
                                   : wbr_f32_to_f16_fast(x);
}

/* 1 for F16 subnormals, Inf and NaN. */
static inline int wbr_f16_f32_needs_slow(uint16_t h) {
  uint32_t e = h & 0x7c00u;
  return (int)((e == 0x7c00u) | ((e == 0) & ((h & 0x3ffu) != 0)));
}

static inline uint32_t wbr_f16_to_f32_fast(uint16_t h) {
  uint32_t a = h & 0x7fffu;
  uint32_t r = (a << 13) + 0x38000000u;
  return ((uint32_t)(h & 0x8000u) << 16) | (a ? r : 0u);
}

static inline uint32_t wbr_f16_to_f32(uint16_t h) {
  return wbr_f16_f32_needs_slow(h) ? (uint32_t)wbr_fp_convert(h, WBR_FP_F16, WBR_FP_F32)
                                   : wbr_f16_to_f32_fast(h);
}

/* ---- F32 <-> BF16 ------------------------------------------------------------------------- */

/* BF16 is the top half of an F32, so rounding is one add: ties to even via the kept LSB; the
 * carry turns the largest values into Inf exactly as RNE must, and subnormals round correctly
 * because the exponent fields match. Only NaN needs care (the add could carry it into Inf or
 * across the sign). */
static inline uint16_t wbr_f32_to_bf16(uint32_t x) {
  uint32_t r = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  uint32_t nan = (x >> 16) | 0x40u;
  return (uint16_t)((x & 0x7fffffffu) > 0x7f800000u ? nan : r);
}

static inline uint32_t wbr_bf16_to_f32(uint16_t b) {
  uint32_t r = (uint32_t)b << 16;
  return (b & 0x7fffu) > 0x7f80u ? r | 0x400000u : r;
}

#endif
