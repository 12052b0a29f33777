/* test_emit.c — the emitter on hand-built ASTs (no parser involved): one instruction per
 * statement with the right opcode, operands, flags and source position; deduplicated pools;
 * regex flag bits; errors for what the bytecode cannot hold, reported at the statement; and an
 * emitted program that survives serialize -> load with the same disassembly. */
#include <stdarg.h>
#include <stdlib.h>

#include "../../compiler/emit.h"
#include "harness.h"

/* The source the spans point into: one statement per line (the text is only used for
 * positions; the AST below is what gets emitted). */
static const char src[] =
    "weightbridge 1\n"
    "rename \"a.*\" -> \"b.*\"\n"
    "  optional drop \"a.*\"\n"
    "split \"qkv.{i}\" axis 0 sizes [2, -1] -> \"q.{i}\", \"k.{i}\"\n"
    "concat \"q.{i}\", \"k.{i}\" axis -1 -> \"qk.{i}\"\n"
    "expect /^x(\\d)$/ix count 3\n"
    "select \"w\" axis 1 index -2 -> \"w0\"\n"
    "slice \"w\" axis 0 range 1:3 -> \"w13\"\n"
    "unstack \"w\" axis 0 -> \"w.{#}\"\n"
    "cast \"*\" bf16\n"
    "hint \"a\" = \"b\"\n"
    "expect \"*\" shape [-1, 4]\n"
    "expect \"*\" dtype f16\n"
    "reshape \"*.gamma\" [-1]\n"
    "permute \"p\" (1, 0)\n"
    "transpose \"t\"\n";

static wbr_span line_span(int line) {
  const char *p = src;
  for (int l = 1; l < line; l++) p = strchr(p, '\n') + 1;
  while (*p == ' ') p++;
  return (wbr_span){(uint32_t)(p - src), (uint32_t)(strchr(p, '\n') - src)};
}

static wbr_ast_pat glob(const char *t) { return (wbr_ast_pat){.kind = WBR_PK_GLOB, .text = (char *)t}; }

typedef struct file {
  wbr_ast_file f;
  wbr_ast_stmt s[16];
  wbr_ast_pat pats[40];
  int np;
  int64_t ints[40];
  int ni;
} file;

static wbr_ast_pat *pats(file *fx, int n, ...) {
  va_list ap;
  va_start(ap, n);
  wbr_ast_pat *first = &fx->pats[fx->np];
  for (int i = 0; i < n; i++) fx->pats[fx->np++] = va_arg(ap, wbr_ast_pat);
  va_end(ap);
  return first;
}

static wbr_ast_ints ints(file *fx, int n, ...) {
  va_list ap;
  va_start(ap, n);
  wbr_ast_ints l = {.v = &fx->ints[fx->ni], .n = (size_t)n};
  for (int i = 0; i < n; i++) fx->ints[fx->ni++] = va_arg(ap, int64_t);
  va_end(ap);
  return l;
}

