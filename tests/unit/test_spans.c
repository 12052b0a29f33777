/* test_spans.c — source positions travel with the program (issue 11): a compiled program owns
 * its text and each statement's span; a loaded .wbc has neither until the CLI attaches the .wbr
 * (checked against the recorded hash), and then plan diagnostics quote the same line and caret
 * as for the compiled program, with no file opened by the VM. The verifier names the first
 * instruction that uses a bad pool entry, so the emitter no longer falls back to 1:1. */
#include <stdlib.h>

#include "../../bytecode/program.h"
#include "harness.h"
#include "weightbridge.h"

static const char src[] = "weightbridge 1\n# a comment\ndrop \"nope\"\n  rename \"x\" -> \"y\"  # trail\n";

/* What a diagnostic showed: its position, source line and caret width. */
typedef struct seen {
  int n, line, col, span;
  char source_line[256];
} seen;

static void on_diag(void *ud, const struct wbr_diag *d) {
  seen *s = ud;
  if (d->severity != WBR_SEV_ERROR) return;
  s->n++;
  s->line = d->line;
  s->col = d->col;
  s->span = d->source_line ? d->span : 0;
  snprintf(s->source_line, sizeof s->source_line, "%s", d->source_line ? d->source_line : "(none)");
}

/* Plan p over one tensor "x" (so drop "nope" matches nothing and is reported). */
static seen plan_once(const wbr_program *p) {
  seen s = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, on_diag, &s);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, NULL);
  int64_t n = 2;
  CHECK_INT(wbr_tensorset_add(ts, "x", WBR_F32, 1, &n, NULL), 0);
  wbr_plan *plan = NULL;
  CHECK_INT(wbr_plan_new(&plan, ctx, p, ts, NULL), 0);
  wbr_plan_free(plan);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
  return s;
}

static wbr_program *compiled(void) {
  wbr_program *p = NULL;
  CHECK_INT(wbr_program_compile(&p, NULL, "not/on/disk.wbr", src, sizeof src - 1), 0);
  return p;
}

/* p serialized and loaded back: what `wbr plan RULES.wbc` starts from. */
static wbr_program *reloaded(const wbr_program *p) {
  void *b = NULL;
  size_t len = 0;
  CHECK_INT(wbr_program_serialize(p, NULL, &b, &len), 0);
  wbr_program *q = NULL;
  CHECK_INT(wbr_program_load_bytes(&q, NULL, "x.wbc", b, len), 0);
  wbr_free(b);
  return q;
}

TEST(spans_compiled_program_owns_text_and_statement_spans) {
  wbr_program *p = compiled();
  CHECK(p && p->text && p->spans);
  CHECK_INT(p->text_len, sizeof src - 1);
  CHECK(memcmp(p->text, src, sizeof src) == 0);
  CHECK_INT(wbr_program_ninsns(p), 2);
  /* [start, end) of each statement, trailing comment excluded */
  CHECK_INT(p->spans[0].start, 27);
  CHECK_INT(p->spans[0].end, 38);
  CHECK_INT(p->spans[1].start, 41);
  CHECK_INT(p->spans[1].end, 58);
  int caret = 0;
  char *line = wbr_program_quote(p, 1, &caret);
  CHECK_STR(line, "  rename \"x\" -> \"y\"  # trail");
  CHECK_INT(caret, 6);
  free(line);
  /* compiled from memory under a name that is no file: the VM quotes from the program */
  seen s = plan_once(p);
  CHECK_INT(s.n, 1);
  CHECK_INT(s.line, 3);
  CHECK_INT(s.col, 1);
  CHECK_STR(s.source_line, "drop \"nope\"");
  CHECK_INT(s.span, 4);
  wbr_program_free(p);
}

TEST(spans_loaded_wbc_quotes_only_the_attached_matching_text) {
  wbr_program *p = compiled();
  wbr_program *q = reloaded(p);
  CHECK(q && !q->text && !q->spans);
  CHECK_STR(wbr_program_source_name(q), "not/on/disk.wbr");
  int caret = 0;
  CHECK(wbr_program_quote(q, 0, &caret) == NULL);
  CHECK_STR(plan_once(q).source_line, "(none)");
  /* another text (one byte differs) is refused and changes nothing */
  char other[sizeof src];
  memcpy(other, src, sizeof src);
  other[30] = 'X';
  CHECK_INT(wbr_program_attach_source(q, other, sizeof src - 1), WBR_ERULES);
  CHECK(!q->text);
  CHECK_INT(wbr_program_attach_source(q, NULL, 5), WBR_EUSAGE);
  /* the right text: same quotes as the compiled program; a .wbc knows only where statements start */
  CHECK_INT(wbr_program_attach_source(q, src, sizeof src - 1), 0);
  CHECK(q->text && q->spans);
  for (uint32_t i = 0; i < 2; i++) {
    CHECK_INT(q->spans[i].start, p->spans[i].start);
    CHECK_INT(q->spans[i].end, q->spans[i].start);
  }
  seen a = plan_once(p), b = plan_once(q);
  CHECK_INT(b.n, 1);
  CHECK_INT(b.line, a.line);
  CHECK_INT(b.col, a.col);
  CHECK_INT(b.span, a.span);
  CHECK_STR(b.source_line, a.source_line);
  /* attaching again is harmless */
  CHECK_INT(wbr_program_attach_source(q, src, sizeof src - 1), 0);
  wbr_program_free(q);
  wbr_program_free(p);
}

