/* test_stmts.c — compiler/statements.h is the one statement table: docs/language.md's
 * statement table must list its rows in order (same syntax, each meaning starting with the
 * table's) and name every keyword in section 1 and the grammar of section 2, and the parser's
 * help must come from it ("the syntax is: ...", "statements are: ..."), so a stale doc or a
 * second keyword list fails here. */
#include <stdlib.h>

#include "compiler/frontend.h"
#include "harness.h"

typedef struct row {
  const char *kw, *syntax, *meaning;
} row;

static const row table[] = {
#define ROW(id, kw, syntax, meaning) {kw, syntax, meaning},
    WBR_STMT_LIST(ROW)
#undef ROW
};
enum { NROWS = sizeof table / sizeof table[0] };

/* docs/language.md, from $TOP (tests/run.sh sets it) or the current directory. */
static char *read_doc(void) {
  const char *top = getenv("TOP");
  char path[1024];
  snprintf(path, sizeof path, "%s/docs/language.md", top && *top ? top : ".");
  size_t len = 0;
  return (char *)test_slurp(path, &len);
}

/* Copy a table cell (from p to the next unescaped '|') into out, trimmed, with "\|" as "|". */
static const char *cell(const char *p, char *out, size_t cap) {
  while (*p == ' ') p++;
  size_t o = 0;
  for (; *p && *p != '\n' && !(*p == '|' && p[-1] != '\\'); p++) {
    if (*p == '\\' && p[1] == '|') continue;
    if (o + 1 < cap) out[o++] = *p;
  }
  while (o > 0 && out[o - 1] == ' ') o--;
  out[o] = 0;
  return *p == '|' ? p + 1 : p;
}

TEST(stmt_table_matches_docs) {
  char *doc = read_doc();
  CHECK(doc != NULL);
  if (!doc) return;
  const char *sec = strstr(doc, "\n## 5. Statements\n");
  static const char head[] = "\n| statement | meaning |\n|---|---|\n";
  const char *p = sec ? strstr(sec, head) : NULL;
  CHECK(p != NULL);
  if (p) p += strlen(head);
  int n = 0;
  while (p && *p == '|') {
    char syn[512], meaning[2048];
    p = cell(p + 1, syn, sizeof syn);
    p = cell(p, meaning, sizeof meaning);
    size_t sl = strlen(syn);
    bool code = sl >= 2 && syn[0] == '`' && syn[sl - 1] == '`';
    if (code) {
      memmove(syn, syn + 1, sl - 2);
      syn[sl - 2] = 0;
    }
    if (n < NROWS) {
      if (!code || strcmp(syn, table[n].syntax) != 0)
        test_failed(__FILE__, __LINE__, "docs/language.md row %d is `%s`, statements.h says `%s`",
                    n + 1, syn, table[n].syntax);
      if (strncmp(meaning, table[n].meaning, strlen(table[n].meaning)) != 0)
        test_failed(__FILE__, __LINE__, "docs/language.md row %d ('%s') means \"%.60s\", "
                    "statements.h says \"%s\"", n + 1, table[n].kw, meaning, table[n].meaning);
    } else {
      test_failed(__FILE__, __LINE__, "docs/language.md row %d (`%s`) is not in statements.h",
                  n + 1, syn);
    }
    n++;
    p = strchr(p, '\n');
    p = p ? p + 1 : NULL;
  }
  CHECK_INT(n, NROWS);
  free(doc);
}

typedef struct helps {
  int n;
  char help[8][600];
} helps;

static void keep_help(void *ud, const wbr_diag *d) {
  helps *h = ud;
  if (h->n < 8) snprintf(h->help[h->n++], sizeof h->help[0], "%s", d->help ? d->help : "");
}

/* The help of the first error in src. */
static void first_help(const char *src, char *out, size_t cap) {
  helps h = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, keep_help, &h);
  wbr_ast_file *f = NULL;
  CHECK(wbr_parse(&f, ctx, "t.wbr", src, strlen(src)) != 0);
  snprintf(out, cap, "%s", h.n ? h.help[0] : "");
  wbr_ctx_free(ctx);
}

TEST(stmt_table_drives_parser_help) {
  char src[256], help[600], want[600];
  for (int k = 0; k < NROWS; k++) {
    /* A keyword alone: an error that names the statement's syntax. */
    snprintf(src, sizeof src, "weightbridge 1\n%s\n", table[k].kw);
    first_help(src, help, sizeof help);
    snprintf(want, sizeof want, "the syntax is: %s", table[k].syntax);
    CHECK_STR(help, want);
    CHECK_STR(wbr_stmt_keyword((wbr_stmt_kind)k), table[k].kw);
  }
  first_help("weightbridge 1\nfrobnicate \"a\"\n", help, sizeof help);
  size_t o = (size_t)snprintf(want, sizeof want, "statements are: ");
  for (int k = 0; k < NROWS; k++)
    o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", k ? ", " : "", table[k].kw);
  CHECK_STR(help, want);
}

/* The other places docs/language.md names every statement: the keyword list of section 1 (in
 * the table's order, after "optional") and one alternative of the grammar in section 2. */
TEST(stmt_keywords_in_docs) {
  char *doc = read_doc();
  CHECK(doc != NULL);
  if (!doc) return;
  const char *kws = strstr(doc, "`weightbridge optional ");
  const char *end = kws ? strchr(kws + 1, '`') : NULL;
  CHECK(end != NULL);
  const char *at = kws ? kws + strlen("`weightbridge optional") : NULL;
  for (int k = 0; end && k < NROWS; k++) {
    size_t n = strlen(table[k].kw);
    while (*at == ' ' || *at == '\n') at++;
    if (at + n > end || strncmp(at, table[k].kw, n) != 0 || (at[n] != ' ' && at[n] != '\n'))
      test_failed(__FILE__, __LINE__, "section 1's keyword list lacks '%s' at \"%.20s\"",
                  table[k].kw, at);
    else
      at += n;
  }
  const char *g = strstr(doc, "\nstatement  = ");
  const char *gend = g ? strstr(g, " ;\n") : NULL;
  CHECK(gend != NULL);
  for (int k = 0; gend && k < NROWS; k++) {
    char alt[64];
    snprintf(alt, sizeof alt, "%s\"%s\"", k ? "| " : "= ", table[k].kw);
    const char *hit = strstr(g, alt);
    if (!hit || hit > gend)
      test_failed(__FILE__, __LINE__, "section 2's grammar has no alternative %s", alt);
  }
  free(doc);
}