/* The AST of src, built by hand. */
static void build(file *fx) {
  memset(fx, 0, sizeof *fx);
  wbr_ast_stmt *s = fx->s;
  int k = 0;
  s[k] = (wbr_ast_stmt){.kind = WBR_STMT_RENAME, .in = pats(fx, 1, glob("a.*")), .nin = 1,
                        .out = pats(fx, 1, glob("b.*")), .nout = 1};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_DROP, .optional = true, .in = pats(fx, 1, glob("a.*")), .nin = 1};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_SPLIT, .in = pats(fx, 1, glob("qkv.{i}")), .nin = 1,
                          .out = pats(fx, 2, glob("q.{i}"), glob("k.{i}")), .nout = 2,
                          .ints = ints(fx, 2, (int64_t)2, (int64_t)-1), .has_ints = true,
                          .axis = 0, .has_axis = true};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_CONCAT, .in = pats(fx, 2, glob("q.{i}"), glob("k.{i}")),
                          .nin = 2, .out = pats(fx, 1, glob("qk.{i}")), .nout = 1, .axis = -1,
                          .has_axis = true};
  wbr_ast_pat rx = {.kind = WBR_PK_REGEX, .text = "^x(\\d)$", .flags = WBR_RX_CASELESS | WBR_RX_EXTENDED};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_EXPECT, .in = pats(fx, 1, rx), .nin = 1,
                          .expect = WBR_EXPECT_COUNT, .count = 3};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_SELECT, .in = pats(fx, 1, glob("w")), .nin = 1,
                          .out = pats(fx, 1, glob("w0")), .nout = 1, .axis = 1, .has_axis = true,
                          .index = -2};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_SLICE, .in = pats(fx, 1, glob("w")), .nin = 1,
                          .out = pats(fx, 1, glob("w13")), .nout = 1, .axis = 0, .has_axis = true,
                          .index = 1, .end = 3};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_UNSTACK, .in = pats(fx, 1, glob("w")), .nin = 1,
                          .out = pats(fx, 1, glob("w.{#}")), .nout = 1, .has_axis = true};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_CAST, .in = pats(fx, 1, glob("*")), .nin = 1, .dtype = WBR_BF16};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_HINT, .in = pats(fx, 2, glob("a"), glob("b")), .nin = 2};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_EXPECT, .in = pats(fx, 1, glob("*")), .nin = 1,
                          .expect = WBR_EXPECT_SHAPE, .ints = ints(fx, 2, (int64_t)-1, (int64_t)4),
                          .has_ints = true};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_EXPECT, .in = pats(fx, 1, glob("*")), .nin = 1,
                          .expect = WBR_EXPECT_DTYPE, .dtype = WBR_F16};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_RESHAPE, .in = pats(fx, 1, glob("*.gamma")), .nin = 1,
                          .ints = ints(fx, 1, (int64_t)-1), .has_ints = true};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_PERMUTE, .in = pats(fx, 1, glob("p")), .nin = 1,
                          .ints = ints(fx, 2, (int64_t)1, (int64_t)0), .has_ints = true};
  s[++k] = (wbr_ast_stmt){.kind = WBR_STMT_TRANSPOSE, .in = pats(fx, 1, glob("t")), .nin = 1};
  k++;
  for (int i = 0; i < k; i++) s[i].span = line_span(i + 2);
  fx->f = (wbr_ast_file){.name = "rules/t.wbr", .src = src, .len = sizeof src - 1, .version = 1,
                         .stmts = s, .nstmts = (size_t)k};
}

static const char *str_of(const wbr_program *p, uint32_t i) { return wbr_program_str(p, i); }
static const char *pat_of(const wbr_program *p, uint32_t i) {
  return wbr_program_str(p, wbr_program_pattern(p, i)->text);
}
static int64_t int_of(const wbr_program *p, uint32_t list, uint32_t k, uint32_t *n) {
  return wbr_program_ints(p, list, n)[k];
}

