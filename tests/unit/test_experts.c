/* test_experts.c — the experts forms (stack/concat ... over NAME, split ... parts K, transpose of
 * each part) built as ASTs by hand, as the matcher's drafts build them: fmt prints the canonical
 * text, the emitter makes the stack_over / concat_over / split_parts instruction with the capture
 * name, the count and the TRANSPOSE flag, and the program verifies. */
#include <stdlib.h>

#include "../../compiler/emit.h"
#include "../../compiler/frontend.h"
#include "harness.h"

static wbr_ast_pat g(const char *t) { return (wbr_ast_pat){.kind = WBR_PK_GLOB, .text = (char *)t}; }

static const char src[] = "weightbridge 1\nx\ny\nz\n";

TEST(experts_hand_built_ast_fmt_and_emit) {
  wbr_ast_pat in[3] = {g("l.{i}.experts.{e}.w2"), g("l.{i}.experts.w2"), g("l.{i}.experts.w3")};
  wbr_ast_pat out[3] = {g("l.{i}.experts.w2"), g("l.{i}.experts.{#}.w2"), g("l.{i}.experts.{#}.w3")};
  wbr_ast_stmt s[3] = {
      {.kind = WBR_STMT_CONCAT, .in = &in[0], .nin = 1, .out = &out[0], .nout = 1, .over = "e",
       .has_axis = true, .transpose = true},
      {.kind = WBR_STMT_SPLIT, .in = &in[1], .nin = 1, .out = &out[1], .nout = 1, .has_axis = true,
       .has_parts = true, .parts = {8, NULL, {0, 0}}, .transpose = true},
      {.kind = WBR_STMT_UNSTACK, .in = &in[2], .nin = 1, .out = &out[2], .nout = 1, .axis = 0,
       .has_axis = true, .transpose = true},
  };
  static const char *const want[] = {
      "concat \"l.{i}.experts.{e}.w2\" over e transpose -> \"l.{i}.experts.w2\"",
      "split \"l.{i}.experts.w2\" axis 0 parts 8 transpose -> \"l.{i}.experts.{#}.w2\"",
      "unstack \"l.{i}.experts.w3\" axis 0 transpose -> \"l.{i}.experts.{#}.w3\""};
  for (int i = 0; i < 3; i++) {
    wbr_buf b;
    wbr_buf_init(&b);
    wbr_fmt_stmt(&s[i], &b);
    CHECK_STR(b.p ? b.p : "", want[i]);
    wbr_buf_free(&b);
    s[i].span = (wbr_span){15 + 2 * (uint32_t)i, 16 + 2 * (uint32_t)i};
  }
  wbr_ast_file f = {.name = "t.wbr", .src = src, .len = sizeof src - 1, .version = 1, .stmts = s, .nstmts = 3};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_program *p = NULL;
  CHECK_INT(wbr_emit(&p, ctx, &f), 0);
  CHECK_STR(wbr_ctx_last_error(ctx), "");
  if (p) {
    const wbr_insn *a = wbr_program_insn(p, 0), *b = wbr_program_insn(p, 1), *c = wbr_program_insn(p, 2);
    CHECK_INT(a->op, WBR_OP_CONCAT_OVER);
    CHECK_INT(a->flags, WBR_INSN_TRANSPOSE);
    CHECK_STR(wbr_program_str(p, a->c), "e");
    CHECK_INT(b->op, WBR_OP_SPLIT_PARTS);
    uint32_t n;
    CHECK_INT(wbr_program_ints(p, b->c, &n)[0], 8);
    CHECK_INT(c->op, WBR_OP_UNSTACK);
    CHECK_INT(c->flags, WBR_INSN_TRANSPOSE);
  }
  wbr_program_free(p);
  wbr_ctx_free(ctx);
}
