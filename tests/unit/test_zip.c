/* test_zip.c — the zip reader and writer (formats/zip.h): stored and deflated round trips,
 * alignment, data descriptors, zip64 end records (forced by many entries), and the reader's
 * refusals (truncation, offsets past the end, overlapping entries, duplicate names, bad CRC). */
#include <stdlib.h>

#include "formats/zip.h"
#include "harness.h"
#include "weightbridge.h"

typedef struct membuf {
  uint8_t *p;
  size_t len, cap;
} membuf;

static int mem_emit(void *sink, const void *bytes, size_t len) {
  membuf *m = sink;
  if (m->len + len > m->cap) {
    size_t cap = (m->cap ? m->cap * 2 : 4096) + len;
    uint8_t *np = realloc(m->p, cap);
    if (!np) return WBR_ENOMEM;
    m->p = np;
    m->cap = cap;
  }
  memcpy(m->p + m->len, bytes, len);
  m->len += len;
  return 0;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* An archive with entries "a/x" (stored, aligned 64, 100 bytes), "a/y" (streamed stored in two
 * pieces), "a/z" (deflated, compressible) and "a/e" (empty). */
static membuf make_archive(wbr_ctx *ctx) {
  membuf m = {0};
  wbr_zipw *w;
  CHECK_INT(wbr_zipw_new(&w, ctx, "t.zip", mem_emit, &m, 0), 0);
  uint8_t x[100], z[5000];
  for (int i = 0; i < 100; i++) x[i] = (uint8_t)i;
  for (int i = 0; i < 5000; i++) z[i] = (uint8_t)(i % 7);
  CHECK_INT(wbr_zipw_add(w, "a/x", x, sizeof x, WBR_ZIP_STORED, 64), 0);
  CHECK_INT(wbr_zipw_begin(w, "a/y", 10, WBR_ZIP_STORED, 64), 0);
  CHECK_INT(wbr_zipw_data(w, "01234", 5), 0);
  CHECK_INT(wbr_zipw_data(w, "56789", 5), 0);
  CHECK_INT(wbr_zipw_end(w), 0);
  CHECK_INT(wbr_zipw_add(w, "a/z", z, sizeof z, WBR_ZIP_DEFLATED, 0), 0);
  CHECK_INT(wbr_zipw_add(w, "a/e", "", 0, WBR_ZIP_STORED, 64), 0);
  CHECK_INT(wbr_zipw_finish(w), 0);
  wbr_zipw_free(w);
  return m;
}

TEST(zip_round_trip) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  membuf m = make_archive(ctx);
  wbr_zip *z;
  CHECK_INT(wbr_zip_open(&z, ctx, "t.zip", NULL, m.p, m.len), 0);
  CHECK_INT(wbr_zip_count(z), 4);
  const wbr_zip_entry *e = wbr_zip_find(z, "a/x");
  CHECK(e != NULL);
  if (e) {
    const uint8_t *d;
    CHECK_INT(wbr_zip_stored(z, e, &d), 0);
    CHECK_INT(e->data_offset % 64, 0);
    CHECK_INT(e->usize, 100);
    CHECK(d && d[0] == 0 && d[99] == 99);
    CHECK_INT(wbr_zip_check_crc(z, e), 0);
  }
  e = wbr_zip_find(z, "a/y");
  CHECK(e != NULL);
  if (e) {
    const uint8_t *d;
    CHECK_INT(wbr_zip_stored(z, e, &d), 0);
    CHECK_INT(e->data_offset % 64, 0);
    CHECK(d && memcmp(d, "0123456789", 10) == 0);
    CHECK_INT(wbr_zip_check_crc(z, e), 0);
  }
  e = wbr_zip_find(z, "a/z");
  CHECK(e != NULL);
  if (e) {
    CHECK_INT(e->method, WBR_ZIP_DEFLATED);
    CHECK(e->csize < 1000);
    uint8_t out[5000];
    CHECK_INT(wbr_zip_extract(z, e, out, sizeof out), 0);
    int bad = 0;
    for (int i = 0; i < 5000; i++) bad += out[i] != (uint8_t)(i % 7);
    CHECK_INT(bad, 0);
    const uint8_t *d;
    CHECK(wbr_zip_stored(z, e, &d) < 0);
    CHECK_CONTAINS(g.last, "zip entry 'a/z' is compressed (deflated)");
  }
  e = wbr_zip_find(z, "a/e");
  CHECK(e != NULL && e->usize == 0);
  CHECK(wbr_zip_find(z, "a/q") == NULL);
  CHECK_STR(wbr_zip_entry_at(z, 0)->name, "a/x");
  wbr_zip_free(z);
  free(m.p);
  wbr_ctx_free(ctx);
}

static void expect_open_fails(const uint8_t *p, size_t len, const char *msg) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_zip *z = NULL;
  CHECK_INT(wbr_zip_open(&z, ctx, "t.zip", NULL, p, len), WBR_EFORMAT);
  CHECK(z == NULL);
  CHECK_INT(g.n, 1);
  CHECK_CONTAINS(g.last, msg);
  wbr_ctx_free(ctx);
}

/* Offset of the central directory entry for the k-th entry of a make_archive() archive. */
static size_t central_at(const membuf *m, int k) {
  size_t i = 0;
  int seen = 0;
  for (i = 0; i + 4 <= m->len; i++)
    if (m->p[i] == 'P' && m->p[i + 1] == 'K' && m->p[i + 2] == 1 && m->p[i + 3] == 2 &&
        seen++ == k)
      return i;
  return 0;
}

