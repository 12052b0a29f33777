/* test_parse.c — the .wbr parser through its internal API: AST fields, spans mapped to
 * line:col, several syntax errors reported in one run, comments attached to statements. */
#include <stdlib.h>

#include "compiler/frontend.h"
#include "harness.h"

typedef struct seen {
  int n;
  int line[16], col[16], span[16];
  wbr_severity sev[16];
  char msg[16][256];
} seen;

static void collect(void *ud, const wbr_diag *d) {
  seen *s = ud;
  if (s->n >= 16) return;
  s->line[s->n] = d->line;
  s->col[s->n] = d->col;
  s->span[s->n] = d->span;
  s->sev[s->n] = d->severity;
  snprintf(s->msg[s->n], sizeof s->msg[0], "%s", d->message);
  s->n++;
}

static wbr_ast_file *parse_only(const char *src, seen *s, bool check) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, collect, s);
  wbr_ast_file *f = NULL;
  int rc = wbr_parse(&f, ctx, "t.wbr", src, strlen(src));
  if (rc == 0 && check) rc = wbr_check(f, ctx);
  wbr_ctx_free(ctx);
  if (rc != 0) {
    wbr_ast_free(f);
    return NULL;
  }
  return f;
}

static wbr_ast_file *parse_ok(const char *src, seen *s) { return parse_only(src, s, true); }

TEST(parse_split_fields) {
  seen s = {0};
  const char *src = "weightbridge 1\n"
                    "optional split \"blocks.{i}.qkv\" axis -1 sizes [16, +016, 32] -> \"q.{i}\",\n"
                    "   \"k.{i}\", \"v.{i}\"\n";
  wbr_ast_file *f = parse_ok(src, &s);
  CHECK(f != NULL);
  CHECK_INT(s.n, 0);
  if (!f) return;
  CHECK_INT(f->version, 1);
  CHECK_INT(f->nstmts, 1);
  const wbr_ast_stmt *st = &f->stmts[0];
  CHECK_INT(st->kind, WBR_STMT_SPLIT);
  CHECK(st->optional);
  CHECK_INT(st->nin, 1);
  CHECK_STR(st->in[0].text, "blocks.{i}.qkv");
  CHECK_INT(st->nout, 3);
  CHECK_STR(st->out[2].text, "v.{i}");
  CHECK(st->has_axis);
  CHECK_INT(st->axis, -1);
  CHECK(st->has_ints);
  CHECK_INT(st->ints.n, 3);
  CHECK_INT(st->ints.v[1], 16);
  int line, col;
  wbr_span_linecol(f, st->kw_span.start, &line, &col);
  CHECK_INT(line, 2);
  CHECK_INT(col, 10);
  wbr_span_linecol(f, st->out[2].span.start, &line, &col);
  CHECK_INT(line, 3);
  CHECK_INT(col, 13);
  wbr_span_linecol(f, st->ints.spans[2].start, &line, &col);
  CHECK_INT(col, 58);
  /* the statement's span covers 'optional' to the last template */
  CHECK_INT(st->span.start, 15);
  CHECK_INT(st->span.end, (uint32_t)strlen(src) - 1);
  wbr_ast_free(f);
}

TEST(parse_string_and_regex_text) {
  seen s = {0};
  wbr_ast_file *f = parse_only("weightbridge 1\n"
                             "rename \"a\\\"b\\*{x}\" -> \"c\\\\{x}\"\n"
                             "rename /^h\\.(\\d+)\\/x/xi -> \"blocks.$1\"\n"
                             "cast \"*\" BF16\n"
                             "expect \"*\" count 007\n"
                             "reshape \"r\" [-9223372036854775808, 9223372036854775807]\n",
                             &s, false);
  CHECK(f != NULL);
  if (!f) return;
  CHECK_STR(f->stmts[0].in[0].text, "a\"b\\*{x}");
  CHECK_STR(f->stmts[0].out[0].text, "c\\\\{x}");
  CHECK_INT(f->stmts[1].in[0].kind, WBR_PK_REGEX);
  CHECK_STR(f->stmts[1].in[0].text, "^h\\.(\\d+)\\/x");
  CHECK_INT(f->stmts[1].in[0].flags, WBR_RX_CASELESS | WBR_RX_EXTENDED);
  CHECK_INT(f->stmts[2].dtype, WBR_BF16);
  CHECK_INT(f->stmts[3].expect, WBR_EXPECT_COUNT);
  CHECK_INT(f->stmts[3].count, 7);
  CHECK(f->stmts[4].ints.v[0] == INT64_MIN);
  CHECK(f->stmts[4].ints.v[1] == INT64_MAX);
  wbr_ast_free(f);
}

