/* test_match.c — the matcher's pieces: layout relations between shapes (with and without the
 * Flax convention), digit runs, and wbr_match_run end to end on in-memory tensor sets: a
 * complete proven draft, and a deliberate ambiguity that must not be guessed. */
#include "../../matcher/mint.h"
#include "harness.h"

static int rel(const int64_t *a, int na, const int64_t *b, int nb, int conv, mlayout *l) {
  return rel_find(l, a, na, b, nb, conv);
}

TEST(match_rel_identity_reshape_transpose) {
  mlayout l;
  int64_t a[] = {16, 1, 1}, b[] = {16};
  CHECK_INT(rel(a, 3, b, 1, CONV_NONE, &l), REL_RESHAPE);
  CHECK_INT(l.nops, 1);
  CHECK_INT(l.op[0].kind, MOP_RESHAPE);
  int64_t c[] = {32, 96}, d[] = {96, 32};
  CHECK_INT(rel(c, 2, d, 2, CONV_NONE, &l), REL_TRANSPOSE);
  CHECK_INT(l.op[0].v[0], 1);
  CHECK_INT(rel(c, 2, c, 2, CONV_NONE, &l), REL_ID);
  int64_t e[] = {6, 4}, f[] = {4, 6, 1};
  /* transpose, then a unit axis added */
  CHECK_INT(rel(e, 2, f, 3, CONV_NONE, &l), REL_RESHAPE_T);
  int64_t e2[] = {6, 4}, f2[] = {3, 8};
  CHECK_INT(rel(e2, 2, f2, 2, CONV_NONE, &l), REL_NONE);
  int64_t g[] = {2, 12}, h[] = {3, 8};
  CHECK_INT(rel(g, 2, h, 2, CONV_NONE, &l), REL_NONE); /* mixes axes */
}

TEST(match_rel_flax) {
  mlayout l;
  int64_t q[] = {48, 3, 16}, w[] = {48, 48};
  /* without a convention this is a plain regrouping; a Flax kernel is reshaped and transposed */
  CHECK_INT(rel(q, 3, w, 2, CONV_NONE, &l), REL_RESHAPE);
  CHECK_INT(rel(q, 3, w, 2, CONV_FLAX_TO_TORCH, &l), REL_RESHAPE_T);
  CHECK_INT(l.nops, 2);
  CHECK_INT(l.op[0].v[0], 48);
  CHECK_INT(l.op[1].kind, MOP_PERMUTE);
  int64_t hwio[] = {3, 3, 8, 32}, oihw[] = {32, 8, 3, 3};
  CHECK_INT(rel(hwio, 4, oihw, 4, CONV_FLAX_TO_TORCH, &l), REL_PERMUTE);
  CHECK_INT(l.op[0].v[0], 3);
  CHECK_INT(l.op[0].v[1], 2);
  CHECK_INT(rel(oihw, 4, hwio, 4, CONV_TORCH_TO_FLAX, &l), REL_PERMUTE);
  CHECK_INT(l.op[0].v[0], 2);
  /* a square 2-D kernel is transposed under the convention */
  int64_t sq[] = {8, 8};
  CHECK_INT(rel(sq, 2, sq, 2, CONV_FLAX_TO_TORCH, &l), REL_TRANSPOSE);
  /* a 1x1 conv kernel never pairs with a weight by a plain reshape under the convention */
  int64_t k11[] = {1, 1, 64, 16}, w11[] = {64, 16, 1, 1};
  CHECK_INT(rel(k11, 4, w11, 4, CONV_FLAX_TO_TORCH, &l), REL_NONE);
}

TEST(match_digit_runs) {
  size_t st[8], en[8];
  CHECK_INT(m_digit_runs("layer12.0.conv3", 15, st, en, 8), 3);
  CHECK_INT(st[0], 5);
  CHECK_INT(en[0], 7);
  CHECK_INT(st[2], 14);
  CHECK_INT(m_digit_runs("weight", 6, st, en, 8), 0);
}

