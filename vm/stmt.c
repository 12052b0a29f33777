/* stmt.c — the statements of the VM: one function per opcode (op_RENAME, op_SPLIT, ...),
 * dispatched through a table built from WBR_OP_LIST (an opcode without its function does not
 * compile). Each matches its pattern, compiles the templates it needs, and acts on every matched
 * tensor through a small per-tensor function; the driver (vm.c) then rebuilds the working set
 * from the outputs. Like the driver, statements see names, shapes and dtypes, never data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "vm.h"

/* What to do with one matched tensor: its position in the working set, its value (a copy to
 * modify and emit) and the match of its name. False stops the statement midway (out of memory,
 * or a limit that stops the run); a problem with this one tensor is reported and returns true. */
typedef bool each_fn(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m);

/* ---- helpers ---- */

static const char *op_name(const wbr_insn *in) {
  const wbr_opinfo *oi = wbr_opinfo_get(in->op);
  return oi ? oi->name : "?";
}

/* The quantized type of a value that is an opaque quantized source tensor, or NULL. */
static const char *quantized(const vm *v, const wbr_node *nd) {
  if (nd->kind != WBR_N_SOURCE) return NULL;
  const wbr_tensor *t = &v->plan->src->t[nd->src];
  return t->opaque.type;
}

static int norm_axis(int64_t axis, int ndim) {
  if (axis < 0) axis += ndim;
  return axis >= 0 && axis < ndim ? (int)axis : -1;
}

static void shape_str(char *buf, size_t n, const wbr_node *nd) { wbr_shape_str(buf, n, nd->ndim, nd->shape); }

/* The statement's axis for val, of ndim dimensions (stack's new axis counts), with val's shape
 * as text in sh; -1 after reporting that it is out of range. */
static int stmt_axis(vm *v, const stmt *s, const wbr_value *val, int ndim, char sh[256]) {
  int axis = norm_axis(s->in->x, ndim);
  shape_str(sh, 256, val->node);
  if (axis < 0)
    vm_stmt_error(v, s->pc, "axes count from 0 (or from -1 for the last)", "%s axis %d is out of range for '%s' with shape %s",
                  op_name(s->in), s->in->x, val->name, sh);
  return axis;
}

/* Grow a scratch array of the run to hold n elements of size sz (kept between statements). */
static bool grow(vm *v, void **arr, size_t *cap, size_t n, size_t sz) {
  if (n <= *cap) return true;
  void *na = realloc(*arr, n * sz);
  if (!na) {
    v->oom = true;
    return false;
  }
  *arr = na;
  *cap = n;
  return true;
}

/* Every tensor a statement makes must have a size in bytes that fits in int64, so that no
 * later computation on it (element counts, strides, offsets in apply) can overflow. Reports and
 * returns true if nd does not. */
static bool too_big(vm *v, const wbr_node *nd, const char *name) {
  int64_t nelem, nbytes;
  char sh[256];
  shape_str(sh, sizeof sh, nd);
  /* A dim past 2^53 cannot be written to safetensors or a manifest (JSON numbers), and only a
   * tensor with no elements can have one: refuse it here, so check and apply agree. */
  for (int d = 0; d < nd->ndim; d++) {
    if (nd->shape[d] > (int64_t)1 << 53) {
      vm_stmt_error(v, v->pc, "check the sizes in the statement",
                    "the result for '%s' would have shape %s %s: dimension %d is %lld, larger than 2^53 "
                    "(no output format's reader accepts it)", name, sh, wbr_dtype_name(nd->dtype), d,
                    (long long)nd->shape[d]);
      return true;
    }
  }
  if (wbr_dims_product_i64(nd->ndim, nd->shape, &nelem) &&
      wbr_mul_i64(nelem, (int64_t)wbr_dtype_size(nd->dtype), &nbytes))
    return false;
  vm_stmt_error(v, v->pc, "no tensor can hold more than 2^63-1 bytes: check the sizes in the statement",
                "the result for '%s' would have shape %s %s: more than 2^63-1 bytes, larger than any tensor can be", name, sh,
                wbr_dtype_name(nd->dtype));
  return true;
}

static int compile_template(vm *v, const wbr_namepat *p, uint32_t str, bool index, wbr_template **out) {
  wbr_namepat_error err;
  int rc = wbr_template_new(out, p, wbr_program_str(v->prog, str), index, &err);
  if (rc == WBR_ENOMEM) v->oom = true;
  else if (rc) vm_stmt_error(v, v->pc, err.help[0] ? err.help : NULL, "template \"%s\": %s", wbr_program_str(v->prog, str), err.msg);
  return rc;
}

/* Build a name from template t for a match of `name`. Returns an arena string, or NULL (out of
 * memory, or index arithmetic that cannot be done on this name: reported, and the run stops). */
