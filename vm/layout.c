/* layout.c — the VM's named layout statements (issue 12): rope (the rows of a q or k projection
 * between interleaved and half-split rotary pairs), fuse by groups and unfuse. Each is built
 * from the plan's existing nodes (reshape, permute, slice, concat), so apply needs nothing new;
 * the nodes carry labels that let the plan say which statement made them (vm/render.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "vm.h"

/* The int list of operand idx, as the run resolved it. */
static const int64_t *ints(const vm *v, uint32_t idx, uint32_t *n) { return vm_ints(v, idx, n); }

static void shape_of(char sh[256], const wbr_node *nd) { wbr_shape_str(sh, 256, nd->ndim, nd->shape); }

/* ---- rope ---- */

/* Labels of the rope chain's nodes: the first reshape names the direction, the rest "rope". */
static const char *const rope_first[2] = {"rope interleaved -> half", "rope half -> interleaved"};

/* Rows R = heads * d along axis 0, d even; false after reporting why not. */
static bool rope_rows(vm *v, const stmt *s, const wbr_value *val, int64_t heads, int64_t *d) {
  const wbr_node *nd = val->node;
  char sh[256];
  shape_of(sh, nd);
  if (heads < 1) {
    vm_stmt_error(v, s->pc, "give the number of attention heads (kv heads for k under GQA)",
                  "rope: heads %lld is not a positive count", (long long)heads);
    return false;
  }
  if (nd->ndim < 1) {
    vm_stmt_error(v, s->pc, "rope moves the rows (axis 0) of a q or k weight or bias",
                  "rope: '%s' has shape %s, no axis 0", val->name, sh);
    return false;
  }
  if (nd->shape[0] % heads != 0) {
    vm_stmt_error(v, s->pc, "heads is the number of heads of this projection: for k under GQA, the kv heads",
                  "rope: %lld heads do not divide the %lld rows of '%s' (shape %s)", (long long)heads,
                  (long long)nd->shape[0], val->name, sh);
    return false;
  }
  *d = nd->shape[0] / heads;
  if (*d % 2 != 0) {
    vm_stmt_error(v, s->pc, "rotary pairs need an even head size: check the head count",
                  "rope: '%s' (shape %s) with %lld heads has head size %lld, which is odd", val->name, sh,
                  (long long)heads, (long long)*d);
    return false;
  }
  return true;
}

/* interleaved -> half views the rows as [heads, d/2, 2] and swaps the last two; half ->
 * interleaved views them as [heads, 2, d/2] and swaps them back. Trailing axes ride along as one. */
bool vm_rope_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  (void)m;
  uint32_t n;
  int64_t heads = ints(v, s->in->b, &n)[0], d;
  if (!rope_rows(v, s, &val, heads, &d)) return true;
  wbr_node *nd = val.node;
  bool to_half = s->in->x == 0;
  uint64_t rest = 1;
  wbr_shape_nelem(nd->ndim - 1, nd->shape + 1, &rest); /* fits: the tensor exists */
  int64_t view[4] = {heads, to_half ? d / 2 : 2, to_half ? 2 : d / 2, (int64_t)rest};
  static const int perm[4] = {0, 2, 1, 3};
  int rank = nd->ndim == 1 ? 3 : 4;
  wbr_node *a = vm_reshape(v, nd, view, rank, val.name);
  if (!a) return !v->oom;
  a->label = rope_first[to_half ? 0 : 1];
  wbr_node *b = vm_permute(v, a, perm, rank, val.name);
  if (!b) return !v->oom;
  b->label = "rope";
  wbr_node *c = vm_reshape(v, b, nd->shape, nd->ndim, val.name);
  if (!c) return !v->oom;
  c->label = "rope";
  val.node = c;
  return vm_emit(v, s, i, val);
}

/* ---- fuse, unfuse: the LAYOUT operand [mode, groups, sizes...] (bytecode/opcodes.h) ---- */

