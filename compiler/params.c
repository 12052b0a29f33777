/* params.c — parameters in the compiler: checking, printing and emitting size expressions
 * (compiler/params.h). The arithmetic is the runtime's (bytecode/params.c), so a constant the
 * compiler folds is exactly what the VM would compute. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "params.h"

#include "bytecode/params.h"
#include "bytecode/program.h"
#include "frontend.h"

/* The AST's operators are the bytecode's. */
_Static_assert((int)WBR_EXPR_ADD == (int)WBR_XOP_ADD && (int)WBR_EXPR_SUB == (int)WBR_XOP_SUB &&
                   (int)WBR_EXPR_MUL == (int)WBR_XOP_MUL && (int)WBR_EXPR_DIV == (int)WBR_XOP_DIV,
               "wbr_expr_op and wbr_xop disagree");

/* Deeper expressions are refused (the verifier's limit for the bytecode, docs/bytecode.md). */
enum { MAX_DEPTH = 32 };

/* ---- checking ------------------------------------------------------------------------------ */

static void nerr(wbr_numcheck *nc, wbr_span at, const char *help, const char *fmt, ...)
    WBR_PRINTF(4, 5);
static void nerr(wbr_numcheck *nc, wbr_span at, const char *help, const char *fmt, ...) {
  nc->errors++;
  va_list ap;
  va_start(ap, fmt);
  wbr_vdiag_at(nc->ctx, nc->f, WBR_SEV_ERROR, at, help, fmt, ap);
  va_end(ap);
}

/* The first param statement of f[from, to) declaring `name`, or NULL. */
static const wbr_ast_stmt *find_param(const wbr_ast_file *f, size_t from, size_t to, const char *name) {
  for (size_t i = from; i < to && i < f->nstmts; i++)
    if (f->stmts[i].kind == WBR_STMT_PARAM && f->stmts[i].name && strcmp(f->stmts[i].name, name) == 0)
      return &f->stmts[i];
  return NULL;
}

/* The statement declaring parameter `name` above statement nc->at, or NULL. */
static const wbr_ast_stmt *declared(const wbr_numcheck *nc, const char *name) {
  return find_param(nc->f, 0, nc->at, name);
}

/* The parameter declared above nc->at whose name is closest to name, if close enough. */
static const char *closest_param(const wbr_numcheck *nc, const char *name) {
  const char *best = NULL;
  size_t bestd = SIZE_MAX, n = strlen(name);
  for (size_t i = 0; i < nc->at && i < nc->f->nstmts; i++) {
    const wbr_ast_stmt *s = &nc->f->stmts[i];
    if (s->kind != WBR_STMT_PARAM || !s->name) continue;
    size_t d = wbr_edit_distance(name, n, s->name, strlen(s->name), WBR_EDIT_TRANSPOSE);
    if (d < bestd) {
      bestd = d;
      best = s->name;
    }
  }
  return best && bestd <= (n <= 3 ? 1u : n <= 6 ? 2u : 3u) ? best : NULL;
}

static void unknown_name(wbr_numcheck *nc, const wbr_ast_expr *e) {
  const wbr_ast_stmt *later = find_param(nc->f, nc->at, nc->f->nstmts, e->name);
  if (later == &nc->f->stmts[nc->at]) {
    nerr(nc, e->span, "a default may use only the parameters declared above it",
         "the default of '%s' uses '%s' itself", e->name, e->name);
    return;
  }
  if (later) {
    nerr(nc, e->span, "move the param statement above its first use",
         "parameter '%s' is used before it is declared", e->name);
    wbr_diag_at(nc->ctx, nc->f, WBR_SEV_NOTE, later->span, NULL, "it is declared here");
    return;
  }
  const char *best = closest_param(nc, e->name);
  char help[200];
  if (best) {
    snprintf(help, sizeof help, "the parameters declared above are spelled like '%s'", best);
    nerr(nc, e->span, help, "unknown parameter '%s'; did you mean '%s'?", e->name, best);
    return;
  }
  snprintf(help, sizeof help, "declare it above its first use: param %s = N", e->name);
  nerr(nc, e->span, help, "unknown parameter '%s'", e->name);
}