static char *expand(vm *v, const wbr_template *t, const char *name, const wbr_match *m, long index,
                    bool whole, size_t *len) {
  wbr_namepat_error err;
  if (wbr_template_uses_arith(t) && wbr_template_check_match(t, name, m, &err)) {
    vm_stmt_error(v, v->pc, err.help, "tensor '%s': %s", name, err.msg);
    v->stop = true;
    return NULL;
  }
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_template_expand(t, name, m, index, whole, &b);
  *len = b.len;
  char *s = b.oom ? NULL : vm_alloc(v, b.len + 1);
  if (s && b.len) memcpy(s, b.p, b.len);
  if (b.oom) v->oom = true;
  wbr_buf_free(&b);
  return s;
}

/* ---- the frame every statement shares ---- */

/* After matching: false if the statement has nothing to act on (matching nothing is an error
 * unless the statement is optional); else the scratch for its outputs is ready. */
static bool begin(vm *v, stmt *s) {
  if (s->n == 0) {
    if (!(s->in->flags & WBR_INSN_OPTIONAL))
      vm_stmt_error(v, s->pc, "check the pattern against `wbr inspect` of the source; write 'optional' before the statement if it may match nothing",
                    "'%s' matched no tensor: nothing is named like \"%s\" at this point", op_name(s->in),
                    wbr_program_str(v->prog, wbr_program_pattern(v->prog, s->pat)->text));
    return false;
  }
  if (!grow(v, (void **)&v->consumed, &v->capconsumed, v->ncur + 1, sizeof *v->consumed)) return false;
  memset(v->consumed, 0, (v->ncur + 1) * sizeof *v->consumed);
  s->nouts = 0;
  return true;
}

/* Match, then begin: the start of every statement that acts on its matches one by one. */
static bool match_and_begin(vm *v, stmt *s) { return vm_match(v, s, s->in->a) && begin(v, s); }

/* Add an output that takes the place of working-set position pos. False when out of memory or
 * past the limit of tensors (reported: the run stops). */
static bool out_push(vm *v, stmt *s, size_t pos, wbr_value val) {
  if (vm_too_many(v, (uint64_t)s->nouts + 1)) return false;
  if (s->nouts == v->capouts) {
    size_t cap = v->capouts ? v->capouts * 2 : 64, c1 = v->capouts, c2 = v->capouts;
    if (!grow(v, (void **)&v->out_at, &c1, cap, sizeof *v->out_at) ||
        !grow(v, (void **)&v->outs, &c2, cap, sizeof *v->outs))
      return false;
    v->capouts = cap;
  }
  v->out_at[s->nouts] = pos;
  v->outs[s->nouts++] = val;
  return true;
}

/* The common end of a tensor's step: record the statement in its history, emit it. */
static bool emit(vm *v, stmt *s, size_t pos, wbr_value val) {
  vm_touch(v, &val, s->pc);
  return out_push(v, s, pos, val);
}

/* Run one() on every matched tensor, in set order. A statement that needs values refuses an
 * opaque quantized tensor (reported; it stays as it was). */
static bool each_match(vm *v, stmt *s, bool needs_values, each_fn *one) {
  for (size_t mi = 0; mi < s->n; mi++) {
    size_t i = v->idx[mi];
    wbr_value val = v->cur[i];
    /* The captures are recomputed here, for the matched names only: a wbr_match is large. */
    wbr_match m;
    if (wbr_namepat_match_in(s->p, v->mstate, val.name, val.len, &m, NULL) != 1) continue;
    if (needs_values && quantized(v, val.node)) {
      vm_stmt_error(v, s->pc, "rules can rename or drop a quantized tensor; to change it, dequantize it with the tool that made it",
                    "'%s' is quantized (%s): %s needs its values", val.name, quantized(v, val.node), op_name(s->in));
      s->cast_floats++; /* reported: no second complaint from cast */
      continue;
    }
    if (!one(v, s, i, val, &m)) return false;
  }
  return true;
}

/* ---- rename, drop ---- */

static bool rename_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  /* A regex rename replaces only the matched part of the name. */
  val.name = expand(v, s->tpl, val.name, m, 0, wbr_namepat_get_kind(s->p) == WBR_PK_GLOB, &val.len);
  return val.name && emit(v, s, i, val);
}

static bool op_RENAME(vm *v, stmt *s) {
  if (!match_and_begin(v, s) || compile_template(v, s->p, s->in->b, false, &s->tpl)) return false;
  return each_match(v, s, false, rename_one);
}

static bool drop_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  (void)s, (void)m;
  v->consumed[i] = true;
  if (val.node->kind != WBR_N_SOURCE) return true;
  wbr_plan *plan = v->plan;
  size_t *d = vm_alloc(v, (plan->ndropped + 1) * sizeof *d);
  if (!d) return false;
  if (plan->ndropped) memcpy(d, plan->dropped, plan->ndropped * sizeof *d);
  d[plan->ndropped++] = val.node->src;
  plan->dropped = d;
  return true;
}

static bool op_DROP(vm *v, stmt *s) { return match_and_begin(v, s) && each_match(v, s, false, drop_one); }

