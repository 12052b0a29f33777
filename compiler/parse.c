/* parse.c — the parser driver: runs the flex scanner and the bison parser over one source text,
 * turns token text into values (strings, regexes, numbers, words), words syntax errors the way a
 * person would ("expected '->' after the pattern of 'rename', found a string"), and attaches the
 * comments the lexer saw to statements so the formatter can keep them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend.h"
#include "parser.h"
#include "bytecode/program.h"
/* flex's header names the bison types without the api.prefix */
#define YYSTYPE WBR_YYSTYPE
#define YYLTYPE WBR_YYLTYPE
#include "lexer.h"

/* ---- words ------------------------------------------------------------------------------ */

static const struct word {
  const char *name;
  int tok;
  int stmt; /* wbr_stmt_kind, or -1 */
  const char *syntax;
} words[] = {
    {"weightbridge", T_KW_WEIGHTBRIDGE, -1, "weightbridge 1"},
    {"optional", T_KW_OPTIONAL, -1, NULL},
    {"rename", T_KW_RENAME, WBR_STMT_RENAME, "rename PATTERN -> \"TEMPLATE\""},
    {"drop", T_KW_DROP, WBR_STMT_DROP, "drop PATTERN"},
    {"reshape", T_KW_RESHAPE, WBR_STMT_RESHAPE, "reshape PATTERN [D, ...]"},
    {"transpose", T_KW_TRANSPOSE, WBR_STMT_TRANSPOSE, "transpose PATTERN"},
    {"permute", T_KW_PERMUTE, WBR_STMT_PERMUTE, "permute PATTERN (AXIS, ...)"},
    {"split", T_KW_SPLIT, WBR_STMT_SPLIT,
     "split PATTERN axis N [sizes [S, ...]] -> \"T1\", \"T2\", ..."},
    {"concat", T_KW_CONCAT, WBR_STMT_CONCAT, "concat PATTERN, PATTERN, ... axis N -> \"TEMPLATE\""},
    {"stack", T_KW_STACK, WBR_STMT_STACK, "stack PATTERN, PATTERN, ... axis N -> \"TEMPLATE\""},
    {"unstack", T_KW_UNSTACK, WBR_STMT_UNSTACK, "unstack PATTERN axis N -> \"TEMPLATE with {#}\""},
    {"select", T_KW_SELECT, WBR_STMT_SELECT, "select PATTERN axis N index I -> \"TEMPLATE\""},
    {"slice", T_KW_SLICE, WBR_STMT_SLICE, "slice PATTERN axis N range A:B -> \"TEMPLATE\""},
    {"cast", T_KW_CAST, WBR_STMT_CAST, "cast PATTERN DTYPE"},
    {"hint", T_KW_HINT, WBR_STMT_HINT, "hint \"NAME\" = \"NAME\" [transpose | permute (AXIS, ...)]"},
    {"expect", T_KW_EXPECT, WBR_STMT_EXPECT,
     "expect PATTERN shape [D, ...] | dtype DTYPE | count N"},
    {"axis", T_KW_AXIS, -1, NULL},
    {"sizes", T_KW_SIZES, -1, NULL},
    {"index", T_KW_INDEX, -1, NULL},
    {"range", T_KW_RANGE, -1, NULL},
    {"shape", T_KW_SHAPE, -1, NULL},
    {"dtype", T_KW_DTYPE, -1, NULL},
    {"count", T_KW_COUNT, -1, NULL},
};
#define NWORDS (sizeof words / sizeof words[0])

static const struct word *word_by_tok(int tok) {
  for (size_t i = 0; i < NWORDS; i++)
    if (words[i].tok == tok) return &words[i];
  return NULL;
}

static bool is_stmt_kw(int tok) {
  const struct word *w = word_by_tok(tok);
  return w && w->stmt >= 0;
}

/* The closest of the candidate words, if it is close enough to be a likely typo. */
static const char *closest(const char *w, size_t n, const int *toks, int ntoks) {
  const char *best = NULL;
  size_t bestd = 99;
  for (int i = 0; i < ntoks; i++) {
    const struct word *kw = word_by_tok(toks[i]);
    if (!kw) continue;
    size_t d = wbr_edit_distance(w, n, kw->name, strlen(kw->name), WBR_EDIT_FOLD_CASE | WBR_EDIT_TRANSPOSE);
    if (d < bestd) {
      bestd = d;
      best = kw->name;
    }
  }
  size_t limit = n <= 3 ? 1 : n <= 6 ? 2 : 3;
  return bestd <= limit ? best : NULL;
}

