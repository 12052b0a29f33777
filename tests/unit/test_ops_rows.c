/* test_ops_rows.c — wbr_permute_rows (apply/kernels.c), the stripe entry point of the permute:
 * every row range of random shapes, perms and element sizes must equal the same rows of a whole
 * wbr_permute, write nothing outside its rows, and refuse out-of-range arguments. */
#include <stdlib.h>

#include "../../apply/kernels.h"
#include "../../base/util.h"
#include "harness.h"

static uint64_t rows_rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int free3(void *a, void *b, void *c, int ok) {
  free(a);
  free(b);
  free(c);
  return ok;
}

/* One case: the rows [row0, row0 + nrows) against bytes [row0 * rowb, ...) of the whole permute,
 * with a misaligned source and guard bytes around the destination. Returns 1 if they agree. */
static int rows_case(size_t es, int ndim, const int64_t *shape, const int *perm, int64_t row0,
                     int64_t nrows, int mis, uint64_t *seed) {
  size_t bytes;
  if (!wbr_shape_bytes(&bytes, es, ndim, shape)) return 0;
  int64_t p[WBR_MAX_DIMS];
  wbr_permute_shape(p, ndim, shape, perm);
  size_t rowb = es;
  for (int i = 1; i < ndim; i++) rowb *= (size_t)p[i];
  size_t want_len = (size_t)nrows * rowb;
  uint8_t *src = malloc(bytes + 16), *full = malloc(bytes + 16), *got = malloc(want_len + 32);
  for (size_t i = 0; i < bytes + 16; i++) src[i] = (uint8_t)(rows_rng(seed) >> 24);
  memset(got, 0xee, want_len + 32);
  int ok = wbr_permute(full, src + mis, es, ndim, shape, perm) == 0;
  ok &= wbr_permute_rows(got + 16, src + mis, es, ndim, shape, perm, row0, nrows) == 0;
  ok &= memcmp(got + 16, full + (size_t)row0 * rowb, want_len) == 0;
  for (int i = 0; i < 16; i++) ok &= got[i] == 0xee && got[16 + want_len + (size_t)i] == 0xee;
  return free3(src, full, got, ok);
}