/* ---- reshape, transpose, permute, cast ---- */

/* Shape change of one value; returns the new node or NULL after reporting. */
static wbr_node *do_reshape(vm *v, wbr_node *in, const int64_t *dims, uint32_t n, const char *name) {
  int64_t shape[WBR_MAX_DIMS];
  int infer = -1;
  uint64_t known = 1, total = 1;
  wbr_shape_nelem(in->ndim, in->shape, &total);
  for (uint32_t i = 0; i < n; i++) {
    shape[i] = dims[i];
    if (dims[i] == -1) infer = (int)i;
    else if (!wbr_mul_u64(known, (uint64_t)dims[i], &known)) known = UINT64_MAX;
  }
  if (infer >= 0) {
    /* the inferred dim must be an int64 too (a source may hold up to 2^64-1 elements) */
    if (known == 0 || total % known != 0 || total / known > (uint64_t)INT64_MAX) goto bad;
    shape[infer] = (int64_t)(total / known);
  } else if (known != total) {
    goto bad;
  }
  wbr_node *nd = vm_node_new(v, WBR_N_RESHAPE, in, v->pc, 1);
  if (!nd) return NULL;
  nd->in[0] = in;
  nd->ndim = (int)n;
  memcpy(nd->shape, shape, n * sizeof *shape);
  return too_big(v, nd, name) ? NULL : nd;
bad:;
  char a[256], b[256];
  shape_str(a, sizeof a, in);
  wbr_shape_str(b, sizeof b, (int)n, dims);
  vm_stmt_error(v, v->pc, "the new shape must have the same number of elements (use -1 for one inferred dimension)",
                "cannot reshape '%s' from %s (%llu elements) to %s", name, a, (unsigned long long)total, b);
  return NULL;
}

static wbr_node *do_permute(vm *v, wbr_node *in, const int *perm, int n, const char *name, const char *label) {
  if (n != in->ndim) {
    char a[256];
    shape_str(a, sizeof a, in);
    if (label)
      vm_stmt_error(v, v->pc, "use permute with one axis per dimension, or reshape first",
                    "transpose needs a 2-D tensor, but '%s' has shape %s", name, a);
    else
      vm_stmt_error(v, v->pc, "give one axis per dimension of the tensor",
                    "permute of '%s' lists %d axes, but its shape %s has %d", name, n, a, in->ndim);
    return NULL;
  }
  wbr_node *nd = vm_node_new(v, WBR_N_PERMUTE, in, v->pc, 1);
  if (!nd) return NULL;
  nd->in[0] = in;
  nd->label = label;
  memcpy(nd->perm, perm, (size_t)n * sizeof *perm);
  wbr_permute_shape(nd->shape, n, in->shape, perm);
  return nd;
}

/* A value whose node could not be made (reported) stays as it was. */
static bool emit_node(vm *v, stmt *s, size_t i, wbr_value val, wbr_node *nd) {
  if (!nd) return true;
  val.node = nd;
  return emit(v, s, i, val);
}

static bool reshape_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  (void)m;
  uint32_t n;
  const int64_t *dims = vm_ints(v, s->in->b, &n);
  return emit_node(v, s, i, val, do_reshape(v, val.node, dims, n, val.name));
}

static bool op_RESHAPE(vm *v, stmt *s) { return match_and_begin(v, s) && each_match(v, s, true, reshape_one); }

static bool transpose_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  (void)m;
  static const int t2[2] = {1, 0};
  return emit_node(v, s, i, val, do_permute(v, val.node, t2, 2, val.name, "transpose"));
}

static bool op_TRANSPOSE(vm *v, stmt *s) { return match_and_begin(v, s) && each_match(v, s, true, transpose_one); }

static bool permute_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  (void)m;
  uint32_t n;
  const int64_t *axes = vm_ints(v, s->in->b, &n);
  int perm[WBR_MAX_DIMS];
  for (uint32_t k = 0; k < n && k < WBR_MAX_DIMS; k++) perm[k] = (int)axes[k]; /* verified: n <= WBR_MAX_DIMS */
  return emit_node(v, s, i, val, do_permute(v, val.node, perm, (int)n, val.name, NULL));
}

static bool op_PERMUTE(vm *v, stmt *s) { return match_and_begin(v, s) && each_match(v, s, true, permute_one); }

static bool cast_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  (void)m;
  wbr_node *nd = val.node;
  wbr_dtype to = (wbr_dtype)s->in->x;
  /* `cast "*" bf16` means the floating-point weights: integer and bool tensors (step
   * counters, index buffers) keep their dtype. */
  if (!wbr_dtype_is_float(nd->dtype) && wbr_dtype_is_float(to)) return out_push(v, s, i, val);
  s->cast_floats++;
  if (nd->dtype != to) {
    if (!wbr_cast_supported(nd->dtype, to)) {
      vm_stmt_error(v, s->pc, "casts convert between F64, F32, F16 and BF16",
                    "cannot cast '%s' from %s to %s", val.name, wbr_dtype_name(nd->dtype), wbr_dtype_name(to));
      return true;
    }
    wbr_node *c = vm_node_new(v, WBR_N_CAST, nd, s->pc, 1);
    if (!c) return false;
    c->in[0] = nd;
    c->dtype = to;
    val.node = c;
  }
  return emit(v, s, i, val);
}

