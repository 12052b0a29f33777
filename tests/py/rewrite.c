/* rewrite.c — a small program over the public API for the Python cross-checks (run.sh builds it
 * against the built library):
 *   rewrite copy IN OUT   read IN (any format), write it to OUT (format by extension)
 *   rewrite make OUT      write a set whose values follow formulas crosscheck.py knows */
#include <stdio.h>
#include <string.h>

#include "weightbridge.h"

static void print_diag(void *ud, const wbr_diag *d) {
  (void)ud;
  char *s = wbr_diag_format(d);
  fputs(s ? s : d->message, stderr);
  wbr_free(s);
}

/* float -> bfloat16 by truncation: every value used below is exact in bfloat16. */
static uint16_t bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)(u >> 16);
}

static int make(wbr_ctx *ctx, const char *out) {
  static float f32[3 * 4];
  static double f64[5];
  static uint16_t b16[6];
  static int64_t i64[4];
  static int32_t i32[3];
  static int16_t i16[2];
  static int8_t i8[5];
  static uint8_t u8[7], boolean[4];
  static uint64_t u64[2];
  for (int i = 0; i < 12; i++) f32[i] = (float)i * 0.5f - 1.0f;
  for (int i = 0; i < 5; i++) f64[i] = 1.0 / (double)(i + 1);
  for (int i = 0; i < 6; i++) b16[i] = bf16((float)(i * i) - 2.5f);
  for (int i = 0; i < 4; i++) i64[i] = (int64_t)(i - 2) * INT64_C(1000000000007);
  for (int i = 0; i < 3; i++) i32[i] = -70000 * (i + 1);
  for (int i = 0; i < 2; i++) i16[i] = (int16_t)(-300 + i * 1000);
  for (int i = 0; i < 5; i++) i8[i] = (int8_t)(i * 50 - 128);
  for (int i = 0; i < 7; i++) u8[i] = (uint8_t)(i * 37);
  for (int i = 0; i < 4; i++) boolean[i] = (uint8_t)(i & 1);
  u64[0] = UINT64_C(18446744073709551615);
  u64[1] = 3;
  wbr_tensorset *ts;
  int rc = wbr_tensorset_new(&ts, ctx);
  if (rc) return rc;
  int64_t s34[2] = {3, 4}, s5[1] = {5}, s23[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s2[1] = {2},
          s7[3] = {7, 1, 1}, s22[2] = {2, 2}, s0[2] = {2, 0}, one[1] = {1};
  if (!rc) rc = wbr_tensorset_add(ts, "net.f32", WBR_F32, 2, s34, f32);
  if (!rc) rc = wbr_tensorset_add(ts, "net.f64", WBR_F64, 1, s5, f64);
  if (!rc) rc = wbr_tensorset_add(ts, "net.bf16", WBR_BF16, 2, s23, b16);
  if (!rc) rc = wbr_tensorset_add(ts, "net.i64", WBR_I64, 1, s4, i64);
  if (!rc) rc = wbr_tensorset_add(ts, "net.i32", WBR_I32, 1, s3, i32);
  if (!rc) rc = wbr_tensorset_add(ts, "net.i16", WBR_I16, 1, s2, i16);
  if (!rc) rc = wbr_tensorset_add(ts, "net.i8", WBR_I8, 1, s5, i8);
  if (!rc) rc = wbr_tensorset_add(ts, "net.u8", WBR_U8, 3, s7, u8);
  if (!rc) rc = wbr_tensorset_add(ts, "net.bool", WBR_BOOL, 2, s22, boolean);
  if (!rc) rc = wbr_tensorset_add(ts, "net.u64", WBR_U64, 1, s2, u64);
  if (!rc) rc = wbr_tensorset_add(ts, "net.empty", WBR_F32, 2, s0, f32);
  if (!rc) rc = wbr_tensorset_add(ts, "net.scalar", WBR_F64, 0, one, f64 + 1);
  if (!rc) rc = wbr_tensorset_meta_set(ts, "format", "pt");
  if (!rc) rc = wbr_tensorset_meta_set(ts, "made_by", "rewrite.c");
  if (!rc) rc = wbr_tensorset_write(ts, ctx, out);
  wbr_tensorset_free(ts);
  return rc;
}

int main(int argc, char **argv) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, print_diag, NULL)) return 1;
  int rc = 2;
  if (argc == 4 && strcmp(argv[1], "copy") == 0) {
    wbr_tensorset *ts;
    rc = wbr_tensorset_open(&ts, ctx, argv[2]);
    if (!rc) rc = wbr_tensorset_write(ts, ctx, argv[3]);
    wbr_tensorset_free(ts);
  } else if (argc == 3 && strcmp(argv[1], "make") == 0) {
    rc = make(ctx, argv[2]);
  } else {
    fprintf(stderr, "usage: rewrite copy IN OUT | rewrite make OUT\n");
  }
  wbr_ctx_free(ctx);
  return rc ? 1 : 0;
}