bool vm_fuse_by_groups(const vm *v, const stmt *s) {
  if (s->in->op != WBR_OP_FUSE) return false;
  uint32_t n;
  return ints(v, s->in->c, &n)[0] != 0;
}

/* The shape of nd with axis cut in two: [.., g, shape[axis] / g, ..] (g divides it). */
static void cut_shape(const wbr_node *nd, int axis, int64_t g, int64_t out[WBR_MAX_DIMS]) {
  for (int d = 0, o = 0; d < nd->ndim; d++) {
    if (d == axis) {
      out[o++] = g;
      out[o++] = nd->shape[d] / g;
    } else {
      out[o++] = nd->shape[d];
    }
  }
}

/* Whether the groups g divide axis of nd and the cut fits in WBR_MAX_DIMS; false after reporting. */
static bool can_cut(vm *v, const stmt *s, const wbr_node *nd, const char *name, int axis, int64_t g) {
  char sh[256];
  shape_of(sh, nd);
  const char *kw = s->in->op == WBR_OP_FUSE ? "fuse" : "unfuse";
  if (g < 1) {
    vm_stmt_error(v, s->pc, "give the number of groups (kv heads for q, k, v per kv group)",
                  "%s: groups %lld is not a positive count", kw, (long long)g);
    return false;
  }
  if (nd->shape[axis] % g != 0) {
    vm_stmt_error(v, s->pc, "every input is cut into the same number of groups: check the group count",
                  "%s: %lld groups do not divide axis %d of '%s' (shape %s)", kw, (long long)g, axis, name, sh);
    return false;
  }
  if (nd->ndim + 1 > WBR_MAX_DIMS) {
    vm_stmt_error(v, s->pc, "reshape the tensor to fewer axes first",
                  "%s by groups: '%s' (shape %s) has %d axes; at most %d can be cut", kw, name, sh, nd->ndim,
                  WBR_MAX_DIMS - 1);
    return false;
  }
  return true;
}

int vm_fuse_groups(vm *v, stmt *s, wbr_node *c, const wbr_value *val, int axis, const char *sh, wbr_node **res) {
  uint32_t n;
  int64_t g = ints(v, s->in->c, &n)[1], total = 0;
  for (uint32_t k = 0; k < s->ninputs; k++) {
    const wbr_value *pv = &v->cur[v->parts[k]];
    wbr_node *pn = pv->node;
    if (!can_cut(v, s, pn, pv->name, axis, g)) return 0;
    wbr_node *r = vm_node_new(v, WBR_N_RESHAPE, pn, s->pc, 1);
    if (!r) return -1;
    r->in[0] = pn;
    r->ndim = pn->ndim + 1;
    cut_shape(pn, axis, g, r->shape);
    r->label = "fuse";
    c->in[k] = r;
    if (!wbr_add_i64(total, pn->shape[axis], &total)) {
      vm_stmt_error(v, s->pc, "no tensor can hold more than 2^63-1 elements: check the inputs with `wbr inspect`",
                    "cannot fuse '%s' %s: the fused axis would be longer than %lld", val->name, sh, (long long)INT64_MAX);
      return 0;
    }
  }
  c->ndim = c->in[0]->ndim;
  memcpy(c->shape, c->in[0]->shape, sizeof c->shape);
  c->shape[axis + 1] = total / g;
  c->axis = axis + 1;
  wbr_node *out = vm_node_new(v, WBR_N_RESHAPE, val->node, s->pc, 1);
  if (!out) return -1;
  out->in[0] = c;
  out->shape[axis] = total;
  out->axis = axis;
  out->label = "fuse groups";
  *res = out;
  return 1;
}

bool vm_unfuse(vm *v, stmt *s) {
  const uint32_t *tpls = wbr_program_refs(v->prog, s->in->b, &s->nt);
  s->tv = calloc(s->nt, sizeof *s->tv);
  if (!s->tv) {
    v->oom = true;
    return false;
  }
  for (uint32_t k = 0; k < s->nt; k++)
    if (vm_template(v, s->p, tpls[k], &s->tv[k])) return false;
  return true;
}