TEST(zip_refusals) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  membuf m = make_archive(ctx);
  wbr_ctx_free(ctx);
  uint8_t *c = malloc(m.len);

  expect_open_fails(m.p, 10, "too short for a zip archive");
  expect_open_fails(m.p, m.len - 1, "no zip end-of-central-directory record");

  /* A local header offset past the end of the entries. */
  memcpy(c, m.p, m.len);
  size_t ce = central_at(&m, 1);
  put32(c + ce + 42, 0x7FFFFFF0u);
  expect_open_fails(c, m.len, "zip entry 'a/y': local header offset 2147483632 is outside");

  /* An entry whose size runs into the central directory. */
  memcpy(c, m.p, m.len);
  put32(c + ce + 20, 100000);
  put32(c + ce + 24, 100000);
  expect_open_fails(c, m.len, "zip entry 'a/y': its 100000 bytes at offset");

  /* Two entries sharing bytes: the second's header offset points at the first's. */
  memcpy(c, m.p, m.len);
  size_t c0 = central_at(&m, 0);
  memcpy(c + ce + 42, c + c0 + 42, 4);
  expect_open_fails(c, m.len, "the local header names another file");

  /* Overlap: make a/x's stored size reach into a/y's header. */
  memcpy(c, m.p, m.len);
  put32(c + c0 + 20, 200);
  put32(c + c0 + 24, 200);
  expect_open_fails(c, m.len, "zip entries 'a/x' and 'a/y' overlap");

  /* Duplicate names. */
  memcpy(c, m.p, m.len);
  c[ce + 46 + 2] = 'x';
  expect_open_fails(c, m.len, "zip entry name 'a/x' appears twice");

  /* Unknown method and encryption. */
  memcpy(c, m.p, m.len);
  c[c0 + 10] = 12;
  expect_open_fails(c, m.len, "uses compression method 12");
  memcpy(c, m.p, m.len);
  c[c0 + 8] |= 1;
  expect_open_fails(c, m.len, "zip entry 'a/x' is encrypted");

  /* Entry count larger than the directory can hold. */
  memcpy(c, m.p, m.len);
  memset(c + m.len - 22 + 8, 0xFF, 4);
  expect_open_fails(c, m.len, "claims 65535 entries");

  /* A flipped data byte is caught by the CRC check. */
  memcpy(c, m.p, m.len);
  {
    test_diags g = {0};
    wbr_ctx_new(&ctx, test_on_diag, &g);
    wbr_zip *z;
    CHECK_INT(wbr_zip_open(&z, ctx, "t.zip", NULL, c, m.len), 0);
    const wbr_zip_entry *e = wbr_zip_find(z, "a/x");
    c[e->data_offset + 5] ^= 1;
    CHECK_INT(wbr_zip_check_crc(z, e), WBR_EFORMAT);
    CHECK_CONTAINS(g.last, "CRC-32 mismatch");
    /* Corrupt deflate data. */
    e = wbr_zip_find(z, "a/z");
    c[e->data_offset + 3] ^= 0x55;
    uint8_t out[5000];
    CHECK_INT(wbr_zip_extract(z, e, out, sizeof out), WBR_EFORMAT);
    wbr_zip_free(z);
    wbr_ctx_free(ctx);
  }
  free(c);
  free(m.p);
}

/* More than 65535 entries forces the zip64 end records; the reader must follow them. */
TEST(zip64_many_entries) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  membuf m = {0};
  wbr_zipw *w;
  CHECK_INT(wbr_zipw_new(&w, ctx, "t.zip", mem_emit, &m, 0), 0);
  int n = 70000, ok = 1;
  for (int i = 0; i < n && ok; i++) {
    char name[32];
    snprintf(name, sizeof name, "e%d", i);
    ok = wbr_zipw_add(w, name, name, strlen(name), WBR_ZIP_STORED, 0) == 0;
  }
  CHECK(ok);
  CHECK_INT(wbr_zipw_finish(w), 0);
  wbr_zipw_free(w);
  wbr_zip *z;
  CHECK_INT(wbr_zip_open(&z, ctx, "t.zip", NULL, m.p, m.len), 0);
  CHECK_INT(wbr_zip_count(z), n);
  const wbr_zip_entry *e = wbr_zip_find(z, "e69999");
  CHECK(e != NULL);
  if (e) {
    const uint8_t *d;
    CHECK_INT(wbr_zip_stored(z, e, &d), 0);
    CHECK(memcmp(d, "e69999", 6) == 0);
  }
  wbr_zip_free(z);
  free(m.p);
  wbr_ctx_free(ctx);
}

TEST(zip_writer_misuse) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  membuf m = {0};
  wbr_zipw *w;
  CHECK_INT(wbr_zipw_new(&w, ctx, "t.zip", mem_emit, &m, 0), 0);
  CHECK_INT(wbr_zipw_begin(w, "x", 4, WBR_ZIP_STORED, 0), 0);
  CHECK_INT(wbr_zipw_data(w, "12345", 5), WBR_EUSAGE);
  CHECK_INT(wbr_zipw_data(w, "12", 2), 0);
  CHECK_INT(wbr_zipw_end(w), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "got 2 of 4 bytes");
  CHECK_INT(wbr_zipw_finish(w), WBR_EUSAGE);
  wbr_zipw_free(w);
  free(m.p);
  wbr_ctx_free(ctx);
}
