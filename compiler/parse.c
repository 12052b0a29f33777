/* parse.c — what the generated lexer and parser call back: turns token text into values
 * (strings, regexes, numbers, words), words syntax errors the way a person would ("expected '->'
 * after the pattern of 'rename', found a string") and records the comments the lexer saw. The
 * driver that runs them is driver.c; this file never calls the generated code, so the callbacks
 * and their callers form no cycle. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend.h"
#include "parser.h"
#include "bytecode/program.h"

/* ---- words ------------------------------------------------------------------------------ */

static const struct word {
  const char *name;
  int tok;
  int stmt; /* wbr_stmt_kind, or -1 */
  const char *syntax;
} words[] = {
    {"weightbridge", T_KW_WEIGHTBRIDGE, -1, "weightbridge 1"},
    {"optional", T_KW_OPTIONAL, -1, NULL},
/* The statements, from compiler/statements.h (a row without its %token does not compile). */
#define STMT_WORD(id, kw, syntax, doc) {kw, T_KW_##id, WBR_STMT_##id, syntax},
    WBR_STMT_LIST(STMT_WORD)
#undef STMT_WORD
    {"axis", T_KW_AXIS, -1, NULL},
    {"sizes", T_KW_SIZES, -1, NULL},
    {"index", T_KW_INDEX, -1, NULL},
    {"range", T_KW_RANGE, -1, NULL},
    {"shape", T_KW_SHAPE, -1, NULL},
    {"dtype", T_KW_DTYPE, -1, NULL},
    {"count", T_KW_COUNT, -1, NULL},
    {"heads", T_KW_HEADS, -1, NULL},
    {"interleaved", T_KW_INTERLEAVED, -1, NULL},
    {"half", T_KW_HALF, -1, NULL},
    {"blocked", T_KW_BLOCKED, -1, NULL},
    {"groups", T_KW_GROUPS, -1, NULL},
    {"over", T_KW_OVER, -1, NULL},
    {"parts", T_KW_PARTS, -1, NULL},
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

uint32_t wbr_parse_line_start(const wbr_ast_file *f, uint32_t off) {
  if (off > f->len) off = (uint32_t)f->len;
  while (off > 0 && f->src[off - 1] != '\n') off--;
  return off;
}

static void vreport(wbr_parser *ps, wbr_span span, const char *help, const char *fmt, va_list ap) {
  ps->nerrors++;
  int64_t ls = wbr_parse_line_start(ps->f, span.start);
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

void wbr_parse_missing_header(wbr_parser *ps) {
  ps->nerrors++;
  wbr_diag_at(ps->ctx, ps->f, WBR_SEV_ERROR, (wbr_span){0, 0},
              "add the line 'weightbridge 1' at the top (comments may come before it)",
              "missing the header 'weightbridge 1'");
}

/* ---- lexer helpers ------------------------------------------------------------------------ */

int wbr_lex_token(wbr_parser *ps, int kind, wbr_span span) {
  if (!ps->any_tok) {
    ps->any_tok = true;
    if (kind != T_KW_WEIGHTBRIDGE) wbr_parse_missing_header(ps);
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

static wbr_ast_pat *new_pat(wbr_parser *ps, wbr_pattern_kind k, wbr_span span, size_t textcap) {
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
  wbr_ast_pat *p = new_pat(ps, WBR_PK_GLOB, span, body);
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
  wbr_ast_pat *p = new_pat(ps, WBR_PK_REGEX, span, body);
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
  p->flags = (uint8_t)((seen_i ? WBR_RX_CASELESS : 0) | (seen_x ? WBR_RX_EXTENDED : 0));
  return wbr_lex_token(ps, T_REGEX, span);
}

bool wbr_lex_after_operand(const wbr_parser *ps) {
  return ps->line_has_tok && (ps->last_tok == T_INT || ps->last_tok == T_IDENT || ps->last_tok == T_RPAREN);
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
    } else if (t == T_IDENT && ps->prev_tok == T_KW_OVER) {
      parts[np++] = "the name of a capture of the pattern (over e: \"experts.{e}.w1\")";
    } else if (t == T_IDENT) {
      /* where a number may be written, so may a parameter: "a number" says it */
      if (ps->cur_kw == T_KW_PARAM && !has(exp, n, T_INT)) parts[np++] = "a parameter name (n_heads)";
      else if (!has(exp, n, T_INT)) parts[np++] = "a dtype (f32, f16, bf16, ...)";
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
                      : t == T_LPAREN && !has(exp, n, T_INT) ? "'('"
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

/* "statements are: rename, drop, ...", every keyword of compiler/statements.h in order. */
static const char *statements_help(char *out, size_t cap) {
  size_t o = (size_t)snprintf(out, cap, "statements are: ");
  for (int k = 0; k < WBR_STMT_COUNT && o < cap; k++)
    o += (size_t)snprintf(out + o, cap - o, "%s%s", k ? ", " : "", wbr_stmt_keyword((wbr_stmt_kind)k));
  return out;
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
    else {
      char all[512];
      wbr_parse_error(ps, span, statements_help(all, sizeof all), "unknown statement '%.*s'",
                      shown, src + span.start);
    }
    return;
  }

  /* param count = 3: a keyword cannot name a parameter */
  const struct word *kwtok = word_by_tok(tok);
  if (ps->cur_kw == T_KW_PARAM && ps->prev_tok == T_KW_PARAM && ps->last_tok == tok && kwtok) {
    wbr_parse_error(ps, span, "choose another name, e.g. n_count",
                    "'%s' is a keyword of the language and cannot name a parameter", kwtok->name);
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
  /* permute "x" (n, 0), axis n: the places a number stays literal */
  if (tok == T_IDENT && has(exp, n, T_INT) && ps->cur_kw != T_KW_WEIGHTBRIDGE)
    snprintf(help, sizeof help, "%s",
             "axes are literal numbers; parameters go in sizes, counts, indices and ranges");
  if (tok == T_NL && ps->cont && !help[0])
    snprintf(help, sizeof help, "%s", "a line that ends with ',' or '->' continues on the next");
  wbr_parse_error(ps, span, help[0] ? help : NULL, "%s", b.p ? b.p : "syntax error");
  wbr_buf_free(&b);
}
