/* build.c — the builders the grammar actions call (grammar/parser.y): the header, the growable
 * lists a statement is gathered from, and the statement itself, which an action fills in
 * directly as a wbr_ast_stmt. Builders check what is local to a token (a dtype word, the
 * header's version, 'optional hint'); everything that needs the whole statement is left to
 * check.c. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "frontend.h"

static void *ps_alloc(wbr_parser *ps, size_t n) {
  void *p = wbr_ast_alloc(ps->f, n);
  if (!p) ps->oom = true;
  return p;
}

void wbr_b_header(wbr_parser *ps, wbr_span kw, int64_t version, wbr_span num) {
  if (ps->header_seen || ps->f->nstmts > 0) {
    wbr_parse_error(ps, (wbr_span){kw.start, num.end},
                    "keep one 'weightbridge 1' line, above every statement",
                    "the header 'weightbridge N' must be the first line of the file");
    return;
  }
  ps->header_seen = true;
  ps->f->version_span = (wbr_span){kw.start, num.end};
  if (version != 1) {
    wbr_parse_error(ps, num, "write 'weightbridge 1'",
                    "unsupported language version %lld, this wbr reads version 1",
                    (long long)version);
    ps->f->version = 1;
    return;
  }
  ps->f->version = 1;
}

void wbr_b_header_bad(wbr_parser *ps, wbr_span kw) {
  ps->header_seen = true;
  ps->f->version_span = kw;
  ps->f->version = 1;
}

static void list_grow(wbr_parser *ps, void **v, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return;
  size_t ncap = *cap ? *cap * 2 : 4;
  void *p = ps_alloc(ps, ncap * elem);
  if (!p) return;
  if (n) memcpy(p, *v, n * elem);
  *v = p;
  *cap = ncap;
}

wbr_pat_list *wbr_b_pats(wbr_parser *ps, wbr_pat_list *l, wbr_ast_pat *p) {
  if (!l) l = ps_alloc(ps, sizeof *l);
  if (!l || !p) return l;
  list_grow(ps, (void **)&l->v, &l->cap, l->n, sizeof *l->v);
  if (l->n < l->cap) l->v[l->n++] = *p;
  return l;
}

wbr_ast_pat *wbr_b_pair(wbr_parser *ps, const wbr_ast_pat *a, const wbr_ast_pat *b) {
  wbr_ast_pat *two = ps_alloc(ps, 2 * sizeof *two);
  if (!two || !a || !b) return NULL;
  two[0] = *a;
  two[1] = *b;
  return two;
}

wbr_int_list *wbr_b_ints(wbr_parser *ps, wbr_int_list *l, int64_t v, wbr_span span) {
  if (!l) l = ps_alloc(ps, sizeof *l);
  if (!l) return NULL;
  size_t cap = l->cap;
  list_grow(ps, (void **)&l->v, &cap, l->n, sizeof *l->v);
  size_t cap2 = l->cap;
  list_grow(ps, (void **)&l->spans, &cap2, l->n, sizeof *l->spans);
  if (cap == cap2 && l->n < cap) {
    l->cap = cap;
    l->v[l->n] = v;
    l->spans[l->n] = span;
    l->n++;
  }
  return l;
}

wbr_int_list *wbr_b_ints_close(wbr_parser *ps, wbr_int_list *l, wbr_span span) {
  if (!l) l = ps_alloc(ps, sizeof *l);
  if (l) l->span = span;
  return l;
}

wbr_ast_ints wbr_b_ints_array(const wbr_int_list *l) {
  if (!l) return (wbr_ast_ints){0};
  return (wbr_ast_ints){.v = l->v, .n = l->n, .span = l->span, .spans = l->spans, .e = l->e};
}

static wbr_ast_expr *expr_node(wbr_parser *ps, wbr_expr_op op, wbr_span span) {
  wbr_ast_expr *x = ps_alloc(ps, sizeof *x);
  if (x) {
    x->op = op;
    x->span = span;
  }
  return x;
}

wbr_ast_expr *wbr_b_lit(wbr_parser *ps, int64_t v, wbr_span span) {
  wbr_ast_expr *x = expr_node(ps, WBR_EXPR_LIT, span);
  if (x) x->v = v;
  return x;
}

char *wbr_b_word(wbr_parser *ps, wbr_span span) {
  size_t n = span.end - span.start;
  char *w = ps_alloc(ps, n + 1);
  if (w) memcpy(w, ps->f->src + span.start, n);
  return w;
}

wbr_ast_expr *wbr_b_name(wbr_parser *ps, wbr_span span) {
  wbr_ast_expr *x = expr_node(ps, WBR_EXPR_NAME, span);
  char *name = x ? wbr_b_word(ps, span) : NULL;
  if (!name) return NULL;
  x->name = name;
  return x;
}

wbr_ast_expr *wbr_b_binop(wbr_parser *ps, wbr_expr_op op, wbr_ast_expr *l, wbr_ast_expr *r,
                          wbr_span span) {
  wbr_ast_expr *x = l && r ? expr_node(ps, op, span) : NULL;
  if (x) {
    x->l = l;
    x->r = r;
  }
  return x;
}

/* A lone literal (also in parentheses) is kept as the plain number, as before expressions. */
wbr_ast_num wbr_b_num(wbr_parser *ps, wbr_ast_expr *e, wbr_span span) {
  (void)ps;
  if (!e) return (wbr_ast_num){0, NULL, span};
  if (e->op == WBR_EXPR_LIT) return (wbr_ast_num){e->v, NULL, span};
  return (wbr_ast_num){0, e, span};
}

