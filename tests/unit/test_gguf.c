/* test_gguf.c — the GGUF writer and reader together: shapes reversed both ways, data aligned,
 * typed metadata ("gguf.types") written back with its types, bad type records refused, and every
 * truncation of a valid file refused cleanly. */
#include <stdlib.h>

#include "harness.h"
#include "weightbridge.h"

static uint64_t gg_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

TEST(gguf_write_read_back) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  static float w[24];
  static int64_t ids[3] = {-1, 0, 1LL << 40};
  for (int i = 0; i < 24; i++) w[i] = (float)i - 3.5f;
  int64_t s234[] = {2, 3, 4}, s3[] = {3};
  CHECK_INT(wbr_tensorset_add(ts, "blk.0.w", WBR_F32, 3, s234, w), 0);
  CHECK_INT(wbr_tensorset_add(ts, "ids", WBR_I64, 1, s3, ids), 0);
  wbr_tensorset_meta_set(ts, "general.name", "t");
  wbr_tensorset_meta_set(ts, "n", "65536");
  wbr_tensorset_meta_set(ts, "toks", "[\"a\", \"\\u00e9\\n\", \"\\ud83d\\ude00\"]");
  wbr_tensorset_meta_set(ts, "general.alignment", "64");
  wbr_tensorset_meta_set(ts, "gguf.types", "{\"n\": \"u32\", \"toks\": \"[str]\"}");
  CHECK_INT(wbr_tensorset_write(ts, ctx, test_path("a.gguf")), 0);

  size_t len;
  unsigned char *b = test_slurp(test_path("a.gguf"), &len);
  CHECK(b && len > 24 && memcmp(b, "GGUF", 4) == 0);
  if (b) {
    CHECK_INT(gg_le(b + 4, 4), 3);
    CHECK_INT(gg_le(b + 8, 8), 2);
    CHECK_INT(gg_le(b + 16, 8), 4); /* gguf.types is ours, not a key */
    /* Data section: the last 24 bytes are ids, padded to 64 from the 96 bytes of w. */
    CHECK_INT(len % 64, 0);
    CHECK(memcmp(b + len - 64, ids, 24) == 0);
    CHECK(memcmp(b + len - 64 - 128, w, 96) == 0);
  }
  free(b);

  wbr_tensorset *back;
  CHECK_INT(wbr_tensorset_open(&back, ctx, test_path("a.gguf")), 0);
  if (back) {
    wbr_tensor_info t;
    wbr_tensorset_get(back, 0, &t);
    CHECK_STR(t.name, "blk.0.w");
    CHECK_INT(t.ndim, 3);
    CHECK(t.shape[0] == 2 && t.shape[1] == 3 && t.shape[2] == 4);
    CHECK(memcmp(t.data, w, 96) == 0);
    wbr_tensorset_get(back, 1, &t);
    CHECK(t.dtype == WBR_I64 && memcmp(t.data, ids, 24) == 0);
    const char *k, *v;
    CHECK_INT(wbr_tensorset_meta_count(back), 5);
    wbr_tensorset_meta_get(back, 1, &k, &v);
    CHECK_STR(k, "n");
    CHECK_STR(v, "65536");
    wbr_tensorset_meta_get(back, 2, &k, &v);
    CHECK_STR(v, "[\"a\",\"\xc3\xa9\\n\",\"\xf0\x9f\x98\x80\"]");
    wbr_tensorset_meta_get(back, 4, &k, &v);
    CHECK_STR(k, "gguf.types");
    CHECK_STR(v, "{\"n\":\"u32\",\"toks\":\"[str]\",\"general.alignment\":\"u32\"}");
  }
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

static void gg_expect_write_error(const char *types, const char *key, const char *val,
                                  const char *want) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  wbr_tensorset_meta_set(ts, key, val);
  if (types) wbr_tensorset_meta_set(ts, "gguf.types", types);
  CHECK(wbr_tensorset_write(ts, ctx, test_path("bad.gguf")) < 0);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), want);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(gguf_write_bad_metadata) {
  gg_expect_write_error("{\"x\": \"u8\"}", "x", "300",
                        "cannot write metadata 'x' as GGUF type u8: its value '300' is not one");
  gg_expect_write_error("{\"x\": \"i8\"}", "x", "-129", "as GGUF type i8: its value '-129'");
  gg_expect_write_error("{\"x\": \"u32\"}", "x", "-1", "as GGUF type u32: its value '-1'");
  gg_expect_write_error("{\"x\": \"[u16]\"}", "x", "[1, 2", "as GGUF type [u16]");
  gg_expect_write_error("{\"x\": \"[str]\"}", "x", "[\"a\\q\"]", "as GGUF type [str]");
  gg_expect_write_error("{\"x\": \"bool\"}", "x", "yes", "as GGUF type bool");
  gg_expect_write_error("{\"x\": \"f32\"}", "x", "1.5x", "as GGUF type f32");
  gg_expect_write_error("{\"x\": \"u128\"}", "x", "1", "cannot write metadata 'x': unsupported GGUF type 'u128'");
  gg_expect_write_error("{\"x\": \"[mixed]\"}", "x", "[]", "unsupported GGUF type '[mixed]'");
  gg_expect_write_error("[1]", "x", "1", "metadata 'gguf.types' is not valid: not an object");
  gg_expect_write_error("{", "x", "1", "metadata 'gguf.types' is not valid: unexpected end of JSON");
  gg_expect_write_error(NULL, "general.alignment", "48", "metadata 'general.alignment' is 48");
  gg_expect_write_error(NULL, "general.alignment", "x", "as GGUF type u32: its value 'x'");
}

TEST(gguf_every_truncation_refused) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  static uint16_t h[6] = {1, 2, 3, 4, 5, 6};
  int64_t s[] = {2, 3};
  wbr_tensorset_add(ts, "w", WBR_F16, 2, s, h);
  wbr_tensorset_meta_set(ts, "a", "[[1,2],[3]]");
  wbr_tensorset_meta_set(ts, "gguf.types", "{\"a\": \"[[i8]]\"}");
  CHECK_INT(wbr_tensorset_write(ts, ctx, test_path("t.gguf")), 0);
  size_t len;
  unsigned char *b = test_slurp(test_path("t.gguf"), &len);
  int bad = 0;
  /* The data ends 12 bytes into the last 32-byte block: shorter files lose tensor bytes. */
  for (size_t n = 0; b && n < len - 20; n++) {
    wbr_tensorset *x = NULL;
    if (wbr_tensorset_open_memory(&x, ctx, "t.gguf", b, n) == 0) bad++;
    wbr_tensorset_free(x);
  }
  CHECK_INT(bad, 0);
  wbr_tensorset *x = NULL;
  CHECK_INT(wbr_tensorset_open_memory(&x, ctx, "t.gguf", b, len), 0);
  wbr_tensorset_free(x);
  free(b);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}
