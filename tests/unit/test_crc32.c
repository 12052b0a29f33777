/* test_crc32.c — base/crc32.c's CRC-32 against zlib's crc32 (the reference): every length up to
 * 2,100 at 16 alignments, random long lengths, a 5 MiB buffer fed whole and in random pieces,
 * at the best CPU level (PCLMUL folding) and at the portable one. */
#include <stdlib.h>
#include <zlib.h>

#include "../../apply/kernels.h"
#include "../../base/crc32.h"
#include "harness.h"

static uint64_t crc_rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static uint32_t zlib_crc(uint32_t c, const uint8_t *p, size_t n) {
  return (uint32_t)crc32(c, p, (uInt)n);
}

TEST(crc32_matches_zlib) {
  const size_t big = 5u << 20;
  uint8_t *p = malloc(big + 16);
  uint64_t seed = 0x5eed0301;
  for (size_t i = 0; i < big + 16; i++) p[i] = (uint8_t)(crc_rng(&seed) >> 29);
  int best = wbr_cpu_set_level(-1);
  for (int level = WBR_CPU_PORTABLE; level <= best; level += best > 0 ? best : 1) {
    wbr_cpu_set_level(level);
    int bad = 0;
    for (size_t len = 0; len <= 2100; len++)
      for (size_t off = 0; off < 16; off++)
        if (wbr_crc32(0, p + off, len) != zlib_crc(0, p + off, len) && bad++ < 3)
          test_failed(__FILE__, __LINE__, "level %d length %zu offset %zu", level, len, off);
    for (int k = 0; k < 200; k++) {
      size_t len = (size_t)(crc_rng(&seed) % big), off = (size_t)(crc_rng(&seed) % 16);
      uint32_t start = (uint32_t)crc_rng(&seed);
      if (wbr_crc32(start, p + off, len) != zlib_crc(start, p + off, len) && bad++ < 3)
        test_failed(__FILE__, __LINE__, "level %d length %zu offset %zu", level, len, off);
    }
    /* in pieces, as the .pt writer feeds it */
    uint32_t c = 0;
    for (size_t at = 0; at < big;) {
      size_t k = (size_t)(crc_rng(&seed) % 70000);
      if (k > big - at) k = big - at;
      c = wbr_crc32(c, p + at, k);
      at += k;
    }
    CHECK(c == zlib_crc(0, p, big));
  }
  wbr_cpu_set_level(-1);
  free(p);
}
