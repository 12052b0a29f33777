/* test_fmt.c — the canonical printer: fixed outputs, idempotence, and parse(fmt(x)) == parse(x)
 * (compared statement by statement, ignoring spans) for inline cases and every valid .wbr of
 * the repository (tests/lang, rules). */
#include <glob.h>
#include <stdlib.h>

#include "compiler/frontend.h"
#include "harness.h"

static char *fmt(const char *src, int *rc) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  char *out = NULL;
  *rc = wbr_rules_format(&out, ctx, "t.wbr", src, strlen(src));
  wbr_ctx_free(ctx);
  return out;
}

/* The AST as text, spans left out: canonical statements plus comments and blank flags. */
static char *ast_dump(const char *src) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_ast_file *f = NULL;
  if (wbr_parse(&f, ctx, "t.wbr", src, strlen(src)) != 0) {
    wbr_ctx_free(ctx);
    return NULL;
  }
  wbr_buf b;
  wbr_buf_init(&b);
  for (size_t i = 0; i < f->nhead; i++) wbr_buf_printf(&b, "head %s\n", f->head[i].text);
  wbr_buf_printf(&b, "version %d %s\n", f->version, f->version_trail ? f->version_trail->text : "");
  for (size_t i = 0; i < f->nstmts; i++) {
    const wbr_ast_stmt *s = &f->stmts[i];
    for (size_t j = 0; j < s->nlead; j++) wbr_buf_printf(&b, "lead %s\n", s->lead[j].text);
    wbr_buf_printf(&b, "stmt %d %d ", s->blank_before, s->blank_after_lead);
    wbr_fmt_stmt(s, &b);
    wbr_buf_printf(&b, " trail %s\n", s->trail ? s->trail->text : "");
  }
  for (size_t i = 0; i < f->ntail; i++) wbr_buf_printf(&b, "tail %d %s\n", f->tail[i].blank_before, f->tail[i].text);
  wbr_ast_free(f);
  wbr_ctx_free(ctx);
  return wbr_buf_take(&b);
}

static void check_roundtrip(const char *what, const char *src) {
  int rc;
  char *once = fmt(src, &rc);
  if (!once) {
    test_failed(__FILE__, __LINE__, "%s: does not format (rc %d)", what, rc);
    return;
  }
  char *twice = fmt(once, &rc);
  if (!twice || strcmp(once, twice) != 0)
    test_failed(__FILE__, __LINE__, "%s: fmt is not idempotent", what);
  char *a = ast_dump(src), *b = ast_dump(once);
  /* Statements must be identical; comments may only move from inside a statement to above. */
  if (!a || !b) test_failed(__FILE__, __LINE__, "%s: dump failed", what);
  else {
    wbr_buf sa, sb;
    wbr_buf_init(&sa);
    wbr_buf_init(&sb);
    for (char *l = strtok(a, "\n"); l; l = strtok(NULL, "\n"))
      if (strncmp(l, "stmt", 4) == 0) wbr_buf_printf(&sa, "%s\n", strchr(l + 5, ' ') + 1);
    for (char *l = strtok(b, "\n"); l; l = strtok(NULL, "\n"))
      if (strncmp(l, "stmt", 4) == 0) wbr_buf_printf(&sb, "%s\n", strchr(l + 5, ' ') + 1);
    if (strcmp(sa.p ? sa.p : "", sb.p ? sb.p : "") != 0)
      test_failed(__FILE__, __LINE__, "%s: parse(fmt(x)) != parse(x)", what);
    wbr_buf_free(&sa);
    wbr_buf_free(&sb);
  }
  /* After one fmt the whole AST, comments included, is a fixed point. */
  char *c = twice ? ast_dump(twice) : NULL;
  char *d = ast_dump(once);
  if (!c || !d || strcmp(c, d) != 0) test_failed(__FILE__, __LINE__, "%s: AST of fmt output changes", what);
  free(a);
  free(b);
  free(c);
  free(d);
  wbr_free(once);
  wbr_free(twice);
}

TEST(fmt_canonical_spacing) {
  int rc;
  char *out = fmt("weightbridge    1\n"
                  "OPTIONAL   rename\t\"a.*\"->\"b.*\"   #  note   \n"
                  "reshape \"g\" [ +1 , 007 , -0 ]\n"
                  "cast \"*\" F8_E4M3\n"
                  "drop /x/xi",
                  &rc);
  CHECK_INT(rc, 0);
  CHECK_STR(out, "weightbridge 1\n"
                 "optional rename \"a.*\" -> \"b.*\"  #  note\n"
                 "reshape \"g\" [1, 7, 0]\n"
                 "cast \"*\" f8_e4m3\n"
                 "drop /x/ix\n");
  wbr_free(out);
}

TEST(fmt_refuses_bad_input) {
  int rc;
  char *out = fmt("weightbridge 1\ndrop \"a\" \"b\"\n", &rc);
  CHECK(out == NULL);
  CHECK_INT(rc, WBR_ERULES);
  out = fmt("weightbridge 1\npermute \"a\" (0, 0)\n", &rc);
  CHECK(out == NULL);
  CHECK_INT(rc, WBR_ERULES);
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  CHECK_INT(wbr_rules_format(NULL, ctx, "x", "", 0), WBR_EUSAGE);
  wbr_ctx_free(ctx);
}

TEST(fmt_roundtrip_inline) {
  static const char *cases[] = {
      "weightbridge 1\n",
      "# c\n\n\nweightbridge 1\n\n\n\ndrop \"a\"\n\n\n# end\n\n",
      "weightbridge 1\nsplit \"q\" axis 0 -> \"a\",  # mid\n  \"b\"  # end\n",
      "weightbridge 1\nconcat \"a.{i}\", \"b.{i}\",\n\n  # note\n  \"c.{i}\" axis 1 -> \"abc.{i}\"\n",
      "weightbridge 1\nhint \"x\\\"y\" = \"z\\\\\"\nexpect \"*\" shape []\nreshape \"s\" []\n",
      "weightbridge 1\r\nslice \"p\" axis -2 range 0:1 -> \"q\"\r\nselect \"p\" axis 0 index 3 -> \"r\"",
      "weightbridge 1\nunstack \"l\" axis 0 -> \"b.{#}\"\nstack \"a.{i}\", \"b.{i}\" axis 0 -> \"s.{i}\"\n",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char what[32];
    snprintf(what, sizeof what, "case %zu", i);
    check_roundtrip(what, cases[i]);
  }
}

static char *slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  wbr_buf b;
  wbr_buf_init(&b);
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, fp)) > 0) wbr_buf_put(&b, tmp, n);
  fclose(fp);
  wbr_buf_putc(&b, 0);
  return wbr_buf_take(&b);
}

TEST(fmt_roundtrip_repo_files) {
  static const char *globs[] = {"tests/lang/ok_*.wbr", "tests/lang/fmt_*.wbr", "rules/*.wbr"};
  size_t count = 0;
  for (size_t g = 0; g < 3; g++) {
    glob_t gl;
    if (glob(globs[g], 0, NULL, &gl) != 0) continue;
    for (size_t i = 0; i < gl.gl_pathc; i++) {
      char *src = slurp(gl.gl_pathv[i]);
      if (!src) continue;
      check_roundtrip(gl.gl_pathv[i], src);
      free(src);
      count++;
    }
    globfree(&gl);
  }
  CHECK(count >= 5); /* the fixture rule files at least */
}
