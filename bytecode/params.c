/* params.c — the arithmetic of size expressions, shared by the compiler (constant folding,
 * checks) and the VM (binding parameter values): int64, every overflow caught, division exact. */
#include "params.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "base/params.h"
#include "program.h"

wbr_xerr wbr_xop_apply(wbr_xop op, int64_t a, int64_t b, int64_t *out) {
  switch (op) {
  case WBR_XOP_ADD: return wbr_add_i64(a, b, out) ? WBR_XERR_OK : WBR_XERR_OVERFLOW;
  case WBR_XOP_SUB: return wbr_sub_i64(a, b, out) ? WBR_XERR_OK : WBR_XERR_OVERFLOW;
  case WBR_XOP_MUL: return wbr_mul_i64(a, b, out) ? WBR_XERR_OK : WBR_XERR_OVERFLOW;
  case WBR_XOP_DIV:
    if (b == 0) return WBR_XERR_ZERO;
    if (a == INT64_MIN && b == -1) return WBR_XERR_OVERFLOW;
    if (a % b != 0) return WBR_XERR_INEXACT;
    *out = a / b;
    return WBR_XERR_OK;
  case WBR_XOP_LIT:
  case WBR_XOP_PARAM:
  case WBR_XOP_COUNT: break;
  }
  return WBR_XERR_OVERFLOW;
}

char wbr_xop_char(wbr_xop op) {
  switch (op) {
  case WBR_XOP_ADD: return '+';
  case WBR_XOP_SUB: return '-';
  case WBR_XOP_MUL: return '*';
  case WBR_XOP_DIV: return '/';
  case WBR_XOP_LIT:
  case WBR_XOP_PARAM:
  case WBR_XOP_COUNT: break;
  }
  return '?';
}

/* ---- the parameter table and the expression pool ---- */

bool wbr_opk_is_int_list(wbr_opk k) {
  static const bool ilist[WBR_OPK_NKINDS] = {
#define OPK_ILIST(id, label, il, doc) [WBR_OPK_##id] = il,
      WBR_OPK_LIST(OPK_ILIST)
#undef OPK_ILIST
  };
  return (unsigned)k < WBR_OPK_NKINDS && ilist[k];
}

uint16_t wbr_program_format(const wbr_program *p) { return p->xrefs || p->nparams || p->nxnodes ? 2 : 1; }

int64_t wbr_program_add_param(wbr_program *p, uint32_t name, uint32_t def) {
  size_t cap = p->params_cap;
  if (p->nparams >= WBR_MAX_PARAMS || !wbr_grow(&p->params, &cap, p->nparams + 1, sizeof *p->params, 8))
    return -1;
  p->params_cap = (uint32_t)cap;
  p->params[p->nparams] = (wbr_param_decl){name, def};
  return p->nparams++;
}

int64_t wbr_program_add_xnode(wbr_program *p, wbr_xop op, uint32_t a, uint32_t b) {
  size_t cap = p->xnodes_cap;
  if (p->nxnodes >= WBR_XREF_LIMIT || !wbr_grow(&p->xnodes, &cap, p->nxnodes + 1, sizeof *p->xnodes, 16))
    return -1;
  p->xnodes_cap = (uint32_t)cap;
  p->xnodes[p->nxnodes] = (wbr_xnode){(uint8_t)op, a, b};
  return p->nxnodes++;
}

int64_t wbr_program_add_xlit(wbr_program *p, int64_t v) {
  return wbr_program_add_xnode(p, WBR_XOP_LIT, (uint32_t)(uint64_t)v, (uint32_t)((uint64_t)v >> 32));
}

const char *wbr_program_param_name(const wbr_program *p, uint32_t i) {
  return p->strs[p->params[i].name];
}

int64_t wbr_program_param_find(const wbr_program *p, const char *name) {
  for (uint32_t i = 0; i < p->nparams; i++)
    if (p->params[i].name < p->nstrs && strcmp(p->strs[p->params[i].name], name) == 0) return i;
  return -1;
}

/* Node i's own fields: the op known, a parameter in the table, operands before it. */
static const char *check_node(const wbr_program *p, uint32_t i, char *err, size_t errn) {
  const wbr_xnode *n = &p->xnodes[i];
  switch ((wbr_xop)n->op) {
  case WBR_XOP_LIT: return NULL;
  case WBR_XOP_PARAM:
    if (n->a >= p->nparams)
      snprintf(err, errn, "expression node %u: parameter %u out of range (the table has %u)", i, n->a, p->nparams);
    else if (n->b != 0)
      snprintf(err, errn, "expression node %u: a parameter's second field is %u (must be 0)", i, n->b);
    return n->a >= p->nparams || n->b != 0 ? err : NULL;
  case WBR_XOP_ADD:
  case WBR_XOP_SUB:
  case WBR_XOP_MUL:
  case WBR_XOP_DIV:
    if (n->a >= i || n->b >= i) {
      snprintf(err, errn, "expression node %u: operands %u and %u must both come before it", i,
               n->a, n->b);
      return err;
    }
    return NULL;
  case WBR_XOP_COUNT: break;
  }
  snprintf(err, errn, "expression node %u: unknown operation %u", i, n->op);
  return err;
}