/* Part k's size: given (one -1 is the rest), or equal parts. into sz[], false after reporting. */
static bool unfuse_sizes(vm *v, const stmt *s, const wbr_value *val, int axis, const int64_t *lay, uint32_t nl,
                         int64_t *sz) {
  int64_t dim = val->node->shape[axis], known = 0, g = lay[1];
  int infer = -1;
  bool over = false;
  for (uint32_t k = 0; k < s->nt; k++) {
    sz[k] = nl > 2 ? lay[2 + k] : dim / s->nt;
    if (sz[k] == -1) infer = (int)k;
    else over = over || !wbr_add_i64(known, sz[k], &known);
  }
  if (infer >= 0 && !over && known < dim) sz[infer] = dim - known, known = dim;
  char sh[256];
  shape_of(sh, val->node);
  if (over || known != dim || (nl <= 2 && dim % s->nt != 0) || (infer >= 0 && sz[infer] == -1)) {
    vm_stmt_error(v, s->pc, nl > 2 ? "the sizes must add up to the size of the axis" : "give explicit sizes: unfuse ... sizes [a, b, ...]",
                  "cannot unfuse '%s' (shape %s) along axis %d into %u %s", val->name, sh, axis, s->nt,
                  nl > 2 ? "parts of the sizes given" : "equal parts");
    return false;
  }
  for (uint32_t k = 0; k < s->nt; k++) {
    if (sz[k] % g != 0) {
      vm_stmt_error(v, s->pc, "each size is a part's total along the axis: a multiple of the groups",
                    "unfuse: part %u of '%s' (shape %s) has %lld along axis %d, which %lld groups do not divide", k + 1,
                    val->name, sh, (long long)sz[k], axis, (long long)g);
      return false;
    }
  }
  return true;
}

/* Blocked: the parts are slices along the axis (as split). Groups: the axis is cut into
 * [groups, rows / groups], each part takes its columns of every group, and is reshaped back. */
bool vm_unfuse_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  wbr_node *nd = val.node;
  char sh[256];
  int axis = vm_axis(v, s, &val, nd->ndim, sh);
  if (axis < 0) return true;
  uint32_t nl;
  const int64_t *lay = ints(v, s->in->c, &nl);
  bool groups = lay[0] != 0;
  int64_t g = lay[1];
  if (groups && !can_cut(v, s, nd, val.name, axis, g)) return true;
  int64_t sz[WBR_MAX_LIST];
  if (!unfuse_sizes(v, s, &val, axis, lay, nl, sz)) return true;
  wbr_node *cut = nd;
  if (groups) {
    int64_t shape[WBR_MAX_DIMS];
    cut_shape(nd, axis, g, shape);
    if (!(cut = vm_reshape(v, nd, shape, nd->ndim + 1, val.name))) return !v->oom;
    cut->label = "unfuse groups";
    cut->axis = axis;
  }
  v->consumed[i] = true;
  int64_t start = 0;
  for (uint32_t k = 0; k < s->nt; k++) {
    wbr_node *part = vm_slice(v, cut, groups ? axis + 1 : axis, start / (groups ? g : 1), sz[k] / (groups ? g : 1),
                              groups ? "unfuse" : "split");
    if (!part) return false;
    part->part = k;
    part->parts = nl > 2 || groups ? 0 : s->nt;
    part->sizes = nl > 2 && !groups ? lay + 2 : NULL;
    part->nsizes = nl > 2 && !groups ? nl - 2 : 0;
    if (groups) {
      int64_t back[WBR_MAX_DIMS];
      memcpy(back, nd->shape, sizeof back);
      back[axis] = sz[k];
      if (!(part = vm_reshape(v, part, back, nd->ndim, val.name))) return false;
      part->label = "unfuse";
    }
    start += sz[k];
    wbr_value o = val;
    o.node = part;
    o.name = vm_expand(v, s->tv[k], val.name, m, &o.len);
    if (!o.name || !vm_emit(v, s, i, o)) return false;
  }
  return true;
}