/* ---- reporting ------------------------------------------------------------------------------ */

static uint32_t line_start(const wbr_ast_file *f, uint32_t off) {
  if (off > f->len) off = (uint32_t)f->len;
  while (off > 0 && f->src[off - 1] != '\n') off--;
  return off;
}

static void vreport(wbr_parser *ps, wbr_span span, const char *help, const char *fmt, va_list ap) {
  ps->nerrors++;
  int64_t ls = line_start(ps->f, span.start);
  if (ls == ps->err_line) return; /* one error per line: the rest are usually echoes */
  ps->err_line = ls;
  wbr_vdiag_at(ps->ctx, ps->f, WBR_SEV_ERROR, span, help, fmt, ap);
}

void wbr_parse_error(wbr_parser *ps, wbr_span span, const char *help, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(ps, span, help, fmt, ap);
  va_end(ap);
}

static void missing_header(wbr_parser *ps) {
  ps->nerrors++;
  wbr_diag_at(ps->ctx, ps->f, WBR_SEV_ERROR, (wbr_span){0, 0},
              "add the line 'weightbridge 1' at the top (comments may come before it)",
              "missing the header 'weightbridge 1'");
}

/* ---- lexer helpers ------------------------------------------------------------------------ */

int wbr_lex_token(wbr_parser *ps, int kind, wbr_span span) {
  if (!ps->any_tok) {
    ps->any_tok = true;
    if (kind != T_KW_WEIGHTBRIDGE) missing_header(ps);
  }
  if (kind != T_NL && kind != T_YYEOF) {
    if (!ps->line_has_tok) {
      ps->cur_kw = 0;
      ps->seen_arrow = false;
      ps->prev_tok = ps->last_tok = 0;
    }
    bool first = ps->last_tok == 0 || (ps->last_tok == T_KW_OPTIONAL && ps->prev_tok == 0);
    if (first && (is_stmt_kw(kind) || kind == T_KW_WEIGHTBRIDGE)) ps->cur_kw = kind;
    if (kind == T_ARROW) ps->seen_arrow = true;
    ps->line_has_tok = true;
    ps->cont = kind == T_ARROW || kind == T_COMMA;
  }
  ps->prev_tok = ps->last_tok;
  ps->prev_span = ps->last_span;
  ps->last_tok = kind;
  ps->last_span = span;
  return kind;
}

int wbr_lex_word(wbr_parser *ps, const char *s, size_t n, wbr_span span) {
  for (size_t i = 0; i < NWORDS; i++)
    if (strlen(words[i].name) == n && strncasecmp(words[i].name, s, n) == 0)
      return wbr_lex_token(ps, words[i].tok, span);
  return wbr_lex_token(ps, T_IDENT, span);
}

int wbr_lex_int(wbr_parser *ps, const char *s, size_t n, wbr_span span, int64_t *val) {
  bool neg = false;
  size_t i = 0;
  if (n && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  uint64_t v = 0;
  bool over = false;
  for (; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) over = true;
    else v = v * 10 + d;
  }
  if (over || v > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) {
    wbr_parse_error(ps, span, "numbers in rule files are between -2^63 and 2^63-1",
                    "integer out of range");
    *val = 0;
  } else if (neg) {
    *val = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
  } else {
    *val = (int64_t)v;
  }
  return wbr_lex_token(ps, T_INT, span);
}

static wbr_ast_pat *new_pat(wbr_parser *ps, wbr_pat_kind k, wbr_span span, size_t textcap) {
  wbr_ast_pat *p = wbr_ast_alloc(ps->f, sizeof *p);
  char *t = p ? wbr_ast_alloc(ps->f, textcap + 1) : NULL;
  if (!p || !t) {
    ps->oom = true;
    return NULL;
  }
  p->kind = k;
  p->text = t;
  p->span = span;
  return p;
}

