/* experts.c — the experts statements of the VM. `stack/concat PATTERN over NAME` (op_STACK_OVER,
 * op_CONCAT_OVER) join the tensors that capture NAME numbers 0..E-1, one group per value of the
 * other captures; `split ... parts K` (op_SPLIT_PARTS) cuts into K equal parts named by {#};
 * `transpose` turns each part around (unstack shares it). All of it is made of the existing plan
 * nodes (slice, permute, reshape, concat), so apply and its kernels need nothing new. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "vm.h"

/* The statement's keyword, as written (the opcode names differ). */
static const char *keyword(const stmt *s) {
  unsigned op = s->in->op;
  return op == WBR_OP_STACK_OVER ? "stack" : op == WBR_OP_CONCAT_OVER ? "concat" : op == WBR_OP_SPLIT_PARTS ? "split" : "unstack";
}

/* The statement's axis for val, of ndim axes (stack's new axis counts), with val's shape in sh;
 * -1 after reporting that it is out of range. */
static int part_axis(vm *v, const stmt *s, const wbr_value *val, int ndim, char sh[256]) {
  int axis = s->in->x < 0 ? s->in->x + ndim : s->in->x;
  wbr_shape_str(sh, 256, val->node->ndim, val->node->shape);
  if (axis >= 0 && axis < ndim) return axis;
  vm_stmt_error(v, s->pc, "axes count from 0 (or from -1 for the last)", "%s axis %d is out of range for '%s' with shape %s",
                keyword(s), s->in->x, val->name, sh);
  return -1;
}

/* ---- the transpose of each part ---- */

bool vm_parts_2d(vm *v, const stmt *s, const wbr_value *val, int part_ndim) {
  if (part_ndim == 2) return true;
  char sh[256];
  wbr_shape_str(sh, sizeof sh, val->node->ndim, val->node->shape);
  const char *kw = keyword(s);
  vm_stmt_error(v, s->pc, "'transpose' here swaps the two axes of each part: leave it out, or permute the tensor first",
                "%s ... transpose: the parts of '%s' (shape %s) would have %d ax%s, not 2", kw, val->name, sh, part_ndim,
                part_ndim == 1 ? "is" : "es");
  return false;
}

wbr_node *vm_transpose_part(vm *v, wbr_node *part) {
  wbr_node *nd = vm_node_new(v, WBR_N_PERMUTE, part, v->pc, 1);
  if (!nd) return NULL;
  nd->in[0] = part;
  nd->label = "transpose";
  nd->perm[0] = 1;
  nd->perm[1] = 0;
  nd->shape[0] = part->shape[1];
  nd->shape[1] = part->shape[0];
  return nd;
}

/* ---- split ... parts K ---- */

static bool split_parts_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  wbr_node *nd = val.node;
  char sh[256];
  int axis = part_axis(v, s, &val, nd->ndim, sh);
  if (axis < 0) return true;
  uint32_t n;
  int64_t k = vm_ints(v, s->in->c, &n)[0], dim = nd->shape[axis];
  if (k < 1) { /* a count given by parameters: the verifier saw only the expression */
    vm_stmt_error(v, s->pc, "check the part count (or the parameters that give it)", "split of '%s' into %lld parts: the count must be at least 1",
                  val.name, (long long)k);
    return true;
  }
  if (k > WBR_MAX_PARTS) {
    vm_stmt_error(v, s->pc, "check the part count", "split of '%s' into %lld parts: one tensor can be cut into at most %u",
                  val.name, (long long)k, WBR_MAX_PARTS);
    return true;
  }
  if (dim % k != 0) {
    vm_stmt_error(v, s->pc, "the part count must divide the axis: check it (or the parameter that gives it)",
                  "cannot split '%s' (shape %s) along axis %d into %lld equal parts: %lld is not a multiple of %lld",
                  val.name, sh, axis, (long long)k, (long long)dim, (long long)k);
    return true;
  }
  bool tr = s->in->flags & WBR_INSN_TRANSPOSE;
  if (tr && !vm_parts_2d(v, s, &val, nd->ndim)) return true;
  if (vm_too_many(v, (uint64_t)s->nouts + (uint64_t)k)) return false;
  v->consumed[i] = true;
  for (int64_t p = 0; p < k; p++) {
    wbr_node *part = vm_slice(v, nd, axis, p * (dim / k), dim / k, "split");
    if (part) part->parts = k, part->part = p;
    if (part && tr) part = vm_transpose_part(v, part);
    if (!part) return false;
    wbr_value o = val;
    o.node = part;
    o.name = vm_expand_index(v, s->tpl, val.name, m, (long)p, &o.len);
    if (!o.name || !vm_emit(v, s, i, o)) return false;
  }
  return true;
}