static bool op_CAST(vm *v, stmt *s) {
  if (!match_and_begin(v, s) || !each_match(v, s, true, cast_one)) return false;
  if (s->cast_floats == 0) {
    wbr_buf names;
    wbr_buf_init(&names);
    for (size_t mi = 0; mi < s->n && mi < 3; mi++) {
      const wbr_value *val = &v->cur[v->idx[mi]];
      wbr_buf_printf(&names, "%s'%s' %s", mi ? ", " : "", val->name, wbr_dtype_name(val->node->dtype));
    }
    vm_stmt_error(v, s->pc, "cast converts floating-point tensors (F64, F32, F16, BF16); integer and bool tensors keep their dtype",
                  "cast matched only tensors that are not floating point: %s%s", names.p ? names.p : "", s->n > 3 ? ", ..." : "");
    wbr_buf_free(&names);
  }
  return true;
}

/* ---- split, unstack, select, slice ---- */

/* How many tensors the next working set would hold if split/unstack cut every matched tensor:
 * known before any is made, so an explosion is refused without building it. Tensors that cannot
 * be cut (a bad axis, too many parts) count 1: they are reported one by one. */
static uint64_t planned_size(const vm *v, const stmt *s, uint32_t nparts) {
  uint64_t total = v->ncur - s->n;
  for (size_t mi = 0; mi < s->n; mi++) {
    const wbr_node *nd = v->cur[v->idx[mi]].node;
    int axis = norm_axis(s->in->x, nd->ndim);
    bool named = s->in->op == WBR_OP_SPLIT || s->in->op == WBR_OP_UNFUSE || s->in->op == WBR_OP_SPLIT_PARTS;
    uint64_t parts = named ? nparts : axis >= 0 ? (uint64_t)nd->shape[axis] : 1;
    total += parts <= WBR_MAX_PARTS ? parts : 1;
  }
  return total;
}

/* Match, refuse a cut that would make too many tensors, then begin. */
static bool match_cut_begin(vm *v, stmt *s, uint32_t nparts) {
  return vm_match(v, s, s->in->a) && !vm_too_many(v, planned_size(v, s, nparts)) && begin(v, s);
}

/* More shared steps for the statements of other files (vm/experts.c); vm.h says what they are. */
bool vm_begin(vm *v, stmt *s) { return begin(v, s); }
bool vm_match_cut_begin(vm *v, stmt *s, uint32_t nparts) { return match_cut_begin(v, s, nparts); }
bool vm_each_match(vm *v, stmt *s, vm_each_fn *one) { return each_match(v, s, true, one); }
const char *vm_quantized(const vm *v, const wbr_node *nd) { return quantized(v, nd); }
int vm_template_index(vm *v, const wbr_namepat *p, uint32_t str, wbr_template **out) {
  return compile_template(v, p, str, true, out);
}
char *vm_expand_index(vm *v, const wbr_template *t, const char *name, const wbr_match *m, long index, size_t *len) {
  return expand(v, t, name, m, index, true, len);
}

static wbr_node *slice_node(vm *v, wbr_node *in, int axis, int64_t start, int64_t len, bool drop,
                            const char *label) {
  wbr_node *nd = vm_node_new(v, WBR_N_SLICE, in, v->pc, 1);
  if (!nd) return NULL;
  nd->in[0] = in;
  nd->axis = axis;
  nd->start = start;
  nd->len = len;
  nd->drop_axis = drop;
  nd->label = label;
  if (drop) {
    for (int i = axis; i < in->ndim - 1; i++) nd->shape[i] = in->shape[i + 1];
    nd->ndim = in->ndim - 1;
  } else {
    nd->shape[axis] = len;
  }
  return nd;
}

/* Split's given sizes (one -1 inferred) into v->sizes for an axis of size dim; false after
 * reporting why they do not add up to it. */