int wbr_lex_string(wbr_parser *ps, const char *s, size_t n, wbr_span span, bool closed,
                   wbr_ast_pat **val) {
  size_t body = n - 1 - (closed ? 1 : 0);
  wbr_ast_pat *p = new_pat(ps, WBR_PAT_GLOB, span, body);
  *val = p;
  if (!closed)
    wbr_parse_error(ps, span, "add the closing '\"' on the same line",
                    "unterminated string: '\"' expected before the end of the line");
  if (!p) return wbr_lex_token(ps, T_STRING, span);
  size_t o = 0;
  for (size_t i = 1; i < 1 + body; i++) {
    unsigned char c = (unsigned char)s[i];
    uint32_t at = span.start + (uint32_t)i;
    if (c == '\\' && i + 1 < 1 + body) {
      char e = s[i + 1];
      if (e == '"') {
        p->text[o++] = '"';
      } else if (e == '*' || e == '{' || e == '}' || e == '\\') {
        p->text[o++] = '\\';
        p->text[o++] = e;
      } else {
        wbr_parse_error(ps, (wbr_span){at, at + 2},
                        "the escapes are \\*, \\{, \\}, \\\" and \\\\ (a backslash)",
                        "unknown escape '\\%c' in a string", e);
      }
      i++;
    } else if (c == '\\') {
      /* a backslash just before the end of an unterminated string: already reported */
    } else if (c < 0x20 || c == 0x7f) {
      wbr_parse_error(ps, (wbr_span){at, at + 1}, "tensor names have no control characters",
                      "control character (byte 0x%02x) in a string", c);
    } else {
      p->text[o++] = (char)c;
    }
  }
  p->text[o] = 0;
  /* Names are UTF-8 (the bytecode's strings must be): say so here, at the byte. */
  size_t bad;
  if (!wbr_utf8_valid(s + 1, body, &bad)) {
    uint32_t at = span.start + 1 + (uint32_t)bad;
    wbr_parse_error(ps, (wbr_span){at, at + 1}, "tensor names are UTF-8 text: save the rule file as UTF-8",
                    "invalid UTF-8 (byte 0x%02x) in a string", (unsigned char)s[1 + bad]);
  }
  return wbr_lex_token(ps, T_STRING, span);
}

int wbr_lex_regex(wbr_parser *ps, const char *s, size_t n, wbr_span span, bool closed,
                  wbr_ast_pat **val) {
  size_t close = n;
  if (closed) {
    close = n - 1;
    while (s[close] != '/') close--;
  }
  size_t body = closed ? close - 1 : n - 1;
  wbr_ast_pat *p = new_pat(ps, WBR_PAT_REGEX, span, body);
  *val = p;
  if (!closed) {
    wbr_parse_error(ps, span, "add the closing '/' on the same line (write a '/' inside as '\\/')",
                    "unterminated regex: '/' expected before the end of the line");
  }
  if (!p) return wbr_lex_token(ps, T_REGEX, span);
  memcpy(p->text, s + 1, body);
  p->text[body] = 0;
  for (size_t i = 0; i < body; i++) {
    unsigned char c = (unsigned char)p->text[i];
    if (c < 0x20 || c == 0x7f) {
      uint32_t at = span.start + 1 + (uint32_t)i;
      wbr_parse_error(ps, (wbr_span){at, at + 1}, "tensor names have no control characters",
                      "control character (byte 0x%02x) in a regex", c);
      break;
    }
  }
  /* Flags: a set, printed in one canonical order. */
  bool seen_i = false, seen_x = false;
  for (size_t i = closed ? close + 1 : n; i < n; i++) {
    uint32_t at = span.start + (uint32_t)i;
    char c = s[i];
    bool *seen = c == 'i' ? &seen_i : c == 'x' ? &seen_x : NULL;
    if (!seen) {
      wbr_parse_error(ps, (wbr_span){at, at + 1},
                      "the flags are i (ignore case) and x (ignore spaces and # comments)",
                      "unknown regex flag '%c'", c);
    } else if (*seen) {
      wbr_parse_error(ps, (wbr_span){at, at + 1}, "write each flag once",
                      "regex flag '%c' given twice", c);
    }
    if (seen) *seen = true;
  }
  size_t k = 0;
  if (seen_i) p->flags[k++] = 'i';
  if (seen_x) p->flags[k++] = 'x';
  p->flags[k] = 0;
  return wbr_lex_token(ps, T_REGEX, span);
}

void wbr_lex_comment_add(wbr_parser *ps, wbr_span span) {
  if (!wbr_grow(&ps->comments, &ps->comments_cap, ps->ncomments + 1, sizeof *ps->comments, 16)) {
    ps->oom = true;
    return;
  }
  ps->comments[ps->ncomments++].span = span;
}