TEST(emit_one_instruction_per_statement) {
  file fx;
  build(&fx);
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_program *p = NULL;
  CHECK_INT(wbr_emit(&p, ctx, &fx.f), 0);
  CHECK_STR(wbr_ctx_last_error(ctx), "");
  if (!p) return;
  CHECK_INT(wbr_program_ninsns(p), fx.f.nstmts);
  CHECK_STR(wbr_program_source(p), "rules/t.wbr");
  CHECK(wbr_program_hash(p) == wbr_hash(src, sizeof src - 1));
  static const wbr_opcode want[] = {WBR_OP_RENAME, WBR_OP_DROP, WBR_OP_SPLIT, WBR_OP_CONCAT,
                                    WBR_OP_EXPECT_COUNT, WBR_OP_SELECT, WBR_OP_SLICE,
                                    WBR_OP_UNSTACK, WBR_OP_CAST, WBR_OP_HINT,
                                    WBR_OP_EXPECT_SHAPE, WBR_OP_EXPECT_DTYPE, WBR_OP_RESHAPE,
                                    WBR_OP_PERMUTE, WBR_OP_TRANSPOSE};
  for (uint32_t i = 0; i < wbr_program_ninsns(p); i++) {
    CHECK_INT(wbr_program_insn(p, i)->op, want[i]);
    CHECK_INT(wbr_program_pos(p, i).line, i + 2);
  }
  const wbr_insn *in = wbr_program_insn(p, 0);
  CHECK_STR(pat_of(p, in->a), "a.*");
  CHECK_STR(str_of(p, in->b), "b.*");
  CHECK_INT(in->flags, 0);
  CHECK_INT(wbr_program_pos(p, 0).col, 1);
  /* optional drop, indented by two: column 3; the pattern is shared with the rename. */
  in = wbr_program_insn(p, 1);
  CHECK_INT(in->flags, WBR_INSN_OPTIONAL);
  CHECK_INT(in->a, wbr_program_insn(p, 0)->a);
  CHECK_INT(wbr_program_pos(p, 1).col, 3);
  uint32_t n;
  in = wbr_program_insn(p, 2);
  const uint32_t *outs = wbr_program_refs(p, in->b, &n);
  CHECK_INT(n, 2);
  CHECK_STR(str_of(p, outs[0]), "q.{i}");
  CHECK_STR(str_of(p, outs[1]), "k.{i}");
  CHECK_INT(int_of(p, in->c, 1, &n), -1);
  CHECK_INT(n, 2);
  in = wbr_program_insn(p, 3);
  CHECK_INT(in->x, -1);
  const uint32_t *ins = wbr_program_refs(p, in->a, &n);
  CHECK_INT(n, 2);
  CHECK_STR(pat_of(p, ins[0]), "q.{i}");
  CHECK_STR(str_of(p, in->b), "qk.{i}");
  in = wbr_program_insn(p, 4);
  CHECK_INT(wbr_program_pattern(p, in->a)->kind, WBR_PK_REGEX);
  CHECK_INT(wbr_program_pattern(p, in->a)->flags, WBR_RX_CASELESS | WBR_RX_EXTENDED);
  CHECK_INT(in->b, 3);
  in = wbr_program_insn(p, 5);
  CHECK_INT(in->x, 1);
  CHECK_INT(int_of(p, in->c, 0, &n), -2);
  CHECK_INT(n, 1);
  in = wbr_program_insn(p, 6);
  CHECK_INT(int_of(p, in->c, 1, &n), 3);
  CHECK_INT(n, 2);
  CHECK_INT(wbr_program_insn(p, 8)->x, WBR_BF16);
  CHECK_STR(pat_of(p, wbr_program_insn(p, 9)->b), "b");
  CHECK_INT(wbr_program_insn(p, 11)->x, WBR_F16);
  /* "[-1]" of the reshape is the same list as split's? No: [2, -1] vs [-1]; but expect shape
   * [-1, 4] and reshape [-1] are distinct too. Equal lists share one entry: */
  CHECK_INT(p->nints, 6);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
}

TEST(emit_roundtrips_through_wbc) {
  file fx;
  build(&fx);
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_program *p = NULL, *q = NULL;
  CHECK_INT(wbr_emit(&p, ctx, &fx.f), 0);
  void *bytes = NULL;
  size_t len = 0;
  if (p) CHECK_INT(wbr_program_serialize(p, ctx, &bytes, &len), 0);
  CHECK_INT(wbr_program_load_bytes(&q, ctx, "t.wbc", bytes, len), 0);
  char *a = p ? wbr_program_disasm(p) : NULL, *b = q ? wbr_program_disasm(q) : NULL;
  CHECK(a && b && strcmp(a, b) == 0);
  CHECK_CONTAINS(a, "\n2     4:1       split              \"qkv.{i}\" axis 0 sizes [2, -1] -> \"q.{i}\", \"k.{i}\"");
  CHECK_CONTAINS(a, "; fail unless exactly 3 tensors match regex /^x(\\d)$/ix\n");
  CHECK_CONTAINS(a, "; drop every tensor matching glob \"a.*\"; may match nothing\n");
  free(a);
  free(b);
  free(bytes);
  wbr_program_free(p);
  wbr_program_free(q);
  wbr_ctx_free(ctx);
}