static bool given_sizes(vm *v, stmt *s, const wbr_value *val, const char *sh, int axis, int64_t dim,
                        const int64_t *given, uint32_t ngiven) {
  int64_t known = 0;
  int infer = -1;
  bool over = false; /* the sizes add up past INT64_MAX: certainly not the axis */
  for (uint32_t k = 0; k < ngiven; k++) {
    if (given[k] == -1) infer = (int)k;
    else over = over || !wbr_add_i64(known, given[k], &known);
    v->sizes[k] = given[k];
  }
  if (over) {
    vm_stmt_error(v, s->pc, "the sizes must add up to the size of the axis", "cannot split '%s' (shape %s) along axis %d into sizes that add up to more than %lld",
                  val->name, sh, axis, (long long)INT64_MAX);
    return false;
  }
  bool empty_infer = infer >= 0 && known >= dim; /* the inferred part would be empty or negative */
  if (infer >= 0 && known < dim) v->sizes[infer] = dim - known, known = dim;
  if (empty_infer && known == dim) {
    vm_stmt_error(v, s->pc, "every part has a size of at least 1: drop the -1 part, or make the other sizes smaller",
                  "cannot split '%s' (shape %s) along axis %d: the sizes add up to %lld, which leaves nothing for the -1 part",
                  val->name, sh, axis, (long long)known);
    return false;
  }
  if (empty_infer || known != dim) {
    vm_stmt_error(v, s->pc, "the sizes must add up to the size of the axis", "cannot split '%s' (shape %s) along axis %d into sizes that add up to %lld",
                  val->name, sh, axis, (long long)known);
    return false;
  }
  return true;
}

/* The sizes of split's parts of val along axis, into v->sizes: given, or equal parts. */
static bool split_sizes(vm *v, stmt *s, const wbr_value *val, const char *sh, int axis,
                        const int64_t *given, uint32_t ngiven) {
  int64_t dim = val->node->shape[axis];
  if (given) return given_sizes(v, s, val, sh, axis, dim, given, ngiven);
  if (dim % s->nt != 0) {
    vm_stmt_error(v, s->pc, "give explicit sizes: split ... sizes [a, b, ...]", "cannot split '%s' (shape %s) along axis %d into %u equal parts",
                  val->name, sh, axis, s->nt);
    return false;
  }
  for (uint32_t k = 0; k < s->nt; k++) v->sizes[k] = dim / s->nt;
  return true;
}

static bool split_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  wbr_node *nd = val.node;
  char sh[256];
  int axis = stmt_axis(v, s, &val, nd->ndim, sh);
  if (axis < 0) return true;
  const int64_t *given = NULL;
  uint32_t ngiven = 0;
  if (s->in->c != WBR_NONE) given = vm_ints(v, s->in->c, &ngiven);
  if (!split_sizes(v, s, &val, sh, axis, given, ngiven)) return true;
  v->consumed[i] = true;
  int64_t start = 0;
  for (uint32_t k = 0; k < s->nt; k++) {
    wbr_node *part = slice_node(v, nd, axis, start, v->sizes[k], false, "split");
    if (!part) return false;
    part->parts = given ? 0 : s->nt;
    part->sizes = given;
    part->nsizes = given ? ngiven : 0;
    part->part = k;
    start += v->sizes[k];
    wbr_value o = val;
    o.node = part;
    o.name = expand(v, s->tv[k], val.name, m, 0, true, &o.len);
    if (!o.name || !emit(v, s, i, o)) return false;
  }
  return true;
}

static bool op_SPLIT(vm *v, stmt *s) {
  const uint32_t *tpls = wbr_program_refs(v->prog, s->in->b, &s->nt);
  if (!match_cut_begin(v, s, s->nt)) return false;
  s->tv = calloc(s->nt, sizeof *s->tv);
  if (!s->tv || !grow(v, (void **)&v->sizes, &v->capsizes, s->nt, sizeof *v->sizes)) {
    v->oom = true;
    return false;
  }
  for (uint32_t k = 0; k < s->nt; k++)
    if (compile_template(v, s->p, tpls[k], false, &s->tv[k])) return false;
  return each_match(v, s, true, split_one);
}

static bool unstack_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  wbr_node *nd = val.node;
  char sh[256];
  int axis = stmt_axis(v, s, &val, nd->ndim, sh);
  if (axis < 0) return true;
  if (nd->shape[axis] > WBR_MAX_PARTS) {
    vm_stmt_error(v, s->pc, "unstack makes one tensor per index: check the axis, or the shape with `wbr inspect`",
                  "unstack of '%s' (shape %s) along axis %d would make %lld tensors; one tensor can be cut into at most %u",
                  val.name, sh, axis, (long long)nd->shape[axis], WBR_MAX_PARTS);
    return true;
  }
  if (vm_too_many(v, (uint64_t)s->nouts + (uint64_t)nd->shape[axis])) return false;
  bool tr = s->in->flags & WBR_INSN_TRANSPOSE;
  if (tr && !vm_parts_2d(v, s, &val, nd->ndim - 1)) return true;
  v->consumed[i] = true;
  for (int64_t k = 0; k < nd->shape[axis]; k++) {
    wbr_node *part = slice_node(v, nd, axis, k, 1, true, "unstack");
    if (part) part->part = k;
    if (part && tr) part = vm_transpose_part(v, part);
    if (!part) return false;
    wbr_value o = val;
    o.node = part;
    o.name = expand(v, s->tpl, val.name, m, (long)k, true, &o.len);
    if (!o.name || !emit(v, s, i, o)) return false;
  }
  return true;
}

