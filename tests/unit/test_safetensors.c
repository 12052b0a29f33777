/* test_safetensors.c — safetensors round trips (every dtype, scalars, zero-size tensors, order,
 * metadata, odd names), the exact bytes the writer lays out, and a few reader errors checked
 * for being exactly one diagnostic. The full bad-input table is tests/bad/. */
#include <stdlib.h>

#include "harness.h"
#include "weightbridge.h"

typedef struct diags {
  int n;
  char last[1024];
  char help[512];
  char file[512];
} diags;

static void on_diag(void *ud, const wbr_diag *d) {
  diags *g = ud;
  if (d->severity != WBR_SEV_ERROR) return;
  g->n++;
  snprintf(g->last, sizeof g->last, "%s", d->message);
  snprintf(g->help, sizeof g->help, "%s", d->help ? d->help : "");
  snprintf(g->file, sizeof g->file, "%s", d->file ? d->file : "");
}

/* Compare two sets completely: names, order, dtypes, shapes, bytes, metadata. */
static void check_same(const wbr_tensorset *a, const wbr_tensorset *b, int data) {
  CHECK_INT(wbr_tensorset_count(b), wbr_tensorset_count(a));
  for (size_t i = 0; i < wbr_tensorset_count(a) && i < wbr_tensorset_count(b); i++) {
    wbr_tensor_info x, y;
    CHECK_INT(wbr_tensorset_get(a, i, &x), 0);
    CHECK_INT(wbr_tensorset_get(b, i, &y), 0);
    CHECK_STR(y.name, x.name);
    CHECK_INT(y.dtype, x.dtype);
    CHECK_INT(y.ndim, x.ndim);
    for (int d = 0; d < x.ndim && d < y.ndim; d++) CHECK_INT(y.shape[d], x.shape[d]);
    CHECK_INT(y.nelem, x.nelem);
    CHECK_INT(y.nbytes, x.nbytes);
    if (data) {
      CHECK(y.data != NULL || y.nbytes == 0);
      if (x.nbytes && x.data && y.data) CHECK(memcmp(x.data, y.data, (size_t)x.nbytes) == 0);
    }
    CHECK_INT(wbr_tensorset_find(b, x.name), (long long)i);
  }
  CHECK_INT(wbr_tensorset_meta_count(b), wbr_tensorset_meta_count(a));
  for (size_t i = 0; i < wbr_tensorset_meta_count(a) && i < wbr_tensorset_meta_count(b); i++) {
    const char *k1, *v1, *k2, *v2;
    wbr_tensorset_meta_get(a, i, &k1, &v1);
    wbr_tensorset_meta_get(b, i, &k2, &v2);
    CHECK_STR(k2, k1);
    CHECK_STR(v2, v1);
  }
}

static uint8_t pool[1 << 16];

static void fill_pool(void) {
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof pool; i++) {
    x = x * 1103515245u + 12345u;
    pool[i] = (uint8_t)(x >> 16);
  }
}