wbr_int_list *wbr_b_nums(wbr_parser *ps, wbr_int_list *l, wbr_ast_num n) {
  size_t at = l ? l->n : 0;
  l = wbr_b_ints(ps, l, n.v, n.span);
  if (!l || l->n != at + 1 || (!n.e && !l->e)) return l;
  /* The first expression gives the list its expression slots (NULL for the literals); from
   * then on they grow with the list. */
  if (l->ecap < l->cap) {
    wbr_ast_expr **ne = ps_alloc(ps, l->cap * sizeof *ne);
    if (!ne) {
      l->e = NULL;
      l->ecap = 0;
      return l;
    }
    if (l->e) memcpy(ne, l->e, (at < l->ecap ? at : l->ecap) * sizeof *ne);
    l->e = ne;
    l->ecap = l->cap;
  }
  l->e[at] = n.e;
  return l;
}
/* Resolve a dtype word: case-insensitive, any name of WBR_DTYPE_LIST. */
wbr_dtype wbr_b_dtype(wbr_parser *ps, wbr_span sp) {
  const char *w = ps->f->src + sp.start;
  size_t n = sp.end - sp.start;
  wbr_dtype dt = WBR_F32;
  if (wbr_dtype_parse(&dt, w, n) == 0) return dt;
  /* Common spellings from other frameworks get a pointed suggestion. */
  static const struct {
    const char *alias, *name;
  } aliases[] = {{"float32", "f32"}, {"float", "f32"},     {"float16", "f16"}, {"half", "f16"},
                 {"bfloat16", "bf16"}, {"float64", "f64"}, {"double", "f64"},  {"int64", "i64"},
                 {"int32", "i32"},    {"int16", "i16"},    {"int8", "i8"},     {"uint8", "u8"},
                 {"long", "i64"},     {"int", "i32"},      {"fp32", "f32"},    {"fp16", "f16"},
                 {"bf", "bf16"},      {"uint16", "u16"},   {"uint32", "u32"},  {"uint64", "u64"}};
  char help[200];
  snprintf(help, sizeof help, "%s", "");
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strlen(aliases[i].alias) == n && strncasecmp(aliases[i].alias, w, n) == 0)
      snprintf(help, sizeof help, "write '%s'", aliases[i].name);
  if (!help[0])
    snprintf(help, sizeof help, "dtype names are case-insensitive; see docs/language.md, 'cast'");
  wbr_parse_error(ps, sp, help,
                  "unknown dtype '%.*s'; valid dtypes: f64, f32, f16, bf16, f8_e4m3, f8_e5m2, "
                  "i64, i32, i16, i8, u64, u32, u16, u8, bool",
                  (int)(n > 40 ? 40 : n), w);
  return WBR_F32;
}

wbr_ast_stmt *wbr_b_stmt(wbr_parser *ps, wbr_ast_stmt s) {
  wbr_ast_stmt *d = ps_alloc(ps, sizeof *d);
  if (!d) return NULL;
  /* A part that failed to allocate (already flagged as out of memory) counts as absent. */
  if (!s.in) s.nin = 0;
  if (!s.out) s.nout = 0;
  *d = s;
  return d;
}

wbr_ast_stmt *wbr_b_optional(wbr_parser *ps, wbr_ast_stmt *s, wbr_span span, wbr_span kw) {
  if (!s) return NULL;
  if (s->kind == WBR_STMT_HINT || s->kind == WBR_STMT_PARAM) {
    wbr_parse_error(ps, kw, s->kind == WBR_STMT_HINT ? "remove 'optional': a hint never matches or fails"
                                                     : "remove 'optional': a parameter matches no tensor",
                    "'optional' cannot be used with '%s'", wbr_stmt_keyword(s->kind));
    return s;
  }
  s->optional = true;
  s->span = span;
  return s;
}

void wbr_b_push(wbr_parser *ps, wbr_ast_stmt *s) {
  if (!s) return;
  wbr_ast_stmt *d = wbr_ast_add_stmt(ps->f, s->kind);
  if (!d) {
    ps->oom = true;
    return;
  }
  *d = *s;
}