TEST(ops_permute_rows_match_whole_permute) {
  uint64_t seed = 0x5eed0101;
  static const size_t sizes[] = {1, 2, 4, 8};
  int failures = 0, cases = 0;
  for (int c = 0; c < 3000; c++) {
    int ndim = 1 + (int)(rows_rng(&seed) % 5); /* 1..5 */
    int64_t shape[WBR_MAX_DIMS], total = 1;
    int perm[WBR_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
      uint64_t r = rows_rng(&seed) % 16;
      shape[i] = r < 3 ? 1 : r < 12 ? (int64_t)(rows_rng(&seed) % 9) + 2
                 : r < 15 ? 30 + (int64_t)(rows_rng(&seed) % 120) : 0;
      total *= shape[i];
    }
    if (total > 300000) continue;
    for (int i = 0; i < ndim; i++) perm[i] = i;
    for (int i = ndim - 1; i > 0; i--) {
      int j = (int)(rows_rng(&seed) % (uint64_t)(i + 1)), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    int64_t first = shape[perm[0]];
    int64_t row0 = (int64_t)(rows_rng(&seed) % (uint64_t)(first + 1));
    int64_t nrows = (int64_t)(rows_rng(&seed) % (uint64_t)(first - row0 + 1));
    if (c % 7 == 0) { /* the whole tensor, the spec's identity with wbr_permute */
      row0 = 0;
      nrows = first;
    }
    size_t es = sizes[c % 4];
    cases++;
    if (!rows_case(es, ndim, shape, perm, row0, nrows, (int)(rows_rng(&seed) % 8), &seed) &&
        failures++ < 5) {
      char sh[128];
      wbr_shape_str(sh, sizeof sh, ndim, shape);
      test_failed(__FILE__, __LINE__, "case %d: esize %zu shape %s perm0 %d rows %lld+%lld", c,
                  es, sh, perm[0], (long long)row0, (long long)nrows);
    }
  }
  CHECK(cases > 2000);
}

TEST(ops_permute_rows_transposes_row_by_row) {
  /* every single row of 2-D transposes around the micro-block and tile edges, every esize */
  uint64_t seed = 0x5eed0102;
  static const int64_t dims[][2] = {{63, 65}, {64, 64}, {129, 255}, {3, 300}, {300, 3}, {1, 9}};
  int perm[2] = {1, 0};
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
    for (size_t es = 1; es <= 8; es *= 2) {
      int ok = 1;
      for (int64_t r = 0; r < dims[d][1]; r++)
        ok &= rows_case(es, 2, dims[d], perm, r, 1, 1, &seed);
      ok &= rows_case(es, 2, dims[d], perm, 0, dims[d][1], 3, &seed);
      if (!ok)
        test_failed(__FILE__, __LINE__, "transpose [%lld, %lld] esize %zu", (long long)dims[d][0],
                    (long long)dims[d][1], es);
    }
}

TEST(ops_permute_rows_rejects_bad_arguments) {
  uint8_t src[64] = {0}, dst[64];
  int64_t shape[2] = {4, 2};
  int perm[2] = {1, 0}, bad[2] = {0, 0};
  /* the output is [2, 4]: rows 0..2 */
  CHECK_INT(wbr_permute_rows(dst, src, 4, 2, shape, perm, 0, 2), 0);
  CHECK_INT(wbr_permute_rows(dst, src, 4, 2, shape, perm, 2, 0), 0);
  CHECK_INT(wbr_permute_rows(dst, src, 4, 2, shape, perm, 1, 2), WBR_EUSAGE);
  CHECK_INT(wbr_permute_rows(dst, src, 4, 2, shape, perm, 3, 0), WBR_EUSAGE);
  CHECK_INT(wbr_permute_rows(dst, src, 4, 2, shape, perm, -1, 1), WBR_EUSAGE);
  CHECK_INT(wbr_permute_rows(dst, src, 4, 2, shape, perm, 0, -1), WBR_EUSAGE);
  CHECK_INT(wbr_permute_rows(dst, src, 3, 2, shape, perm, 0, 1), WBR_EUSAGE);
  CHECK_INT(wbr_permute_rows(dst, src, 4, 2, shape, bad, 0, 1), WBR_EUSAGE);
  /* a scalar is one row */
  uint8_t one[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8] = {0};
  CHECK_INT(wbr_permute_rows(out, one, 8, 0, NULL, NULL, 0, 1), 0);
  CHECK(memcmp(out, one, 8) == 0);
  CHECK_INT(wbr_permute_rows(out, one, 8, 0, NULL, NULL, 0, 2), WBR_EUSAGE);
  CHECK_INT(wbr_permute_rows(out, one, 8, 0, NULL, NULL, 1, 0), WBR_EUSAGE);
}

/* The packed, streaming transpose (large matrices, x86 levels) against the portable level, as
 * a whole permute, as rows of one, and into a part of a larger destination (wbr_permute_put:
 * destination rows longer than the tile), at odd sizes and misaligned addresses. */
static int level_case(size_t es, int64_t r, int64_t c, int mis, int64_t extra, uint64_t *seed) {
  int64_t shape[2] = {r, c}, dshape[2] = {c, r + extra};
  int perm[2] = {1, 0};
  size_t bytes = (size_t)(r * c) * es, dbytes = (size_t)(c * (r + extra)) * es;
  uint8_t *src = malloc(bytes + 8), *want = malloc(dbytes + 8), *got = malloc(dbytes + 8);
  for (size_t i = 0; i < bytes + 8; i++) src[i] = (uint8_t)(rows_rng(seed) >> 24);
  memset(want, 0x5a, dbytes + 8);
  memset(got, 0x5a, dbytes + 8);
  int best = wbr_cpu_set_level(-1), ok = 1;
  wbr_cpu_set_level(WBR_CPU_PORTABLE);
  ok &= wbr_permute_put(want + mis, dshape, 1, extra, src + mis, es, 2, shape, perm) == 0;
  wbr_cpu_set_level(best);
  ok &= wbr_permute_put(got + mis, dshape, 1, extra, src + mis, es, 2, shape, perm) == 0;
  ok &= memcmp(want, got, dbytes + 8) == 0;
  if (extra == 0) { /* the middle rows alone */
    memset(got, 0x5a, dbytes + 8);
    ok &= wbr_permute_rows(got + mis, src + mis, es, 2, shape, perm, c / 3, c / 2) == 0;
    ok &= memcmp(want + mis + (size_t)(c / 3 * r) * es, got + mis, (size_t)(c / 2 * r) * es) == 0;
  }
  return free3(src, want, got, ok);
}

TEST(ops_packed_transpose_matches_portable) {
  uint64_t seed = 0x5eed0103;
  static const int64_t dims[][2] = {{1024, 1024}, {1000, 1300}, {1301, 999}, {257, 4099},
                                    {4099, 257}, {2048, 600}, {77, 20000}};
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
    for (size_t es = 1; es <= 8; es *= 2)
      for (int k = 0; k < 2; k++)
        if (!level_case(es, dims[d][0], dims[d][1], k ? 3 : 0, k ? 5 : 0, &seed))
          test_failed(__FILE__, __LINE__, "transpose [%lld, %lld] esize %zu variant %d",
                      (long long)dims[d][0], (long long)dims[d][1], es, k);
  wbr_cpu_set_level(-1);
}

/* The 2-byte packed transpose (AVX2 16 x 16 blocks, kernels_x86.c) at every CPU level against
 * a plain element loop, with guard bytes around a misaligned destination and random source bytes:
 * shapes around the 16-element block, the 256 x 128 tile and the 1 MiB threshold, 1 x N and
 * N x 1, and a batched (0, 2, 1) permute. */
static int half_case(int64_t nbatch, int64_t r, int64_t c, int mis, uint64_t *seed) {
  const int64_t shape[3] = {nbatch, r, c};
  const int perm[3] = {0, 2, 1};
  size_t n = (size_t)(nbatch * r * c), bytes = 2 * n;
  uint16_t *src = malloc(bytes + 2), *want = malloc(bytes);
  uint8_t *got = malloc(bytes + 64);
  for (size_t i = 0; i < n + 1; i++) src[i] = (uint16_t)(rows_rng(seed) >> 20);
  const uint16_t *s = src + (mis & 1);
  for (int64_t b = 0; b < nbatch; b++)
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) want[(b * c + j) * r + i] = s[(b * r + i) * c + j];
  int best = wbr_cpu_set_level(-1), ok = 1;
  for (int level = WBR_CPU_PORTABLE; level <= best; level++) {
    wbr_cpu_set_level(level);
    memset(got, 0xc3, bytes + 64);
    int rc = wbr_permute(got + 32 + mis, s, 2, 3, shape, perm);
    int same = rc == 0 && memcmp(got + 32 + mis, want, bytes) == 0;
    for (int g = 0; g < 32 + mis; g++) same &= got[g] == 0xc3;
    for (size_t g = 32 + (size_t)mis + bytes; g < bytes + 64; g++) same &= got[g] == 0xc3;
    if (!same)
      test_failed(__FILE__, __LINE__, "2-byte transpose [%lld, %lld, %lld] misaligned %d, level %s",
                  (long long)nbatch, (long long)r, (long long)c, mis, wbr_cpu_level_name(level));
    ok &= same;
  }
  wbr_cpu_set_level(-1);
  return free3(src, want, got, ok);
}

TEST(ops_packed_transpose_2byte_every_level) {
  uint64_t seed = 0x5eed0216;
  static const int64_t cases[][3] = {
      {1, 1024, 1024}, {1, 512, 1024}, {1, 511, 1024}, {1, 1, 600000}, {1, 600000, 1},
      {1, 16, 40000},  {1, 40000, 16}, {1, 17, 40001}, {1, 257, 2049}, {1, 4097, 129},
      {1, 255, 2500},  {1, 2048, 384}, {3, 700, 900},  {2, 33, 20000}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    for (int mis = 0; mis < 2; mis++)
      CHECK(half_case(cases[k][0], cases[k][1], cases[k][2], mis ? 3 : 0, &seed));
}