TEST(parse_reports_every_bad_line) {
  seen s = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, collect, &s);
  const char *src = "weightbridge 1\n"
                    "rename \"a\" \"b\"\n"
                    "drop \"ok\"\n"
                    "reshape \"x\" 3\n"
                    "frob \"y\"\n"
                    "permute \"z\" (1, 0\n";
  wbr_ast_file *f = (wbr_ast_file *)1;
  int rc = wbr_parse(&f, ctx, "t.wbr", src, strlen(src));
  CHECK_INT(rc, WBR_ERULES);
  CHECK(f == NULL);
  CHECK_INT(s.n, 4);
  CHECK_INT(s.line[0], 2);
  CHECK_INT(s.col[0], 12);
  CHECK_INT(s.span[0], 3);
  CHECK_INT(s.line[1], 4);
  CHECK_INT(s.line[2], 5);
  CHECK_CONTAINS(s.msg[2], "unknown statement 'frob'; did you mean 'drop'?");
  CHECK_INT(s.line[3], 6);
  CHECK_CONTAINS(s.msg[3], "expected ',' or ')'");
  CHECK_INT(wbr_ctx_error_count(ctx), 4);
  wbr_ctx_free(ctx);
}

TEST(parse_partial_keeps_good_statements) {
  seen s = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, collect, &s);
  const char *src = "weightbridge 1\ndrop \"a\"\ndrop\ndrop \"b\"\n";
  wbr_ast_file *f = NULL;
  CHECK_INT(wbr_parse_partial(&f, ctx, "t.wbr", src, strlen(src)), WBR_ERULES);
  CHECK(f != NULL);
  if (f) {
    CHECK_INT(f->nstmts, 2);
    CHECK_STR(f->stmts[1].in[0].text, "b");
  }
  wbr_ast_free(f);
  wbr_ctx_free(ctx);
}

TEST(parse_missing_header_at_1_1) {
  seen s = {0};
  CHECK(parse_ok("# only a comment\ndrop \"x\"\n", &s) == NULL);
  CHECK_INT(s.n, 1);
  CHECK_INT(s.line[0], 1);
  CHECK_INT(s.col[0], 1);
  CHECK_CONTAINS(s.msg[0], "missing the header 'weightbridge 1'");
  seen s2 = {0};
  CHECK(parse_ok("weightbridge 3\n", &s2) == NULL);
  CHECK_CONTAINS(s2.msg[0], "unsupported language version 3, this wbr reads version 1");
  CHECK_INT(s2.col[0], 14);
}

TEST(parse_comments_attach) {
  seen s = {0};
  wbr_ast_file *f = parse_ok("# head\n"
                             "weightbridge 1  # v\n"
                             "\n"
                             "# lead 1\n"
                             "\n"
                             "# lead 2\n"
                             "\n"
                             "drop \"a\"  # trail a\n"
                             "drop \"b\"\n"
                             "\n"
                             "# tail\n",
                             &s);
  CHECK(f != NULL);
  if (!f) return;
  CHECK_INT(f->nhead, 1);
  CHECK_STR(f->head[0].text, "# head");
  CHECK(f->version_trail != NULL);
  if (f->version_trail) CHECK_STR(f->version_trail->text, "# v");
  CHECK_INT(f->nstmts, 2);
  CHECK_INT(f->stmts[0].nlead, 2);
  CHECK_STR(f->stmts[0].lead[1].text, "# lead 2");
  CHECK(f->stmts[0].lead[1].blank_before);
  CHECK(f->stmts[0].blank_before);
  CHECK(f->stmts[0].blank_after_lead);
  CHECK(f->stmts[0].trail != NULL);
  if (f->stmts[0].trail) CHECK_STR(f->stmts[0].trail->text, "# trail a");
  CHECK(!f->stmts[1].blank_before);
  CHECK(f->stmts[1].trail == NULL);
  CHECK_INT(f->ntail, 1);
  CHECK(f->tail[0].blank_before);
  wbr_ast_free(f);
}

