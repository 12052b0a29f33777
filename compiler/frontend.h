/* frontend.h — the .wbr front end as the rest of the compiler sees it: parse source into an AST,
 * check it, print it canonically, report positioned diagnostics, and build ASTs by hand (the
 * matcher). The second half is private to the grammar (grammar/lexer.l, grammar/parser.y) and to
 * compiler/{driver,parse,build}.c: the parser state shared by the lexer and the parser. */
#ifndef WBR_FRONTEND_H
#define WBR_FRONTEND_H

#include "ast.h"

/* Parse source into an AST; reports every syntax error; returns 0 or WBR_ERULES. On error *out
 * is NULL. */
int wbr_parse(wbr_ast_file **out, wbr_ctx *ctx, const char *name, const char *src, size_t len);
/* Like wbr_parse, but on a syntax error *out still holds the statements that did parse (NULL
 * only when out of memory), so the checker can report their problems in the same run. */
int wbr_parse_partial(wbr_ast_file **out, wbr_ctx *ctx, const char *name, const char *src,
                      size_t len);
/* Parse and check as wbr_program_compile does (the same size limit, every problem reported),
 * keeping the AST for a caller that also reads, extends or prints it (match --update). Returns
 * 0 with *out set, or the error with *out NULL. */
int wbr_parse_checked(wbr_ast_file **out, wbr_ctx *ctx, const char *name, const char *src,
                      size_t len);
/* Semantic checks (docs/language.md, "Errors"); returns 0 or WBR_ERULES after reporting every
 * problem. */
int wbr_check(wbr_ast_file *f, wbr_ctx *ctx);
/* The checks of rope, fuse and unfuse (statement `at` of f) beyond their patterns, templates,
 * inputs and outputs (compiler/layout.c): the head or group count, and unfuse's sizes against
 * the groups. Reports each problem; returns how many. */
int wbr_check_layout(wbr_ctx *ctx, const wbr_ast_file *f, size_t at, const wbr_ast_stmt *s);
/* Print f canonically (fmt). Appends to b. */
void wbr_fmt_ast(const wbr_ast_file *f, wbr_buf *b);
/* Print one statement canonically, without comments or newline. Appends to b. */
void wbr_fmt_stmt(const wbr_ast_stmt *s, wbr_buf *b);
/* Report a diagnostic about bytes [span.start, span.end) of f's source: computes line and
 * column, copies the source line, and calls wbr_report. `help` may be NULL. Returns WBR_ERULES
 * for an error, 0 for a warning or note. */
int wbr_diag_at(wbr_ctx *ctx, const wbr_ast_file *f, wbr_severity sev, wbr_span span,
                const char *help, const char *fmt, ...) WBR_PRINTF(6, 7);
int wbr_vdiag_at(wbr_ctx *ctx, const wbr_ast_file *f, wbr_severity sev, wbr_span span,
                 const char *help, const char *fmt, va_list ap);
/* Compute 1-based line and column (in bytes; a tab counts 1) of a byte offset. */
void wbr_span_linecol(const wbr_ast_file *f, uint32_t off, int *line, int *col);

/* Builders for code that makes ASTs without parsing (the matcher). Spans stay {0, 0}. */
wbr_ast_file *wbr_ast_new(const char *name); /* empty file, version 1; NULL if out of memory */
/* A zeroed statement appended to f (NULL if out of memory). The pointer stays valid until the
 * next wbr_ast_add_stmt on f. */
wbr_ast_stmt *wbr_ast_add_stmt(wbr_ast_file *f, wbr_stmt_kind k);
char *wbr_ast_strdup(wbr_ast_file *f, const char *s); /* arena copy */
void *wbr_ast_alloc(wbr_ast_file *f, size_t n);       /* arena, zeroed */

/* ---- Parser internals: grammar/ and compiler/{driver,parse,build}.c only --------------------- */

/* Growable lists the grammar builds up before a statement is complete (arena memory). */
typedef struct wbr_pat_list {
  wbr_ast_pat *v;
  size_t n, cap;
} wbr_pat_list;

typedef struct wbr_int_list {
  int64_t *v;
  wbr_span *spans;
  size_t n, cap;
  wbr_span span;
  wbr_ast_expr **e; /* for a list of nums: one per element (NULL: a literal); else NULL */
  size_t ecap;
} wbr_int_list;

/* A comment seen by the lexer, attached to statements after parsing. */
typedef struct wbr_lex_comment {
  wbr_span span;
} wbr_lex_comment;