/* Depth and the highest parameter (+1) each node reaches, computed in order (operands come
 * first), so a forged pool costs one pass whatever its shape. */
static const char *check_nodes(const wbr_program *p, uint8_t *depth, uint32_t *maxp, char *err,
                               size_t errn) {
  for (uint32_t i = 0; i < p->nxnodes; i++) {
    if (check_node(p, i, err, errn)) return err;
    const wbr_xnode *n = &p->xnodes[i];
    depth[i] = 1;
    maxp[i] = n->op == WBR_XOP_PARAM ? n->a + 1 : 0;
    if (n->op >= WBR_XOP_ADD) {
      depth[i] = (uint8_t)(1 + (depth[n->a] > depth[n->b] ? depth[n->a] : depth[n->b]));
      maxp[i] = maxp[n->a] > maxp[n->b] ? maxp[n->a] : maxp[n->b];
      if (depth[i] > WBR_MAX_XDEPTH) {
        snprintf(err, errn, "expression node %u is nested %u deep (the limit is %d)", i, depth[i],
                 WBR_MAX_XDEPTH);
        return err;
      }
    }
  }
  return NULL;
}

static const char *check_table(const wbr_program *p, const uint32_t *maxp, char *err, size_t errn) {
  for (uint32_t k = 0; k < p->nparams; k++) {
    const wbr_param_decl *d = &p->params[k];
    if (d->name >= p->nstrs) {
      snprintf(err, errn, "parameter %u: string index %u out of range (%u strings)", k, d->name, p->nstrs);
      return err;
    }
    if (!wbr_param_name_ok(p->strs[d->name], p->str_len[d->name])) {
      snprintf(err, errn, "parameter %u: \"%.64s\" is not a parameter name", k, p->strs[d->name]);
      return err;
    }
    for (uint32_t j = 0; j < k; j++)
      if (p->params[j].name == d->name || strcmp(p->strs[p->params[j].name], p->strs[d->name]) == 0) {
        snprintf(err, errn, "parameters %u and %u are both named %s", j, k, p->strs[d->name]);
        return err;
      }
    if (d->def != WBR_NONE && d->def >= p->nxnodes) {
      snprintf(err, errn, "parameter %s: default expression %u out of range (%u nodes)",
               p->strs[d->name], d->def, p->nxnodes);
      return err;
    }
    if (d->def != WBR_NONE && maxp[d->def] > k) {
      snprintf(err, errn, "parameter %s: its default uses parameter %u, which is not declared before it",
               p->strs[d->name], maxp[d->def] - 1);
      return err;
    }
  }
  return NULL;
}

const char *wbr_params_verify(const wbr_program *p, char *err, size_t errn) {
  if (p->nparams > WBR_MAX_PARAMS || p->nxnodes > WBR_XREF_LIMIT) {
    snprintf(err, errn, "%u parameters, %u expression nodes (limits %u, %u)", p->nparams,
             p->nxnodes, WBR_MAX_PARAMS, WBR_XREF_LIMIT);
    return err;
  }
  uint8_t *depth = malloc(p->nxnodes ? p->nxnodes : 1);
  uint32_t *maxp = malloc((p->nxnodes ? p->nxnodes : 1) * sizeof *maxp);
  const char *r = NULL;
  if (!depth || !maxp) {
    snprintf(err, errn, "out of memory");
    r = err;
  }
  if (!r) r = check_nodes(p, depth, maxp, err, errn);
  if (!r) r = check_table(p, maxp, err, errn);
  free(depth);
  free(maxp);
  return r;
}

/* ---- printing ---- */

static int xprec(wbr_xop op) { return op == WBR_XOP_ADD || op == WBR_XOP_SUB ? 1 : op >= WBR_XOP_MUL ? 2 : 3; }

/* As the formatter writes it: parentheses around a looser operand, or a right operand of the
 * same precedence (the tree is kept). Depth is bounded by the verifier. */
static void xprint(wbr_buf *b, const wbr_program *p, uint32_t i, int min, bool right) {
  const wbr_xnode *n = &p->xnodes[i];
  if (n->op == WBR_XOP_LIT) {
    wbr_buf_printf(b, "%" PRId64, wbr_xnode_lit(n));
    return;
  }
  if (n->op == WBR_XOP_PARAM) {
    wbr_buf_puts(b, wbr_program_param_name(p, n->a));
    return;
  }
  int pr = xprec((wbr_xop)n->op);
  bool paren = pr < min || (right && pr == min);
  if (paren) wbr_buf_putc(b, '(');
  xprint(b, p, n->a, pr, false);
  wbr_buf_printf(b, " %c ", wbr_xop_char((wbr_xop)n->op));
  xprint(b, p, n->b, pr, true);
  if (paren) wbr_buf_putc(b, ')');
}

void wbr_xnode_print(wbr_buf *b, const wbr_program *p, uint32_t i) { xprint(b, p, i, 0, false); }

void wbr_xvalue_print(wbr_buf *b, const wbr_program *p, int64_t v) {
  if (wbr_program_is_xref(p, v)) wbr_xnode_print(b, p, wbr_xref_node(v));
  else wbr_buf_printf(b, "%" PRId64, v);
}