static bool op_UNSTACK(vm *v, stmt *s) {
  if (!match_cut_begin(v, s, 0) || compile_template(v, s->p, s->in->b, true, &s->tpl)) return false;
  return each_match(v, s, true, unstack_one);
}

/* select (the axis disappears) and slice (it stays): one range along an axis. */
static bool take_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  const wbr_insn *in = s->in;
  wbr_node *nd = val.node;
  char sh[256];
  int axis = stmt_axis(v, s, &val, nd->ndim, sh);
  if (axis < 0) return true;
  uint32_t nints;
  const int64_t *ints = vm_ints(v, in->c, &nints);
  int64_t dim = nd->shape[axis], s0, e0;
  if (in->op == WBR_OP_SELECT) {
    /* dim >= 0, so neither sum overflows; s0 < dim is checked before s0 + 1 */
    s0 = ints[0] < 0 ? ints[0] + dim : ints[0];
    e0 = s0 >= 0 && s0 < dim ? s0 + 1 : s0;
  } else {
    s0 = ints[0] < 0 ? ints[0] + dim : ints[0];
    e0 = ints[1] < 0 ? ints[1] + dim : ints[1];
  }
  if (s0 < 0 || e0 > dim || s0 >= e0) {
    vm_stmt_error(v, s->pc, "indices count from 0 (negative ones from the end)", "%s: index out of range for axis %d of '%s' with shape %s",
                  op_name(in), axis, val.name, sh);
    return true;
  }
  val.node = slice_node(v, nd, axis, s0, e0 - s0, in->op == WBR_OP_SELECT, op_name(in));
  if (!val.node) return false;
  if (s->tpl) {
    val.name = expand(v, s->tpl, val.name, m, 0, true, &val.len);
    if (!val.name) return false;
  }
  return emit(v, s, i, val);
}

/* The output template is optional: without one, the result keeps the name. */
static bool take(vm *v, stmt *s) {
  if (!match_and_begin(v, s)) return false;
  if (s->in->b != WBR_NONE && compile_template(v, s->p, s->in->b, false, &s->tpl)) return false;
  return each_match(v, s, true, take_one);
}

static bool op_SELECT(vm *v, stmt *s) { return take(v, s); }
static bool op_SLICE(vm *v, stmt *s) { return take(v, s); }

/* ---- concat, stack ---- */

/* The inputs of the group that val (the first input) opens, into v->parts: 1, or 0 after
 * reporting a missing, already joined, quantized or mismatched input, or -1 when out of memory. */
static int join_inputs(vm *v, stmt *s, size_t i, const wbr_value *val, const wbr_match *m, const wbr_node *c,
                        int axis, const char *sh) {
  bool stack = s->in->op == WBR_OP_STACK, bad = false;
  const wbr_node *nd = val->node;
  v->parts[0] = (long)i;
  for (uint32_t k = 1; k < s->ninputs && !bad; k++) {
    size_t nmlen;
    char *nm = expand(v, s->inputs[k], val->name, m, 0, true, &nmlen);
    if (!nm) return -1;
    v->parts[k] = vm_find(v, nm);
    if (v->parts[k] < 0) {
      vm_stmt_error(v, s->pc, "every input of a group must exist; check the names with `wbr inspect`",
                    "%s input %u for '%s' would be '%s', and there is no tensor of that name", c->label, k + 1, val->name, nm);
      bad = true;
    } else if (v->consumed[v->parts[k]] || v->parts[k] == (long)i) {
      vm_stmt_error(v, s->pc, "each tensor can be joined once", "'%s' is an input of two %s groups", nm, c->label);
      bad = true;
    }
  }
  for (uint32_t k = 0; k < s->ninputs && !bad; k++) {
    const wbr_value *pv = &v->cur[v->parts[k]];
    const wbr_node *pn = pv->node;
    if (quantized(v, pn)) {
      vm_stmt_error(v, s->pc, "rules can rename or drop a quantized tensor; to change it, dequantize it with the tool that made it",
                    "'%s' is quantized (%s): %s needs its values", pv->name, quantized(v, pn), c->label);
      return 0;
    }
    char psh[256];
    wbr_shape_str(psh, sizeof psh, pn->ndim, pn->shape);
    bool same = pn->ndim == nd->ndim && pn->dtype == nd->dtype;
    for (int d = 0; same && d < nd->ndim; d++) same = pn->shape[d] == nd->shape[d] || (!stack && d == axis);
    if (!same) {
      vm_stmt_error(v, s->pc, stack ? "stacked tensors must have the same shape and dtype" : "joined tensors must agree on dtype and on every axis but the joined one",
                    "cannot %s '%s' %s %s with '%s' %s %s", c->label, val->name, sh, wbr_dtype_name(nd->dtype),
                    pv->name, psh, wbr_dtype_name(pn->dtype));
      bad = true;
    }
  }
  return !bad;
}

/* The joined node c of one group: the inputs (stack: each reshaped to have the new axis) along
 * axis. 1, or 0 after reporting that the joined axis would not fit in int64, or -1 when out of
 * memory. */