typedef struct wbr_parser {
  wbr_ctx *ctx;
  wbr_ast_file *f;
  size_t nerrors;
  bool oom;
  size_t stmt_cap;
  /* lexer state */
  uint32_t off;          /* byte offset of the next character */
  bool line_has_tok;     /* a token was returned on the current logical line */
  bool cont;             /* the last token was ',' or '->': the line continues */
  bool any_tok;          /* a token was seen in the file */
  bool header_seen;
  bool eof;              /* the input is exhausted (the last NL is synthetic) */
  /* for syntax error messages: the statement being parsed and the last tokens */
  int cur_kw;            /* token kind of the statement keyword, or 0 */
  bool seen_arrow;
  int prev_tok, last_tok;
  wbr_span prev_span, last_span;
  int64_t err_line;      /* offset of the start of the last line with an error, or -1 */
  wbr_lex_comment *comments;
  size_t ncomments, comments_cap;
} wbr_parser;

/* Lexer helpers (compiler/parse.c). Each returns the token kind to hand to the parser. */
int wbr_lex_token(wbr_parser *ps, int kind, wbr_span span);
int wbr_lex_word(wbr_parser *ps, const char *s, size_t n, wbr_span span);
int wbr_lex_int(wbr_parser *ps, const char *s, size_t n, wbr_span span, int64_t *val);
int wbr_lex_string(wbr_parser *ps, const char *s, size_t n, wbr_span span, bool closed,
                   wbr_ast_pat **val);
int wbr_lex_regex(wbr_parser *ps, const char *s, size_t n, wbr_span span, bool closed,
                  wbr_ast_pat **val);
void wbr_lex_comment_add(wbr_parser *ps, wbr_span span);
/* The last token of the line was a number, a word or ')': a '/', '+', '-' or '*' next is an
 * operator of a size expression, not a regex, a sign or a stray character. */
bool wbr_lex_after_operand(const wbr_parser *ps);
void wbr_lex_stray(wbr_parser *ps, const char *s, size_t n, wbr_span span);
/* Called by the parser's error reporter: lookahead token kind and expected token kinds. */
void wbr_parse_syntax_error(wbr_parser *ps, int tok, wbr_span span, const int *expected, int n);
/* Report an error at span unless its line already has one (avoids cascades). */
void wbr_parse_error(wbr_parser *ps, wbr_span span, const char *help, const char *fmt, ...)
    WBR_PRINTF(4, 5);

/* The start of the line holding byte off. */
uint32_t wbr_parse_line_start(const wbr_ast_file *f, uint32_t off);
/* Report the missing 'weightbridge 1' header (at 1:1). */
void wbr_parse_missing_header(wbr_parser *ps);

/* Grammar builders (compiler/build.c). An action fills a wbr_ast_stmt and hands it to
 * wbr_b_stmt; the lists it was gathered from become its arrays (wbr_b_ints_array, and
 * .in = l->v, .nin = l->n for the pattern lists). */
void wbr_b_header(wbr_parser *ps, wbr_span kw, int64_t version, wbr_span num);
void wbr_b_header_bad(wbr_parser *ps, wbr_span kw);
/* An arena copy of s, the statement the action filled (NULL if out of memory). */
wbr_ast_stmt *wbr_b_stmt(wbr_parser *ps, wbr_ast_stmt s);
wbr_ast_stmt *wbr_b_optional(wbr_parser *ps, wbr_ast_stmt *s, wbr_span span, wbr_span kw);
void wbr_b_push(wbr_parser *ps, wbr_ast_stmt *s);
wbr_pat_list *wbr_b_pats(wbr_parser *ps, wbr_pat_list *l, wbr_ast_pat *p);
/* The two names of a hint as one array (NULL if out of memory). */
wbr_ast_pat *wbr_b_pair(wbr_parser *ps, const wbr_ast_pat *a, const wbr_ast_pat *b);
wbr_int_list *wbr_b_ints(wbr_parser *ps, wbr_int_list *l, int64_t v, wbr_span span);
wbr_int_list *wbr_b_ints_close(wbr_parser *ps, wbr_int_list *l, wbr_span span);
/* Size expressions (docs/language.md, "Parameters"): a literal, a parameter name (the word at
 * span), an operator; a num from an expression (a literal keeps no node); a list of nums. */
wbr_ast_expr *wbr_b_lit(wbr_parser *ps, int64_t v, wbr_span span);
wbr_ast_expr *wbr_b_name(wbr_parser *ps, wbr_span span);
wbr_ast_expr *wbr_b_binop(wbr_parser *ps, wbr_expr_op op, wbr_ast_expr *l, wbr_ast_expr *r,
                          wbr_span span);
wbr_ast_num wbr_b_num(wbr_parser *ps, wbr_ast_expr *e, wbr_span span);
/* An arena copy of the word at span (a parameter's name). */
char *wbr_b_word(wbr_parser *ps, wbr_span span);
wbr_int_list *wbr_b_nums(wbr_parser *ps, wbr_int_list *l, wbr_ast_num n);
/* The AST's view of an integer list (all zero for NULL). */
wbr_ast_ints wbr_b_ints_array(const wbr_int_list *l);
/* Resolve a dtype word (reported if unknown; then f32). */
wbr_dtype wbr_b_dtype(wbr_parser *ps, wbr_span word);

#endif
