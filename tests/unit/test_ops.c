/* test_ops.c — the apply kernels (apply/kernels.c): permute against a naive reference on random
 * shapes and every element size, blocked-transpose edges, cast tables with exact bit patterns
 * (rounding ties, overflow, subnormals, NaN payloads, -0), exhaustive 16-bit round trips, the
 * fast cast paths against the general converter, and slice / concat round trips and streams. */
#include <stdlib.h>

#include "../../base/half.h"
#include "../../apply/kernels.h"
#include "../../base/util.h"
#include "harness.h"

/* A seeded generator, so every failure reproduces. */
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void fill_random(uint8_t *p, size_t n, uint64_t *s) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rng_next(s) >> 24);
}

/* The definition of np.transpose(src, perm), one element at a time. */
static void permute_ref(uint8_t *dst, const uint8_t *src, size_t es, int ndim,
                        const int64_t *shape, const int *perm) {
  int64_t out_shape[WBR_MAX_DIMS], sst[WBR_MAX_DIMS], idx[WBR_MAX_DIMS] = {0};
  int64_t total = 1, st = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    sst[i] = st;
    st *= shape[i];
  }
  for (int i = 0; i < ndim; i++) {
    out_shape[i] = shape[perm[i]];
    total *= out_shape[i];
  }
  for (int64_t o = 0; o < total; o++) {
    int64_t rem = o, off = 0;
    for (int i = ndim - 1; i >= 0; i--) {
      idx[i] = rem % out_shape[i];
      rem /= out_shape[i];
    }
    for (int i = 0; i < ndim; i++) off += idx[i] * sst[perm[i]];
    memcpy(dst + o * (int64_t)es, src + off * (int64_t)es, es);
  }
}

/* Run wbr_permute and the reference on one case; src and dst deliberately misaligned by `mis`
 * bytes to prove the kernels do not assume alignment. Returns 1 if they agree. */
static int permute_case(size_t es, int ndim, const int64_t *shape, const int *perm, int mis,
                        uint64_t *seed) {
  size_t bytes;
  if (!wbr_shape_bytes(&bytes, es, ndim, shape)) return 0;
  uint8_t *src = malloc(bytes + 16), *got = malloc(bytes + 16), *want = malloc(bytes + 16);
  fill_random(src + mis, bytes, seed);
  memset(got, 0xee, bytes + 16);
  permute_ref(want, src + mis, es, ndim, shape, perm);
  int rc = wbr_permute(got + mis, src + mis, es, ndim, shape, perm);
  int ok = rc == 0 && memcmp(got + mis, want, bytes) == 0;
  /* nothing written outside the destination */
  for (int i = 0; i < mis; i++) ok &= got[i] == 0xee;
  for (size_t i = bytes + (size_t)mis; i < bytes + 16; i++) ok &= got[i] == 0xee;
  free(src);
  free(got);
  free(want);
  return ok;
}