void wbr_lex_stray(wbr_parser *ps, const char *s, size_t n, wbr_span span) {
  unsigned char c = (unsigned char)s[0];
  const char *help = "remove it; names and patterns are written in double quotes";
  if (c == '\'') help = "strings are written in double quotes: \"...\"";
  else if (c == '*' || c == '{' || c == '}' || c == '.' || c == '$')
    help = "patterns and templates are written in quotes: \"blocks.*\"";
  else if (c == ';') help = "statements end at the end of the line; remove the ';'";
  if (c >= 0x80)
    wbr_parse_error(ps, span, "non-ASCII text is allowed only inside strings and comments",
                    "unexpected non-ASCII byte 0x%02x", c);
  else if (c < 0x20 || c == 0x7f)
    wbr_parse_error(ps, span, help, "unexpected control character (byte 0x%02x)", c);
  else
    wbr_parse_error(ps, span, help, "unexpected character '%c'", c);
  (void)n;
}

/* ---- syntax errors ------------------------------------------------------------------------- */

static bool has(const int *exp, int n, int tok) {
  for (int i = 0; i < n; i++)
    if (exp[i] == tok) return true;
  return false;
}

/* What an expected token is, in words. */
static void describe_expected(wbr_parser *ps, const int *exp, int n, wbr_buf *b) {
  const char *parts[40];
  char kwbuf[40][24];
  int np = 0;
  bool stmt_listed = false;
  for (int i = 0; i < n && np < 40; i++) {
    int t = exp[i];
    const struct word *w = word_by_tok(t);
    if (t == T_STRING) {
      if (has(exp, n, T_REGEX)) parts[np++] = "a pattern (\"glob\" or /regex/)";
      else if (ps->cur_kw == T_KW_HINT) parts[np++] = "a quoted name";
      else parts[np++] = "a quoted template";
    } else if (t == T_REGEX) {
      if (!has(exp, n, T_STRING)) parts[np++] = "a /regex/";
    } else if (t == T_INT) {
      parts[np++] = ps->cur_kw == T_KW_WEIGHTBRIDGE ? "the language version (1)" : "a number";
    } else if (t == T_IDENT) {
      parts[np++] = "a dtype (f32, f16, bf16, ...)";
    } else if (t == T_NL) {
      parts[np++] = "end of line";
    } else if (w && w->stmt >= 0 && ps->cur_kw != T_KW_HINT) {
      if (!stmt_listed) parts[np++] = "a statement (rename, drop, reshape, ...)";
      stmt_listed = true;
    } else if (w && t == T_KW_WEIGHTBRIDGE && has(exp, n, T_KW_RENAME)) {
      /* the header is allowed anywhere by the grammar, but is only right at the top */
    } else if (w && t == T_KW_OPTIONAL) {
      /* implied by "a statement" */
    } else if (w) {
      snprintf(kwbuf[np], sizeof kwbuf[np], "'%s'", w->name);
      parts[np] = kwbuf[np];
      np++;
    } else {
      const char *p = t == T_ARROW    ? "'->'"
                      : t == T_COMMA  ? "','"
                      : t == T_LBRACK ? "'['"
                      : t == T_RBRACK ? "']'"
                      : t == T_LPAREN ? "'('"
                      : t == T_RPAREN ? "')'"
                      : t == T_COLON  ? "':'"
                      : t == T_EQUALS ? "'='"
                                      : NULL;
      if (p) parts[np++] = p;
    }
  }
  if (np == 0) {
    wbr_buf_puts(b, "something else");
    return;
  }
  for (int i = 0; i < np; i++) {
    if (i > 0) wbr_buf_puts(b, i == np - 1 ? " or " : ", ");
    wbr_buf_puts(b, parts[i]);
  }
}

static void describe_token(wbr_parser *ps, int tok, wbr_span sp, bool after, wbr_buf *b) {
  const char *src = ps->f->src;
  size_t n = sp.end > sp.start ? sp.end - sp.start : 0;
  if (tok == T_STRING) {
    if (!after) wbr_buf_puts(b, "a string");
    else if (ps->cur_kw == T_KW_HINT) wbr_buf_puts(b, "the name");
    else wbr_buf_puts(b, ps->seen_arrow ? "the template" : "the pattern");
  } else if (tok == T_REGEX) {
    wbr_buf_puts(b, after ? "the pattern" : "a /regex/");
  } else if (tok == T_NL) {
    wbr_buf_puts(b, ps->eof ? "end of file" : "end of line");
  } else if (tok == T_YYEOF) {
    wbr_buf_puts(b, "end of file");
  } else if (tok == T_INT && after) {
    wbr_buf_printf(b, "the number %.*s", (int)(n > 24 ? 24 : n), src + sp.start);
  } else if (tok == T_RBRACK || tok == T_RPAREN) {
    wbr_buf_puts(b, after ? "the list" : tok == T_RBRACK ? "']'" : "')'");
  } else {
    wbr_buf_printf(b, "'%.*s%s'", (int)(n > 24 ? 24 : n), src + sp.start, n > 24 ? "..." : "");
  }
}

