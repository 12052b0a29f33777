/* test_torch.c — the PyTorch checkpoint format in C: a set written as .pt reads back identically
 * (every dtype torch has, scalars, empty tensors, 1000+ tensors so SETITEMS batches), an
 * in-memory checkpoint with a non-contiguous view is gathered into the set's own copy, and
 * #KEY selection. Cross-checks against the real torch live in tests/torch/. */
#include <stdlib.h>

#include "formats/zip.h"
#include "harness.h"
#include "tensor_bytes.h"
#include "weightbridge.h"

TEST(torch_write_read) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  static uint8_t data[4096];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + 1);
  const wbr_dtype dts[] = {WBR_F64, WBR_F32, WBR_F16, WBR_BF16, WBR_I64, WBR_I32, WBR_I16, WBR_I8,
                           WBR_U8, WBR_BOOL};
  char name[64];
  for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
    int64_t shape[2] = {3, 5};
    snprintf(name, sizeof name, "t.%zu", i);
    CHECK_INT(wbr_tensorset_add(ts, name, dts[i], 2, shape, data + i), 0);
  }
  int64_t none[1] = {0}, big[1] = {300};
  CHECK_INT(wbr_tensorset_add(ts, "scalar", WBR_F32, 0, none, data), 0);
  CHECK_INT(wbr_tensorset_add(ts, "empty", WBR_F32, 1, none, data), 0);
  CHECK_INT(wbr_tensorset_add(ts, "wide", WBR_F64, 1, big, data), 0);
  for (int i = 0; i < 1100; i++) {
    int64_t one[1] = {1};
    snprintf(name, sizeof name, "many.%d", i);
    CHECK_INT(wbr_tensorset_add(ts, name, WBR_U8, 1, one, data + i), 0);
  }
  char path[512];
  snprintf(path, sizeof path, "%s/out.pt", test_tmpdir());
  CHECK_INT(wbr_tensorset_write(ts, ctx, path), 0);
  wbr_tensorset *back;
  CHECK_INT(wbr_tensorset_open(&back, ctx, path), 0);
  if (back) {
    CHECK_STR(wbr_tensorset_format(back), "pytorch");
    CHECK_INT(wbr_tensorset_count(back), wbr_tensorset_count(ts));
    for (size_t i = 0; i < wbr_tensorset_count(ts) && i < wbr_tensorset_count(back); i++) {
      wbr_tensor_info a, b;
      wbr_tensorset_get(ts, i, &a);
      wbr_tensorset_get(back, i, &b);
      CHECK_STR(b.name, a.name);
      CHECK_INT(b.dtype, a.dtype);
      CHECK_INT(b.ndim, a.ndim);
      CHECK_INT(b.nbytes, a.nbytes);
      CHECK(a.nbytes == 0 || memcmp(a.data, b.data, a.nbytes) == 0);
    }
    /* torch's layout: 64-byte aligned data. */
    wbr_tensor_info w;
    wbr_tensorset_get(back, 0, &w);
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
      fseek(f, 0, SEEK_END);
      len = (size_t)ftell(f);
      fclose(f);
    }
    CHECK(len > 0);
    wbr_tensorset_free(back);
  }
  CHECK_INT(g.n, 0);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

typedef struct mem {
  uint8_t *p;
  size_t len, cap;
} mem;

static int mem_put(void *sink, const void *b, size_t n) {
  mem *m = sink;
  if (m->len + n > m->cap) {
    m->cap = (m->len + n) * 2 + 64;
    m->p = realloc(m->p, m->cap);
  }
  memcpy(m->p + m->len, b, n);
  m->len += n;
  return 0;
}

/* {"model": {"w": storage[2:8] viewed as [3,2] transposed to [2,3]}, "epoch": 1} */
static mem view_ckpt(void) {
  static const char pkl[] =
      "\x80\x02}(X\x05\x00\x00\x00model}(X\x01\x00\x00\x00w"
      "ctorch._utils\n_rebuild_tensor_v2\n("
      "(X\x07\x00\x00\x00storagectorch\nShortStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x0ctQ"
      "K\x02K\x02K\x03\x86K\x01K\x02\x86\x89}tRuX\x05\x00\x00\x00" "epochK\x01u.";
  int16_t st[12];
  for (int i = 0; i < 12; i++) st[i] = (int16_t)(i * 10);
  mem m = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_zipw *z;
  wbr_zipw_new(&z, ctx, "m", mem_put, &m, 0);
  wbr_zipw_add(z, "a/data.pkl", pkl, sizeof pkl - 1, WBR_ZIP_STORED, 64);
  wbr_zipw_add(z, "a/data/0", st, sizeof st, WBR_ZIP_STORED, 64);
  wbr_zipw_finish(z);
  wbr_zipw_free(z);
  wbr_ctx_free(ctx);
  return m;
}

TEST(torch_view_gather_and_key) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  mem m = view_ckpt();
  wbr_tensorset *ts = NULL;
  /* No key: the tensors are nested, which is refused with the keys listed. */
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "m.pt", m.p, m.len), WBR_EFORMAT);
  CHECK_CONTAINS(g.last, "this checkpoint nests its tensors in sub-dicts (model)");
  /* With a key (through a file, as FILE.pt#model). */
  char path[512], spec[600];
  snprintf(path, sizeof path, "%s/v.pt", test_tmpdir());
  FILE *f = fopen(path, "wb");
  fwrite(m.p, 1, m.len, f);
  fclose(f);
  snprintf(spec, sizeof spec, "%s#model", path);
  CHECK_INT(wbr_tensorset_open(&ts, ctx, spec), 0);
  if (ts) {
    wbr_tensor_info t;
    CHECK_INT(wbr_tensorset_get(ts, 0, &t), 0);
    CHECK_STR(t.name, "w");
    CHECK_INT(t.dtype, WBR_I16);
    CHECK_INT(t.shape[0], 2);
    CHECK_INT(t.shape[1], 3);
    /* storage[2 + 2*i + j] for the [3,2] view, transposed: row r, col c = storage[2 + 2c + r] */
    int16_t want[6] = {20, 40, 60, 30, 50, 70};
    /* A view is gathered only when its bytes are needed (apply), not at open. */
    CHECK(t.data == NULL);
    uint8_t *got = tensor_bytes(ctx, ts, 0);
    CHECK(got && memcmp(got, want, sizeof want) == 0);
    free(got);
    wbr_tensorset_free(ts);
  }
  snprintf(spec, sizeof spec, "%s#epoch", path);
  CHECK_INT(wbr_tensorset_open(&ts, ctx, spec), WBR_EFORMAT);
  CHECK_CONTAINS(g.last, "entry 'epoch' is an int, not a dict of tensors");
  free(m.p);
  wbr_ctx_free(ctx);
}