static void random_perm(int *perm, int n, uint64_t *s) {
  for (int i = 0; i < n; i++) perm[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(rng_next(s) % (uint64_t)(i + 1));
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

TEST(ops_permute_matches_reference) {
  uint64_t seed = 0x5eed0001;
  static const size_t sizes[] = {1, 2, 4, 8};
  int failures = 0;
  for (int c = 0; c < 1500; c++) {
    int ndim = (int)(rng_next(&seed) % 6); /* 0..5 */
    int64_t shape[WBR_MAX_DIMS];
    int perm[WBR_MAX_DIMS];
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) {
      uint64_t r = rng_next(&seed) % 16;
      /* mostly small dims, sometimes 1 (dropped axes) or big enough for several tiles */
      shape[i] = r < 3 ? 1 : r < 13 ? (int64_t)(rng_next(&seed) % 9) + 2 : 40 + (int64_t)(rng_next(&seed) % 100);
      total *= shape[i];
    }
    if (total > 300000) continue;
    random_perm(perm, ndim, &seed);
    size_t es = sizes[rng_next(&seed) % 4];
    int mis = (int)(rng_next(&seed) % 8);
    if (!permute_case(es, ndim, shape, perm, mis, &seed)) {
      if (failures++ < 5) {
        char sh[128];
        wbr_shape_str(sh, sizeof sh, ndim, shape);
        test_failed(__FILE__, __LINE__, "case %d: esize %zu shape %s perm %d,%d,%d,%d,%d", c, es,
                    sh, perm[0], ndim > 1 ? perm[1] : -1, ndim > 2 ? perm[2] : -1,
                    ndim > 3 ? perm[3] : -1, ndim > 4 ? perm[4] : -1);
      }
    }
  }
}

TEST(ops_permute_8_dims_and_layouts) {
  uint64_t seed = 0x5eed0002;
  int64_t s8[8] = {2, 3, 1, 2, 3, 2, 1, 3};
  int p8[8] = {7, 0, 5, 2, 6, 1, 4, 3};
  for (size_t es = 1; es <= 8; es *= 2) CHECK(permute_case(es, 8, s8, p8, 3, &seed));
  /* the layouts weight conversion actually uses */
  int64_t hwio[4] = {3, 3, 24, 40}, oihw[4] = {40, 24, 3, 3}, vit[3] = {96, 12, 64};
  int64_t heads[4] = {5, 17, 12, 64};
  int to_oihw[4] = {3, 2, 0, 1}, to_hwio[4] = {2, 3, 1, 0}, vitp[3] = {1, 2, 0},
      swap12[4] = {0, 2, 1, 3};
  for (size_t es = 1; es <= 8; es *= 2) {
    CHECK(permute_case(es, 4, hwio, to_oihw, 0, &seed));
    CHECK(permute_case(es, 4, oihw, to_hwio, 1, &seed));
    CHECK(permute_case(es, 3, vit, vitp, 0, &seed));
    CHECK(permute_case(es, 4, heads, swap12, 5, &seed));
  }
}

TEST(ops_transpose_edges) {
  uint64_t seed = 0x5eed0003;
  static const int64_t dims[][2] = {{1, 1},   {1, 1000}, {1000, 1}, {0, 7},    {7, 0},
                                    {0, 0},   {63, 65},  {64, 64},  {65, 63},  {127, 129},
                                    {3, 300}, {300, 3},  {17, 16},  {16, 17},  {200, 70},
                                    {2, 9},   {9, 2},    {33, 1},   {128, 256}, {129, 255}};
  int perm[2] = {1, 0};
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
    for (size_t es = 1; es <= 8; es *= 2)
      for (int mis = 0; mis < 3; mis += 2)
        if (!permute_case(es, 2, dims[d], perm, mis, &seed))
          test_failed(__FILE__, __LINE__, "transpose [%lld, %lld] esize %zu misalign %d",
                      (long long)dims[d][0], (long long)dims[d][1], es, mis);
  /* batched 2-D transposes (the (0, 2, 1) shape) with odd sizes */
  int64_t b[3] = {3, 67, 45};
  int pb[3] = {0, 2, 1};
  for (size_t es = 1; es <= 8; es *= 2) CHECK(permute_case(es, 3, b, pb, 1, &seed));
  /* 0-d: one element */
  uint32_t x = 0xdeadbeef, y = 0;
  CHECK_INT(wbr_permute(&y, &x, 4, 0, NULL, NULL), 0);
  CHECK(y == 0xdeadbeef);
}

TEST(ops_permute_rejects_bad_arguments) {
  uint8_t buf[64] = {0}, out[64];
  int64_t shape[3] = {2, 2, 2}, neg[2] = {2, -1};
  int dup[3] = {0, 0, 1}, big[3] = {0, 1, 3}, ok[3] = {2, 1, 0}, p2[2] = {1, 0};
  CHECK_INT(wbr_permute(out, buf, 4, 3, shape, dup), WBR_EUSAGE);
  CHECK_INT(wbr_permute(out, buf, 4, 3, shape, big), WBR_EUSAGE);
  CHECK_INT(wbr_permute(out, buf, 3, 3, shape, ok), WBR_EUSAGE);
  CHECK_INT(wbr_permute(out, buf, 4, 9, shape, ok), WBR_EUSAGE);
  CHECK_INT(wbr_permute(out, buf, 4, 2, neg, p2), WBR_EUSAGE);
  CHECK(wbr_perm_is_valid(3, ok));
  CHECK(!wbr_perm_is_valid(3, dup));
  int64_t huge[2] = {INT64_MAX / 2, 4};
  CHECK_INT(wbr_permute(out, buf, 4, 2, huge, p2), WBR_EUSAGE);
  int64_t ps[3];
  wbr_permute_shape(ps, 3, (int64_t[]){2, 3, 4}, ok);
  CHECK(ps[0] == 4 && ps[1] == 3 && ps[2] == 2);
}

/* A concat of permuted parts built with wbr_permute_put equals the permute of the concat. */
TEST(ops_permute_put_builds_concat_of_permuted_parts) {
  uint64_t seed = 0x5eed0004;
  /* three parts [4, 5, n_i] concatenated on axis 2 -> [4, 5, 12]; permuted by (2, 0, 1) the
   * concat axis becomes output axis 0 */
  int64_t lens[3] = {3, 4, 5};
  int perm[3] = {2, 0, 1};
  uint8_t parts[3][4 * 5 * 5 * 4], whole[4 * 5 * 12 * 4], want[4 * 5 * 12 * 4],
      got[4 * 5 * 12 * 4];
  int64_t whole_shape[3] = {4, 5, 12}, out_shape[3] = {12, 4, 5};
  int64_t start = 0;
  for (int i = 0; i < 3; i++) {
    int64_t ps[3] = {4, 5, lens[i]};
    fill_random(parts[i], (size_t)(4 * 5 * lens[i] * 4), &seed);
    CHECK_INT(wbr_slice_put(whole, 4, 3, whole_shape, 2, start, parts[i], lens[i]), 0);
    CHECK_INT(wbr_permute_put(got, out_shape, 0, start, parts[i], 4, 3, ps, perm), 0);
    start += lens[i];
  }
  CHECK_INT(wbr_permute(want, whole, 4, 3, whole_shape, perm), 0);
  CHECK(memcmp(got, want, sizeof want) == 0);
  /* a part that does not fit, or a mismatched other axis, is refused */
  int64_t ps[3] = {4, 5, 5};
  CHECK_INT(wbr_permute_put(got, out_shape, 0, 8, parts[2], 4, 3, ps, perm), WBR_EUSAGE);
  int64_t bad[3] = {4, 6, 5};
  CHECK_INT(wbr_permute_put(got, out_shape, 0, 0, parts[2], 4, 3, bad, perm), WBR_EUSAGE);
}

/* ---- casts -------------------------------------------------------------------------------- */

typedef struct cast_row {
  wbr_dtype from, to;
  uint64_t in, out;
  const char *why;
} cast_row;

static const cast_row cast_table[] = {
    /* F32 -> F16 */
    {WBR_F32, WBR_F16, 0x3f800000, 0x3c00, "1.0"},
    {WBR_F32, WBR_F16, 0x00000000, 0x0000, "+0"},
    {WBR_F32, WBR_F16, 0x80000000, 0x8000, "-0 keeps its sign"},
    {WBR_F32, WBR_F16, 0xc0000000, 0xc000, "-2"},
    {WBR_F32, WBR_F16, 0x3f801000, 0x3c00, "1 + 2^-11: tie rounds to even (down)"},
    {WBR_F32, WBR_F16, 0x3f803000, 0x3c02, "1 + 3*2^-11: tie rounds to even (up)"},
    {WBR_F32, WBR_F16, 0x3f801001, 0x3c01, "just above a tie rounds up"},
    {WBR_F32, WBR_F16, 0x477fe000, 0x7bff, "65504, largest finite"},
    {WBR_F32, WBR_F16, 0x477fefff, 0x7bff, "just below 65520 stays finite"},
    {WBR_F32, WBR_F16, 0x477ff000, 0x7c00, "65520: tie with odd 0x7bff overflows to Inf"},
    {WBR_F32, WBR_F16, 0x7f7fffff, 0x7c00, "FLT_MAX overflows to Inf"},
    {WBR_F32, WBR_F16, 0xff7fffff, 0xfc00, "-FLT_MAX overflows to -Inf"},
    {WBR_F32, WBR_F16, 0x7f800000, 0x7c00, "+Inf"},
    {WBR_F32, WBR_F16, 0xff800000, 0xfc00, "-Inf"},
    {WBR_F32, WBR_F16, 0x38800000, 0x0400, "2^-14, smallest normal"},
    {WBR_F32, WBR_F16, 0x387fc000, 0x03ff, "largest subnormal"},
    {WBR_F32, WBR_F16, 0x387ff000, 0x0400, "tie below 2^-14 rounds up to the smallest normal"},
    {WBR_F32, WBR_F16, 0x38000000, 0x0200, "2^-15, a subnormal"},
    {WBR_F32, WBR_F16, 0x33800000, 0x0001, "2^-24, smallest subnormal"},
    {WBR_F32, WBR_F16, 0x33000000, 0x0000, "2^-25: tie with 0 rounds to even zero"},
    {WBR_F32, WBR_F16, 0x33000001, 0x0001, "just above 2^-25 rounds up"},
    {WBR_F32, WBR_F16, 0x33c00000, 0x0002, "1.5 * 2^-24: tie rounds to even 2"},
    {WBR_F32, WBR_F16, 0x34200000, 0x0002, "2.5 * 2^-24: tie rounds to even 2"},
    {WBR_F32, WBR_F16, 0x00000001, 0x0000, "F32 subnormal underflows to 0"},
    {WBR_F32, WBR_F16, 0x80000001, 0x8000, "negative underflow gives -0"},
    {WBR_F32, WBR_F16, 0x7fc00000, 0x7e00, "quiet NaN"},
    {WBR_F32, WBR_F16, 0xffc00000, 0xfe00, "negative NaN keeps its sign"},
    {WBR_F32, WBR_F16, 0x7fc02000, 0x7e01, "NaN payload high bits kept"},
    {WBR_F32, WBR_F16, 0x7f800001, 0x7e00, "sNaN whose payload does not fit: quiet, not Inf"},
    {WBR_F32, WBR_F16, 0x7fa00000, 0x7f00, "sNaN payload kept, made quiet"},
    /* F16 -> F32 */
    {WBR_F16, WBR_F32, 0x3c00, 0x3f800000, "1.0"},
    {WBR_F16, WBR_F32, 0x0001, 0x33800000, "smallest subnormal"},
    {WBR_F16, WBR_F32, 0x03ff, 0x387fc000, "largest subnormal"},
    {WBR_F16, WBR_F32, 0x8001, 0xb3800000, "negative subnormal"},
    {WBR_F16, WBR_F32, 0x7bff, 0x477fe000, "largest finite"},
    {WBR_F16, WBR_F32, 0x7c00, 0x7f800000, "+Inf"},
    {WBR_F16, WBR_F32, 0xfc00, 0xff800000, "-Inf"},
    {WBR_F16, WBR_F32, 0x8000, 0x80000000, "-0"},
    {WBR_F16, WBR_F32, 0x7e00, 0x7fc00000, "quiet NaN"},
    {WBR_F16, WBR_F32, 0x7c01, 0x7fc02000, "sNaN made quiet, payload kept"},
    {WBR_F16, WBR_F32, 0xfe01, 0xffc02000, "negative NaN with payload"},
    /* F32 -> BF16 */
    {WBR_F32, WBR_BF16, 0x3f800000, 0x3f80, "1.0"},
    {WBR_F32, WBR_BF16, 0x3f808000, 0x3f80, "tie rounds to even (down)"},
    {WBR_F32, WBR_BF16, 0x3f818000, 0x3f82, "tie rounds to even (up)"},
    {WBR_F32, WBR_BF16, 0x3f808001, 0x3f81, "above a tie rounds up"},
    {WBR_F32, WBR_BF16, 0x7f7f7fff, 0x7f7f, "stays at the largest finite"},
    {WBR_F32, WBR_BF16, 0x7f7f8000, 0x7f80, "tie with odd largest finite overflows to Inf"},
    {WBR_F32, WBR_BF16, 0x7f7fffff, 0x7f80, "FLT_MAX overflows to Inf"},
    {WBR_F32, WBR_BF16, 0xff7fffff, 0xff80, "-FLT_MAX overflows to -Inf"},
    {WBR_F32, WBR_BF16, 0x00000001, 0x0000, "tiny subnormal to 0"},
    {WBR_F32, WBR_BF16, 0x00008000, 0x0000, "subnormal tie to even 0"},
    {WBR_F32, WBR_BF16, 0x00018000, 0x0002, "subnormal tie to even 2"},
    {WBR_F32, WBR_BF16, 0x007fffff, 0x0080, "largest subnormal rounds to smallest normal"},
    {WBR_F32, WBR_BF16, 0x80000000, 0x8000, "-0"},
    {WBR_F32, WBR_BF16, 0x7fc00000, 0x7fc0, "quiet NaN"},
    {WBR_F32, WBR_BF16, 0xffc00000, 0xffc0, "negative NaN"},
    {WBR_F32, WBR_BF16, 0x7f800001, 0x7fc0, "sNaN with low payload: quiet, not Inf"},
    {WBR_F32, WBR_BF16, 0x7fffffff, 0x7fff, "NaN with all payload bits does not carry"},
    {WBR_F32, WBR_BF16, 0xffffffff, 0xffff, "negative all-ones NaN"},
    {WBR_F32, WBR_BF16, 0x7f810000, 0x7fc1, "sNaN payload kept"},
    /* BF16 -> F32 */
    {WBR_BF16, WBR_F32, 0x7fc0, 0x7fc00000, "quiet NaN"},
    {WBR_BF16, WBR_F32, 0x7f81, 0x7fc10000, "sNaN made quiet"},
    {WBR_BF16, WBR_F32, 0x0001, 0x00010000, "subnormal exact"},
    {WBR_BF16, WBR_F32, 0xff80, 0xff800000, "-Inf"},
    /* F16 <-> BF16 */
    {WBR_F16, WBR_BF16, 0x3c00, 0x3f80, "1.0"},
    {WBR_F16, WBR_BF16, 0x7bff, 0x4780, "65504 rounds up to 65536"},
    {WBR_F16, WBR_BF16, 0x0001, 0x3380, "F16 subnormal is a BF16 normal"},
    {WBR_F16, WBR_BF16, 0x3c04, 0x3f80, "1 + 2^-8: tie to even (down)"},
    {WBR_F16, WBR_BF16, 0x3c0c, 0x3f82, "1 + 3*2^-8: tie to even (up)"},
    {WBR_F16, WBR_BF16, 0x7e01, 0x7fc0, "NaN stays NaN (low payload bits do not fit)"},
    {WBR_F16, WBR_BF16, 0xfc00, 0xff80, "-Inf"},
    {WBR_BF16, WBR_F16, 0x3f80, 0x3c00, "1.0"},
    {WBR_BF16, WBR_F16, 0x4780, 0x7c00, "65536 overflows to Inf"},
    {WBR_BF16, WBR_F16, 0x477f, 0x7bf8, "65280 is exact"},
    {WBR_BF16, WBR_F16, 0x0001, 0x0000, "BF16 subnormal underflows"},
    {WBR_BF16, WBR_F16, 0x3380, 0x0001, "2^-24"},
    {WBR_BF16, WBR_F16, 0x7fc1, 0x7e08, "NaN payload kept"},
    {WBR_BF16, WBR_F16, 0x8000, 0x8000, "-0"},
    /* F64 -> narrower: one rounding step */
    {WBR_F64, WBR_F16, 0x3ff0020000001000, 0x3c01,
     "1 + 2^-11 + 2^-40 rounds up directly (through F32 it would tie down to 0x3c00)"},
    {WBR_F64, WBR_F16, 0x3ff0020000000000, 0x3c00, "exact tie rounds to even"},
    {WBR_F64, WBR_BF16, 0x3ff0100000001000, 0x3f81, "1 + 2^-8 + 2^-40 rounds up directly"},
    {WBR_F64, WBR_BF16, 0x3ff0100000000000, 0x3f80, "exact tie rounds to even"},
    {WBR_F64, WBR_F32, 0x3ff0000010000000, 0x3f800000, "1 + 2^-24: tie to even (down)"},
    {WBR_F64, WBR_F32, 0x3ff0000030000000, 0x3f800002, "1 + 3*2^-24: tie to even (up)"},
    {WBR_F64, WBR_F32, 0x7fefffffffffffff, 0x7f800000, "DBL_MAX overflows"},
    {WBR_F64, WBR_F16, 0xffefffffffffffff, 0xfc00, "-DBL_MAX overflows"},
    {WBR_F64, WBR_BF16, 0x7fefffffffffffff, 0x7f80, "DBL_MAX overflows"},
    {WBR_F64, WBR_F32, 0x8000000000000001, 0x80000000, "tiny negative gives -0"},
    {WBR_F64, WBR_F32, 0x36a0000000000000, 0x00000001, "2^-149, smallest F32 subnormal"},
    {WBR_F64, WBR_F32, 0x3690000000000000, 0x00000000, "2^-150: tie to even zero"},
    {WBR_F64, WBR_F32, 0x3690000000000001, 0x00000001, "just above 2^-150 rounds up"},
    {WBR_F64, WBR_F32, 0x7ff8000000000001, 0x7fc00000, "quiet NaN"},
    {WBR_F64, WBR_F32, 0x7ff0000000000001, 0x7fc00000, "sNaN with low payload: quiet"},
    {WBR_F64, WBR_F32, 0x7ff4000000000000, 0x7fe00000, "payload high bits kept"},
    {WBR_F64, WBR_F16, 0xfff0000000000001, 0xfe00, "negative sNaN: quiet, sign kept"},
    {WBR_F64, WBR_F16, 0x8000000000000000, 0x8000, "-0"},
    /* widening to F64 is exact */
    {WBR_F32, WBR_F64, 0x3f800000, 0x3ff0000000000000, "1.0"},
    {WBR_F32, WBR_F64, 0x00000001, 0x36a0000000000000, "F32 subnormal is an F64 normal"},
    {WBR_F16, WBR_F64, 0x0001, 0x3e70000000000000, "2^-24"},
    {WBR_F16, WBR_F64, 0x7c01, 0x7ff8040000000000, "sNaN made quiet, payload kept"},
    {WBR_BF16, WBR_F64, 0xff80, 0xfff0000000000000, "-Inf"},
    {WBR_F32, WBR_F64, 0x80000000, 0x8000000000000000, "-0"},
};

static uint64_t load_le(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void store_le(uint8_t *p, size_t n, uint64_t v) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

TEST(ops_cast_table) {
  for (size_t i = 0; i < sizeof cast_table / sizeof cast_table[0]; i++) {
    const cast_row *r = &cast_table[i];
    size_t fs = wbr_dtype_size(r->from), ts = wbr_dtype_size(r->to);
    /* 70 copies so both the vectorised blocks (64) and the scalar tail see the value */
    uint8_t in[70 * 8 + 1], out[70 * 8 + 1];
    for (int k = 0; k < 70; k++) store_le(in + 1 + k * fs, fs, r->in);
    CHECK_INT(wbr_cast(out + 1, r->to, in + 1, r->from, 70), 0);
    for (int k = 0; k < 70; k++) {
      uint64_t got = load_le(out + 1 + k * ts, ts);
      if (got != r->out) {
        test_failed(__FILE__, __LINE__, "%s -> %s of 0x%llx (%s): got 0x%llx, want 0x%llx",
                    wbr_dtype_name(r->from), wbr_dtype_name(r->to), (unsigned long long)r->in,
                    r->why, (unsigned long long)got, (unsigned long long)r->out);
        break;
      }
    }
  }
}

/* Every F16 value round-trips through F32 and F64 unchanged, except that a signalling NaN
 * comes back quiet with the same sign and payload; likewise every BF16 through F32. */
TEST(ops_cast_16bit_round_trips_exhaustive) {
  static uint16_t all[65536], back[65536];
  static uint32_t wide[65536];
  static uint64_t wide64[65536];
  for (uint32_t i = 0; i < 65536; i++) all[i] = (uint16_t)i;
  int bad = 0;
  for (int pass = 0; pass < 2; pass++) {
    wbr_dtype t = pass ? WBR_BF16 : WBR_F16;
    uint16_t expmask = pass ? 0x7f80 : 0x7c00, quiet = pass ? 0x40 : 0x200;
    CHECK_INT(wbr_cast(wide, WBR_F32, all, t, 65536), 0);
    CHECK_INT(wbr_cast(back, t, wide, WBR_F32, 65536), 0);
    for (uint32_t i = 0; i < 65536 && bad < 5; i++) {
      bool nan = (i & expmask) == expmask && (i & (expmask ^ 0x7fff)) != 0;
      uint16_t want = nan ? (uint16_t)(i | quiet) : (uint16_t)i;
      if (back[i] != want) {
        test_failed(__FILE__, __LINE__, "%s 0x%04x -> F32 -> 0x%04x", wbr_dtype_name(t), i, back[i]);
        bad++;
      }
    }
    CHECK_INT(wbr_cast(wide64, WBR_F64, all, t, 65536), 0);
    CHECK_INT(wbr_cast(back, t, wide64, WBR_F64, 65536), 0);
    for (uint32_t i = 0; i < 65536 && bad < 5; i++) {
      bool nan = (i & expmask) == expmask && (i & (expmask ^ 0x7fff)) != 0;
      if (back[i] != (nan ? (uint16_t)(i | quiet) : (uint16_t)i)) {
        test_failed(__FILE__, __LINE__, "%s 0x%04x -> F64 -> 0x%04x", wbr_dtype_name(t), i, back[i]);
        bad++;
      }
    }
  }
  /* F16 -> BF16 -> F16 is the identity on the values BF16 holds exactly */
  uint16_t v = 0x3c00, bv, hv;
  CHECK_INT(wbr_cast(&bv, WBR_BF16, &v, WBR_F16, 1), 0);
  CHECK_INT(wbr_cast(&hv, WBR_F16, &bv, WBR_BF16, 1), 0);
  CHECK(hv == 0x3c00);
}

/* The blocked fast paths agree with the general converter on random bit patterns, biased
 * towards the boundaries (every exponent, ties, NaN, subnormals). */
TEST(ops_cast_fast_paths_match_general_converter) {
  enum { N = 1 << 18 };
  uint32_t *in = malloc(N * 4);
  uint16_t *h = malloc(N * 2), *b = malloc(N * 2), *in16 = malloc(N * 2);
  uint32_t *w = malloc(N * 4);
  uint64_t seed = 0x5eed0005;
  for (int round = 0; round < 8; round++) {
    for (int i = 0; i < N; i++) {
      uint32_t x = (uint32_t)rng_next(&seed);
      switch ((rng_next(&seed) >> 7) % 4) {
        case 0: x = (x & 0x80000000u) | ((uint32_t)(rng_next(&seed) % 256) << 23) | (x & 0x1fffu); break;
        case 1: x = (x & ~0x1fffu) | 0x1000u; break; /* an F16 tie */
        case 2: x = (x & ~0xffffu) | 0x8000u; break; /* a BF16 tie */
        default: break;
      }
      /* keep whole blocks in the fast range sometimes, so both paths run */
      if (round & 1) x = (x & 0x807fffffu) | ((uint32_t)(113 + (i / 64) % 30) << 23);
      in[i] = x;
      in16[i] = (uint16_t)x;
    }
    wbr_cast(h, WBR_F16, in, WBR_F32, N);
    wbr_cast(b, WBR_BF16, in, WBR_F32, N);
    int bad = 0;
    for (int i = 0; i < N && bad < 3; i++) {
      uint16_t wh = (uint16_t)wbr_fp_convert(in[i], WBR_FP_F32, WBR_FP_F16);
      uint16_t wb = (uint16_t)wbr_fp_convert(in[i], WBR_FP_F32, WBR_FP_BF16);
      if (h[i] != wh || b[i] != wb) {
        test_failed(__FILE__, __LINE__, "F32 0x%08x: F16 0x%04x want 0x%04x, BF16 0x%04x want 0x%04x",
                    in[i], h[i], wh, b[i], wb);
        bad++;
      }
    }
    wbr_cast(w, WBR_F32, in16, WBR_F16, N);
    for (int i = 0; i < N && bad < 3; i++)
      if (w[i] != (uint32_t)wbr_fp_convert(in16[i], WBR_FP_F16, WBR_FP_F32)) {
        test_failed(__FILE__, __LINE__, "F16 0x%04x -> F32 0x%08x", in16[i], w[i]);
        bad++;
      }
  }
  free(in);
  free(h);
  free(b);
  free(in16);
  free(w);
}

TEST(ops_cast_supported_and_refused) {
  CHECK(wbr_cast_supported(WBR_F32, WBR_BF16));
  CHECK(wbr_cast_supported(WBR_F64, WBR_F16));
  CHECK(wbr_cast_supported(WBR_I64, WBR_I64));
  CHECK(!wbr_cast_supported(WBR_I64, WBR_F32));
  CHECK(!wbr_cast_supported(WBR_F32, WBR_F8_E4M3));
  CHECK(!wbr_cast_supported(WBR_DTYPE_COUNT, WBR_F32));
  uint8_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, o[8] = {0};
  CHECK_INT(wbr_cast(o, WBR_F32, a, WBR_I32, 2), WBR_EUSAGE);
  CHECK_INT(wbr_cast(o, WBR_U8, a, WBR_U8, 8), 0);
  CHECK(memcmp(a, o, 8) == 0);
}

/* ---- slices, concatenation, streams -------------------------------------------------------- */

typedef struct sink {
  uint8_t *p;
  size_t len, cap;
  size_t calls;
  int fail_at; /* return an error on this call (1-based), 0 never */
} sink;

static int sink_emit(void *ud, const void *bytes, size_t len) {
  sink *s = ud;
  s->calls++;
  if (s->fail_at && (int)s->calls == s->fail_at) return WBR_EIO;
  if (s->len + len > s->cap) return WBR_EINTERNAL;
  memcpy(s->p + s->len, bytes, len);
  s->len += len;
  return 0;
}

TEST(ops_slice_concat_round_trip) {
  uint64_t seed = 0x5eed0006;
  for (int c = 0; c < 400; c++) {
    int ndim = 1 + (int)(rng_next(&seed) % 4);
    int64_t shape[WBR_MAX_DIMS];
    for (int i = 0; i < ndim; i++) shape[i] = 1 + (int64_t)(rng_next(&seed) % 6);
    int axis = (int)(rng_next(&seed) % (uint64_t)ndim);
    size_t es = (size_t)1 << (rng_next(&seed) % 4), bytes;
    wbr_shape_bytes(&bytes, es, ndim, shape);
    uint8_t *src = malloc(bytes), *back = malloc(bytes), *back2 = malloc(bytes),
            *streamed = malloc(bytes);
    fill_random(src, bytes, &seed);
    memset(back, 0, bytes);
    memset(back2, 0, bytes);
    int ident[WBR_MAX_DIMS] = {0, 1, 2, 3, 4, 5, 6, 7};
    /* cut the axis into random parts (some empty), copy each out and put it back */
    const void *parts[8];
    int64_t lens[8];
    size_t np = 0;
    int64_t start = 0;
    while (start < shape[axis] && np < 7) {
      int64_t len = (int64_t)(rng_next(&seed) % (uint64_t)(shape[axis] - start + 1));
      if (np == 6) len = shape[axis] - start;
      int64_t ps[WBR_MAX_DIMS];
      memcpy(ps, shape, sizeof ps);
      ps[axis] = len;
      size_t pb;
      wbr_shape_bytes(&pb, es, ndim, ps);
      uint8_t *part = malloc(pb + 1);
      CHECK_INT(wbr_slice_copy(part, src, es, ndim, shape, axis, start, len), 0);
      /* the slice streamed as spans is the same bytes */
      sink s = {malloc(pb + 1), 0, pb, 0, 0};
      CHECK_INT(wbr_slice_stream(sink_emit, &s, src, es, ndim, shape, axis, start, len), 0);
      CHECK(s.len == pb && memcmp(s.p, part, pb) == 0);
      size_t off = 0, nb = 0;
      bool contiguous = wbr_slice_is_contiguous(&off, &nb, es, ndim, shape, axis, start, len);
      bool outer_one = true;
      for (int i = 0; i < axis; i++) outer_one &= shape[i] == 1;
      CHECK(contiguous == (outer_one || len == 0));
      if (contiguous && len > 0) {
        CHECK(nb == pb && memcmp(src + off, part, pb) == 0);
        CHECK(s.calls == 1);
      }
      free(s.p);
      CHECK_INT(wbr_slice_put(back, es, ndim, shape, axis, start, part, len), 0);
      /* the same through wbr_permute_put with the identity perm (a concat into a middle axis
       * must not merge axes whose destination strides differ) */
      CHECK_INT(wbr_permute_put(back2, shape, axis, start, part, es, ndim, ps, ident), 0);
      parts[np] = part;
      lens[np] = len;
      np++;
      start += len;
    }
    if (start < shape[axis]) { /* did not reach the end: finish with one part */
      int64_t len = shape[axis] - start, ps[WBR_MAX_DIMS];
      memcpy(ps, shape, sizeof ps);
      ps[axis] = len;
      size_t pb;
      wbr_shape_bytes(&pb, es, ndim, ps);
      uint8_t *part = malloc(pb);
      CHECK_INT(wbr_slice_copy(part, src, es, ndim, shape, axis, start, len), 0);
      CHECK_INT(wbr_slice_put(back, es, ndim, shape, axis, start, part, len), 0);
      CHECK_INT(wbr_permute_put(back2, shape, axis, start, part, es, ndim, ps, ident), 0);
      parts[np] = part;
      lens[np] = len;
      np++;
    }
    CHECK(memcmp(src, back, bytes) == 0);
    CHECK(memcmp(src, back2, bytes) == 0);
    sink s = {streamed, 0, bytes, 0, 0};
    CHECK_INT(wbr_concat_stream(sink_emit, &s, es, ndim, shape, axis, np, parts, lens), 0);
    CHECK(s.len == bytes && memcmp(src, streamed, bytes) == 0);
    for (size_t i = 0; i < np; i++) free((void *)parts[i]);
    free(src);
    free(back);
    free(back2);
    free(streamed);
  }
}

TEST(ops_slice_known_values_and_errors) {
  /* [2, 3, 2] int8 0..11; axis 1, range [1, 3) */
  int8_t src[12], out[8];
  for (int i = 0; i < 12; i++) src[i] = (int8_t)i;
  int64_t shape[3] = {2, 3, 2};
  CHECK_INT(wbr_slice_copy(out, src, 1, 3, shape, 1, 1, 2), 0);
  static const int8_t want[8] = {2, 3, 4, 5, 8, 9, 10, 11};
  CHECK(memcmp(out, want, 8) == 0);
  /* select index 2 along axis 0 of [3, 4]: one contiguous span at byte 8*es */
  int64_t s2[2] = {3, 4};
  size_t off = 99, nb = 99;
  CHECK(wbr_slice_is_contiguous(&off, &nb, 4, 2, s2, 0, 2, 1));
  CHECK(off == 32 && nb == 16);
  CHECK(!wbr_slice_is_contiguous(NULL, NULL, 4, 2, s2, 1, 2, 1));
  int64_t s3[3] = {1, 1, 5};
  CHECK(wbr_slice_is_contiguous(&off, &nb, 2, 3, s3, 2, 1, 3));
  CHECK(off == 2 && nb == 6);
  /* out-of-range requests are refused, nothing is read */
  CHECK_INT(wbr_slice_copy(out, src, 1, 3, shape, 1, 2, 2), WBR_EUSAGE);
  CHECK_INT(wbr_slice_copy(out, src, 1, 3, shape, 3, 0, 1), WBR_EUSAGE);
  CHECK_INT(wbr_slice_copy(out, src, 1, 3, shape, -1, 0, 1), WBR_EUSAGE);
  CHECK_INT(wbr_slice_copy(out, src, 1, 3, shape, 1, -1, 1), WBR_EUSAGE);
  CHECK_INT(wbr_slice_copy(out, src, 1, 3, shape, 1, 0, INT64_MAX), WBR_EUSAGE);
  CHECK_INT(wbr_slice_put(out, 1, 3, shape, 1, 3, src, 1), WBR_EUSAGE);
  CHECK(!wbr_slice_is_contiguous(NULL, NULL, 4, 2, s2, 0, 3, 2));
  /* concat lengths must add up */
  const void *parts[2] = {src, src};
  int64_t lens[2] = {1, 1};
  sink s = {(uint8_t *)out, 0, 8, 0, 0};
  CHECK_INT(wbr_concat_stream(sink_emit, &s, 1, 3, shape, 1, 2, parts, lens), WBR_EUSAGE);
  CHECK(s.calls == 0);
}

TEST(ops_streams_stop_at_the_first_emit_error) {
  uint8_t src[64] = {0};
  int64_t shape[2] = {4, 4};
  sink s = {malloc(64), 0, 64, 0, 2};
  CHECK_INT(wbr_slice_stream(sink_emit, &s, src, 4, 2, shape, 1, 1, 2), WBR_EIO);
  CHECK(s.calls == 2);
  const void *parts[2] = {src, src};
  int64_t lens[2] = {2, 2};
  s.calls = 0;
  s.len = 0;
  CHECK_INT(wbr_concat_stream(sink_emit, &s, 4, 2, shape, 1, 2, parts, lens), WBR_EIO);
  CHECK(s.calls == 2);
  uint8_t scratch[8];
  s.calls = 0;
  s.len = 0;
  CHECK_INT(wbr_cast_stream(sink_emit, &s, WBR_F16, src, WBR_F32, 16, scratch, sizeof scratch),
            WBR_EIO);
  CHECK_INT(wbr_cast_stream(sink_emit, &s, WBR_F16, src, WBR_F32, 16, scratch, 1), WBR_EUSAGE);
  free(s.p);
}

/* What the VM does for "slice, cast": each span of the slice is cast through a small scratch
 * buffer (11 elements here, so chunks never line up with the slice's rows) and emitted. */
typedef struct cast_chain {
  sink out;
  uint8_t scratch[22];
} cast_chain;

static int emit_cast(void *ud, const void *bytes, size_t len) {
  cast_chain *ch = ud;
  return wbr_cast_stream(sink_emit, &ch->out, WBR_BF16, bytes, WBR_F32, len / 4, ch->scratch,
                         sizeof ch->scratch);
}

TEST(ops_cast_stream_chains_with_slice_stream) {
  uint64_t seed = 0x5eed0007;
  enum { R = 37, C = 53 };
  static float src[R * C], part[R * 20];
  static uint16_t want[R * 20], got[R * 20];
  for (int i = 0; i < R * C; i++)
    src[i] = (float)((int64_t)(rng_next(&seed) % 20001) - 10000) / 997.0f;
  int64_t shape[2] = {R, C};
  CHECK_INT(wbr_slice_copy(part, src, 4, 2, shape, 1, 7, 20), 0);
  CHECK_INT(wbr_cast(want, WBR_BF16, part, WBR_F32, R * 20), 0);
  cast_chain ch = {{(uint8_t *)got, 0, sizeof got, 0, 0}, {0}};
  CHECK_INT(wbr_slice_stream(emit_cast, &ch, src, 4, 2, shape, 1, 7, 20), 0);
  CHECK(ch.out.len == sizeof got && memcmp(got, want, sizeof got) == 0);
  CHECK(ch.out.calls > (size_t)R); /* really chunked */
}