static wbr_tensorset *set(wbr_ctx *ctx, const char *const *names, const int64_t (*shapes)[2], const int *nd, int n) {
  wbr_tensorset *ts = NULL;
  if (wbr_tensorset_new(&ts, ctx)) return NULL;
  for (int i = 0; i < n; i++) wbr_tensorset_add(ts, names[i], WBR_F32, nd[i], shapes[i], NULL);
  return ts;
}

TEST(match_run_complete) {
  wbr_ctx *ctx = NULL;
  CHECK_INT(wbr_ctx_new(&ctx, NULL, NULL), 0);
  const char *sn[] = {"encoder.layer_0.fc.weight", "encoder.layer_0.fc.bias", "encoder.layer_0.bn.num_batches_tracked",
                      "encoder.layer_1.fc.weight", "encoder.layer_1.fc.bias", "encoder.layer_1.bn.num_batches_tracked"};
  const char *tn[] = {"blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.1.fc.weight", "blocks.1.fc.bias"};
  const int64_t ss[][2] = {{8, 4}, {8}, {0}, {8, 4}, {8}, {0}};
  const int snd[] = {2, 1, 0, 2, 1, 0};
  const int64_t ts_[][2] = {{4, 8}, {8}, {4, 8}, {8}};
  const int tnd[] = {2, 1, 2, 1};
  wbr_tensorset *s = set(ctx, sn, ss, snd, 6), *t = set(ctx, tn, ts_, tnd, 4);
  wbr_match_result r = WBR_MATCH_RESULT_INIT;
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), 0);
  CHECK(r.complete);
  CHECK_INT(r.npaired, 4);
  CHECK_CONTAINS(r.draft, "drop \"*.num_batches_tracked\"");
  CHECK_CONTAINS(r.draft, "rename \"encoder.layer_{i}.fc.*\" -> \"blocks.{i}.fc.*\"");
  /* [8, 4] -> [4, 8]: a transpose, one statement for both layers */
  CHECK_CONTAINS(r.draft, "transpose \"blocks.{i}.fc.weight\"");
  wbr_match_result_free(&r);
  wbr_tensorset_free(s);
  wbr_tensorset_free(t);
  wbr_ctx_free(ctx);
}

/* Two same-shape sources whose names share nothing with the two targets': nothing decides. */
static void ambiguous_sets(wbr_ctx *ctx, wbr_tensorset **s, wbr_tensorset **t) {
  const char *sn[] = {"aux.alpha.weight", "aux.beta.weight"};
  const char *tn[] = {"extra.right.kernel_x", "extra.left.kernel_x"};
  const int64_t sh[][2] = {{24, 24}, {24, 24}};
  const int nd[] = {2, 2};
  *s = set(ctx, sn, sh, nd, 2);
  *t = set(ctx, tn, sh, nd, 2);
}

TEST(match_run_ambiguous) {
  wbr_ctx *ctx = NULL;
  CHECK_INT(wbr_ctx_new(&ctx, NULL, NULL), 0);
  wbr_tensorset *s, *t;
  ambiguous_sets(ctx, &s, &t);
  wbr_match_result r = WBR_MATCH_RESULT_INIT;
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), 0);
  CHECK(!r.complete);
  CHECK_INT(r.npaired, 0);
  CHECK_INT(r.nambiguous, 2);
  CHECK_CONTAINS(r.draft, "# UNRESOLVED");
  CHECK_CONTAINS(r.draft, "target \"extra.left.kernel_x\" [24, 24]");
  /* a hint settles it */
  const char *hints[] = {"aux.alpha.weight=extra.left.kernel_x", "aux.beta.weight=extra.right.kernel_x"};
  wbr_match_options o = WBR_MATCH_OPTIONS_INIT;
  o.hints = hints;
  o.nhints = 2;
  wbr_match_result_free(&r);
  CHECK_INT(wbr_match_run(&r, ctx, s, t, &o), 0);
  CHECK(r.complete);
  CHECK_CONTAINS(r.draft, "rename \"aux.alpha.weight\" -> \"extra.left.kernel_x\"");
  wbr_match_result_free(&r);
  wbr_tensorset_free(s);
  wbr_tensorset_free(t);
  wbr_ctx_free(ctx);
}