void wbr_parse_syntax_error(wbr_parser *ps, int tok, wbr_span span, const int *exp, int n) {
  const char *src = ps->f->src;
  const struct word *kw = word_by_tok(ps->cur_kw);
  char help[200] = "";
  if (kw && kw->syntax) snprintf(help, sizeof help, "the syntax is: %s", kw->syntax);

  /* A word where a statement should start: an unknown statement, or a typo of one. */
  if (has(exp, n, T_KW_RENAME) && tok == T_IDENT) {
    size_t len = span.end - span.start;
    int stmts[WBR_STMT_COUNT + 1], ns = 0;
    for (size_t i = 0; i < NWORDS; i++)
      if (words[i].stmt >= 0 || words[i].tok == T_KW_OPTIONAL) stmts[ns++] = words[i].tok;
    const char *best = closest(src + span.start, len, stmts, ns);
    int shown = (int)(len > 24 ? 24 : len);
    char syn[200] = "";
    for (size_t i = 0; best && i < NWORDS; i++)
      if (strcmp(words[i].name, best) == 0 && words[i].syntax)
        snprintf(syn, sizeof syn, "the syntax is: %s", words[i].syntax);
    if (best)
      wbr_parse_error(ps, span, syn[0] ? syn : NULL, "unknown statement '%.*s'; did you mean '%s'?", shown,
                      src + span.start, best);
    else
      wbr_parse_error(ps, span,
                      "statements are: rename, drop, reshape, transpose, permute, split, concat, "
                      "stack, unstack, select, slice, cast, hint, expect",
                      "unknown statement '%.*s'", shown, src + span.start);
    return;
  }

  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_puts(&b, "expected ");
  describe_expected(ps, exp, n, &b);
  /* What came before: "after the pattern of 'rename'". */
  bool at_start = has(exp, n, T_KW_RENAME);
  if (!at_start && ps->prev_tok != 0 && ps->last_tok == tok) {
    wbr_buf_puts(&b, " after ");
    describe_token(ps, ps->prev_tok, ps->prev_span, true, &b);
    if (kw && ps->prev_tok != ps->cur_kw) wbr_buf_printf(&b, " of '%s'", kw->name);
  }
  wbr_buf_puts(&b, ", found ");
  describe_token(ps, tok, span, false, &b);
  /* A word that is a near miss of an expected keyword. */
  if (tok == T_IDENT) {
    const char *best = closest(src + span.start, span.end - span.start, exp, n);
    if (best) wbr_buf_printf(&b, "; did you mean '%s'?", best);
  }
  if (tok == T_KW_WEIGHTBRIDGE && at_start) {
    wbr_buf_free(&b);
    wbr_parse_error(ps, span, "keep one 'weightbridge 1' line, above every statement",
                    "the header 'weightbridge N' must be the first line of the file");
    return;
  }
  if (tok == T_REGEX && has(exp, n, T_STRING) && !has(exp, n, T_REGEX))
    snprintf(help, sizeof help, "%s",
             "templates are quoted strings; with a /regex/ pattern write \"...$1...\"");
  if (tok == T_NL && ps->cont && !help[0])
    snprintf(help, sizeof help, "%s", "a line that ends with ',' or '->' continues on the next");
  wbr_parse_error(ps, span, help[0] ? help : NULL, "%s", b.p ? b.p : "syntax error");
  wbr_buf_free(&b);
}

/* ---- comments ------------------------------------------------------------------------------ */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/* The line before the one holding off is blank (only spaces). */
static bool blank_before(const wbr_ast_file *f, uint32_t off) {
  uint32_t ls = line_start(f, off);
  if (ls == 0) return false;
  uint32_t p = ls - 1; /* the '\n' ending the previous line */
  while (p > 0 && f->src[p - 1] != '\n') {
    if (!is_space(f->src[p - 1])) return false;
    p--;
  }
  return true;
}