/* Evaluate e as far as it is constant: 1 known (*v), 0 symbolic, -1 reported. */
static int eval(wbr_numcheck *nc, const wbr_ast_expr *e, int depth, int64_t *v) {
  if (depth > MAX_DEPTH) {
    nerr(nc, e->span, "use a parameter for a part of it", "expression nested more than %d deep",
         MAX_DEPTH);
    return -1;
  }
  switch (e->op) {
  case WBR_EXPR_LIT: *v = e->v; return 1;
  case WBR_EXPR_NAME:
    if (declared(nc, e->name)) return 0;
    unknown_name(nc, e);
    return -1;
  case WBR_EXPR_ADD:
  case WBR_EXPR_SUB:
  case WBR_EXPR_MUL:
  case WBR_EXPR_DIV: break;
  }
  int64_t a = 0, b = 0, r = 0;
  int ka = eval(nc, e->l, depth + 1, &a);
  int kb = eval(nc, e->r, depth + 1, &b);
  if (ka < 0 || kb < 0) return -1;
  if (kb == 1 && b == 0 && e->op == WBR_EXPR_DIV) {
    nerr(nc, e->r->span, NULL, "division by zero");
    return -1;
  }
  if (!ka || !kb) return 0;
  char op = wbr_xop_char((wbr_xop)e->op);
  switch (wbr_xop_apply((wbr_xop)e->op, a, b, &r)) {
  case WBR_XERR_OK: *v = r; return 1;
  case WBR_XERR_OVERFLOW:
    nerr(nc, e->span, "sizes are between -2^63 and 2^63-1",
         "%" PRId64 " %c %" PRId64 " overflows", a, op, b);
    return -1;
  case WBR_XERR_ZERO: nerr(nc, e->r->span, NULL, "division by zero"); return -1;
  case WBR_XERR_INEXACT:
    nerr(nc, e->span, "division in sizes must be exact",
         "%" PRId64 " / %" PRId64 " is not exact (remainder %" PRId64 ")", a, b, a % b);
    return -1;
  }
  return -1;
}

int wbr_check_num(wbr_numcheck *nc, const wbr_ast_num *n, int64_t *v) {
  if (!n->e) {
    *v = n->v;
    return 1;
  }
  return eval(nc, n->e, 1, v);
}

void wbr_check_param(wbr_numcheck *nc, const wbr_ast_stmt *s) {
  const char *name = s->name ? s->name : "";
  if (!wbr_param_name_ok(name, strlen(name))) {
    nerr(nc, s->name_span, "a parameter name is lowercase letters, digits and '_', not starting "
         "with a digit, at most 64 bytes: n_heads", "invalid parameter name '%.64s'", name);
    return;
  }
  const wbr_ast_stmt *first = declared(nc, name);
  if (first) {
    nerr(nc, s->name_span, "declare each parameter once; give other values with --param",
         "parameter '%s' is declared twice", name);
    wbr_diag_at(nc->ctx, nc->f, WBR_SEV_NOTE, first->span, NULL, "the first declaration is here");
    return;
  }
  int64_t v;
  if (!s->has_def || !s->def.e) return;
  /* A default over itself is "used before it is declared": it is declared once this ends. */
  wbr_check_num(nc, &s->def, &v);
}

/* ---- printing ------------------------------------------------------------------------------ */

static int prec(const wbr_ast_expr *e) {
  switch (e->op) {
  case WBR_EXPR_ADD:
  case WBR_EXPR_SUB: return 1;
  case WBR_EXPR_MUL:
  case WBR_EXPR_DIV: return 2;
  case WBR_EXPR_LIT:
  case WBR_EXPR_NAME: break;
  }
  return 3;
}

/* Parentheses where the tree needs them: a looser operand, or a right operand of the same
 * precedence (a - (b - c), a / (b * c): the tree is kept, so exactness checks stay the same). */
