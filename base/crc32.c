/* crc32.c — CRC-32 (the zip / gzip polynomial, zlib's crc32 semantics) for the .pt writer and
 * the zip reader: on x86-64 with PCLMULQDQ, carry-less-multiply folding of 64 bytes per step
 * (Intel's "Fast CRC Computation Using PCLMULQDQ"), about 5x zlib 1.2.13's table-driven crc32 on
 * this machine; zlib's crc32 is the reference, does the short tails, and everything when the
 * CPU level is portable (WBR_CPU=portable) or the CPU lacks the instruction. */
#include "base/crc32.h"

#include <zlib.h>

#include "base/cpu.h"

/* zlib counts in uInt; feed it large buffers in pieces. */
#define ZCHUNK ((size_t)1 << 30)

static uint32_t crc_zlib(uint32_t crc, const uint8_t *p, size_t n) {
  uLong c = crc;
  while (n) {
    size_t k = n < ZCHUNK ? n : ZCHUNK;
    c = crc32(c, p, (uInt)k);
    p += k;
    n -= k;
  }
  return (uint32_t)c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* The folding constants of the bit-reflected polynomial 0x1DB710641: x^(512+64) and x^512 mod P
 * (fold by four 16-byte lanes), x^(128+64) and x^128 (fold by one), x^64 (the last 64 bits),
 * and the Barrett pair P' and u = floor(x^64 / P). */
#define K1 0x154442bd4ull
#define K2 0x1c6e41596ull
#define K3 0x1751997d0ull
#define K4 0x0ccaa009eull
#define K5 0x163cd6124ull
#define POLY 0x1db710641ull
#define MU 0x1f7011641ull

__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i x, __m128i k,
                                                                     __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* The running register (not inverted) over n bytes, n >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_fold(uint32_t state,
                                                                   const uint8_t *p, size_t n) {
#define LD(q) _mm_loadu_si128((const __m128i *)(const void *)(q))
  __m128i x1 = _mm_xor_si128(LD(p), _mm_cvtsi32_si128((int)state)), x2 = LD(p + 16),
          x3 = LD(p + 32), x4 = LD(p + 48);
  p += 64;
  n -= 64;
  const __m128i k12 = _mm_set_epi64x((long long)K2, (long long)K1);
  for (; n >= 64; p += 64, n -= 64) {
    x1 = fold(x1, k12, LD(p));
    x2 = fold(x2, k12, LD(p + 16));
    x3 = fold(x3, k12, LD(p + 32));
    x4 = fold(x4, k12, LD(p + 48));
  }
  const __m128i k34 = _mm_set_epi64x((long long)K4, (long long)K3);
  x1 = fold(x1, k34, x2);
  x1 = fold(x1, k34, x3);
  x1 = fold(x1, k34, x4);
  for (; n >= 16; p += 16, n -= 16) x1 = fold(x1, k34, LD(p));
#undef LD
  /* 128 -> 64 bits (appending 32 zero bits), then 64 -> 32 by Barrett reduction */
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(k34, x1, 0x01), _mm_srli_si128(x1, 8));
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
  __m128i x2b = _mm_srli_si128(x1, 4);
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), _mm_set_epi64x(0, (long long)K5), 0x00);
  x1 = _mm_xor_si128(x1, x2b);
  const __m128i pu = _mm_set_epi64x((long long)MU, (long long)POLY);
  __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), pu, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), pu, 0x00);
  return (uint32_t)_mm_extract_epi32(_mm_xor_si128(t, x1), 1);
}

static int have_pclmul(void) {
  static int have = -1;
  int h = __atomic_load_n(&have, __ATOMIC_ACQUIRE);
  if (h < 0) {
    h = wbr_cpu_has_pclmul();
    __atomic_store_n(&have, h, __ATOMIC_RELEASE);
  }
  return h;
}
#endif

uint32_t wbr_crc32(uint32_t crc, const void *data, size_t n) {
  const uint8_t *p = data;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (n >= 256 && wbr_cpu_level() >= WBR_CPU_SSE2 && have_pclmul()) {
    size_t bulk = n & ~(size_t)15;
    crc = ~crc_fold(~crc, p, bulk);
    p += bulk;
    n -= bulk;
  }
#endif
  return crc_zlib(crc, p, n);
}