static bool own_line(const wbr_ast_file *f, uint32_t off) {
  for (uint32_t p = line_start(f, off); p < off; p++)
    if (!is_space(f->src[p])) return false;
  return true;
}

static bool same_line(const wbr_ast_file *f, uint32_t a, uint32_t b) {
  for (uint32_t p = a; p < b && p < f->len; p++)
    if (f->src[p] == '\n') return false;
  return true;
}

enum { DEST_HEAD, DEST_VTRAIL, DEST_LEAD, DEST_MID, DEST_TRAIL, DEST_TAIL };

static void attach_comments(wbr_parser *ps) {
  wbr_ast_file *f = ps->f;
  size_t nc = ps->ncomments, ns = f->nstmts;
  if (nc == 0) {
    for (size_t i = 0; i < ns; i++) f->stmts[i].blank_before = blank_before(f, f->stmts[i].span.start);
    return;
  }
  int *dest = calloc(nc, sizeof *dest);
  size_t *target = calloc(nc, sizeof *target);
  size_t *nlead = calloc(ns + 1, sizeof *nlead), *nmid = calloc(ns + 1, sizeof *nmid);
  if (!dest || !target || !nlead || !nmid) {
    ps->oom = true;
    goto done;
  }
  size_t si = 0;
  for (size_t i = 0; i < nc; i++) {
    uint32_t cs = ps->comments[i].span.start;
    while (si < ns && f->stmts[si].span.start < cs) si++;
    bool own = own_line(f, cs);
    if (ps->header_seen && cs < f->version_span.start) {
      dest[i] = DEST_HEAD;
    } else if (si > 0 && cs < f->stmts[si - 1].span.end) {
      dest[i] = DEST_MID;
      target[i] = si - 1;
      nmid[si - 1]++;
    } else if (!own && si > 0 && same_line(f, f->stmts[si - 1].span.end, cs) &&
               !f->stmts[si - 1].trail) {
      dest[i] = DEST_TRAIL;
      target[i] = si - 1;
      f->stmts[si - 1].trail = (wbr_ast_comment *)1; /* placeholder, set below */
    } else if (!own && ps->header_seen && !f->version_trail &&
               same_line(f, f->version_span.end, cs) && cs >= f->version_span.end) {
      dest[i] = DEST_VTRAIL;
      f->version_trail = (wbr_ast_comment *)1;
    } else if (si < ns) {
      dest[i] = DEST_LEAD;
      target[i] = si;
      nlead[si]++;
    } else {
      dest[i] = DEST_TAIL;
    }
  }
  /* Allocate, then fill in source order (leads before mid-statement comments). */
  size_t nhead = 0, ntail = 0;
  for (size_t i = 0; i < nc; i++) {
    nhead += dest[i] == DEST_HEAD;
    ntail += dest[i] == DEST_TAIL;
  }
  f->head = nhead ? wbr_ast_alloc(f, nhead * sizeof *f->head) : NULL;
  f->tail = ntail ? wbr_ast_alloc(f, ntail * sizeof *f->tail) : NULL;
  if (f->version_trail) f->version_trail = wbr_ast_alloc(f, sizeof *f->version_trail);
  for (size_t s = 0; s < ns; s++) {
    wbr_ast_stmt *st = &f->stmts[s];
    size_t nl = nlead[s] + nmid[s];
    st->lead = nl ? wbr_ast_alloc(f, nl * sizeof *st->lead) : NULL;
    if (st->trail) st->trail = wbr_ast_alloc(f, sizeof *st->trail);
    if ((nl && !st->lead) || (st->trail == NULL && 0)) ps->oom = true;
    /* The group starts at its first lead comment written above it. */
    uint32_t first = st->span.start;
    for (size_t i = 0; i < nc; i++)
      if (dest[i] == DEST_LEAD && target[i] == s) {
        first = ps->comments[i].span.start;
        break;
      }
    st->blank_before = blank_before(f, first);
    st->blank_after_lead = nlead[s] > 0 && blank_before(f, st->span.start);
  }
  if ((nhead && !f->head) || (ntail && !f->tail)) ps->oom = true;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < nc; i++) {
      wbr_span sp = ps->comments[i].span;
      size_t n = sp.end - sp.start;
      while (n > 1 && is_space(f->src[sp.start + n - 1])) n--;
      wbr_ast_comment c = {.span = sp, .blank_before = blank_before(f, sp.start)};
      c.text = wbr_ast_alloc(f, n + 1);
      if (!c.text) {
        ps->oom = true;
        continue;
      }
      memcpy(c.text, f->src + sp.start, n);
      wbr_ast_stmt *st = ns ? &f->stmts[target[i] < ns ? target[i] : 0] : NULL;
      if (st && pass == 0 && dest[i] == DEST_LEAD && st->lead) st->lead[st->nlead++] = c;
      if (st && pass == 1 && dest[i] == DEST_MID && st->lead) st->lead[st->nlead++] = c;
      if (st && pass == 0 && dest[i] == DEST_TRAIL && st->trail) *st->trail = c;
      if (pass == 0 && dest[i] == DEST_HEAD && f->head) f->head[f->nhead++] = c;
      if (pass == 0 && dest[i] == DEST_TAIL && f->tail) f->tail[f->ntail++] = c;
      if (pass == 0 && dest[i] == DEST_VTRAIL && f->version_trail) *f->version_trail = c;
    }
  }
  for (size_t s = 0; s < ns; s++)
    if (f->stmts[s].nlead) f->stmts[s].lead[0].blank_before = false;
  if (f->nhead) f->head[0].blank_before = false;
  f->version_blank_before = f->nhead > 0 && blank_before(f, f->version_span.start);