TEST(st_roundtrip_all_dtypes) {
  fill_pool();
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts;
  CHECK_INT(wbr_tensorset_new(&ts, ctx), 0);
  size_t off = 0;
  for (int dt = 0; dt < WBR_DTYPE_COUNT; dt++) {
    char name[64];
    int64_t shape[3] = {dt + 1, 3, 2};
    snprintf(name, sizeof name, "layer.%d.%s", dt, wbr_dtype_name((wbr_dtype)dt));
    CHECK_INT(wbr_tensorset_add(ts, name, (wbr_dtype)dt, 3, shape, pool + off), 0);
    off += (size_t)(dt + 1) * 6 * wbr_dtype_size((wbr_dtype)dt);
    /* a scalar and a zero-size tensor of every dtype too */
    snprintf(name, sizeof name, "scalar.%d", dt);
    CHECK_INT(wbr_tensorset_add(ts, name, (wbr_dtype)dt, 0, shape, pool + off), 0);
    off += wbr_dtype_size((wbr_dtype)dt);
    int64_t empty[2] = {4, 0};
    snprintf(name, sizeof name, "empty.%d", dt);
    CHECK_INT(wbr_tensorset_add(ts, name, (wbr_dtype)dt, 2, empty, pool + off), 0);
  }
  CHECK_INT(wbr_tensorset_meta_set(ts, "format", "pt"), 0);
  CHECK_INT(wbr_tensorset_meta_set(ts, "note", "quotes \" and \\ and \n newline, ünïcode"), 0);
  const char *path = test_path("all.safetensors");
  CHECK_INT(wbr_tensorset_write(ts, ctx, path), 0);
  wbr_tensorset *back = NULL;
  CHECK_INT(wbr_tensorset_open(&back, ctx, path), 0);
  if (back) {
    check_same(ts, back, 1);
    CHECK_STR(wbr_tensorset_format(back), "safetensors");
    CHECK_INT(wbr_tensorset_has_data(back), 1);
  }
  /* Reading the same bytes from memory gives the same set. */
  size_t len;
  unsigned char *bytes = test_slurp(path, &len);
  wbr_tensorset *mem = NULL;
  CHECK(bytes != NULL);
  CHECK_INT(wbr_tensorset_open_memory(&mem, ctx, "x.safetensors", bytes, len), 0);
  free(bytes);
  if (mem) check_same(ts, mem, 1);
  CHECK_INT(wbr_ctx_error_count(ctx), 0);
  wbr_tensorset_free(mem);
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* The exact file: 8-byte length, header with __metadata__ first, tensors in layout order with
 * contiguous offsets, space padding to 8 bytes, then the bytes in the same order. */
TEST(st_writer_exact_bytes) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  float zb[2] = {1.0f, -2.0f};
  uint8_t a[3] = {7, 8, 9};
  int64_t s2[1] = {2}, s3[2] = {3, 1};
  wbr_tensorset_add(ts, "zb", WBR_F32, 1, s2, zb);
  wbr_tensorset_add(ts, "a", WBR_U8, 2, s3, a);
  wbr_tensorset_meta_set(ts, "format", "pt");
  const char *path = test_path("exact.safetensors");
  CHECK_INT(wbr_tensorset_write(ts, ctx, path), 0);
  size_t len;
  unsigned char *got = test_slurp(path, &len);
  const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"zb\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"a\":{\"dtype\":\"U8\",\"shape\":[3,1],\"data_offsets\":[8,11]}}";
  size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
  CHECK(got != NULL);
  CHECK_INT(len, 8 + padded + 11);
  if (got && len == 8 + padded + 11) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | got[i];
    CHECK_INT(n, padded);
    CHECK(memcmp(got + 8, hdr, hl) == 0);
    for (size_t i = hl; i < padded; i++) CHECK_INT(got[8 + i], ' ');
    CHECK(memcmp(got + 8 + padded, zb, 8) == 0);
    CHECK(memcmp(got + 8 + padded + 8, a, 3) == 0);
  }
  free(got);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(st_empty_set) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts, *back = NULL;
  wbr_tensorset_new(&ts, ctx);
  const char *path = test_path("empty.safetensors");
  wbr_writer *w = NULL;
  CHECK_INT(wbr_writer_open(&w, ctx, path, ts, NULL, NULL), 0);
  CHECK_INT(wbr_writer_commit(w), 0);
  wbr_writer_free(w);
  size_t len;
  unsigned char *got = test_slurp(path, &len);
  CHECK_INT(len, 16);
  if (got && len == 16) CHECK(memcmp(got, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
  free(got);
  CHECK_INT(wbr_tensorset_open(&back, ctx, path), 0);
  CHECK_INT(wbr_tensorset_count(back), 0);
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* Header order is definition order even when it differs from the data order and from sorted
 * order; odd but legal names survive. */
TEST(st_header_order_kept) {
  static const char file[] =
      "\xa9\0\0\0\0\0\0\0"
      "{\"z\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]},"
      "\"\\u00e9\\\"q\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[2,3]},"
      " \"a\" : {\"shape\":[2],\"data_offsets\":[0,2],\"dtype\":\"I8\"}}  "
      "\x01\x02\x03\x04\x05";
  size_t len = sizeof file - 1;
  CHECK_INT((unsigned char)file[0], len - 8 - 5);
  diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, on_diag, &g);
  wbr_tensorset *ts = NULL;
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "order.safetensors", file, len), 0);
  CHECK_STR(g.last, "");
  if (ts) {
    CHECK_INT(wbr_tensorset_count(ts), 3);
    wbr_tensor_info t;
    wbr_tensorset_get(ts, 0, &t);
    CHECK_STR(t.name, "z");
    CHECK_INT(((const uint8_t *)t.data)[0], 4);
    wbr_tensorset_get(ts, 1, &t);
    CHECK_STR(t.name, "\xc3\xa9\"q");
    CHECK_INT(t.ndim, 0);
    CHECK_INT(t.nelem, 1);
    CHECK_INT(((const uint8_t *)t.data)[0], 3);
    wbr_tensorset_get(ts, 2, &t);
    CHECK_STR(t.name, "a");
    CHECK_INT(t.dtype, WBR_I8);
    CHECK_INT(((const uint8_t *)t.data)[1], 2);
  }
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* Many tensors: order and lookup hold beyond the map's first resizes. */
TEST(st_many_tensors) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts, *back = NULL;
  wbr_tensorset_new(&ts, ctx);
  static uint16_t vals[3000];
  for (int i = 0; i < 3000; i++) {
    char name[32];
    vals[i] = (uint16_t)(i * 7);
    snprintf(name, sizeof name, "blocks.%d.w", 2999 - i);
    int64_t one[1] = {1};
    wbr_tensorset_add(ts, name, WBR_BF16, 1, one, &vals[i]);
  }
  const char *path = test_path("many.safetensors");
  CHECK_INT(wbr_tensorset_write(ts, ctx, path), 0);
  CHECK_INT(wbr_tensorset_open(&back, ctx, path), 0);
  if (back) check_same(ts, back, 1);
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* One bad file -> exactly one error, naming the file, with a help line. */
static void expect_one_error(const char *name, const char *bytes, size_t len, const char *want) {
  diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, on_diag, &g);
  wbr_tensorset *ts = (wbr_tensorset *)1;
  int rc = wbr_tensorset_open_memory(&ts, ctx, name, bytes, len);
  CHECK_INT(rc, WBR_EFORMAT);
  CHECK(ts == NULL);
  CHECK_INT(g.n, 1);
  CHECK_STR(g.last, want);
  CHECK_STR(g.file, name);
  CHECK(g.help[0] != 0);
  wbr_ctx_free(ctx);
}

