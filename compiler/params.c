/* params.c — parameters in the compiler: checking, printing and emitting size expressions
 * (compiler/params.h). The arithmetic is the runtime's (bytecode/params.c), so a constant the
 * compiler folds is exactly what the VM would compute. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "params.h"

#include "bytecode/params.h"
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

/* The statement declaring parameter `name` above statement nc->at, or NULL. */
static const wbr_ast_stmt *declared(const wbr_numcheck *nc, const char *name) {
  (void)nc;
  (void)name;
  return NULL; /* no parameter statement yet */
}

static void unknown_name(wbr_numcheck *nc, const wbr_ast_expr *e) {
  char help[160];
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
    nerr(nc, e->span, "sizes divide exactly; give the value with --param or a default",
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

int wbr_emit_num(wbr_program *p, wbr_ctx *ctx, const wbr_ast_file *f, const wbr_ast_num *n,
                 int64_t *out) {
  (void)p;
  if (!n->e) {
    *out = n->v;
    return 0;
  }
  if (fold(n->e, 1, out)) return 0;
  return wbr_diag_at(ctx, f, WBR_SEV_ERROR, n->span, NULL,
                     "internal error: an expression over parameters cannot be emitted yet");
}