static int join_node(vm *v, stmt *s, wbr_node *c, const wbr_value *val, int axis, const char *sh) {
  bool over = false;
  int64_t total = 0;
  for (uint32_t k = 0; k < s->ninputs; k++) {
    wbr_node *pn = v->cur[v->parts[k]].node;
    if (s->in->op == WBR_OP_STACK) {
      wbr_node *r = vm_node_new(v, WBR_N_RESHAPE, pn, s->pc, 1);
      if (!r) return -1;
      r->in[0] = pn;
      r->ndim = pn->ndim + 1;
      for (int d = 0, si = 0; d < r->ndim; d++) r->shape[d] = d == axis ? 1 : pn->shape[si++];
      r->label = "stack";
      pn = r;
    }
    c->in[k] = pn;
    over = over || !wbr_add_i64(total, pn->shape[axis], &total);
  }
  if (over) {
    vm_stmt_error(v, s->pc, "no tensor can hold more than 2^63-1 elements: check the inputs with `wbr inspect`",
                  "cannot %s '%s' %s: the joined axis would be longer than %lld", c->label, val->name, sh,
                  (long long)INT64_MAX);
    return 0;
  }
  c->ndim = c->in[0]->ndim;
  memcpy(c->shape, c->in[0]->shape, sizeof c->shape);
  c->shape[axis] = total;
  c->axis = axis;
  return 1;
}

static bool join_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  bool stack = s->in->op == WBR_OP_STACK;
  if (v->consumed[i]) {
    vm_stmt_error(v, s->pc, "each tensor can be joined once", "'%s' is an input of two %s groups", val.name, stack ? "stack" : "concat");
    return true;
  }
  wbr_node *nd = val.node;
  wbr_node *c = vm_node_new(v, WBR_N_CONCAT, nd, s->pc, s->ninputs);
  if (!c) return false;
  c->label = stack ? "stack" : s->in->op == WBR_OP_FUSE ? "fuse" : "concat";
  char sh[256];
  int axis = stmt_axis(v, s, &val, nd->ndim + (stack ? 1 : 0), sh);
  if (axis < 0) return true;
  int r = join_inputs(v, s, i, &val, m, c, axis, sh);
  wbr_node *res = c; /* fuse by groups: a reshape of c */
  if (r > 0) r = vm_fuse_by_groups(v, s) ? vm_fuse_groups(v, s, c, &val, axis, sh, &res) : join_node(v, s, c, &val, axis, sh);
  if (r <= 0) return r == 0; /* reported: the inputs stay as they were; or out of memory */
  if (too_big(v, res, val.name)) return true;
  for (uint32_t k = 0; k < s->ninputs; k++) v->consumed[v->parts[k]] = true;
  wbr_value o = val;
  o.node = res;
  o.name = expand(v, s->tpl, val.name, m, 0, true, &o.len);
  if (!o.name) return false;
  for (uint32_t k = 1; k < s->ninputs; k++) vm_merge_insns(v, &o, &v->cur[v->parts[k]]);
  return emit(v, s, i, o);
}

/* One tensor per pattern: the first pattern's matches open the groups, and the other patterns,
 * read as templates of the first's captures, name the other inputs. */
static bool join(vm *v, stmt *s) {
  const uint32_t *pats = wbr_program_refs(v->prog, s->in->a, &s->ninputs);
  if (!vm_match(v, s, pats[0]) || !begin(v, s)) return false;
  if (compile_template(v, s->p, s->in->b, false, &s->tpl)) return false;
  s->inputs = calloc(s->ninputs, sizeof *s->inputs);
  if (!s->inputs || !grow(v, (void **)&v->parts, &v->capparts, s->ninputs, sizeof *v->parts)) {
    v->oom = true;
    return false;
  }
  for (uint32_t k = 1; k < s->ninputs; k++) {
    const wbr_pattern *pk = wbr_program_pattern(v->prog, pats[k]);
    if (compile_template(v, s->p, pk->text, false, &s->inputs[k])) return false;
  }
  return each_match(v, s, true, join_one);
}

static bool op_CONCAT(vm *v, stmt *s) { return join(v, s); }
static bool op_STACK(vm *v, stmt *s) { return join(v, s); }

/* ---- rope, fuse, unfuse: their bodies are vm/layout.c's ---- */

/* fuse groups its inputs as concat does (the grouped node is vm_fuse_groups'). */
static bool op_FUSE(vm *v, stmt *s) { return join(v, s); }
static bool op_ROPE(vm *v, stmt *s) { return match_and_begin(v, s) && each_match(v, s, true, vm_rope_one); }
static bool op_UNFUSE(vm *v, stmt *s) {
  uint32_t nt;
  wbr_program_refs(v->prog, s->in->b, &nt);
  return match_cut_begin(v, s, nt) && vm_unfuse(v, s) && each_match(v, s, true, vm_unfuse_one);
}

/* ---- hint, expectations ---- */

