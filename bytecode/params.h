/* params.h — parameters in the bytecode: the arithmetic of size expressions (one definition for
 * the compiler's constant folding and the VM's binding), and how an int-list value refers to an
 * expression of the program's expression pool instead of holding a literal (docs/bytecode.md,
 * "Parameters"). */
#ifndef WBR_BC_PARAMS_H
#define WBR_BC_PARAMS_H

#include "base/params.h" /* wbr_param_name_ok, WBR_MAX_PARAM_NAME */
#include "base/util.h"
#include "opcodes.h"

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

/* In a format-2 program (wbr_program_is_xref, program.h), an int-list value at or below
 * WBR_XREF_MAX is not a literal but a reference to expression node (v - INT64_MIN) of the pool;
 * the emitter writes a literal of that range there as a reference to a literal node. In a
 * version-1 file every value is a literal. */
#define WBR_XREF_LIMIT (1u << 20) /* nodes in the pool (== WBR_MAX_POOL) */
#define WBR_XREF_MAX (INT64_MIN + (int64_t)WBR_XREF_LIMIT - 1)
static inline bool wbr_xref_is(int64_t v) { return v <= WBR_XREF_MAX; }
static inline uint32_t wbr_xref_node(int64_t v) { return (uint32_t)((uint64_t)v - (uint64_t)INT64_MIN); }
static inline int64_t wbr_xref_make(uint32_t node) { return (int64_t)((uint64_t)INT64_MIN + node); }

/* ---- the parameter table and the expression pool (struct wbr_program, format version 2) ---- */

#define WBR_MAX_PARAMS 1024u  /* entries of the parameter table */
#define WBR_MAX_XDEPTH 32     /* nodes on the longest path from an expression's root to a leaf */

/* One parameter: its name (string index) and default (expression node, or WBR_NONE). */
typedef struct wbr_param_decl {
  uint32_t name;
  uint32_t def;
} wbr_param_decl;

/* One expression node. LIT: the value is b:a (high:low 32 bits); PARAM: a is the parameter's
 * index, b is 0; ADD..DIV: a, b are the operand nodes, both before this one (so no cycles). */
typedef struct wbr_xnode {
  uint8_t op; /* wbr_xop */
  uint32_t a, b;
} wbr_xnode;

static inline int64_t wbr_xnode_lit(const wbr_xnode *n) {
  return (int64_t)((uint64_t)n->b << 32 | n->a);
}

/* Whether operands of kind k name an int list (whose values may then be references): the int
 * list column of WBR_OPK_LIST (opcodes.h). The VM resolves only these. */
bool wbr_opk_is_int_list(wbr_opk k);

/* The .wbc format version a program is written in: 2 with parameters or expressions, else 1
 * (byte-identical to what a wbr without parameters writes). */
uint16_t wbr_program_format(const wbr_program *p);
/* Building (the emitter): each returns the new entry's index, or -1 when out of memory or over
 * a limit. Nodes are not deduplicated. */
int64_t wbr_program_add_param(wbr_program *p, uint32_t name, uint32_t def);
int64_t wbr_program_add_xnode(wbr_program *p, wbr_xop op, uint32_t a, uint32_t b);
int64_t wbr_program_add_xlit(wbr_program *p, int64_t v);
/* The index of the parameter named name, or -1. */
int64_t wbr_program_param_find(const wbr_program *p, const char *name);
/* A parameter's name, as its table entry says (verified programs only). */
const char *wbr_program_param_name(const wbr_program *p, uint32_t i);
/* Verify the parameter table and the expression pool as untrusted input (names valid and
 * unique, nodes in range and ordered, depth, defaults over earlier parameters only): NULL, or
 * the problem written to err. */
const char *wbr_params_verify(const wbr_program *p, char *err, size_t errn);
/* Append expression node i of a verified program as source text (parameter names, minimal
 * parentheses), e.g. "dim / n_heads". */
void wbr_xnode_print(wbr_buf *b, const wbr_program *p, uint32_t i);
/* Append int-list value v: the literal, or the expression it refers to. */
void wbr_xvalue_print(wbr_buf *b, const wbr_program *p, int64_t v);

#endif