static void put_expr(wbr_buf *b, const wbr_ast_expr *e, int min, bool right, int depth) {
  if (depth > MAX_DEPTH + 2) return; /* the checker refused it; a hand-built AST: cut */
  if (e->op == WBR_EXPR_LIT) {
    wbr_buf_printf(b, "%" PRId64, e->v);
    return;
  }
  if (e->op == WBR_EXPR_NAME) {
    wbr_buf_puts(b, e->name);
    return;
  }
  int p = prec(e);
  bool paren = p < min || (right && p == min);
  if (paren) wbr_buf_putc(b, '(');
  put_expr(b, e->l, p, false, depth + 1);
  wbr_buf_printf(b, " %c ", wbr_xop_char((wbr_xop)e->op));
  put_expr(b, e->r, p, true, depth + 1);
  if (paren) wbr_buf_putc(b, ')');
}

void wbr_fmt_num(wbr_buf *b, const wbr_ast_num *n) {
  if (n->e) put_expr(b, n->e, 0, false, 0);
  else wbr_buf_printf(b, "%" PRId64, n->v);
}

/* ---- emitting ------------------------------------------------------------------------------ */

/* The value of a constant expression (checked: cannot fail). */
static bool fold(const wbr_ast_expr *e, int depth, int64_t *v) {
  if (depth > MAX_DEPTH) return false;
  if (e->op == WBR_EXPR_LIT) {
    *v = e->v;
    return true;
  }
  int64_t a, b;
  if (e->op == WBR_EXPR_NAME || !fold(e->l, depth + 1, &a) || !fold(e->r, depth + 1, &b))
    return false;
  return wbr_xop_apply((wbr_xop)e->op, a, b, v) == WBR_XERR_OK;
}

/* Expression e as nodes of p (operands first); the root's index, or -1 (out of memory, a pool
 * limit, or a name with no parameter: a bug of the checker). */
static int64_t emit_expr(wbr_program *p, const wbr_ast_expr *e, int depth) {
  if (depth > MAX_DEPTH) return -1;
  switch (e->op) {
  case WBR_EXPR_LIT: return wbr_program_add_xlit(p, e->v);
  case WBR_EXPR_NAME: {
    int64_t k = wbr_program_param_find(p, e->name);
    return k < 0 ? -1 : wbr_program_add_xnode(p, WBR_XOP_PARAM, (uint32_t)k, 0);
  }
  case WBR_EXPR_ADD:
  case WBR_EXPR_SUB:
  case WBR_EXPR_MUL:
  case WBR_EXPR_DIV: break;
  }
  int64_t a = emit_expr(p, e->l, depth + 1);
  int64_t b = a < 0 ? -1 : emit_expr(p, e->r, depth + 1);
  if (b < 0) return -1;
  return wbr_program_add_xnode(p, (wbr_xop)e->op, (uint32_t)a, (uint32_t)b);
}

static int emit_failed(wbr_ctx *ctx, const wbr_ast_file *f, wbr_span at) {
  return wbr_diag_at(ctx, f, WBR_SEV_ERROR, at, "split the rules into several files",
                     "too many parameters or expressions for one program (limits: %u parameters, "
                     "%u expression nodes)", WBR_MAX_PARAMS, WBR_XREF_LIMIT);
}

int wbr_emit_num(wbr_program *p, wbr_ctx *ctx, const wbr_ast_file *f, const wbr_ast_num *n,
                 int64_t *out) {
  int64_t root = -1;
  if (!n->e || fold(n->e, 1, out)) {
    if (!n->e) *out = n->v;
    if (!p->xrefs || !wbr_xref_is(*out)) return 0;
    root = wbr_program_add_xlit(p, *out); /* a literal that would read as a reference */
  } else {
    root = emit_expr(p, n->e, 1);
  }
  if (root < 0) return emit_failed(ctx, f, n->span);
  *out = wbr_xref_make((uint32_t)root);
  return 0;
}

int wbr_emit_param(wbr_program *p, wbr_ctx *ctx, const wbr_ast_file *f, const wbr_ast_stmt *s,
                   int64_t *index) {
  const char *name = s->name ? s->name : "";
  int64_t str = wbr_program_add_str(p, name, strlen(name));
  int64_t def = WBR_NONE;
  if (s->has_def) def = s->def.e ? emit_expr(p, s->def.e, 1) : wbr_program_add_xlit(p, s->def.v);
  *index = str < 0 || def < 0 ? -1 : wbr_program_add_param(p, (uint32_t)str, (uint32_t)def);
  return *index < 0 ? emit_failed(ctx, f, s->span) : 0;
}