TEST(spans_positions_outside_the_text_quote_nothing) {
  /* line:col as an untrusted .wbc may give them: past the last line, past a line's end, and
   * after a NUL (a diagnostic reads the text up to its first NUL) */
  static const char text[] = "weightbridge 1\ndrop \"a\"\n\0drop \"b\"\n";
  wbr_program *p;
  CHECK_INT(wbr_program_new(&p), 0);
  uint32_t g = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "a", 1);
  wbr_insn in = {WBR_OP_DROP, 0, 0, g, 0, 0};
  const wbr_pos at[] = {{2, 1}, {2, 8}, {2, 9}, {9, 1}, {4, 1}};
  for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
    CHECK(wbr_program_add_insn(p, in, at[i].line, at[i].col) == (int64_t)i);
  wbr_program_finish(p);
  wbr_program_set_source(p, "r.wbr", wbr_hash(text, sizeof text - 1), 1);
  CHECK_INT(wbr_program_attach_source(p, text, sizeof text - 1), 0);
  int caret = 0;
  char *line = wbr_program_quote(p, 0, &caret);
  CHECK_STR(line, "drop \"a\"");
  CHECK_INT(caret, 4);
  free(line);
  line = wbr_program_quote(p, 1, &caret); /* the last character of the line */
  CHECK_STR(line, "drop \"a\"");
  CHECK_INT(caret, 1);
  free(line);
  for (uint32_t i = 2; i < 5; i++) {
    CHECK_INT(p->spans[i].start, WBR_NO_SPAN);
    CHECK(wbr_program_quote(p, i, &caret) == NULL);
  }
  wbr_program_free(p);
}

TEST(spans_attach_reaches_every_line_of_a_long_text) {
  /* 20,000 statements on 20,000 lines, the last without a newline: each position is found from
   * a line index (a scan per statement would be quadratic in what a hostile .wbc can give) */
  enum { N = 20000 };
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_puts(&b, "weightbridge 1");
  for (int i = 0; i < N; i++) wbr_buf_printf(&b, "\n  drop \"t%d\"", i);
  wbr_program *p;
  CHECK_INT(wbr_program_new(&p), 0);
  uint32_t g = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "a", 1);
  wbr_insn in = {WBR_OP_DROP, 0, 0, g, 0, 0};
  for (uint32_t i = 0; i < N; i++) wbr_program_add_insn(p, in, N + 1 - i, 3);
  wbr_program_finish(p);
  wbr_program_set_source(p, "r.wbr", wbr_hash(b.p, b.len), 1);
  CHECK_INT(wbr_program_attach_source(p, b.p, b.len), 0);
  int caret = 0;
  char *line = wbr_program_quote(p, 0, &caret);
  CHECK_STR(line, "  drop \"t19999\"");
  CHECK_INT(caret, 4);
  CHECK_INT(p->spans[0].start, b.len - 13);
  free(line);
  line = wbr_program_quote(p, N - 1, &caret);
  CHECK_STR(line, "  drop \"t0\"");
  free(line);
  wbr_buf_free(&b);
  wbr_program_free(p);
}

/* A program whose pattern 1 (a regex that does not compile) and string 2 (with a NUL) are bad;
 * with use_them, instruction 1 at 3:1 matches the regex and instruction 2 at 4:5 renames to the
 * string. */
static wbr_program *bad_pools(bool use_them) {
  wbr_program *p;
  CHECK_INT(wbr_program_new(&p), 0);
  uint32_t g = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "a", 1);
  uint32_t rx = (uint32_t)wbr_program_add_pattern(p, WBR_PK_REGEX, 0, "x(", 2);
  uint32_t nul = (uint32_t)wbr_program_add_str(p, "y\0z", 3);
  wbr_insn code[] = {{WBR_OP_DROP, 0, 0, g, 0, 0},
                     {WBR_OP_DROP, 0, 0, use_them ? rx : g, 0, 0},
                     {WBR_OP_RENAME, 0, 0, g, use_them ? nul : 0, 0}};
  wbr_pos at[] = {{2, 1}, {3, 1}, {4, 5}};
  for (int i = 0; i < 3; i++) wbr_program_add_insn(p, code[i], at[i].line, at[i].col);
  wbr_program_finish(p);
  return p;
}

TEST(spans_verify_names_first_instruction_using_a_bad_pool_entry) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_program *p = bad_pools(true);
  int64_t bad = -7;
  CHECK_INT(wbr_program_verify(p, ctx, "f", 0, &bad), WBR_EBYTECODE);
  CHECK_STR(g.last, "instruction 2 (rename), line 4:5: string 2: NUL byte at offset 1 of a string");
  CHECK_INT(bad, 2);
  p->str_len[2] = 1; /* "y": the string is fine now, the regex is next */
  CHECK_INT(wbr_program_verify(p, ctx, "f", 100, &bad), WBR_EBYTECODE);
  CHECK_STR(g.last, "instruction 1 at byte 116 (drop), line 3:1: pattern 1: regex /x(/ at offset 2: "
                    "invalid regex: missing closing parenthesis");
  CHECK_INT(bad, 1);
  wbr_program_free(p);
  /* an entry no instruction uses has no position to give */
  p = bad_pools(false);
  CHECK_INT(wbr_program_verify(p, ctx, "f", 0, &bad), WBR_EBYTECODE);
  CHECK_STR(g.last, "string 2: NUL byte at offset 1 of a string");
  CHECK_INT(bad, -1);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
}