bool op_SPLIT_PARTS(vm *v, stmt *s) {
  uint32_t n;
  int64_t k = vm_ints(v, s->in->c, &n)[0];
  uint32_t planned = k > WBR_MAX_PARTS || k < 1 ? 1 : (uint32_t)k;
  if (!vm_match_cut_begin(v, s, planned) || vm_template_index(v, s->p, s->in->b, &s->tpl)) return false;
  return vm_each_match(v, s, split_parts_one);
}

/* ---- stack/concat ... over NAME ---- */

/* One matched tensor: where it is, its part number, and the other captures' values (its group). */
typedef struct member {
  size_t pos;
  int64_t num;
  const char *key;
  size_t klen;
} member;

/* One group: members [at, at + n) of the sorted array; it takes the place of its first tensor. */
typedef struct group {
  size_t at, n, first;
} group;

static int member_cmp(const void *pa, const void *pb) {
  const member *a = pa, *b = pb;
  size_t n = a->klen < b->klen ? a->klen : b->klen;
  int c = memcmp(a->key, b->key, n);
  if (c) return c;
  if (a->klen != b->klen) return a->klen < b->klen ? -1 : 1;
  if (a->num != b->num) return a->num < b->num ? -1 : 1;
  return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int group_cmp(const void *pa, const void *pb) {
  const group *a = pa, *b = pb;
  return a->first < b->first ? -1 : a->first > b->first;
}

static const char *over_name(const vm *v, const stmt *s) { return wbr_program_str(v->prog, s->in->c); }

/* Match the name at pos again (the captures are not kept for every match: a wbr_match is large). */
static bool rematch(vm *v, const stmt *s, size_t pos, wbr_match *m) {
  const wbr_value *val = &v->cur[pos];
  return wbr_namepat_match_in(s->p, v->mstate, val->name, val->len, m, NULL) == 1;
}

/* The member for the tensor at pos: its number (the value of capture g, decimal digits) and the
 * values of every other group as its key. False after reporting a value that is not a number. */
static bool member_of(vm *v, const stmt *s, size_t pos, uint32_t g, member *out, wbr_buf *kb) {
  wbr_match m;
  const char *name = v->cur[pos].name;
  if (!rematch(v, s, pos, &m)) return false;
  kb->len = 0;
  for (uint32_t k = 1; k <= m.ngroups; k++) {
    size_t a = m.group[2 * k], e = m.group[2 * k + 1];
    if (k == g) continue;
    if (a == SIZE_MAX) wbr_buf_puts(kb, "-:");
    else wbr_buf_printf(kb, "%zu:%.*s", e - a, (int)(e - a), name + a);
  }
  size_t a = m.group[2 * g], e = m.group[2 * g + 1];
  int64_t num = 0;
  bool ok = a != SIZE_MAX && e > a && e - a <= 9;
  for (size_t k = a; ok && k < e; k++) {
    ok = name[k] >= '0' && name[k] <= '9';
    num = num * 10 + (name[k] - '0');
  }
  if (!ok) {
    vm_stmt_error(v, s->pc, "the parts are numbered 0, 1, ... by the capture named after 'over'",
                  "%s ... over %s: in '%s' the capture '%s' is '%.*s', not a part number", keyword(s),
                  over_name(v, s), name, over_name(v, s), a == SIZE_MAX ? 0 : (int)(e - a), a == SIZE_MAX ? "" : name + a);
    return false;
  }
  char *key = kb->oom ? NULL : vm_alloc(v, kb->len + 1);
  if (!key) return v->oom = true, false;
  memcpy(key, kb->p ? kb->p : "", kb->len);
  *out = (member){.pos = pos, .num = num, .key = key, .klen = kb->len};
  return true;
}

/* The numbers of a group (sorted) must be exactly 0..n-1: false after reporting the first
 * missing or repeated one, naming the group by its output name. */
static bool numbered(vm *v, const stmt *s, const member *g, size_t n, const char *out) {
  for (size_t k = 0; k < n; k++) {
    if (g[k].num == (int64_t)k) continue;
    wbr_buf found;
    wbr_buf_init(&found);
    for (size_t j = 0; j < n && j < 12; j++) wbr_buf_printf(&found, "%s%lld", j ? ", " : "", (long long)g[j].num);
    if (n > 12) wbr_buf_puts(&found, ", ...");
    if (k > 0 && g[k].num == g[k - 1].num)
      vm_stmt_error(v, s->pc, "each part number appears once in a group: check the names with `wbr inspect`",
                    "%s ... over %s into '%s': part %lld is there twice, '%s' and '%s'", keyword(s), over_name(v, s),
                    out, (long long)g[k].num, v->cur[g[k - 1].pos].name, v->cur[g[k].pos].name);
    else
      vm_stmt_error(v, s->pc, "the parts of a group are numbered 0, 1, ..., E-1, each once: check the names with `wbr inspect`",
                    "%s ... over %s into '%s': part %zu is missing (found %s)", keyword(s), over_name(v, s), out, k,
                    found.p ? found.p : "");
    wbr_buf_free(&found);
    return false;
  }
  return true;
}

/* Part k of a group as joined: transposed if asked, and for stack given the new axis. */
static wbr_node *over_part(vm *v, const stmt *s, wbr_node *pn, int axis) {
  if (s->in->flags & WBR_INSN_TRANSPOSE) pn = vm_transpose_part(v, pn);
  if (!pn || s->in->op != WBR_OP_STACK_OVER) return pn;
  wbr_node *r = vm_node_new(v, WBR_N_RESHAPE, pn, s->pc, 1);
  if (!r) return NULL;
  r->in[0] = pn;
  r->ndim = pn->ndim + 1;
  for (int d = 0, si = 0; d < r->ndim; d++) r->shape[d] = d == axis ? 1 : pn->shape[si++];
  r->label = "stack";
  return r;
}

/* The inputs of a group, before anything is made: values, 2-D when transposed, one shape (but
 * the joined axis, for concat) and dtype. False after reporting. */
static bool over_inputs_ok(vm *v, const stmt *s, const member *g, size_t n, const char *out) {
  bool stack = s->in->op == WBR_OP_STACK_OVER, tr = s->in->flags & WBR_INSN_TRANSPOSE;
  const wbr_node *n0 = v->cur[g[0].pos].node;
  int axis = (int)s->in->x;
  if (axis < 0) axis += n0->ndim + (stack ? 1 : 0);
  for (size_t k = 0; k < n; k++) {
    const wbr_value *pv = &v->cur[g[k].pos];
    const wbr_node *pn = pv->node;
    char psh[256], sh0[256];
    wbr_shape_str(psh, sizeof psh, pn->ndim, pn->shape);
    wbr_shape_str(sh0, sizeof sh0, n0->ndim, n0->shape);
    if (vm_quantized(v, pn)) {
      vm_stmt_error(v, s->pc, "rules can rename or drop a quantized tensor; to change it, dequantize it with the tool that made it",
                    "'%s' is quantized (%s): %s needs its values", pv->name, vm_quantized(v, pn), keyword(s));
      return false;
    }
    if (tr && !vm_parts_2d(v, s, pv, pn->ndim)) return false;
    bool same = pn->ndim == n0->ndim && pn->dtype == n0->dtype;
    /* the joined axis of a concat, counted after the transpose */
    int free_axis = stack ? -1 : tr && axis >= 0 && axis < 2 ? 1 - axis : axis;
    for (int d = 0; same && d < pn->ndim; d++) same = pn->shape[d] == n0->shape[d] || d == free_axis;
    if (!same) {
      vm_stmt_error(v, s->pc, stack ? "stacked tensors must have the same shape and dtype" : "joined tensors must agree on dtype and on every axis but the joined one",
                    "%s ... over %s into '%s': '%s' is %s %s, but '%s' is %s %s", keyword(s), over_name(v, s), out,
                    v->cur[g[0].pos].name, sh0, wbr_dtype_name(n0->dtype), pv->name, psh, wbr_dtype_name(pn->dtype));
      return false;
    }
  }
  return true;
}

/* Join one group (sorted by part number) into one tensor at the place of its first tensor. False
 * only when out of memory; a bad group is reported and left as it was. */
static bool join_group(vm *v, stmt *s, const member *g, size_t n, size_t first) {
  wbr_match m;
  wbr_value o = v->cur[first];
  if (!rematch(v, s, first, &m)) return true;
  size_t len;
  char *out = vm_expand(v, s->tpl, o.name, &m, &len);
  if (!out) return false;
  if (!numbered(v, s, g, n, out) || !over_inputs_ok(v, s, g, n, out)) return true;
  wbr_node *c = vm_node_new(v, WBR_N_CONCAT, v->cur[g[0].pos].node, s->pc, n);
  if (!c) return false;
  c->label = keyword(s);
  c->over = over_name(v, s);
  bool stack = s->in->op == WBR_OP_STACK_OVER, over = false;
  char sh[256];
  wbr_value w = v->cur[g[0].pos];
  int part_ndim = w.node->ndim;
  int axis = part_axis(v, s, &w, part_ndim + (stack ? 1 : 0), sh);
  if (axis < 0) return true;
  int64_t total = 0;
  for (size_t k = 0; k < n; k++) {
    c->in[k] = over_part(v, s, v->cur[g[k].pos].node, axis);
    if (!c->in[k]) return false;
    over = over || !wbr_add_i64(total, c->in[k]->shape[axis], &total);
  }
  c->ndim = c->in[0]->ndim;
  memcpy(c->shape, c->in[0]->shape, sizeof c->shape);
  c->shape[axis] = total;
  c->axis = axis;
  if (over || vm_too_big(v, c, out)) {
    if (over) vm_stmt_error(v, s->pc, "check the inputs with `wbr inspect`", "%s ... over %s into '%s': the joined axis would be longer than %lld",
                            keyword(s), over_name(v, s), out, (long long)INT64_MAX);
    return true;
  }
  for (size_t k = 0; k < n; k++) v->consumed[g[k].pos] = true;
  o.node = c;
  o.name = out;
  o.len = len;
  for (size_t k = 0; k < n; k++)
    if (g[k].pos != first) vm_merge_insns(v, &o, &v->cur[g[k].pos]);
  return vm_emit(v, s, first, o);
}

/* The groups of the sorted members, ordered by their first tensor in the working set. */
static group *make_groups(vm *v, const member *ms, size_t n, size_t *ng) {
  group *gs = malloc(n * sizeof *gs);
  if (!gs) return v->oom = true, NULL;
  *ng = 0;
  for (size_t k = 0; k < n; k++) {
    bool fresh = k == 0 || ms[k].klen != ms[k - 1].klen || memcmp(ms[k].key, ms[k - 1].key, ms[k].klen) != 0;
    if (fresh) gs[(*ng)++] = (group){.at = k, .n = 0, .first = ms[k].pos};
    group *g = &gs[*ng - 1];
    g->n++;
    if (ms[k].pos < g->first) g->first = ms[k].pos;
  }
  qsort(gs, *ng, sizeof *gs, group_cmp);
  return gs;
}

static bool join_over(vm *v, stmt *s) {
  if (!vm_match(v, s, s->in->a) || !vm_begin(v, s)) return false;
  if (vm_template(v, s->p, s->in->b, &s->tpl)) return false;
  const char *nm = over_name(v, s);
  uint32_t g = wbr_namepat_group_of(s->p, nm, strlen(nm)); /* verified: the pattern has it */
  member *ms = malloc(s->n * sizeof *ms);
  wbr_buf kb;
  wbr_buf_init(&kb);
  bool ok = ms != NULL, bad = false;
  size_t nm_ok = 0;
  for (size_t mi = 0; ok && mi < s->n; mi++) {
    if (member_of(v, s, v->idx[mi], g, &ms[nm_ok], &kb)) nm_ok++;
    else bad = true;
    ok = !v->oom;
  }
  wbr_buf_free(&kb);
  size_t ng = 0;
  group *gs = NULL;
  if (ok && !bad) {
    qsort(ms, nm_ok, sizeof *ms, member_cmp);
    gs = make_groups(v, ms, nm_ok, &ng);
  }
  for (size_t k = 0; gs && k < ng && ok; k++) ok = join_group(v, s, ms + gs[k].at, gs[k].n, gs[k].first);
  free(gs);
  free(ms);
  if (!ms) v->oom = true;
  return ok && !v->oom && !bad;
}

bool op_STACK_OVER(vm *v, stmt *s) { return join_over(v, s); }
bool op_CONCAT_OVER(vm *v, stmt *s) { return join_over(v, s); }
