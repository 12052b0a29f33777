/* params.c — parameters at run time (docs/language.md, "Parameters"): before the first
 * statement runs, every parameter gets its value (--param, else --config, else its default,
 * evaluated in declaration order) and every int list of the program is resolved into a copy
 * whose references to expressions are replaced by their values. Statements read int lists only
 * through vm_ints, so none of them knows about parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "base/params.h"
#include "vm.h"

const int64_t *vm_ints(const vm *v, uint32_t i, uint32_t *n) {
  if (!v->ints) return wbr_program_ints(v->prog, i, n);
  *n = v->prog->ints[i].n;
  return v->ints + v->prog->ints[i].off;
}

/* A declaration: its value was bound before the program ran. */
bool op_PARAM(vm *v, stmt *s) {
  (void)v, (void)s;
  return false;
}

/* ---- binding ---- */

typedef struct binder {
  vm *v;
  const wbr_program *p;
  int64_t *pval;   /* per parameter */
  bool *pset;
  int64_t *nval;   /* per expression node, once evaluated */
  uint8_t *nstate; /* 0 not yet, 1 evaluated, 2 failed (reported) */
  int rc;
} binder;

/* A rules error at instruction pc (its position and source line), with no plan made. */
static void bind_error(binder *bd, uint32_t pc, const char *help, const char *fmt, ...) WBR_PRINTF(4, 5);
static void bind_error(binder *bd, uint32_t pc, const char *help, const char *fmt, ...) {
  const wbr_program *p = bd->p;
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = wbr_program_source(p), .help = help};
  if (d.file && !*d.file) d.file = NULL;
  char *line = NULL;
  if (pc < wbr_program_ninsns(p)) {
    wbr_pos pos = wbr_program_pos(p, pc);
    d.line = (int)pos.line;
    d.col = (int)pos.col;
    line = wbr_program_quote(p, pc, &d.span);
    d.source_line = line;
  }
  va_list ap;
  va_start(ap, fmt);
  bd->rc = wbr_vreport(bd->v->ctx, WBR_ERULES, &d, fmt, ap);
  va_end(ap);
  free(line);
}

/* The address of the param instruction declaring parameter k (where its errors point). */
static uint32_t decl_pc(const wbr_program *p, uint32_t k) {
  for (uint32_t i = 0; i < wbr_program_ninsns(p); i++)
    if (p->code[i].op == WBR_OP_PARAM && p->code[i].a == k) return i;
  return UINT32_MAX;
}

/* The value of node i (its operands and parameters first). Depth is bounded by the verifier;
 * each node is evaluated once, so a shared subexpression costs nothing more. pc: where an error
 * is reported; what: the expression it belongs to, for the message. */
static bool eval(binder *bd, uint32_t i, uint32_t pc, const char *what, int64_t *out) {
  if (bd->nstate[i] == 1) {
    *out = bd->nval[i];
    return true;
  }
  if (bd->nstate[i] == 2) return false;
  const wbr_xnode *n = &bd->p->xnodes[i];
  int64_t a = 0, b = 0, r = 0;
  bool ok = true;
  if (n->op == WBR_XOP_LIT) {
    r = wbr_xnode_lit(n);
  } else if (n->op == WBR_XOP_PARAM) {
    ok = bd->pset[n->a];
    r = bd->pval[n->a];
  } else if ((ok = eval(bd, n->a, pc, what, &a) && eval(bd, n->b, pc, what, &b))) {
    wbr_xerr e = wbr_xop_apply((wbr_xop)n->op, a, b, &r);
    ok = e == WBR_XERR_OK;
    char op = wbr_xop_char((wbr_xop)n->op);
    if (e == WBR_XERR_INEXACT)
      bind_error(bd, pc, "give values that divide exactly (with --param or --config)",
                 "%s: %lld / %lld is not exact (remainder %lld)", what, (long long)a, (long long)b,
                 (long long)(a % b));
    else if (e == WBR_XERR_ZERO)
      bind_error(bd, pc, "give a value that is not 0", "%s: division by zero (%lld / 0)", what, (long long)a);
    else if (e == WBR_XERR_OVERFLOW)
      bind_error(bd, pc, "sizes are between -2^63 and 2^63-1", "%s: %lld %c %lld overflows", what,
                 (long long)a, op, (long long)b);
  }
  bd->nstate[i] = ok ? 1 : 2;
  bd->nval[i] = r;
  *out = r;
  return ok;
}