typedef struct seen {
  int n, line, col;
  char msg[512];
  char help[256];
} seen;

static void record(void *ud, const wbr_diag *d) {
  seen *s = ud;
  if (d->severity != WBR_SEV_ERROR) return;
  s->n++;
  s->line = d->line;
  s->col = d->col;
  snprintf(s->msg, sizeof s->msg, "%s", d->message);
  snprintf(s->help, sizeof s->help, "%s", d->help ? d->help : "");
}

TEST(emit_reports_invalid_bytecode_at_the_statement) {
  /* A template the checker should have refused: {j} is not bound by the pattern. */
  file fx;
  build(&fx);
  fx.s[3].out = pats(&fx, 1, glob("qk.{j}"));
  seen s = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, record, &s);
  wbr_program *p = NULL;
  CHECK_INT(wbr_emit(&p, ctx, &fx.f), WBR_EINTERNAL);
  CHECK(p == NULL);
  CHECK_INT(s.n, 1);
  CHECK_INT(s.line, 5);
  CHECK_INT(s.col, 1);
  CHECK_STR(s.msg, "internal error: the statement compiles to invalid bytecode: instruction 3 "
                   "(concat): operand b: template \"qk.{j}\" at offset 3: capture '{j}' is not bound "
                   "by the pattern");
  CHECK_STR(s.help, "this is a bug in weightbridge: please report it with the rule file");
  wbr_ctx_free(ctx);
}

TEST(emit_rejects_values_the_bytecode_cannot_hold) {
  file fx;
  build(&fx);
  fx.s[4].count = 5000000000ll;
  fx.s[5].axis = 40;
  fx.s[0].in[0].flags = 0x40; /* a glob: flags are ignored */
  wbr_ast_pat rx = {.kind = WBR_PK_REGEX, .text = "a", .flags = WBR_RX_CASELESS | 0x40};
  fx.s[1].in = pats(&fx, 1, rx);
  seen s = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, record, &s);
  wbr_program *p = NULL;
  CHECK_INT(wbr_emit(&p, ctx, &fx.f), WBR_ERULES);
  CHECK(p == NULL);
  CHECK_INT(s.n, 3); /* every problem, not just the first */
  CHECK_INT(s.line, 7);
  CHECK_STR(s.msg, "axis 40 is out of range (tensors have at most 8 axes)");
  wbr_ctx_free(ctx);
  s = (seen){0};
  build(&fx);
  fx.s[4].count = 5000000000ll;
  wbr_ctx_new(&ctx, record, &s);
  CHECK_INT(wbr_emit(&p, ctx, &fx.f), WBR_ERULES);
  CHECK_STR(s.msg, "count 5000000000 is out of range (0 to 4294967295)");
  CHECK_INT(s.line, 6);
  wbr_ctx_free(ctx);
}

TEST(emit_empty_file_is_an_empty_program) {
  wbr_ast_file f = {.name = "e.wbr", .src = "weightbridge 1\n", .len = 15, .version = 1};
  wbr_program *p = NULL;
  CHECK_INT(wbr_emit(&p, NULL, &f), 0);
  CHECK(p && wbr_program_ninsns(p) == 0);
  char *d = p ? wbr_program_disasm(p) : NULL;
  CHECK_CONTAINS(d, "; 0 instructions; pools: 0 strings, 0 patterns, 0 int lists, 0 ref lists\n");
  free(d);
  wbr_program_free(p);
}
