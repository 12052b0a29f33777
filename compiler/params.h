/* params.h — the compiler's side of parameters (docs/language.md, "Parameters"): the size
 * expressions (wbr_ast_num) a size, count or index is written as — checking one, printing it
 * canonically, and emitting the int64 an int list stores for it (the literal, or a reference to
 * the program's expression pool). check.c, fmt.c and emit.c call these through their own short
 * wrappers (check_num, put_num, emit_num). */
#ifndef WBR_COMPILER_PARAMS_H
#define WBR_COMPILER_PARAMS_H

#include "ast.h"

/* What checking a num needs: where it is (statement `at` of f: a name must be a parameter
 * declared above it) and where problems go. `errors` counts those reported. */
typedef struct wbr_numcheck {
  wbr_ctx *ctx;
  const wbr_ast_file *f;
  size_t at;
  int errors;
} wbr_numcheck;

/* Check n: every name a parameter declared above, the arithmetic of its constant parts exact
 * and within int64. Returns 1 when its value is known at compile time (in *v: a literal, or a
 * constant expression folded), 0 when it depends on parameters (valid; *v untouched), -1 after
 * reporting a problem. */
int wbr_check_num(wbr_numcheck *nc, const wbr_ast_num *n, int64_t *v);

/* Check a param statement (statement nc->at): the name (not declared above, a valid name), and
 * its default, which may use only the parameters declared above it. */
void wbr_check_param(wbr_numcheck *nc, const wbr_ast_stmt *s);

/* Append n canonically: the literal, or the expression with single spaces around the operators
 * and only the parentheses its tree needs. */
void wbr_fmt_num(wbr_buf *b, const wbr_ast_num *n);

/* The value an int list of p stores for n (checked): the literal or folded constant, or a
 * reference to an expression node added to p (bytecode/params.h). 0, or an error reported
 * through ctx at n (over a pool limit, out of memory). */
int wbr_emit_num(wbr_program *p, wbr_ctx *ctx, const wbr_ast_file *f, const wbr_ast_num *n,
                 int64_t *out);

/* A param statement's entry in p's parameter table (its default as an expression node): its
 * index in *index. 0, or an error reported through ctx. */
int wbr_emit_param(wbr_program *p, wbr_ctx *ctx, const wbr_ast_file *f, const wbr_ast_stmt *s,
                   int64_t *index);

#endif