/* The value given for parameter name by an entry of origin o, or NULL. For one name the first
 * entry wins (wbr_config_params lists a config's keys in precedence order). */
static const wbr_param_value *given(const wbr_plan_options *o, const char *name, wbr_param_origin og) {
  for (size_t i = 0; o && o->params && i < o->nparams; i++)
    if (o->params[i].origin == og && o->params[i].name && strcmp(o->params[i].name, name) == 0)
      return &o->params[i];
  return NULL;
}

/* Every --param name must be one the rules declare. */
static void check_flags(binder *bd, const wbr_plan_options *o) {
  for (size_t i = 0; o && o->params && i < o->nparams; i++) {
    const wbr_param_value *g = &o->params[i];
    if (g->origin != WBR_PARAM_FLAG || !g->name || wbr_program_param_find(bd->p, g->name) >= 0) continue;
    const char *best = NULL;
    size_t bestd = SIZE_MAX, n = strlen(g->name);
    for (uint32_t k = 0; k < bd->p->nparams; k++) {
      const char *nm = wbr_program_param_name(bd->p, k);
      size_t d = wbr_edit_distance(g->name, n, nm, strlen(nm), WBR_EDIT_TRANSPOSE);
      if (d < bestd) bestd = d, best = nm;
    }
    char help[300];
    if (best && bestd <= (n <= 3 ? 1u : n <= 6 ? 2u : 3u))
      snprintf(help, sizeof help, "did you mean --param %s=%lld?", best, (long long)g->value);
    else if (bd->p->nparams)
      snprintf(help, sizeof help, "the rules declare %u parameter%s; `wbr disasm` lists them",
               bd->p->nparams, bd->p->nparams == 1 ? "" : "s");
    else
      snprintf(help, sizeof help, "these rules declare no parameters: remove --param");
    bind_error(bd, UINT32_MAX, help, "--param %s: the rules declare no parameter '%s'", g->name, g->name);
  }
}

/* Parameter k's value and where it came from, or a reported error. */
static void bind_one(binder *bd, const wbr_plan_options *o, uint32_t k, wbr_plan_param *out) {
  const wbr_program *p = bd->p;
  const char *name = wbr_program_param_name(p, k);
  const wbr_param_value *g = given(o, name, WBR_PARAM_FLAG);
  if (!g) g = given(o, name, WBR_PARAM_CONFIG);
  out->name = name;
  if (g) {
    out->value = g->value;
    char from[160];
    snprintf(from, sizeof from, g->origin == WBR_PARAM_FLAG ? "--param" : g->key ? "config %s" : "config",
             g->key ? g->key : "");
    out->from = wbr_arena_strndup(&bd->v->plan->arena, from, strlen(from));
    if (!out->from) bd->v->oom = true;
  } else if (p->params[k].def != WBR_NONE) {
    char what[WBR_MAX_PARAM_NAME + 40];
    snprintf(what, sizeof what, "the default of parameter %s", name);
    if (!eval(bd, p->params[k].def, decl_pc(p, k), what, &out->value)) return;
    out->from = "default";
  } else {
    char help[400];
    snprintf(help, sizeof help, "give --param %s=N, or --config config.json with %s, or a default: "
             "param %s = N", name, wbr_config_key_for(name), name);
    bind_error(bd, decl_pc(p, k), help, "parameter '%s' has no value", name);
    return;
  }
  bd->pval[k] = out->value;
  bd->pset[k] = true;
}

/* The least value an expression may come out as where kind k reads it: a size or count is
 * >= 0 (a literal -1 keeps its meaning; a computed one would silently change it), a split size
 * >= 1; indices and ranges may be negative (they count from the end). */