/* wbr_match_result says why targets are undecided (a dtype, a depth mismatch) and lists the
 * decisions that rest on names or order alone (the REVIEW list), as the draft's header does. */
TEST(match_result_counts_dtype_depth_and_review) {
  wbr_ctx *ctx = NULL;
  CHECK_INT(wbr_ctx_new(&ctx, NULL, NULL), 0);
  /* the README's old manifest recipe: F32 written for an I64 counter */
  wbr_tensorset *s = NULL, *t = NULL;
  const int64_t c4[1] = {4};
  CHECK_INT(wbr_tensorset_new(&s, ctx), 0);
  CHECK_INT(wbr_tensorset_new(&t, ctx), 0);
  wbr_tensorset_add(s, "bn.weight", WBR_F32, 1, c4, NULL);
  wbr_tensorset_add(s, "bn.num_batches_tracked", WBR_I64, 0, NULL, NULL);
  wbr_tensorset_add(t, "bn.weight", WBR_F32, 1, c4, NULL);
  wbr_tensorset_add(t, "bn.num_batches_tracked", WBR_F32, 0, NULL, NULL);
  wbr_match_result r = WBR_MATCH_RESULT_INIT;
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), 0);
  CHECK(!r.complete);
  CHECK_INT(r.ndtype, 1);
  CHECK_INT(r.ndepth, 0);
  wbr_match_result_free(&r);
  wbr_tensorset_free(s);
  wbr_tensorset_free(t);
  /* three blocks against two: every block target is refused for the depth */
  CHECK_INT(wbr_tensorset_new(&s, ctx), 0);
  CHECK_INT(wbr_tensorset_new(&t, ctx), 0);
  const int64_t c32[1] = {32}, fc[2] = {32, 128};
  char name[64];
  for (int i = 0; i < 3; i++) {
    for (int side = 0; side < 2 && (side == 0 || i < 2); side++) {
      wbr_tensorset *x = side ? t : s;
      snprintf(name, sizeof name, "transformer.h.%d.ln_1.weight", i);
      wbr_tensorset_add(x, name, WBR_F32, 1, c32, NULL);
      snprintf(name, sizeof name, "transformer.h.%d.mlp.c_fc.weight", i);
      wbr_tensorset_add(x, name, WBR_F32, 2, fc, NULL);
    }
  }
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), 0);
  CHECK(!r.complete);
  CHECK_INT(r.ndepth, 4);
  CHECK_INT(r.ndtype, 0);
  CHECK_INT(r.nreview, 0);
  CHECK_CONTAINS(r.review, "REVIEW: no decision rests on names or order alone");
  wbr_match_result_free(&r);
  wbr_tensorset_free(s);
  wbr_tensorset_free(t);
  /* torchvision ViT -> timm by definition order: biases of one shape decided by order */
  CHECK_INT(wbr_tensorset_open(&s, ctx, "tests/fixtures/vit_tv_to_timm/a.json"), 0);
  CHECK_INT(wbr_tensorset_open(&t, ctx, "tests/fixtures/vit_tv_to_timm/b.json"), 0);
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), 0);
  CHECK(r.complete);
  /* how many rest on order alone changes as the matcher learns; the count must agree everywhere */
  CHECK(r.nreview > 0);
  char want[96];
  snprintf(want, sizeof want, "REVIEW: %zu decisions rest on names or order alone", (size_t)r.nreview);
  CHECK_CONTAINS(r.review, "checked: shapes, dtypes, names, structure, 7 index maps; not values\n");
  CHECK_CONTAINS(r.review, want);
  CHECK_CONTAINS(r.review, "  norm.bias from encoder.ln.bias  (definition order among ");
  CHECK_CONTAINS(r.draft, want);
  wbr_match_result_free(&r);
  CHECK(r.review == NULL);
  wbr_tensorset_free(s);
  wbr_tensorset_free(t);
  wbr_ctx_free(ctx);
}