/* For the matcher only: its patterns are not even matched here. */
static bool op_HINT(vm *v, stmt *s) {
  (void)v, (void)s;
  return false;
}

/* A hint that fixes the layout too: as inert here as a plain hint. */
static bool op_HINT_LAYOUT(vm *v, stmt *s) { return op_HINT(v, s); }

static bool expect_shape_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  (void)i, (void)m;
  const wbr_node *nd = val.node;
  uint32_t n;
  const int64_t *want = vm_ints(v, s->in->b, &n);
  bool ok = (int)n == nd->ndim;
  for (uint32_t k = 0; ok && k < n; k++) ok = want[k] == -1 || want[k] == nd->shape[k];
  if (!ok) {
    char ws[256], sh[256];
    shape_str(sh, sizeof sh, nd);
    wbr_shape_str(ws, sizeof ws, (int)n, want);
    vm_stmt_error(v, s->pc, "the checkpoint differs from what the rules expect: check the source, or fix the expectation",
                  "expected '%s' to have shape %s, but it has %s", val.name, ws, sh);
  }
  return true;
}

static bool op_EXPECT_SHAPE(vm *v, stmt *s) { return match_and_begin(v, s) && each_match(v, s, true, expect_shape_one); }

static bool expect_dtype_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m) {
  (void)i, (void)m;
  wbr_dtype want = (wbr_dtype)s->in->x, have = val.node->dtype;
  if (have != want)
    vm_stmt_error(v, s->pc, "add a cast, or fix the expectation", "expected '%s' to be %s, but it is %s",
                  val.name, wbr_dtype_name(want), wbr_dtype_name(have));
  return true;
}

static bool op_EXPECT_DTYPE(vm *v, stmt *s) { return match_and_begin(v, s) && each_match(v, s, true, expect_dtype_one); }

static bool op_EXPECT_COUNT(vm *v, stmt *s) {
  if (!vm_match(v, s, s->in->a)) return false;
  uint32_t n;
  /* expect_count_of: the count is an int list, given by parameters */
  int64_t want = s->in->op == WBR_OP_EXPECT_COUNT_OF ? vm_ints(v, s->in->b, &n)[0] : (int64_t)s->in->b;
  if (want < 0 || (uint64_t)want != s->n)
    vm_stmt_error(v, s->pc, "the checkpoint is not the one the rules were written for, or the pattern is wrong",
                  "expected %lld tensor%s matching \"%s\", found %zu", (long long)want, want == 1 ? "" : "s",
                  wbr_program_str(v->prog, wbr_program_pattern(v->prog, s->pat)->text), s->n);
  return false;
}

/* ---- the shared steps, for the statements of vm/layout.c ---- */

bool vm_emit(vm *v, stmt *s, size_t pos, wbr_value val) { return emit(v, s, pos, val); }
int vm_axis(vm *v, const stmt *s, const wbr_value *val, int ndim, char sh[256]) { return stmt_axis(v, s, val, ndim, sh); }
bool vm_too_big(vm *v, const wbr_node *nd, const char *name) { return too_big(v, nd, name); }
char *vm_expand(vm *v, const wbr_template *t, const char *name, const wbr_match *m, size_t *len) {
  return expand(v, t, name, m, 0, true, len);
}
int vm_template(vm *v, const wbr_namepat *p, uint32_t str, wbr_template **out) {
  return compile_template(v, p, str, false, out);
}
wbr_node *vm_reshape(vm *v, wbr_node *in, const int64_t *dims, int n, const char *name) {
  return do_reshape(v, in, dims, (uint32_t)n, name);
}
wbr_node *vm_permute(vm *v, wbr_node *in, const int *perm, int n, const char *name) {
  return do_permute(v, in, perm, n, name, NULL);
}
wbr_node *vm_slice(vm *v, wbr_node *in, int axis, int64_t start, int64_t len, const char *label) {
  return slice_node(v, in, axis, start, len, false, label);
}
static bool op_EXPECT_COUNT_OF(vm *v, stmt *s) { return op_EXPECT_COUNT(v, s); }

/* ---- dispatch ---- */

typedef bool op_fn(vm *v, stmt *s);

static op_fn *const handlers[WBR_OP_COUNT] = {
#define OP_HANDLER(id, name, x, a, b, c, doc) [WBR_OP_##id] = op_##id,
    WBR_OP_LIST(OP_HANDLER)
#undef OP_HANDLER
};

bool vm_stmt_run(vm *v, stmt *s) { return handlers[s->in->op](v, s); }

void vm_stmt_free(stmt *s) {
  wbr_namepat_free(s->own);
  wbr_template_free(s->tpl);
  if (s->tv)
    for (uint32_t k = 0; k < s->nt; k++) wbr_template_free(s->tv[k]);
  free(s->tv);
  if (s->inputs)
    for (uint32_t k = 0; k < s->ninputs; k++) wbr_template_free(s->inputs[k]);
  free(s->inputs);
}
