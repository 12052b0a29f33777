/* test_npy.c — .npy parsing (Fortran order and big-endian converted into row-major
 * little-endian copies), the .npz writer read back by our reader, and every truncation of a
 * valid .npz refused cleanly. */
#include <stdlib.h>

#include "harness.h"
#include "tensor_bytes.h"
#include "weightbridge.h"

/* An .npy file: header dict padded to 64, then the data. */
static size_t np_make(unsigned char *out, const char *dict, const void *data, size_t n) {
  size_t hl = strlen(dict);
  size_t total = 10 + hl + 1;
  size_t padded = (total + 63) / 64 * 64;
  memcpy(out, "\x93NUMPY\x01\x00", 8);
  out[8] = (unsigned char)((padded - 10) & 0xFF);
  out[9] = (unsigned char)((padded - 10) >> 8);
  memcpy(out + 10, dict, hl);
  memset(out + 10 + hl, ' ', padded - 11 - hl);
  out[padded - 1] = '\n';
  memcpy(out + padded, data, n);
  return padded + n;
}

TEST(npy_fortran_big_endian) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  /* A 2x3 int16 matrix [[1,2,3],[4,5,6]] stored column-major, big-endian. */
  static const unsigned char col[] = {0, 1, 0, 4, 0, 2, 0, 5, 0, 3, 0, 6};
  unsigned char file[256];
  size_t n = np_make(file, "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }", col, 12);
  wbr_tensorset *ts;
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "dir/mat.npy", file, n), 0);
  if (ts) {
    wbr_tensor_info t;
    wbr_tensorset_get(ts, 0, &t);
    CHECK_STR(t.name, "mat");
    CHECK(t.dtype == WBR_I16 && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3);
    static const int16_t want[] = {1, 2, 3, 4, 5, 6};
    CHECK(t.data == NULL); /* converted only when the bytes are needed */
    uint8_t *got = tensor_bytes(ctx, ts, 0);
    CHECK(got && memcmp(got, want, 12) == 0);
    free(got);
  }
  wbr_tensorset_free(ts);
  /* Fortran order of a 1-d array is the same bytes: no copy, still right. */
  static const float f[] = {1.5f, -2};
  n = np_make(file, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f, 8);
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "v.npy", file, n), 0);
  if (ts) {
    wbr_tensor_info t;
    wbr_tensorset_get(ts, 0, &t);
    CHECK(memcmp(t.data, f, 8) == 0);
  }
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(npz_write_read_back_and_truncations) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  static double d[6] = {1, 2, 3, 4, 5, 6};
  static uint8_t u[3] = {7, 8, 9};
  int64_t s23[] = {2, 3}, s3[] = {3}, s0[] = {0};
  wbr_tensorset_add(ts, "enc/layer_0/kernel", WBR_F64, 2, s23, d);
  wbr_tensorset_add(ts, "\xc3\xa9", WBR_U8, 1, s3, u);
  wbr_tensorset_add(ts, "empty", WBR_F32, 1, s0, NULL);
  wbr_tensorset_add(ts, "scalar", WBR_F64, 0, NULL, d + 5);
  CHECK_INT(wbr_tensorset_write(ts, ctx, test_path("o.npz")), 0);
  wbr_tensorset *back;
  CHECK_INT(wbr_tensorset_open(&back, ctx, test_path("o.npz")), 0);
  if (back) {
    CHECK_INT(wbr_tensorset_count(back), 4);
    for (size_t i = 0; i < 4 && i < wbr_tensorset_count(back); i++) {
      wbr_tensor_info a, b;
      wbr_tensorset_get(ts, i, &a);
      wbr_tensorset_get(back, i, &b);
      CHECK_STR(b.name, a.name);
      CHECK(a.dtype == b.dtype && a.ndim == b.ndim && a.nbytes == b.nbytes);
      CHECK(a.nbytes == 0 || memcmp(a.data, b.data, (size_t)a.nbytes) == 0);
    }
  }
  wbr_tensorset_free(back);

  FILE *f = fopen(test_path("o.npz"), "rb");
  unsigned char buf[4096];
  size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
  if (f) fclose(f);
  CHECK(len > 100 && len < sizeof buf);
  int accepted = 0;
  for (size_t n = 0; n < len; n++) {
    wbr_tensorset *x = NULL;
    if (wbr_tensorset_open_memory(&x, ctx, "o.npz", buf, n) == 0) accepted++;
    wbr_tensorset_free(x);
  }
  CHECK_INT(accepted, 0);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(npz_refuses_bf16_and_npy_several) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  static uint16_t h[2];
  int64_t s2[] = {2};
  wbr_tensorset_add(ts, "w", WBR_BF16, 1, s2, h);
  CHECK(wbr_tensorset_write(ts, ctx, test_path("b.npz")) < 0);
  CHECK_STR(wbr_ctx_last_error(ctx), "cannot write tensor 'w' to .npz: it is BF16");
  wbr_tensorset_add(ts, "v", WBR_F16, 1, s2, h);
  CHECK(wbr_tensorset_write(ts, ctx, test_path("b.npy")) < 0);
  CHECK_STR(wbr_ctx_last_error(ctx), "an .npy file holds one array, the output has 2 tensors");
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}