static int64_t least(wbr_opk k) {
  return k == WBR_OPK_SIZES || k == WBR_OPK_PARTS ? 1 : k == WBR_OPK_SHAPE || k == WBR_OPK_EXPSHAPE || k == WBR_OPK_COUNTL ? 0 : INT64_MIN;
}

/* Resolve the references of int list l (operand of kind k of instruction pc) into vals. */
static void resolve_list(binder *bd, uint32_t pc, wbr_opk k, uint32_t l, int64_t *vals) {
  const wbr_program *p = bd->p;
  const wbr_list *li = &p->ints[l];
  const char *op = wbr_opinfo_get(p->code[pc].op)->name;
  for (uint32_t j = 0; j < li->n && bd->rc == 0; j++) {
    int64_t v = p->int_vals[li->off + j];
    if (!wbr_program_is_xref(p, v)) continue;
    wbr_buf e;
    wbr_buf_init(&e);
    wbr_xnode_print(&e, p, wbr_xref_node(v));
    char what[300];
    snprintf(what, sizeof what, "%s: %s", op, e.p ? e.p : "?");
    wbr_buf_free(&e);
    int64_t r;
    if (!eval(bd, wbr_xref_node(v), pc, what, &r)) return;
    if (r < least(k)) {
      bind_error(bd, pc, k == WBR_OPK_PARTS   ? "a part count is at least 1: check the parameter values"
                         : k == WBR_OPK_SIZES ? "a part has a size of at least 1: check the parameter values"
                                           : "a size or count is >= 0: check the parameter values",
                 "%s comes out as %lld", what, (long long)r);
      return;
    }
    vals[li->off + j] = r;
  }
}

static void resolve(binder *bd, int64_t *vals) {
  const wbr_program *p = bd->p;
  if (p->nint_vals) memcpy(vals, p->int_vals, p->nint_vals * sizeof *vals);
  for (uint32_t pc = 0; pc < wbr_program_ninsns(p) && bd->rc == 0; pc++) {
    const wbr_insn *in = &p->code[pc];
    const wbr_opinfo *oi = wbr_opinfo_get(in->op);
    wbr_opk kinds[3] = {oi->a, oi->b, oi->c};
    uint32_t ops[3] = {in->a, in->b, in->c};
    for (int s = 0; s < 3; s++)
      if (wbr_opk_is_int_list(kinds[s]) && ops[s] != WBR_NONE) resolve_list(bd, pc, kinds[s], ops[s], vals);
  }
}

int vm_params_bind(vm *v, const wbr_plan_options *opts) {
  const wbr_program *p = v->prog;
  binder bd = {.v = v, .p = p};
  check_flags(&bd, opts);
  if (bd.rc) return bd.rc;
  if (!p->nparams && !p->nxnodes) return 0;
  size_t nn = p->nxnodes ? p->nxnodes : 1, np = p->nparams ? p->nparams : 1;
  bd.pval = calloc(np, sizeof *bd.pval);
  bd.pset = calloc(np, sizeof *bd.pset);
  bd.nval = calloc(nn, sizeof *bd.nval);
  bd.nstate = calloc(nn, 1);
  v->plan->params = vm_alloc(v, np * sizeof *v->plan->params);
  int64_t *vals = vm_alloc(v, (p->nint_vals ? p->nint_vals : 1) * sizeof *vals);
  if (!bd.pval || !bd.pset || !bd.nval || !bd.nstate) v->oom = true;
  for (uint32_t k = 0; k < p->nparams && !v->oom; k++) bind_one(&bd, opts, k, &v->plan->params[k]);
  if (!v->oom && bd.rc == 0) {
    v->plan->nparams = p->nparams;
    resolve(&bd, vals);
    v->ints = vals;
  }
  free(bd.pval);
  free(bd.pset);
  free(bd.nval);
  free(bd.nstate);
  return v->oom ? WBR_ENOMEM : bd.rc;
}
