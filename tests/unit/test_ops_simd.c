/* test_ops_simd.c — every cast path of every CPU level (apply/kernels_x86.c, forced with
 * wbr_cpu_set_level) against the general converter wbr_fp_convert, the contract: all 65,536
 * F16 and BF16 inputs, F32 edge sets (every sign/exponent/high mantissa with ties, near-ties,
 * subnormal and overflow boundaries, NaN payloads) and millions of random bit patterns, at odd
 * lengths and misaligned addresses, and again with MXCSR's FTZ and DAZ set by a host program. */
#include <stdlib.h>

#include "../../base/half.h"
#include "../../apply/kernels.h"
#include "harness.h"

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

static uint64_t simd_rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static wbr_fpfmt fmt(wbr_dtype t) {
  return t == WBR_F64 ? WBR_FP_F64 : t == WBR_F32 ? WBR_FP_F32 : t == WBR_F16 ? WBR_FP_F16
                                                                            : WBR_FP_BF16;
}

static uint64_t load_el(const uint8_t *p, size_t es) {
  if (es == 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  if (es == 4) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

/* Cast n elements of src (whose bytes start at a misaligned address) at the level in force and
 * compare each output with wbr_fp_convert; report the first few mismatches. */
static void check_cast(const char *what, int level, wbr_dtype from, wbr_dtype to,
                       const uint8_t *src, size_t n) {
  size_t ses = wbr_dtype_size(from), des = wbr_dtype_size(to);
  uint8_t *s = malloc(n * ses + 3), *d = malloc(n * des + 5);
  memcpy(s + 3, src, n * ses);
  memset(d, 0xa5, n * des + 5);
  int rc = wbr_cast(d + 1, to, s + 3, from, n);
  if (rc != 0) test_failed(__FILE__, __LINE__, "%s: wbr_cast returned %d", what, rc);
  int bad = 0;
  for (size_t i = 0; i < n && bad < 3; i++) {
    uint64_t x = load_el(src + i * ses, ses);
    uint64_t want = wbr_fp_convert(x, fmt(from), fmt(to)), got = load_el(d + 1 + i * des, des);
    if (got != want && bad++ < 3)
      test_failed(__FILE__, __LINE__, "%s level %s: element %zu 0x%llx -> 0x%llx, want 0x%llx",
                  what, wbr_cpu_level_name(level), i, (unsigned long long)x,
                  (unsigned long long)got, (unsigned long long)want);
  }
  if (d[0] != 0xa5 || memcmp(d + 1 + n * des, "\xa5\xa5\xa5\xa5", 4) != 0)
    test_failed(__FILE__, __LINE__, "%s level %s: wrote outside the output", what,
                wbr_cpu_level_name(level));
  free(s);
  free(d);
}

/* All 65,536 16-bit patterns, then a shorter run (odd length, other phase) for the tails. */
static void all16(int level, wbr_dtype from, wbr_dtype to, const char *what) {
  uint16_t *v = malloc(65536 * 2);
  for (uint32_t i = 0; i < 65536; i++) v[i] = (uint16_t)i;
  check_cast(what, level, from, to, (const uint8_t *)v, 65536);
  check_cast(what, level, from, to, (const uint8_t *)(v + 7), 65536 - 7 - 20);
  free(v);
}

/* Every top-16-bit pattern (sign, exponent, high mantissa) with low halves that make BF16 and
 * F16 ties, near-ties and sticky bits, followed by random patterns. */
static uint32_t *f32_set(size_t *n_out, size_t nrandom) {
  static const uint16_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x2000, 0x3000,
                                  0x5fff, 0x7fff, 0x8000, 0x8001, 0xa000, 0xf000, 0xffff};
  size_t nl = sizeof lows / sizeof lows[0], n = 65536 * nl + nrandom;
  uint32_t *v = malloc(n * 4);
  size_t k = 0;
  for (uint32_t hi = 0; hi < 65536; hi++)
    for (size_t l = 0; l < nl; l++) v[k++] = hi << 16 | lows[l];
  uint64_t seed = 0x5eed0201;
  while (k < n) v[k++] = (uint32_t)(simd_rng(&seed) >> 17);
  *n_out = n;
  return v;
}

static void f32_casts(int level, const uint32_t *v, size_t n, const char *tag) {
  char what[64];
  snprintf(what, sizeof what, "F32->F16 %s", tag);
  check_cast(what, level, WBR_F32, WBR_F16, (const uint8_t *)v, n);
  snprintf(what, sizeof what, "F32->BF16 %s", tag);
  check_cast(what, level, WBR_F32, WBR_BF16, (const uint8_t *)v, n);
  check_cast(what, level, WBR_F32, WBR_BF16, (const uint8_t *)(v + 3), n - 3 - 9);
}

TEST(ops_cast_every_cpu_level_matches_the_converter) {
  size_t n;
  uint32_t *v = f32_set(&n, 4u << 20);
  int best = wbr_cpu_set_level(-1);
  for (int level = WBR_CPU_PORTABLE; level <= best; level++) {
    CHECK_INT(wbr_cpu_set_level(level), level);
    all16(level, WBR_F16, WBR_F32, "F16->F32");
    all16(level, WBR_BF16, WBR_F32, "BF16->F32");
    all16(level, WBR_F16, WBR_BF16, "F16->BF16");
    all16(level, WBR_BF16, WBR_F16, "BF16->F16");
    f32_casts(level, v, n, "edges+random");
#if defined(__x86_64__)
    /* a host program's flush-to-zero / denormals-are-zero must not change a result */
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u);
    f32_casts(level, v, 65536 * 14, "FTZ+DAZ");
    all16(level, WBR_F16, WBR_F32, "F16->F32 FTZ+DAZ");
    all16(level, WBR_BF16, WBR_F16, "BF16->F16 FTZ+DAZ");
    _mm_setcsr(csr);
#endif
  }
  /* short lengths at every phase of the vector width */
  for (int level = WBR_CPU_PORTABLE; level <= best; level++) {
    wbr_cpu_set_level(level);
    for (size_t len = 0; len < 40; len++) {
      check_cast("short F32->F16", level, WBR_F32, WBR_F16, (const uint8_t *)(v + 1000), len);
      check_cast("short F16->BF16", level, WBR_F16, WBR_BF16, (const uint8_t *)(v + 2000), len);
    }
  }
  wbr_cpu_set_level(-1);
  free(v);
}

