/* test_manifest.c — JSON manifests: the exact text written, round trips (order, shapes, dtypes,
 * scalars, zero sizes), from a safetensors file to its manifest, lenient spellings we accept
 * (dtype case, whitespace, BOM, "metadata"), and positioned syntax errors. */
#include <stdlib.h>

#include "harness.h"
#include "weightbridge.h"

typedef struct mdiags {
  int n, line, col;
  char last[1024];
  char src[512];
} mdiags;

static void m_on_diag(void *ud, const wbr_diag *d) {
  mdiags *g = ud;
  if (d->severity != WBR_SEV_ERROR) return;
  g->n++;
  g->line = d->line;
  g->col = d->col;
  snprintf(g->last, sizeof g->last, "%s", d->message);
  snprintf(g->src, sizeof g->src, "%s", d->source_line ? d->source_line : "");
}

static wbr_tensorset *m_set(wbr_ctx *ctx) {
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  int64_t s1[2] = {144, 48}, s2[4] = {96, 3, 4, 4}, s3[1] = {0};
  wbr_tensorset_add(ts, "blocks.0.attn.qkv.weight", WBR_F32, 2, s1, NULL);
  wbr_tensorset_add(ts, "patch_embed.proj.weight", WBR_BF16, 4, s2, NULL);
  wbr_tensorset_add(ts, "step", WBR_I64, 0, s3, NULL);
  wbr_tensorset_add(ts, "empty", WBR_BOOL, 1, s3, NULL);
  wbr_tensorset_add(ts, "a \"quoted\" name", WBR_F8_E4M3, 1, s3, NULL);
  return ts;
}

static void m_same(const wbr_tensorset *a, const wbr_tensorset *b) {
  CHECK_INT(wbr_tensorset_count(b), wbr_tensorset_count(a));
  for (size_t i = 0; i < wbr_tensorset_count(a) && i < wbr_tensorset_count(b); i++) {
    wbr_tensor_info x, y;
    wbr_tensorset_get(a, i, &x);
    wbr_tensorset_get(b, i, &y);
    CHECK_STR(y.name, x.name);
    CHECK_INT(y.dtype, x.dtype);
    CHECK_INT(y.ndim, x.ndim);
    for (int d = 0; d < x.ndim && d < y.ndim; d++) CHECK_INT(y.shape[d], x.shape[d]);
    CHECK_INT(y.nbytes, x.nbytes);
    CHECK(y.data == NULL);
  }
}