#define HDR(len, json) len "\0\0\0\0\0\0\0" json

TEST(st_errors_are_single_and_exact) {
  static const char dup[] = HDR("\x69", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                        "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}")
      "xy";
  expect_one_error("d.safetensors", dup, sizeof dup - 1, "tensor 'a' appears twice in the header");
  static const char size[] =
      HDR("\x40", "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}")
          "0123456789ab";
  expect_one_error("s.safetensors", size, sizeof size - 1,
                   "tensor 'a.weight': data_offsets [0, 12] hold 12 bytes but shape [2, 3] of F32 "
                   "needs 24");
  static const char flt[] = HDR("\x37", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}") "x";
  expect_one_error("f.safetensors", flt, sizeof flt - 1,
                   "tensor 'a': shape[0] is 1.0, expected a non-negative integer");
  static const char lower[] = HDR("\x35", "{\"a\":{\"dtype\":\"u8\",\"shape\":[1],\"data_offsets\":[0,1]}}") "x";
  expect_one_error("l.safetensors", lower, sizeof lower - 1, "tensor 'a': unknown dtype \"u8\"");
  expect_one_error("t.safetensors", "\x01\0\0", 3,
                   "file is 3 bytes: too short for safetensors (it starts with an 8-byte header "
                   "length)");
}

TEST(st_writer_refuses_reserved_name) {
  diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, on_diag, &g);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  uint8_t b = 1;
  int64_t none[1] = {0};
  wbr_tensorset_add(ts, "__metadata__", WBR_U8, 0, none, &b);
  const char *path = test_path("r.safetensors");
  CHECK_INT(wbr_tensorset_write(ts, ctx, path), WBR_EFORMAT);
  CHECK_STR(g.last, "cannot write a tensor named '__metadata__' to safetensors");
  CHECK_INT(g.n, 1);
  FILE *f = fopen(path, "rb");
  CHECK(f == NULL);
  if (f) fclose(f);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* issue 9 item 14: every writer refuses, before writing anything, what its own reader refuses
 * (wbr_writer_check_layout): a dimension above 2^53, an empty name, a name that is not UTF-8. */
TEST(every_writer_refuses_what_its_reader_refuses) {
  static const char *const exts[] = {".safetensors", ".pt", ".npz", ".gguf", ".json", ".npy",
                                     ".safetensors.index.json"};
  static const char *const fmts[] = {"safetensors", "PyTorch", ".npz", "GGUF", "a manifest", ".npy",
                                     "safetensors"};
  static const struct { const char *name; int64_t dim; const char *why; } bad[] = {
      {"z", INT64_C(1) << 62, "dimension 0 is 4611686018427387904, larger than 2^53"},
      {"", 2, "its name is empty"},
      {"a\xff", 2, "its name is not UTF-8 (byte 1)"},
  };
  for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
    for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
      if (e == 5 && b > 0) continue; /* an .npy keeps no name */
      diags g = {0};
      wbr_ctx *ctx;
      wbr_ctx_new(&ctx, on_diag, &g);
      wbr_tensorset *ts;
      wbr_tensorset_new(&ts, ctx);
      int64_t shape[2] = {bad[b].dim, 0};
      static const float none = 0; /* zero elements, but a set with data */
      CHECK_INT(wbr_tensorset_add(ts, bad[b].name, WBR_F32, 2, shape, &none), 0);
      char path[64], want[200];
      snprintf(path, sizeof path, "out%s", exts[e]);
      const char *p = test_path(path);
      snprintf(want, sizeof want, "cannot write tensor '%s' to %s: %s", b == 2 ? "a\\xff" : bad[b].name,
               fmts[e], bad[b].why);
      CHECK_INT(wbr_tensorset_write(ts, ctx, p), WBR_EFORMAT);
      if (!strstr(g.last, want)) test_failed(__FILE__, __LINE__, "%s: '%s' lacks '%s'", path, g.last, want);
      CHECK_INT(g.n, 1);
      FILE *f = fopen(p, "rb");
      CHECK(f == NULL); /* nothing written */
      if (f) fclose(f);
      wbr_tensorset_free(ts);
      wbr_ctx_free(ctx);
    }
  }
}
