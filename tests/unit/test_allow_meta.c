/* test_allow_meta.c — wbr_plan_options version 2 (allow_missing) and wbr_apply_options version 2
 * (metadata) through the API: a version-1 struct ignores the new fields; allowed targets are
 * listed, not problems; the output's metadata follows source < target < "format" default <
 * entries, and weightbridge.* keys cannot be given. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "weightbridge.h"

static const float vals[6] = {1, 2, 3, 4, 5, 6};

static wbr_tensorset *set_of(wbr_ctx *ctx, const char *a, const char *b, const float *data) {
  wbr_tensorset *ts = NULL;
  int64_t shape[2] = {2, 3};
  if (wbr_tensorset_new(&ts, ctx) != 0) return NULL;
  wbr_tensorset_add(ts, a, WBR_F32, 2, shape, data);
  if (b) wbr_tensorset_add(ts, b, WBR_F32, 2, shape, data);
  return ts;
}

static const char *meta_of(const wbr_tensorset *ts, const char *key) {
  for (size_t i = 0; i < wbr_tensorset_meta_count(ts); i++) {
    const char *k, *v;
    if (wbr_tensorset_meta_get(ts, i, &k, &v) == 0 && strcmp(k, key) == 0) return v;
  }
  return NULL;
}

TEST(allow_missing_lists_and_versions) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *src = set_of(ctx, "a", NULL, vals), *tgt = set_of(ctx, "a", "head.w", NULL);
  wbr_program *p = NULL;
  static const char rules[] = "weightbridge 1\n";
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, sizeof rules - 1), 0);
  const char *pats[] = {"head.*"};
  wbr_plan_options o = WBR_PLAN_OPTIONS_INIT;
  CHECK_INT(o.version, 2);
  CHECK(o.allow_missing == NULL && o.nallow_missing == 0);
  o.allow_missing = pats;
  o.nallow_missing = 1;
  wbr_plan *plan = NULL;
  CHECK_INT(wbr_plan_new_with(&plan, ctx, p, src, tgt, &o), 0);
  CHECK_INT(wbr_plan_problems(plan), 0);
  CHECK_INT(wbr_plan_count(plan), 1);
  char *s = wbr_plan_render(plan, WBR_PLAN_JSON);
  CHECK_CONTAINS(s, "\"missing_allowed\": [\n    {\"name\": \"head.w\", \"shape\": [2, 3], \"dtype\": \"F32\"}");
  wbr_free(s);
  wbr_plan_free(plan);
  plan = NULL;
  /* A version-1 caller has no such fields: they are not read. */
  o.version = 1;
  CHECK_INT(wbr_plan_new_with(&plan, ctx, p, src, tgt, &o), 0);
  CHECK_INT(wbr_plan_problems(plan), 1);
  wbr_plan_free(plan);
  plan = NULL;
  const char *bad[] = {"x{"};
  o.version = 2;
  o.allow_missing = bad;
  CHECK_INT(wbr_plan_new_with(&plan, ctx, p, src, tgt, &o), WBR_EUSAGE);
  CHECK(plan == NULL);
  CHECK_CONTAINS(g.last, "--allow-missing pattern 'x{'");
  wbr_program_free(p);
  wbr_tensorset_free(src);
  wbr_tensorset_free(tgt);
  wbr_ctx_free(ctx);
}

TEST(apply_metadata_precedence) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *src = set_of(ctx, "a", NULL, vals), *tgt = set_of(ctx, "a", NULL, NULL);
  wbr_tensorset_meta_set(src, "who", "source");
  wbr_tensorset_meta_set(src, "src_only", "1");
  wbr_tensorset_meta_set(tgt, "who", "target");
  wbr_program *p = NULL;
  static const char rules[] = "weightbridge 1\n";
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, sizeof rules - 1), 0);
  wbr_plan *plan = NULL;
  CHECK_INT(wbr_plan_new(&plan, ctx, p, src, tgt), 0);
  const char *entries[] = {"license=mit", "who=flag"};
  wbr_apply_options ao = WBR_APPLY_OPTIONS_INIT;
  CHECK_INT(ao.version, 3);
  ao.metadata = entries;
  ao.nmetadata = 2;
  const char *out = test_path("meta.safetensors");
  CHECK_INT(wbr_plan_apply(plan, ctx, out, NULL, &ao), 0);
  wbr_tensorset *r = NULL;
  CHECK_INT(wbr_tensorset_open(&r, ctx, out), 0);
  if (r) {
    CHECK_STR(meta_of(r, "who"), "flag");
    CHECK_STR(meta_of(r, "src_only"), "1");
    CHECK_STR(meta_of(r, "license"), "mit");
    CHECK_STR(meta_of(r, "format"), "pt");
    CHECK(meta_of(r, "weightbridge.rules_hash") != NULL);
  }
  wbr_tensorset_free(r);
  /* weightbridge.* keys record the conversion: refused, nothing written */
  const char *own[] = {"weightbridge.version=9"};
  ao.metadata = own;
  ao.nmetadata = 1;
  const char *out2 = test_path("meta2.safetensors");
  CHECK_INT(wbr_plan_apply(plan, ctx, out2, NULL, &ao), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "weightbridge.* keys record the conversion");
  const char *noeq[] = {"novalue"};
  ao.metadata = noeq;
  CHECK_INT(wbr_plan_apply(plan, ctx, out2, NULL, &ao), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "is not KEY=VALUE");
  /* version 1: the entries are not read */
  ao.version = 1;
  CHECK_INT(wbr_plan_apply(plan, ctx, out2, NULL, &ao), 0);
  wbr_plan_free(plan);
  wbr_program_free(p);
  wbr_tensorset_free(src);
  wbr_tensorset_free(tgt);
  wbr_ctx_free(ctx);
}