TEST(mf_roundtrip_exact_text) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = m_set(ctx), *back = NULL;
  const char *path = test_path("m.json");
  CHECK_INT(wbr_tensorset_write(ts, ctx, path), 0);
  size_t text_len;
  char *text = (char *)test_slurp(path, &text_len);
  CHECK_STR(text, "{\"tensors\": {\n"
                  "  \"blocks.0.attn.qkv.weight\": {\"shape\": [144, 48], \"dtype\": \"F32\"},\n"
                  "  \"patch_embed.proj.weight\": {\"shape\": [96, 3, 4, 4], \"dtype\": \"BF16\"},\n"
                  "  \"step\": {\"shape\": [], \"dtype\": \"I64\"},\n"
                  "  \"empty\": {\"shape\": [0], \"dtype\": \"BOOL\"},\n"
                  "  \"a \\\"quoted\\\" name\": {\"shape\": [0], \"dtype\": \"F8_E4M3\"}\n"
                  "}}\n");
  char *direct = wbr_tensorset_to_manifest(ts);
  CHECK_STR(direct, text);
  wbr_free(direct);
  free(text);
  CHECK_INT(wbr_tensorset_open(&back, ctx, path), 0);
  if (back) {
    m_same(ts, back);
    CHECK_STR(wbr_tensorset_format(back), "manifest");
    CHECK_INT(wbr_tensorset_has_data(back), 0);
  }
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* A safetensors file's manifest lists exactly its tensors, in file order. */
TEST(mf_from_safetensors) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts, *st = NULL, *mf = NULL;
  wbr_tensorset_new(&ts, ctx);
  static float v[64];
  for (int i = 0; i < 20; i++) {
    char name[32];
    int64_t shape[2] = {i % 4 + 1, 2};
    snprintf(name, sizeof name, "z%02d.w", 19 - i);
    wbr_tensorset_add(ts, name, WBR_F32, 2, shape, v);
  }
  const char *sp = test_path("w.safetensors"), *mp = test_path("w.json");
  CHECK_INT(wbr_tensorset_write(ts, ctx, sp), 0);
  CHECK_INT(wbr_tensorset_open(&st, ctx, sp), 0);
  if (st) CHECK_INT(wbr_tensorset_write(st, ctx, mp), 0);
  CHECK_INT(wbr_tensorset_open(&mf, ctx, mp), 0);
  if (mf) m_same(ts, mf);
  /* A manifest cannot be written as a weight file. */
  if (mf) CHECK_INT(wbr_tensorset_write(mf, ctx, test_path("no.safetensors")), WBR_EFORMAT);
  wbr_tensorset_free(mf);
  wbr_tensorset_free(st);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(mf_lenient_spellings) {
  static const char text[] =
      "\xEF\xBB\xBF\r\n{ \"metadata\" : {\"source\": \"timm\", \"n\": \"2\"},\n"
      "\t\"tensors\":{\"b\":{\"dtype\":\"bf16\",\"shape\":[ 2 ,3 ]},\n"
      "  \"a\" : { \"shape\" : [ ] , \"dtype\" : \"f8_e5m2\" } } }\n\n";
  mdiags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, m_on_diag, &g);
  wbr_tensorset *ts = NULL;
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "l.json", text, sizeof text - 1), 0);
  CHECK_STR(g.last, "");
  if (ts) {
    CHECK_INT(wbr_tensorset_count(ts), 2);
    wbr_tensor_info t;
    wbr_tensorset_get(ts, 0, &t);
    CHECK_STR(t.name, "b");
    CHECK_INT(t.dtype, WBR_BF16);
    CHECK_INT(t.nbytes, 12);
    wbr_tensorset_get(ts, 1, &t);
    CHECK_STR(t.name, "a");
    CHECK_INT(t.dtype, WBR_F8_E5M2);
    CHECK_INT(t.ndim, 0);
    CHECK_INT(wbr_tensorset_meta_count(ts), 2);
    const char *k, *v;
    wbr_tensorset_meta_get(ts, 1, &k, &v);
    CHECK_STR(k, "n");
    CHECK_STR(v, "2");
  }
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(mf_syntax_error_position) {
  static const char text[] = "{\"tensors\": {\n  \"a\": {\"shape\": [1,], \"dtype\": \"F32\"}\n}}\n";
  mdiags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, m_on_diag, &g);
  wbr_tensorset *ts = NULL;
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "bad.json", text, sizeof text - 1), WBR_EFORMAT);
  CHECK_INT(g.n, 1);
  CHECK_STR(g.last, "manifest is not valid JSON: expected a value");
  CHECK_INT(g.line, 2);
  CHECK_INT(g.col, 21);
  CHECK_STR(g.src, "  \"a\": {\"shape\": [1,], \"dtype\": \"F32\"}");
  /* Numbers JSON forbids but cJSON would take. */
  static const char lead0[] = "{\"tensors\": {\"a\": {\"shape\": [01], \"dtype\": \"F32\"}}}";
  g.n = 0;
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "z.json", lead0, sizeof lead0 - 1), WBR_EFORMAT);
  CHECK_STR(g.last, "manifest is not valid JSON: malformed number '01'");
  CHECK_INT(g.col, 30);
  CHECK_INT(g.n, 1);
  wbr_ctx_free(ctx);
}

TEST(mf_large_shape_exact) {
  /* 2^53 is the largest accepted; digits are read exactly, not through a double. */
  static const char ok[] = "{\"tensors\": {\"a\": {\"shape\": [9007199254740992], \"dtype\": \"U8\"}}}";
  static const char big[] = "{\"tensors\": {\"a\": {\"shape\": [9007199254740993], \"dtype\": \"U8\"}}}";
  mdiags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, m_on_diag, &g);
  wbr_tensorset *ts = NULL;
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "ok.json", ok, sizeof ok - 1), 0);
  if (ts) {
    wbr_tensor_info t;
    wbr_tensorset_get(ts, 0, &t);
    CHECK(t.shape[0] == INT64_C(9007199254740992));
  }
  wbr_tensorset_free(ts);
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "big.json", big, sizeof big - 1), WBR_EFORMAT);
  CHECK_STR(g.last, "tensor 'a': shape[0] is 9007199254740993, larger than 2^53");
  wbr_ctx_free(ctx);
}