done:
  free(dest);
  free(target);
  free(nlead);
  free(nmid);
}

/* ---- driver -------------------------------------------------------------------------------- */

/* The start of every line, once: diagnostics and the emitter's line table then cost a binary
 * search per position instead of a scan from the top (which made compiling O(N^2)). */
static int line_table(wbr_ast_file *f) {
  size_t n = 1;
  for (size_t i = 0; i < f->len; i++) n += f->src[i] == '\n';
  f->line_start = wbr_ast_alloc(f, n * sizeof *f->line_start);
  if (!f->line_start) return -1;
  f->line_start[0] = 0;
  f->nlines = 1;
  for (size_t i = 0; i < f->len; i++)
    if (f->src[i] == '\n') f->line_start[f->nlines++] = (uint32_t)(i + 1);
  return 0;
}

int wbr_parse_partial(wbr_ast_file **out, wbr_ctx *ctx, const char *name, const char *src,
                      size_t len) {
  *out = NULL;
  if (len > (size_t)INT_MAX / 2)
    return wbr_fail(ctx, WBR_EINPUT, name, "split the rules into smaller files",
                    "rule file too large (%zu bytes)", len);
  wbr_ast_file *f = wbr_ast_new(name);
  char *copy = f ? wbr_ast_alloc(f, len + 1) : NULL;
  if (!copy) {
    wbr_ast_free(f);
    return wbr_oom(ctx);
  }
  if (len) memcpy(copy, src, len);
  f->src = copy;
  f->len = len;
  f->version = 0;
  if (line_table(f) != 0) {
    wbr_ast_free(f);
    return wbr_oom(ctx);
  }

  wbr_parser ps = {.ctx = ctx, .f = f, .err_line = -1};
  yyscan_t scanner;
  if (wbr_yylex_init_extra(&ps, &scanner) != 0) {
    wbr_ast_free(f);
    return wbr_oom(ctx);
  }
  YY_BUFFER_STATE buf = wbr_yy_scan_bytes(copy, (int)len, scanner);
  int prc = buf ? wbr_yyparse(&ps, scanner) : 2;
  if (buf) wbr_yy_delete_buffer(buf, scanner);
  wbr_yylex_destroy(scanner);
  if (prc == 2) ps.oom = true;
  if (!ps.any_tok) missing_header(&ps);
  if (!ps.oom) attach_comments(&ps);
  free(ps.comments);
  if (ps.oom) {
    wbr_ast_free(f);
    return wbr_oom(ctx);
  }
  if (f->version == 0) f->version = 1;
  *out = f;
  return ps.nerrors || prc ? WBR_EINPUT : 0;
}

int wbr_parse(wbr_ast_file **out, wbr_ctx *ctx, const char *name, const char *src, size_t len) {
  int rc = wbr_parse_partial(out, ctx, name, src, len);
  if (rc != 0) {
    wbr_ast_free(*out);
    *out = NULL;
  }
  return rc;
}
