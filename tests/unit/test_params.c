/* test_params.c — parameters through the public API: wbr_config_params' key mapping (first key
 * present wins, null is absent, other integer keys as themselves, a bad mapped value refused),
 * and wbr_plan_new_with's binding (--param over config over default, every error WBR_ERULES
 * with no plan, options of an unknown version refused). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "weightbridge.h"

static const wbr_param_value *find(const wbr_param_value *v, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i].name, name) == 0) return &v[i];
  return NULL;
}

TEST(params_config_mapping) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  static const char cfg[] =
      "{\"n_heads\": 4, \"num_attention_heads\": 8, \"hidden_size\": null, \"n_embd\": 64, "
      "\"custom_k\": 3, \"rope_theta\": 10000.0, \"Bad\": 3, \"neg\": -1, \"num_experts\": 2, "
      "\"name\": \"llama\"}";
  wbr_param_value *v = NULL;
  size_t n = 0;
  CHECK_INT(wbr_config_params_bytes(ctx, "c.json", cfg, sizeof cfg - 1, &v, &n), 0);
  CHECK_INT(g.n, 0);
  const wbr_param_value *h = find(v, n, "n_heads"), *d = find(v, n, "dim"), *k = find(v, n, "custom_k");
  /* num_attention_heads comes first in the mapping, whatever the file's order */
  CHECK(h && h->value == 8 && strcmp(h->key, "num_attention_heads") == 0);
  CHECK(h && h->origin == WBR_PARAM_CONFIG);
  /* hidden_size is null: absent, so the next key gives dim */
  CHECK(d && d->value == 64 && strcmp(d->key, "n_embd") == 0);
  CHECK(k && k->value == 3 && strcmp(k->key, "custom_k") == 0);
  CHECK(find(v, n, "n_experts") && find(v, n, "n_experts")->value == 2);
  /* not integers, not parameter names, negative: not parameters */
  CHECK(!find(v, n, "rope_theta") && !find(v, n, "Bad") && !find(v, n, "neg") && !find(v, n, "name"));
  /* the mapped keys are integer keys too: a rule may declare `param num_attention_heads` */
  CHECK(find(v, n, "num_attention_heads") && find(v, n, "num_attention_heads")->value == 8);
  /* n_heads, dim, n_experts, num_attention_heads, n_embd, custom_k, num_experts */
  CHECK_INT(n, 7);
  wbr_free(v);
  /* A mapped key with a value that is not a size is an error, not ignored. */
  static const char bad[] = "{\"num_key_value_heads\": \"8\"}";
  CHECK_INT(wbr_config_params_bytes(ctx, "b.json", bad, sizeof bad - 1, &v, &n), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "config: key \"num_key_value_heads\" is");
  CHECK(v == NULL && n == 0);
  CHECK_INT(wbr_config_params_bytes(ctx, "x.json", "[1]", 3, &v, &n), WBR_EUSAGE);
  CHECK_INT(wbr_config_params_bytes(ctx, "x.json", "{", 1, &v, &n), WBR_EUSAGE);
  wbr_ctx_free(ctx);
}

/* The first line of the text plan of `rules` over one tensor x [6, 4] with values v, or NULL. */
static char *params_line(wbr_ctx *ctx, const char *rules, const wbr_param_value *v, size_t n, int *rc) {
  wbr_program *p = NULL;
  wbr_tensorset *src = NULL;
  wbr_plan *plan = NULL;
  static const float data[24];
  int64_t shape[2] = {6, 4};
  char *line = NULL;
  *rc = wbr_program_compile(&p, ctx, "r.wbr", rules, strlen(rules));
  if (*rc == 0) *rc = wbr_tensorset_new(&src, ctx);
  if (*rc == 0) *rc = wbr_tensorset_add(src, "x", WBR_F32, 2, shape, data);
  wbr_plan_options o = WBR_PLAN_OPTIONS_INIT;
  o.params = v;
  o.nparams = n;
  if (*rc == 0) *rc = wbr_plan_new_with(&plan, ctx, p, src, NULL, &o);
  if (*rc == 0) {
    char *s = wbr_plan_render(plan, WBR_PLAN_TEXT);
    line = s ? strndup(s, strcspn(s, "\n")) : NULL;
    wbr_free(s);
  } else if (plan) {
    line = strdup("a plan was made");
  }
  wbr_plan_free(plan);
  wbr_tensorset_free(src);
  wbr_program_free(p);
  return line;
}

TEST(params_plan_binding) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  static const char rules[] = "weightbridge 1\nparam a = 2\nparam b = a * 3\nparam c\nreshape \"x\" [a, b, c]\n";
  int rc;
  wbr_param_value v[] = {{"c", 4, WBR_PARAM_FLAG, NULL}, {"a", 1, WBR_PARAM_CONFIG, "k1"},
                         {"c", 9, WBR_PARAM_CONFIG, "k2"}, {"a", 7, WBR_PARAM_CONFIG, "k3"}};
  char *l = params_line(ctx, rules, v, 1, &rc);
  CHECK_STR(l, "params: a = 2 (default), b = 6 (default), c = 4 (--param)");
  free(l);
  /* config over default, the first config entry for a name wins, --param over config */
  l = params_line(ctx, rules, v, 4, &rc);
  CHECK_STR(l, "params: a = 1 (config k1), b = 3 (default), c = 4 (--param)");
  free(l);
  /* no value for c: a rules error and no plan */
  l = params_line(ctx, rules, NULL, 0, &rc);
  CHECK_INT(rc, WBR_ERULES);
  CHECK(l == NULL);
  CHECK_CONTAINS(g.last, "parameter 'c' has no value");
  /* a --param the rules do not declare */
  wbr_param_value typo[] = {{"c", 4, WBR_PARAM_FLAG, NULL}, {"bb", 1, WBR_PARAM_FLAG, NULL}};
  l = params_line(ctx, rules, typo, 2, &rc);
  CHECK_INT(rc, WBR_ERULES);
  CHECK(l == NULL);
  CHECK_CONTAINS(g.last, "--param bb: the rules declare no parameter 'bb'");
  /* an unknown config name is ignored */
  wbr_param_value extra[] = {{"c", 4, WBR_PARAM_FLAG, NULL}, {"zz", 1, WBR_PARAM_CONFIG, "zz"}};
  l = params_line(ctx, rules, extra, 2, &rc);
  CHECK_INT(rc, 0);
  free(l);
  /* the values are the shape the statement uses: 2 * 6 * 4 != 24 is a mapping problem */
  wbr_param_value c2[] = {{"c", 2, WBR_PARAM_FLAG, NULL}};
  l = params_line(ctx, rules, c2, 1, &rc);
  CHECK_INT(rc, 0);
  free(l);
  /* an option struct of version 0 is refused */
  wbr_plan_options zero;
  memset(&zero, 0, sizeof zero);
  wbr_plan *plan = NULL;
  wbr_program *p = NULL;
  wbr_tensorset *src = NULL;
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, sizeof rules - 1), 0);
  CHECK_INT(wbr_tensorset_new(&src, ctx), 0);
  CHECK_INT(wbr_plan_new_with(&plan, ctx, p, src, NULL, &zero), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "the wbr_plan_options has version 0");
  CHECK(plan == NULL);
  wbr_tensorset_free(src);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
}