/* A scanned source whose leading axis holds 3 blocks against a target of 2: every block target
 * is refused for the depth (stack.c), counted in ndepth like a family's depth mismatch. */
TEST(match_stack_depth_mismatch_counts) {
  wbr_ctx *ctx = NULL;
  test_diags dg = {0}; /* the depth mismatch is a warning, not an error */
  CHECK_INT(wbr_ctx_new(&ctx, test_on_diag, &dg), 0);
  wbr_tensorset *s = NULL, *t = NULL;
  CHECK_INT(wbr_tensorset_new(&s, ctx), 0);
  CHECK_INT(wbr_tensorset_new(&t, ctx), 0);
  const int64_t sc[2] = {3, 8}, sw[3] = {3, 16, 8}, c8[1] = {8}, w[2] = {16, 8};
  wbr_tensorset_add(s, "encoder/layers/norm/scale", WBR_F32, 2, sc, NULL);
  wbr_tensorset_add(s, "encoder/layers/mlp/weight", WBR_F32, 3, sw, NULL);
  char name[64];
  for (int i = 0; i < 2; i++) {
    snprintf(name, sizeof name, "layers.%d.norm.weight", i);
    wbr_tensorset_add(t, name, WBR_F32, 1, c8, NULL);
    snprintf(name, sizeof name, "layers.%d.mlp.weight", i);
    wbr_tensorset_add(t, name, WBR_F32, 2, w, NULL);
  }
  wbr_match_result r = WBR_MATCH_RESULT_INIT;
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), 0);
  CHECK(!r.complete);
  CHECK_INT(r.ndepth, 4);
  CHECK_CONTAINS(r.draft, "stack 3 blocks on their leading axis, the target has 2 in \"layers.\"");
  CHECK_INT(dg.n, 0);
  wbr_match_result_free(&r);
  wbr_tensorset_free(s);
  wbr_tensorset_free(t);
  wbr_ctx_free(ctx);
}

/* A version-1 result (a program built against the header before `json`) is filled and freed
 * without touching the bytes past its last field; a version-2 one carries the JSON. */
TEST(match_result_v1_untouched_past_its_fields_v2_has_json) {
  wbr_ctx *ctx = NULL;
  CHECK_INT(wbr_ctx_new(&ctx, NULL, NULL), 0);
  wbr_tensorset *s, *t;
  ambiguous_sets(ctx, &s, &t);
  union {
    wbr_match_result r;
    unsigned char b[sizeof(wbr_match_result)];
  } u;
  size_t v1 = offsetof(wbr_match_result, json);
  memset(&u, 0xA5, sizeof u);
  memset(&u, 0, v1);
  u.r.version = 1;
  CHECK_INT(wbr_match_run(&u.r, ctx, s, t, NULL), 0);
  CHECK_INT(u.r.nambiguous, 2);
  wbr_match_result_free(&u.r);
  bool kept = true;
  for (size_t i = v1; i < sizeof u; i++) kept &= u.b[i] == 0xA5;
  CHECK(kept);
  CHECK_INT(u.r.version, 1);
  wbr_match_result r = WBR_MATCH_RESULT_INIT;
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), 0);
  CHECK(r.json != NULL);
  CHECK_CONTAINS(r.json, "\"ambiguous\":2");
  CHECK_CONTAINS(r.json, "\"hint\":\"--hint 'aux.alpha.weight=extra.");
  CHECK_CONTAINS(r.json, "\"reason\":\"ambiguous\"");
  wbr_match_result_free(&r);
  CHECK(r.json == NULL);
  wbr_tensorset_free(s);
  wbr_tensorset_free(t);
  wbr_ctx_free(ctx);
}