TEST(ops_cpu_level_names_and_caps) {
  int best = wbr_cpu_set_level(-1);
  CHECK(best >= WBR_CPU_PORTABLE && best <= WBR_CPU_AVX512);
  CHECK_INT(wbr_cpu_set_level(WBR_CPU_AVX512 + 5), best); /* never above the machine */
  CHECK_INT(wbr_cpu_set_level(WBR_CPU_PORTABLE), WBR_CPU_PORTABLE);
  CHECK_INT(wbr_cpu_level(), WBR_CPU_PORTABLE);
  CHECK_STR(wbr_cpu_level_name(WBR_CPU_AVX2), "avx2");
  wbr_cpu_set_level(-1);
  CHECK_INT(wbr_cpu_level(), best);
}

/* F64 inputs: every sign/exponent with 4 mantissa bits, each with low parts that make ties,
 * near-ties and sticky bits for F32, F16 and BF16; the normal/overflow boundaries of each
 * format exactly and one off; then random patterns. */
static uint64_t *f64_set(size_t *n_out) {
  static const uint64_t lows[] = {0, 1, 1ull << 28, (1ull << 28) + 1, (1ull << 28) - 1,
                                  3ull << 28, 1ull << 41, (1ull << 41) + 1, 3ull << 41,
                                  1ull << 44, (1ull << 44) - 1, 3ull << 44, 0xffffffffffffull};
  static const uint64_t bounds[] = {0x3810000000000000ull, 0x47efffffefffffffull, /* F32 */
                                    0x3f10000000000000ull, 0x40effc0000000000ull, /* F16 */
                                    0x3810000000000000ull, 0x47efe00000000000ull}; /* BF16 */
  size_t nl = sizeof lows / sizeof lows[0], n = 65536 * nl + 6 * 6 + (2u << 20);
  uint64_t *v = malloc(n * 8), seed = 0x5eed0202;
  size_t k = 0;
  for (uint64_t hi = 0; hi < 65536; hi++)
    for (size_t l = 0; l < nl; l++) v[k++] = hi << 48 | lows[l];
  for (size_t b = 0; b < 6; b++)
    for (int d = -1; d <= 1; d++) {
      v[k++] = bounds[b] + (uint64_t)(int64_t)d;
      v[k++] = (bounds[b] + (uint64_t)(int64_t)d) | 1ull << 63;
    }
  while (k < n) v[k++] = simd_rng(&seed) * 0x9e3779b97f4a7c15ull;
  *n_out = n;
  return v;
}

TEST(ops_cast_f64_block_form_matches_the_converter) {
  size_t n, n32;
  uint64_t *v = f64_set(&n);
  uint32_t *w = f32_set(&n32, 1u << 20);
  check_cast("F64->F32", 0, WBR_F64, WBR_F32, (const uint8_t *)v, n);
  check_cast("F64->F16", 0, WBR_F64, WBR_F16, (const uint8_t *)v, n);
  check_cast("F64->BF16", 0, WBR_F64, WBR_BF16, (const uint8_t *)(v + 1), n - 1 - 7);
  check_cast("F32->F64", 0, WBR_F32, WBR_F64, (const uint8_t *)w, n32);
  all16(0, WBR_F16, WBR_F64, "F16->F64");
  all16(0, WBR_BF16, WBR_F64, "BF16->F64");
  for (size_t len = 0; len < 70; len++) {
    check_cast("short F64->F16", 0, WBR_F64, WBR_F16, (const uint8_t *)(v + 5000), len);
    check_cast("short BF16->F64", 0, WBR_BF16, WBR_F64, (const uint8_t *)(v + 6000), len);
  }
  free(v);
  free(w);
}