TEST(check_reports_every_problem) {
  seen s = {0};
  const char *src = "weightbridge 1\n"
                    "permute \"x\" (0, 2)\n"
                    "rename \"a.{i}\" -> \"b.{j}\"\n"
                    "rename /(a)/ -> \"$2\"\n"
                    "drop \"k\"\n"
                    "drop \"k\"\n";
  CHECK(parse_ok(src, &s) == NULL);
  CHECK_INT(s.n, 5); /* 4 errors and the note of the duplicate */
  CHECK_INT(s.line[0], 2);
  CHECK_INT(s.col[0], 17);
  CHECK_INT(s.line[1], 3);
  CHECK_INT(s.col[1], 22);
  CHECK_CONTAINS(s.msg[2], "regex has 1 group");
  CHECK_INT(s.line[3], 6);
  CHECK_INT(s.sev[4], WBR_SEV_NOTE);
  CHECK_INT(s.line[4], 5);
}

TEST(builders_make_checkable_ast) {
  wbr_ast_file *f = wbr_ast_new("draft.wbr");
  CHECK(f != NULL);
  if (!f) return;
  wbr_ast_stmt *st = wbr_ast_add_stmt(f, WBR_STMT_RENAME);
  st->in = wbr_ast_alloc(f, sizeof *st->in);
  st->in->text = wbr_ast_strdup(f, "a.{i}");
  st->nin = 1;
  st->out = wbr_ast_alloc(f, sizeof *st->out);
  st->out->text = wbr_ast_strdup(f, "b.{i}");
  st->nout = 1;
  for (int i = 0; i < 40; i++) {
    wbr_ast_stmt *d = wbr_ast_add_stmt(f, WBR_STMT_DROP);
    d->in = wbr_ast_alloc(f, sizeof *d->in);
    char name[32];
    snprintf(name, sizeof name, "x%d", i);
    d->in->text = wbr_ast_strdup(f, name);
    d->nin = 1;
  }
  seen s = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, collect, &s);
  CHECK_INT(wbr_check(f, ctx), 0);
  CHECK_INT(s.n, 0);
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_fmt_ast(f, &b);
  CHECK(b.p && strncmp(b.p, "weightbridge 1\nrename \"a.{i}\" -> \"b.{i}\"\ndrop \"x0\"\n", 50) == 0);
  wbr_buf_free(&b);
  CHECK_STR(wbr_stmt_keyword(WBR_STMT_UNSTACK), "unstack");
  CHECK_STR(wbr_stmt_keyword(WBR_STMT_COUNT), "?");
  wbr_ctx_free(ctx);
  wbr_ast_free(f);
}

/* Issue 9, item 10: line and column come from a table of line starts (compiling was O(N^2) in
 * statements); every offset must map as a scan from the top would, CRLF and a last line
 * without a newline included. */
TEST(linecol_from_the_line_table_agrees_with_a_scan) {
  const char *src = "weightbridge 1\r\n\n# c\ndrop \"a\"\r\n  rename \"b\" -> \"c\"\n\n\ndrop \"z\"";
  seen s = {0};
  wbr_ast_file *f = parse_ok(src, &s);
  CHECK(f != NULL);
  if (!f) return;
  CHECK(f->line_start != NULL);
  size_t len = strlen(src);
  for (size_t off = 0; off <= len + 3; off++) {
    int line = 1, col = 1, l2, c2;
    for (size_t i = 0; i < off && i < len; i++) {
      if (src[i] == '\n') line++, col = 1;
      else col++;
    }
    wbr_span_linecol(f, (uint32_t)off, &l2, &c2);
    if (l2 != line || c2 != col) {
      CHECK_INT(l2, line);
      CHECK_INT(c2, col);
      break;
    }
  }
  wbr_ast_free(f);
}
