/* params.h — parameters in the bytecode: the arithmetic of size expressions (one definition for
 * the compiler's constant folding and the VM's binding), and how an int-list value refers to an
 * expression of the program's expression pool instead of holding a literal (docs/bytecode.md,
 * "Parameters"). */
#ifndef WBR_BC_PARAMS_H
#define WBR_BC_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

/* Expression node operations, in the bytecode's numbering (the AST's wbr_expr_op has the same). */
typedef enum wbr_xop {
  WBR_XOP_LIT = 0,   /* a literal */
  WBR_XOP_PARAM = 1, /* the value of a parameter */
  WBR_XOP_ADD = 2,
  WBR_XOP_SUB = 3,
  WBR_XOP_MUL = 4,
  WBR_XOP_DIV = 5, /* exact */
  WBR_XOP_COUNT
} wbr_xop;

/* What can go wrong in one operation. */
typedef enum wbr_xerr {
  WBR_XERR_OK = 0,
  WBR_XERR_OVERFLOW, /* the result does not fit in int64 */
  WBR_XERR_ZERO,     /* division by zero */
  WBR_XERR_INEXACT   /* a division with a remainder */
} wbr_xerr;

/* a op b for op ADD..DIV, exactly, into *out. */
wbr_xerr wbr_xop_apply(wbr_xop op, int64_t a, int64_t b, int64_t *out);
/* The operator's character ('+', '-', '*', '/'), or '?'. */
char wbr_xop_char(wbr_xop op);

/* An int-list value at or below WBR_XREF_MAX is not a literal but a reference to expression
 * node (v - INT64_MIN) of the pool: the values a size, index or count can mean are far from
 * INT64_MIN, so the encoding leaves every meaningful literal as it was (version-1 files never
 * hold references). */
#define WBR_XREF_LIMIT (1u << 20) /* nodes in the pool (== WBR_MAX_POOL) */
#define WBR_XREF_MAX (INT64_MIN + (int64_t)WBR_XREF_LIMIT - 1)
static inline bool wbr_xref_is(int64_t v) { return v <= WBR_XREF_MAX; }
static inline uint32_t wbr_xref_node(int64_t v) { return (uint32_t)((uint64_t)v - (uint64_t)INT64_MIN); }
static inline int64_t wbr_xref_make(uint32_t node) { return (int64_t)((uint64_t)INT64_MIN + node); }

#endif
