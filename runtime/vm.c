/* vm.c — runs a verified program over a tensor set's names, shapes and dtypes (never its data)
 * and builds the plan: one expression per output tensor. Statements apply in order to the
 * current set; each problem (a statement that matched nothing, two tensors on one name, a shape
 * that does not fit, a target tensor not produced...) is reported with the statement's position
 * and the tensors' provenance, so a wrong mapping cannot pass unnoticed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "io.h"
#include "namepat.h"
#include "ops.h"
#include "plan.h"

/* ---- arena: every node, name and list of one plan ---- */

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  max_align_t data[];
} chunk;

static void *arena_alloc(void **arena, size_t n) {
  chunk *c = *arena;
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (!c || c->cap - c->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    chunk *nc = malloc(sizeof *nc + cap);
    if (!nc) return NULL;
    nc->next = c;
    nc->used = 0;
    nc->cap = cap;
    *arena = c = nc;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

static void arena_free(void *arena) {
  for (chunk *c = arena, *n; c; c = n) {
    n = c->next;
    free(c);
  }
}

/* ---- the run's state ---- */

typedef struct vm {
  wbr_plan *plan;
  wbr_ctx *ctx;
  const wbr_program *prog;
  wbr_value *cur;         /* the working set, in order */
  size_t ncur, capcur;
  wbr_map index;          /* name -> position in cur (rebuilt after each statement) */
  bool oom;
  char **src_lines;       /* the .wbr text split in lines, when it can be read (for carets) */
  size_t nsrc_lines;
  char *src_text;
  /* scratch reused by every statement */
  wbr_value *spare, *outs;
  size_t capspare, capouts;
  size_t *idx, *out_at;
  size_t capidx, cap_at;
  bool *consumed;
  size_t capconsumed;
  uint64_t match_budget;  /* steps left for costly pattern matches (namepat.h) */
  bool stop;              /* a limit was hit: the rest of the program does not run */
  /* per statement */
  uint32_t pc;
  wbr_namepat *pat;
  wbr_template *tpl;
} vm;

static void *alloc(vm *v, size_t n) {
  void *p = arena_alloc(&v->plan->arena, n);
  if (!p) v->oom = true;
  return p;
}

static char *adup(vm *v, const char *s, size_t n) {
  char *p = alloc(v, n + 1);
  if (p) memcpy(p, s, n);
  return p;
}

/* Load the rule file's text for source lines in diagnostics, if it is there and unchanged. The
 * path comes from the program (maybe an untrusted .wbc): only a regular file named *.wbr is read
 * (a FIFO, /dev/stdin or a /proc file that blocks on read must not stall the run), silently, and
 * used only if its hash is the one the program records; anything else just means no source
 * lines are shown. */
static void load_source(vm *v) {
  const char *path = wbr_program_source(v->prog);
  size_t plen = path ? strlen(path) : 0;
  if (plen < 4 || strcmp(path + plen - 4, ".wbr") != 0) return;
  char *text = NULL;
  size_t len = 0;
  if (wbr_io_read_file(NULL, path, NULL, 16u << 20, &text, &len) != 0) return;
  if (wbr_hash(text, len) != wbr_program_hash(v->prog)) {
    free(text);
    return;
  }
  v->src_text = text;
  size_t lines = 1;
  for (char *p = v->src_text; *p; p++) lines += *p == '\n';
  v->src_lines = calloc(lines, sizeof *v->src_lines);
  if (!v->src_lines) return;
  char *p = v->src_text;
  while (p && v->nsrc_lines < lines) {
    v->src_lines[v->nsrc_lines++] = p;
    p = strchr(p, '\n');
    if (p) *p++ = 0;
  }
}

/* Report a problem with statement pc. */
static void stmt_error(vm *v, uint32_t pc, const char *help, const char *fmt, ...) WBR_PRINTF(4, 5);
static void stmt_error(vm *v, uint32_t pc, const char *help, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  wbr_pos pos = wbr_program_pos(v->prog, pc);
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = wbr_program_source(v->prog), .line = (int)pos.line,
                .col = (int)pos.col, .message = msg, .help = help};
  if (d.file && !*d.file) d.file = NULL;
  if (pos.line >= 1 && pos.line <= v->nsrc_lines && pos.col >= 1) {
    const char *line = v->src_lines[pos.line - 1];
    size_t len = strlen(line);
    if (pos.col <= len) {
      d.source_line = line;
      size_t e = pos.col - 1;
      while (e < len && line[e] != ' ' && line[e] != '\t') e++;
      d.span = (int)(e - (pos.col - 1));
      if (d.span < 1) d.span = 1;
    }
  }
  v->plan->problems++;
  wbr_report(v->ctx, WBR_EINPUT, &d);
}

/* Problems not tied to one statement (target comparison). */
static void plan_error(vm *v, const char *help, const char *fmt, ...) WBR_PRINTF(3, 4);
static void plan_error(vm *v, const char *help, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  v->plan->problems++;
  wbr_diag d = {.severity = WBR_SEV_ERROR, .message = msg, .help = help};
  wbr_report(v->ctx, WBR_EINPUT, &d);
}

static void note(vm *v, const char *fmt, ...) WBR_PRINTF(2, 3);
static void note(vm *v, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  wbr_diag d = {.severity = WBR_SEV_NOTE, .message = msg};
  wbr_report(v->ctx, 0, &d);
}

/* "rules.wbr:12" for provenance, into buf. */
static const char *where(const vm *v, uint32_t pc, char *buf, size_t n) {
  const char *src = wbr_program_source(v->prog);
  wbr_pos pos = wbr_program_pos(v->prog, pc);
  snprintf(buf, n, "%s:%u", src && *src ? src : "rules", pos.line);
  return buf;
}

/* The source tensors a node reads, as "'a', 'b'" into buf. */
static void sources_of(const vm *v, const wbr_node *nd, wbr_buf *b, int *count) {
  if (nd->kind == WBR_N_SOURCE) {
    if (*count < 4) wbr_buf_printf(b, "%s'%s'", *count ? ", " : "", v->plan->src->t[nd->src].name);
    else if (*count == 4) wbr_buf_puts(b, ", ...");
    (*count)++;
    return;
  }
  for (size_t i = 0; i < nd->nin; i++) sources_of(v, nd->in[i], b, count);
}

/* "from source 'x' (rules.wbr:3, rules.wbr:9)" for a value. */
static char *provenance(vm *v, const wbr_value *val) {
  wbr_buf b;
  wbr_buf_init(&b);
  int count = 0;
  wbr_buf_puts(&b, "from ");
  sources_of(v, val->node, &b, &count);
  if (val->hist) {
    char w[512];
    wbr_buf_printf(&b, " by %s", where(v, val->hist->pc, w, sizeof w));
  }
  char *s = wbr_buf_take(&b);
  if (!s) v->oom = true;
  return s;
}

/* ---- the working set ---- */

static wbr_value *push(vm *v, wbr_value **arr, size_t *n, size_t *cap, wbr_value val) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    wbr_value *na = realloc(*arr, nc * sizeof *na);
    if (!na) {
      v->oom = true;
      return NULL;
    }
    *arr = na;
    *cap = nc;
  }
  (*arr)[*n] = val;
  return &(*arr)[(*n)++];
}

/* Record that instruction pc touched val. */
static void touch(vm *v, wbr_value *val, uint32_t pc) {
  if (val->hist && val->hist->pc == pc) return;
  wbr_hist *h = alloc(v, sizeof *h);
  if (!h) return;
  h->pc = pc;
  h->prev = val->hist;
  val->hist = h;
}

static size_t hist_len(const wbr_hist *h) {
  size_t n = 0;
  for (; h; h = h->prev) n++;
  return n;
}

/* Add the statements that touched `from` to `to`'s history, keeping program order (a joined
 * tensor's provenance is every input's). */
static void merge_insns(vm *v, wbr_value *to, const wbr_value *from) {
  size_t na = hist_len(to->hist), nb = hist_len(from->hist);
  if (!nb) return;
  uint32_t *a = malloc((na + nb) * sizeof *a);
  if (!a) {
    v->oom = true;
    return;
  }
  size_t n = 0;
  for (const wbr_hist *h = to->hist; h; h = h->prev) a[n++] = h->pc;
  for (const wbr_hist *h = from->hist; h; h = h->prev) a[n++] = h->pc;
  /* Newest first in both; rebuild oldest first without duplicates. */
  for (size_t i = 1; i < n; i++)
    for (size_t k = i; k > 0 && a[k - 1] < a[k]; k--) {
      uint32_t t = a[k];
      a[k] = a[k - 1];
      a[k - 1] = t;
    }
  to->hist = NULL;
  for (size_t i = n; i-- > 0;)
    if (!to->hist || to->hist->pc != a[i]) touch(v, to, a[i]);
  free(a);
}

/* Outputs carry their history as an array, oldest first. */
static void flatten_hist(vm *v, wbr_value *val) {
  size_t n = hist_len(val->hist);
  val->ninsns = n;
  val->insns = n ? alloc(v, n * sizeof *val->insns) : NULL;
  if (!val->insns) return;
  for (const wbr_hist *h = val->hist; h; h = h->prev) val->insns[--n] = h->pc;
}

static wbr_node *node_new(vm *v, wbr_node_kind k, const wbr_node *like, uint32_t pc, size_t nin) {
  wbr_node *nd = alloc(v, sizeof *nd);
  if (!nd) return NULL;
  nd->kind = k;
  nd->insn = pc;
  if (like) {
    nd->dtype = like->dtype;
    nd->ndim = like->ndim;
    memcpy(nd->shape, like->shape, sizeof nd->shape);
  }
  nd->nin = nin;
  if (nin) {
    nd->in = alloc(v, nin * sizeof *nd->in);
    if (!nd->in) return NULL;
  }
  return nd;
}

/* After a statement: rebuild the name index; two tensors on one name is an error (the later
 * one is dropped so the run can go on and report more). */
static void reindex(vm *v, uint32_t pc) {
  if (wbr_map_reset(&v->index, v->ncur) < 0) {
    v->oom = true;
    return;
  }
  size_t w = 0;
  for (size_t i = 0; i < v->ncur; i++) {
    size_t old;
    int r = wbr_map_put(&v->index, v->cur[i].name, w, &old);
    if (r < 0) {
      v->oom = true;
      return;
    }
    if (r == 1) {
      char *a = provenance(v, &v->cur[old]), *b = provenance(v, &v->cur[i]);
      stmt_error(v, pc, "make the names distinct (a more specific pattern or template), or drop one of them",
                 "two tensors would be named '%s': one %s, one %s", v->cur[i].name, a ? a : "?",
                 b ? b : "?");
      free(a);
      free(b);
      continue;
    }
    v->cur[w++] = v->cur[i];
  }
  v->ncur = w;
}

/* Update the index after a statement that kept every position (v->spare holds the previous
 * working set). False if a new name clashes: the caller rebuilds and reports. */
static bool reindex_renamed(vm *v) {
  for (size_t k = 0; k < v->ncur; k++)
    if (v->cur[k].name != v->spare[k].name) wbr_map_del(&v->index, v->spare[k].name);
  for (size_t k = 0; k < v->ncur; k++) {
    if (v->cur[k].name == v->spare[k].name) continue;
    int r = wbr_map_put(&v->index, v->cur[k].name, k, NULL);
    if (r < 0) v->oom = true;
    if (r != 0) return false;
  }
  return true;
}

static long find(const vm *v, const char *name) {
  size_t i;
  return wbr_map_get(&v->index, name, &i) ? (long)i : -1;
}

/* ---- statement helpers ---- */

/* The quantized type of a value that is an opaque quantized source tensor, or NULL. */
static const char *quantized(const vm *v, const wbr_node *nd) {
  if (nd->kind != WBR_N_SOURCE) return NULL;
  const wbr_tensor *t = &v->plan->src->t[nd->src];
  return t->quant ? t->quant_name : NULL;
}

static bool is_float(wbr_dtype d) {
  return d == WBR_F64 || d == WBR_F32 || d == WBR_F16 || d == WBR_BF16 || d == WBR_F8_E4M3 || d == WBR_F8_E5M2;
}

static int norm_axis(int64_t axis, int ndim) {
  if (axis < 0) axis += ndim;
  return axis >= 0 && axis < ndim ? (int)axis : -1;
}

static void shape_str(char *buf, size_t n, const wbr_node *nd) { wbr_shape_str(buf, n, nd->ndim, nd->shape); }

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
      stmt_error(v, v->pc, "check the sizes in the statement",
                 "the result for '%s' would have shape %s %s: dimension %d is %lld, larger than 2^53 "
                 "(no output format's reader accepts it)", name, sh, wbr_dtype_name(nd->dtype), d,
                 (long long)nd->shape[d]);
      return true;
    }
  }
  if (wbr_dims_product_i64(nd->ndim, nd->shape, &nelem) &&
      wbr_mul_i64(nelem, (int64_t)wbr_dtype_size(nd->dtype), &nbytes))
    return false;
  stmt_error(v, v->pc, "no tensor can hold more than 2^63-1 bytes: check the sizes in the statement",
             "the result for '%s' would have shape %s %s: more than 2^63-1 bytes, larger than any tensor can be", name, sh,
             wbr_dtype_name(nd->dtype));
  return true;
}

/* A statement may not grow the working set past WBR_MAX_TENSORS (a bigger source is not refused,
 * but may not grow): reports and stops the run. n is what the statement would make. */
static bool too_many(vm *v, uint64_t n) {
  if (n <= WBR_MAX_TENSORS || n <= v->ncur) return false;
  stmt_error(v, v->pc, "check the statement's pattern and axis, and the shapes with `wbr inspect`",
             "this statement would make %llu tensors or more; a plan holds at most %u",
             (unsigned long long)n, WBR_MAX_TENSORS);
  v->stop = true;
  return true;
}

static const char *op_name(const wbr_insn *in) {
  const wbr_opinfo *oi = wbr_opinfo_get(in->op);
  return oi ? oi->name : "?";
}

static int compile_pattern(vm *v, uint32_t pat_index, wbr_namepat **out) {
  const wbr_pattern *pp = wbr_program_pattern(v->prog, pat_index);
  char letters[8];
  size_t k = 0;
  for (int bit = 0; bit < 5; bit++)
    if (pp->flags & (1u << bit)) letters[k++] = WBR_RX_LETTERS[bit];
  letters[k] = 0;
  wbr_namepat_error err;
  int rc = wbr_namepat_new(out, pp->kind == WBR_PK_REGEX ? WBR_NAMEPAT_REGEX : WBR_NAMEPAT_GLOB,
                           wbr_program_str(v->prog, pp->text), letters, &err);
  if (rc == WBR_ENOMEM) v->oom = true;
  else if (rc) stmt_error(v, v->pc, NULL, "pattern: %s", err.msg);
  else wbr_namepat_set_budget(*out, &v->match_budget);
  return rc;
}

static int compile_template(vm *v, const wbr_namepat *p, uint32_t str, bool index, wbr_template **out) {
  wbr_namepat_error err;
  int rc = wbr_template_new(out, p, wbr_program_str(v->prog, str), index, &err);
  if (rc == WBR_ENOMEM) v->oom = true;
  else if (rc) stmt_error(v, v->pc, NULL, "template \"%s\": %s", wbr_program_str(v->prog, str), err.msg);
  return rc;
}

/* Build a name from template t for a match of `name`. Returns an arena string or NULL. */
static char *expand(vm *v, const wbr_template *t, const char *name, const wbr_match *m, long index,
                    bool whole, size_t *len) {
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_template_expand(t, name, m, index, whole, &b);
  *len = b.len;
  char *s = b.oom ? NULL : adup(v, b.p ? b.p : "", b.len);
  if (b.oom) v->oom = true;
  wbr_buf_free(&b);
  return s;
}

/* Positions in the working set of the names the statement's pattern matches, into v->idx.
 * The matches themselves (captures) are recomputed for the matched names only: a wbr_match is
 * large, and most names do not match. */
static size_t match_all(vm *v, const wbr_namepat *p, bool *failed) {
  size_t n = 0;
  for (size_t i = 0; i < v->ncur; i++) {
    wbr_match m;
    wbr_namepat_error err;
    int r = wbr_namepat_match(p, v->cur[i].name, v->cur[i].len, &m, &err);
    if (r < 0) {
      stmt_error(v, v->pc, "simplify the regex", "on '%s': %s", v->cur[i].name, err.msg);
      *failed = true;
      break;
    }
    if (!r) continue;
    if (n == v->capidx) {
      size_t cap = v->capidx ? v->capidx * 2 : 64;
      size_t *ni = realloc(v->idx, cap * sizeof *ni);
      if (!ni) {
        v->oom = true;
        break;
      }
      v->idx = ni;
      v->capidx = cap;
    }
    v->idx[n++] = i;
  }
  return n;
}

/* ---- the statements ---- */

/* How many tensors the next working set would hold if split/unstack (pc's op) cut every matched
 * tensor: known before any is made, so an explosion is refused without building it. Tensors
 * that cannot be cut (a bad axis, too many parts) count 1: they are reported one by one. */
static uint64_t planned_size(const vm *v, const wbr_insn *in, size_t n, uint32_t nparts) {
  uint64_t total = v->ncur - n;
  for (size_t mi = 0; mi < n; mi++) {
    const wbr_node *nd = v->cur[v->idx[mi]].node;
    int axis = norm_axis(in->x, nd->ndim);
    uint64_t parts = in->op == WBR_OP_SPLIT ? nparts : axis >= 0 ? (uint64_t)nd->shape[axis] : 1;
    total += parts <= WBR_MAX_PARTS ? parts : 1;
  }
  return total;
}

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
  wbr_node *nd = node_new(v, WBR_N_RESHAPE, in, v->pc, 1);
  if (!nd) return NULL;
  nd->in[0] = in;
  nd->ndim = (int)n;
  memcpy(nd->shape, shape, n * sizeof *shape);
  return too_big(v, nd, name) ? NULL : nd;
bad:;
  char a[256], b[256];
  shape_str(a, sizeof a, in);
  wbr_shape_str(b, sizeof b, (int)n, dims);
  stmt_error(v, v->pc, "the new shape must have the same number of elements (use -1 for one inferred dimension)",
             "cannot reshape '%s' from %s (%llu elements) to %s", name, a, (unsigned long long)total, b);
  return NULL;
}

static wbr_node *do_permute(vm *v, wbr_node *in, const int *perm, int n, const char *name, const char *label) {
  if (n != in->ndim) {
    char a[256];
    shape_str(a, sizeof a, in);
    if (label)
      stmt_error(v, v->pc, "use permute with one axis per dimension, or reshape first",
                 "transpose needs a 2-D tensor, but '%s' has shape %s", name, a);
    else
      stmt_error(v, v->pc, "give one axis per dimension of the tensor",
                 "permute of '%s' lists %d axes, but its shape %s has %d", name, n, a, in->ndim);
    return NULL;
  }
  wbr_node *nd = node_new(v, WBR_N_PERMUTE, in, v->pc, 1);
  if (!nd) return NULL;
  nd->in[0] = in;
  nd->label = label;
  memcpy(nd->perm, perm, (size_t)n * sizeof *perm);
  wbr_permute_shape(nd->shape, n, in->shape, perm);
  return nd;
}

static wbr_node *slice_node(vm *v, wbr_node *in, int axis, int64_t start, int64_t len, bool drop,
                            const char *label) {
  wbr_node *nd = node_new(v, WBR_N_SLICE, in, v->pc, 1);
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

/* Execute instruction pc on the working set. */
static void run_insn(vm *v, uint32_t pc) {
  const wbr_insn *in = wbr_program_insn(v->prog, pc);
  v->pc = pc;
  bool optional = in->flags & WBR_INSN_OPTIONAL;
  if (in->op == WBR_OP_HINT || in->op == WBR_OP_HINT_LAYOUT) return;

  const uint32_t *pats = &in->a;
  uint32_t npats = 1;
  if (in->op == WBR_OP_CONCAT || in->op == WBR_OP_STACK) pats = wbr_program_refs(v->prog, in->a, &npats);
  wbr_namepat *p = NULL;
  if (compile_pattern(v, pats[0], &p)) return;

  bool failed = false;
  size_t n = match_all(v, p, &failed);
  size_t *idx = v->idx;
  const char *pattext = wbr_program_str(v->prog, wbr_program_pattern(v->prog, pats[0])->text);
  if (failed || v->oom) goto done;

  if (in->op == WBR_OP_EXPECT_COUNT) {
    if (n != in->b)
      stmt_error(v, pc, "the checkpoint is not the one the rules were written for, or the pattern is wrong",
                 "expected %u tensor%s matching \"%s\", found %zu", in->b, in->b == 1 ? "" : "s", pattext, n);
    goto done;
  }
  if (in->op == WBR_OP_SPLIT || in->op == WBR_OP_UNSTACK) {
    uint32_t nparts = 0;
    if (in->op == WBR_OP_SPLIT) wbr_program_refs(v->prog, in->b, &nparts);
    if (too_many(v, planned_size(v, in, n, nparts))) goto done;
  }
  if (n == 0) {
    if (!optional)
      stmt_error(v, pc, "check the pattern against `wbr inspect` of the source; write 'optional' before the statement if it may match nothing",
                 "'%s' matched no tensor: nothing is named like \"%s\" at this point", op_name(in), pattext);
    goto done;
  }

  /* Outputs are collected into a new working set in order. */
  /* The next working set is built in the spare array (kept between statements: big models
   * would otherwise pay for fresh pages at every statement). */
  wbr_value *next = v->spare;
  size_t nnext = 0, capnext = v->capspare;
  v->spare = NULL;
  v->capspare = 0;
  uint32_t nt = 0;
  const uint32_t *tpls = NULL;
  wbr_template **tv = NULL;
  wbr_template *tpl = NULL;
  wbr_template **inputs = NULL; /* concat: templates for inputs 2..n */
  const int64_t *ints = NULL;
  uint32_t nints = 0;
  size_t cast_floats = 0;
  bool *consumed = NULL;
  if (v->capconsumed < v->ncur + 1) {
    free(v->consumed);
    v->capconsumed = v->ncur + 1;
    v->consumed = malloc(v->capconsumed * sizeof *v->consumed);
  }
  consumed = v->consumed;
  if (consumed) memset(consumed, 0, (v->ncur + 1) * sizeof *consumed);
  /* Per matched value: outputs to put in its place. */
  wbr_value *outs = v->outs;
  size_t nouts = 0, capouts = v->capouts;
  size_t *out_at = v->out_at; /* for each output, the working-set index it replaces */
  size_t cap_at = v->cap_at;
  v->outs = NULL;
  v->out_at = NULL;
  if (!consumed) {
    v->oom = true;
    goto out;
  }

#define EMIT(pos, value)                                                       \
  do {                                                                          \
    if (too_many(v, (uint64_t)nouts + 1)) goto out;                             \
    if (nouts == cap_at) {                                                      \
      cap_at = cap_at ? cap_at * 2 : 16;                                        \
      size_t *na = realloc(out_at, cap_at * sizeof *na);                        \
      if (!na) { v->oom = true; goto out; }                                     \
      out_at = na;                                                              \
    }                                                                           \
    out_at[nouts] = (pos);                                                      \
    if (!push(v, &outs, &nouts, &capouts, (value))) goto out;                   \
  } while (0)


  switch ((wbr_opcode)in->op) {
  case WBR_OP_RENAME:
  case WBR_OP_UNSTACK:
  case WBR_OP_CONCAT:
  case WBR_OP_STACK:
    if (compile_template(v, p, in->b, in->op == WBR_OP_UNSTACK, &tpl)) goto out;
    break;
  case WBR_OP_SELECT:
  case WBR_OP_SLICE:
    if (in->b != WBR_NONE && compile_template(v, p, in->b, false, &tpl)) goto out;
    break;
  case WBR_OP_SPLIT:
    tpls = wbr_program_refs(v->prog, in->b, &nt);
    tv = calloc(nt, sizeof *tv);
    if (!tv) {
      v->oom = true;
      goto out;
    }
    for (uint32_t k = 0; k < nt; k++)
      if (compile_template(v, p, tpls[k], false, &tv[k])) goto out;
    break;
  case WBR_OP_DROP:
  case WBR_OP_RESHAPE:
  case WBR_OP_TRANSPOSE:
  case WBR_OP_PERMUTE:
  case WBR_OP_CAST:
  case WBR_OP_HINT:
  case WBR_OP_HINT_LAYOUT:
  case WBR_OP_EXPECT_SHAPE:
  case WBR_OP_EXPECT_DTYPE:
  case WBR_OP_EXPECT_COUNT:
  case WBR_OP_COUNT:
    break;
  }
  if (in->op == WBR_OP_CONCAT || in->op == WBR_OP_STACK) {
    inputs = calloc(npats, sizeof *inputs);
    if (!inputs) {
      v->oom = true;
      goto out;
    }
    for (uint32_t k = 1; k < npats; k++) {
      const wbr_pattern *pk = wbr_program_pattern(v->prog, pats[k]);
      if (compile_template(v, p, pk->text, false, &inputs[k])) goto out;
    }
  }

  for (size_t mi = 0; mi < n; mi++) {
    size_t i = idx[mi];
    wbr_value val = v->cur[i];
    wbr_match mstore;
    const wbr_match *m = &mstore;
    if (wbr_namepat_match(p, val.name, val.len, &mstore, NULL) != 1) continue;
    if (in->op != WBR_OP_RENAME && in->op != WBR_OP_DROP && quantized(v, val.node)) {
      stmt_error(v, pc, "rules can rename or drop a quantized tensor; to change it, dequantize it with the tool that made it",
                 "'%s' is quantized (%s): %s needs its values", val.name, quantized(v, val.node), op_name(in));
      cast_floats++; /* reported: no second complaint from cast */
      continue;
    }
    wbr_node *nd = val.node;
    char sh[256];
    switch ((wbr_opcode)in->op) {
    case WBR_OP_RENAME: {
      size_t nlen;
      char *name = expand(v, tpl, val.name, m, 0, p && wbr_namepat_get_kind(p) == WBR_NAMEPAT_GLOB, &nlen);
      if (!name) goto out;
      val.len = nlen;
      val.name = name;
      touch(v, &val, pc);
      EMIT(i, val);
      break;
    }
    case WBR_OP_DROP:
      consumed[i] = true;
      if (nd->kind == WBR_N_SOURCE) {
        size_t *d = alloc(v, (v->plan->ndropped + 1) * sizeof *d);
        if (!d) goto out;
        if (v->plan->ndropped) memcpy(d, v->plan->dropped, v->plan->ndropped * sizeof *d);
        d[v->plan->ndropped++] = nd->src;
        v->plan->dropped = d;
      }
      break;
    case WBR_OP_RESHAPE:
      ints = wbr_program_ints(v->prog, in->b, &nints);
      val.node = do_reshape(v, nd, ints, nints, val.name);
      if (!val.node) goto next_match;
      touch(v, &val, pc);
      EMIT(i, val);
      break;
    case WBR_OP_TRANSPOSE: {
      static const int t2[2] = {1, 0};
      val.node = do_permute(v, nd, t2, 2, val.name, "transpose");
      if (!val.node) goto next_match;
      touch(v, &val, pc);
      EMIT(i, val);
      break;
    }
    case WBR_OP_PERMUTE: {
      ints = wbr_program_ints(v->prog, in->b, &nints);
      int perm[WBR_MAX_DIMS];
      for (uint32_t k = 0; k < nints && k < WBR_MAX_DIMS; k++) perm[k] = (int)ints[k];
      val.node = do_permute(v, nd, perm, (int)nints, val.name, NULL);
      if (!val.node) goto next_match;
      touch(v, &val, pc);
      EMIT(i, val);
      break;
    }
    case WBR_OP_CAST: {
      wbr_dtype to = (wbr_dtype)in->x;
      /* `cast "*" bf16` means the floating-point weights: integer and bool tensors (step
       * counters, index buffers) keep their dtype. */
      if (!is_float(nd->dtype) && is_float(to)) {
        EMIT(i, val);
        break;
      }
      cast_floats++;
      if (nd->dtype != to) {
        if (!wbr_cast_supported(nd->dtype, to)) {
          stmt_error(v, pc, "casts convert between F64, F32, F16 and BF16",
                     "cannot cast '%s' from %s to %s", val.name, wbr_dtype_name(nd->dtype), wbr_dtype_name(to));
          goto next_match;
        }
        wbr_node *c = node_new(v, WBR_N_CAST, nd, pc, 1);
        if (!c) goto out;
        c->in[0] = nd;
        c->dtype = to;
        val.node = c;
      }
      touch(v, &val, pc);
      EMIT(i, val);
      break;
    }
    case WBR_OP_EXPECT_SHAPE: {
      ints = wbr_program_ints(v->prog, in->b, &nints);
      bool okk = (int)nints == nd->ndim;
      for (uint32_t k = 0; okk && k < nints; k++) okk = ints[k] == -1 || ints[k] == nd->shape[k];
      if (!okk) {
        char want[256];
        shape_str(sh, sizeof sh, nd);
        wbr_shape_str(want, sizeof want, (int)nints, ints);
        stmt_error(v, pc, "the checkpoint differs from what the rules expect: check the source, or fix the expectation",
                   "expected '%s' to have shape %s, but it has %s", val.name, want, sh);
      }
      break;
    }
    case WBR_OP_EXPECT_DTYPE:
      if (nd->dtype != (wbr_dtype)in->x)
        stmt_error(v, pc, "add a cast, or fix the expectation", "expected '%s' to be %s, but it is %s",
                   val.name, wbr_dtype_name((wbr_dtype)in->x), wbr_dtype_name(nd->dtype));
      break;
    case WBR_OP_SPLIT: {
      int axis = norm_axis(in->x, nd->ndim);
      shape_str(sh, sizeof sh, nd);
      if (axis < 0) {
        stmt_error(v, pc, "axes count from 0 (or from -1 for the last)", "split axis %d is out of range for '%s' with shape %s", in->x, val.name, sh);
        goto next_match;
      }
      int64_t dim = nd->shape[axis];
      int64_t sizes[4096];
      if (nt > 4096) goto next_match;
      const int64_t *given = NULL;
      uint32_t ngiven = 0;
      if (in->c != WBR_NONE) given = wbr_program_ints(v->prog, in->c, &ngiven);
      if (given) {
        int64_t known = 0;
        int infer = -1;
        bool over = false; /* the sizes add up past INT64_MAX: certainly not the axis */
        for (uint32_t k = 0; k < ngiven; k++) {
          if (given[k] == -1) infer = (int)k;
          else over = over || !wbr_add_i64(known, given[k], &known);
          sizes[k] = given[k];
        }
        if (over) {
          stmt_error(v, pc, "the sizes must add up to the size of the axis", "cannot split '%s' (shape %s) along axis %d into sizes that add up to more than %lld",
                     val.name, sh, axis, (long long)INT64_MAX);
          goto next_match;
        }
        bool empty_infer = infer >= 0 && known >= dim; /* the inferred part would be empty or negative */
        if (infer >= 0 && known < dim) sizes[infer] = dim - known, known = dim;
        if (empty_infer && known == dim) {
          stmt_error(v, pc, "every part has a size of at least 1: drop the -1 part, or make the other sizes smaller",
                     "cannot split '%s' (shape %s) along axis %d: the sizes add up to %lld, which leaves nothing for the -1 part",
                     val.name, sh, axis, (long long)known);
          goto next_match;
        }
        if (empty_infer || known != dim) {
          stmt_error(v, pc, "the sizes must add up to the size of the axis", "cannot split '%s' (shape %s) along axis %d into sizes that add up to %lld",
                     val.name, sh, axis, (long long)known);
          goto next_match;
        }
      } else {
        if (dim % nt != 0) {
          stmt_error(v, pc, "give explicit sizes: split ... sizes [a, b, ...]", "cannot split '%s' (shape %s) along axis %d into %u equal parts",
                     val.name, sh, axis, nt);
          goto next_match;
        }
        for (uint32_t k = 0; k < nt; k++) sizes[k] = dim / nt;
      }
      consumed[i] = true;
      int64_t start = 0;
      for (uint32_t k = 0; k < nt; k++) {
        wbr_node *s = slice_node(v, nd, axis, start, sizes[k], false, "split");
        if (!s) goto out;
        s->parts = given ? 0 : nt;
        s->sizes = given;
        s->nsizes = given ? ngiven : 0;
        s->part = k;
        start += sizes[k];
        wbr_value o = val;
        o.node = s;
        o.name = expand(v, tv[k], val.name, m, 0, true, &o.len);
        if (!o.name) goto out;
        touch(v, &o, pc);
        EMIT(i, o);
      }
      break;
    }
    case WBR_OP_UNSTACK: {
      int axis = norm_axis(in->x, nd->ndim);
      shape_str(sh, sizeof sh, nd);
      if (axis < 0) {
        stmt_error(v, pc, "axes count from 0 (or from -1 for the last)", "unstack axis %d is out of range for '%s' with shape %s", in->x, val.name, sh);
        goto next_match;
      }
      if (nd->shape[axis] > WBR_MAX_PARTS) {
        stmt_error(v, pc, "unstack makes one tensor per index: check the axis, or the shape with `wbr inspect`",
                   "unstack of '%s' (shape %s) along axis %d would make %lld tensors; one tensor can be cut into at most %u",
                   val.name, sh, axis, (long long)nd->shape[axis], WBR_MAX_PARTS);
        goto next_match;
      }
      if (too_many(v, (uint64_t)nouts + (uint64_t)nd->shape[axis])) goto out;
      consumed[i] = true;
      for (int64_t k = 0; k < nd->shape[axis]; k++) {
        wbr_node *s = slice_node(v, nd, axis, k, 1, true, "unstack");
        if (!s) goto out;
        s->part = k;
        wbr_value o = val;
        o.node = s;
        o.name = expand(v, tpl, val.name, m, (long)k, true, &o.len);
        if (!o.name) goto out;
        touch(v, &o, pc);
        EMIT(i, o);
      }
      break;
    }
    case WBR_OP_SELECT:
    case WBR_OP_SLICE: {
      int axis = norm_axis(in->x, nd->ndim);
      shape_str(sh, sizeof sh, nd);
      ints = wbr_program_ints(v->prog, in->c, &nints);
      if (axis < 0) {
        stmt_error(v, pc, "axes count from 0 (or from -1 for the last)", "%s axis %d is out of range for '%s' with shape %s", op_name(in), in->x, val.name, sh);
        goto next_match;
      }
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
        stmt_error(v, pc, "indices count from 0 (negative ones from the end)", "%s: index out of range for axis %d of '%s' with shape %s",
                   op_name(in), axis, val.name, sh);
        goto next_match;
      }
      wbr_node *s = slice_node(v, nd, axis, s0, e0 - s0, in->op == WBR_OP_SELECT, op_name(in));
      if (!s) goto out;
      val.node = s;
      if (tpl) {
        val.name = expand(v, tpl, val.name, m, 0, true, &val.len);
        if (!val.name) goto out;
      }
      touch(v, &val, pc);
      EMIT(i, val);
      break;
    }
    case WBR_OP_CONCAT:
    case WBR_OP_STACK: {
      bool stack = in->op == WBR_OP_STACK;
      if (consumed[i]) {
        stmt_error(v, pc, "each tensor can be joined once", "'%s' is an input of two %s groups", val.name, stack ? "stack" : "concat");
        goto next_match;
      }
      wbr_node *c = node_new(v, WBR_N_CONCAT, nd, pc, npats);
      if (!c) goto out;
      c->label = stack ? "stack" : "concat";
      int axis = norm_axis(in->x, nd->ndim + (stack ? 1 : 0));
      shape_str(sh, sizeof sh, nd);
      if (axis < 0) {
        stmt_error(v, pc, "axes count from 0 (or from -1 for the last)", "%s axis %d is out of range for '%s' with shape %s", c->label, in->x, val.name, sh);
        goto next_match;
      }
      bool bad = false;
      long parts[4096];
      parts[0] = (long)i;
      for (uint32_t k = 1; k < npats && k < 4096 && !bad; k++) {
        size_t nmlen;
        char *nm = expand(v, inputs[k], val.name, m, 0, true, &nmlen);
        if (!nm) goto out;
        parts[k] = find(v, nm);
        if (parts[k] < 0) {
          stmt_error(v, pc, "every input of a group must exist; check the names with `wbr inspect`",
                     "%s input %u for '%s' would be '%s', and there is no tensor of that name", c->label, k + 1, val.name, nm);
          bad = true;
        } else if (consumed[parts[k]] || parts[k] == (long)i) {
          stmt_error(v, pc, "each tensor can be joined once", "'%s' is an input of two %s groups", nm, c->label);
          bad = true;
        }
      }
      for (uint32_t k = 0; k < npats && !bad; k++) {
        const wbr_node *pn = v->cur[parts[k]].node;
        if (quantized(v, pn)) {
          stmt_error(v, pc, "rules can rename or drop a quantized tensor; to change it, dequantize it with the tool that made it",
                     "'%s' is quantized (%s): %s needs its values", v->cur[parts[k]].name, quantized(v, pn), c->label);
          bad = true;
          break;
        }
        char psh[256];
        wbr_shape_str(psh, sizeof psh, pn->ndim, pn->shape);
        bool same = pn->ndim == nd->ndim && pn->dtype == nd->dtype;
        for (int d = 0; same && d < nd->ndim; d++) same = pn->shape[d] == nd->shape[d] || (!stack && d == axis);
        if (!same) {
          stmt_error(v, pc, stack ? "stacked tensors must have the same shape and dtype" : "joined tensors must agree on dtype and on every axis but the joined one",
                     "cannot %s '%s' %s %s with '%s' %s %s", c->label, val.name, sh, wbr_dtype_name(nd->dtype),
                     v->cur[parts[k]].name, psh, wbr_dtype_name(pn->dtype));
          bad = true;
        }
      }
      if (bad) goto next_match;
      int64_t total = 0;
      for (uint32_t k = 0; k < npats; k++) {
        wbr_node *pn = v->cur[parts[k]].node;
        if (stack) {
          wbr_node *r = node_new(v, WBR_N_RESHAPE, pn, pc, 1);
          if (!r) goto out;
          r->in[0] = pn;
          r->ndim = pn->ndim + 1;
          for (int d = 0, s = 0; d < r->ndim; d++) r->shape[d] = d == axis ? 1 : pn->shape[s++];
          r->label = "stack";
          pn = r;
        }
        c->in[k] = pn;
        bad = bad || !wbr_add_i64(total, pn->shape[axis], &total);
      }
      if (bad) {
        stmt_error(v, pc, "no tensor can hold more than 2^63-1 elements: check the inputs with `wbr inspect`",
                   "cannot %s '%s' %s: the joined axis would be longer than %lld", c->label, val.name, sh,
                   (long long)INT64_MAX);
        goto next_match;
      }
      c->ndim = c->in[0]->ndim;
      memcpy(c->shape, c->in[0]->shape, sizeof c->shape);
      c->shape[axis] = total;
      c->axis = axis;
      if (too_big(v, c, val.name)) goto next_match;
      for (uint32_t k = 0; k < npats; k++) consumed[parts[k]] = true;
      wbr_value o = val;
      o.node = c;
      o.name = expand(v, tpl, val.name, m, 0, true, &o.len);
      if (!o.name) goto out;
      for (uint32_t k = 1; k < npats; k++) merge_insns(v, &o, &v->cur[parts[k]]);
      touch(v, &o, pc);
      EMIT(i, o);
      break;
    }
    case WBR_OP_HINT:
    case WBR_OP_HINT_LAYOUT:
    case WBR_OP_EXPECT_COUNT:
    case WBR_OP_COUNT:
      break;
    }
  next_match:;
  }

  if (in->op == WBR_OP_CAST && cast_floats == 0) {
    wbr_buf names;
    wbr_buf_init(&names);
    for (size_t mi = 0; mi < n && mi < 3; mi++)
      wbr_buf_printf(&names, "%s'%s' %s", mi ? ", " : "", v->cur[idx[mi]].name, wbr_dtype_name(v->cur[idx[mi]].node->dtype));
    stmt_error(v, pc, "cast converts floating-point tensors (F64, F32, F16, BF16); integer and bool tensors keep their dtype",
               "cast matched only tensors that are not floating point: %s%s", names.p ? names.p : "", n > 3 ? ", ..." : "");
    wbr_buf_free(&names);
  }

  /* Build the next working set: unmatched values stay, matched ones are replaced by their
   * outputs at their position (a statement that failed on a value keeps it unchanged). */
  {
    size_t o = 0;
    for (size_t i = 0; i < v->ncur; i++) {
      bool replaced = false;
      while (o < nouts && out_at[o] == i) {
        if (!push(v, &next, &nnext, &capnext, outs[o])) goto out;
        o++;
        replaced = true;
      }
      /* Unmatched, checked by expect, or matched but failed (reported): it stays as it was. */
      if (!replaced && !consumed[i] && !push(v, &next, &nnext, &capnext, v->cur[i])) goto out;
    }
    if (too_many(v, nnext)) goto out;
    /* Most statements (reshape, transpose, cast, expect...) keep every name in place: then the
     * index is still right, and rebuilding it would dominate the run on big models. */
    bool same_len = nnext == v->ncur, same_names = same_len;
    for (size_t k = 0; same_names && k < nnext; k++) same_names = next[k].name == v->cur[k].name;
    v->spare = v->cur;
    v->capspare = v->capcur;
    v->cur = next;
    v->ncur = nnext;
    v->capcur = capnext;
    next = NULL;
    /* Renames keep every position: update only the renamed entries (a clash falls back to the
     * full rebuild, which reports it). */
    if (!same_names && !(same_len && reindex_renamed(v))) reindex(v, pc);
  }
#undef EMIT
out:
  if (next) {
    /* failed midway: keep the array for the next statement */
    free(v->spare);
    v->spare = next;
    v->capspare = capnext;
  }
  v->outs = outs;
  v->capouts = capouts;
  v->out_at = out_at;
  v->cap_at = cap_at;
  wbr_template_free(tpl);
  if (tv)
    for (uint32_t k = 0; k < nt; k++) wbr_template_free(tv[k]);
  free(tv);
  if (inputs)
    for (uint32_t k = 0; k < npats; k++) wbr_template_free(inputs[k]);
  free(inputs);
done:
  wbr_namepat_free(p);
}

/* ---- the target ---- */

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 256 || lb > 256) return la > lb ? la : lb;
  size_t row[257];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t best = prev + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      prev = cur;
    }
  }
  return row[lb];
}

#define MAX_REPORTS 20

static void compare_target(vm *v) {
  const wbr_tensorset *tg = v->plan->target;
  bool *used = calloc(v->ncur ? v->ncur : 1, sizeof *used);
  wbr_value *out = calloc(tg->n ? tg->n : 1, sizeof *out);
  if (!used || !out) {
    free(used);
    free(out);
    v->oom = true;
    return;
  }
  size_t nout = 0, missing = 0, extra = 0, wrong = 0;
  for (size_t t = 0; t < tg->n; t++) {
    const wbr_tensor *tt = &tg->t[t];
    long i = find(v, tt->name);
    if (i >= 0) {
      used[i] = true;
      wbr_value *val = &v->cur[i];
      const wbr_node *nd = val->node;
      bool same = nd->ndim == tt->ndim && nd->dtype == tt->dtype &&
                  memcmp(nd->shape, tt->shape, (size_t)nd->ndim * sizeof *nd->shape) == 0;
      const wbr_tensor *st = nd->kind == WBR_N_SOURCE ? &v->plan->src->t[nd->src] : NULL;
      if (same && st && st->quant && tt->quant && st->quant != tt->quant) {
        if (wrong++ < MAX_REPORTS)
          plan_error(v, "the target was quantized differently: convert from a checkpoint of the same quantization",
                     "tensor '%s' is %s but the target's is %s", tt->name, st->quant_name, tt->quant_name);
        same = true; /* reported */
      }
      if (!same && wrong++ < MAX_REPORTS) {
        char a[256], b[256];
        wbr_shape_str(a, sizeof a, nd->ndim, nd->shape);
        wbr_shape_str(b, sizeof b, tt->ndim, tt->shape);
        char *prov = provenance(v, val);
        bool shape_differs = nd->ndim != tt->ndim || memcmp(nd->shape, tt->shape, (size_t)nd->ndim * sizeof *nd->shape) != 0;
        plan_error(v, shape_differs ? "add a reshape, transpose or permute for it, or check that it comes from the right source"
                                    : "add a cast for it",
                   "tensor '%s' is %s %s (%s) but the target wants %s %s", tt->name, a,
                   wbr_dtype_name(nd->dtype), prov ? prov : "?", b, wbr_dtype_name(tt->dtype));
        free(prov);
      }
      out[nout++] = *val;
    }
  }
  for (size_t t = 0; t < tg->n; t++) {
    const wbr_tensor *tt = &tg->t[t];
    if (find(v, tt->name) >= 0) continue;
    if (missing++ >= MAX_REPORTS) continue;
    /* Suggest the closest leftover names. */
    const char *best[3] = {0};
    size_t bestd[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
    for (size_t i = 0; i < v->ncur; i++) {
      if (used[i]) continue;
      size_t d = edit_distance(tt->name, v->cur[i].name);
      size_t tl = strlen(tt->name);
      if (d > (tl / 2 > 3 ? tl / 2 : 3)) continue; /* too different to be a useful suggestion */
      for (int k = 0; k < 3; k++) {
        if (d < bestd[k]) {
          for (int j = 2; j > k; j--) best[j] = best[j - 1], bestd[j] = bestd[j - 1];
          best[k] = v->cur[i].name;
          bestd[k] = d;
          break;
        }
      }
    }
    char help[1024];
    if (best[0])
      snprintf(help, sizeof help, "closest names the rules produce that the target lacks: '%s'%s%s%s%s%s",
               best[0], best[1] ? ", '" : "", best[1] ? best[1] : "", best[1] ? "'" : "",
               best[2] ? ", '" : "", best[2] ? best[2] : "");
    if (best[2]) strncat(help, "'", sizeof help - strlen(help) - 1);
    char sh[256];
    wbr_shape_str(sh, sizeof sh, tt->ndim, tt->shape);
    plan_error(v, best[0] ? help : "add a rule that produces it", "target tensor '%s' %s %s is not produced by the rules",
               tt->name, sh, wbr_dtype_name(tt->dtype));
  }
  for (size_t i = 0; i < v->ncur; i++) {
    if (used[i]) continue;
    if (extra++ >= MAX_REPORTS) continue;
    char *prov = provenance(v, &v->cur[i]);
    plan_error(v, "drop it, or rename it to a name the target has", "tensor '%s' (%s) is not in the target",
               v->cur[i].name, prov ? prov : "?");
    free(prov);
  }
  if (missing > MAX_REPORTS) note(v, "... and %zu more target tensors not produced", missing - MAX_REPORTS);
  if (extra > MAX_REPORTS) note(v, "... and %zu more tensors not in the target", extra - MAX_REPORTS);
  if (wrong > MAX_REPORTS) note(v, "... and %zu more tensors with the wrong shape or dtype", wrong - MAX_REPORTS);
  free(used);
  v->plan->out = out;
  v->plan->nout = nout;
  /* Values not in the target are left out of the plan; they were reported. */
}

int wbr_plan_new(wbr_plan **out, wbr_ctx *ctx, const wbr_program *prog, const wbr_tensorset *src,
                 const wbr_tensorset *target) {
  if (!out || !prog || !src) return WBR_EUSAGE;
  *out = NULL;
  wbr_plan *plan = calloc(1, sizeof *plan);
  if (!plan) return wbr_oom(ctx);
  plan->ctx = ctx;
  plan->prog = prog;
  plan->src = src;
  plan->target = target;
  vm v = {.plan = plan, .ctx = ctx, .prog = prog};
  wbr_map_init(&v.index);
  load_source(&v);
  for (size_t i = 0; i < src->n && !v.oom; i++) {
    const wbr_tensor *t = &src->t[i];
    wbr_node *nd = node_new(&v, WBR_N_SOURCE, NULL, UINT32_MAX, 0);
    if (!nd) break;
    nd->src = i;
    nd->dtype = t->dtype;
    nd->ndim = t->ndim;
    memcpy(nd->shape, t->shape, sizeof nd->shape);
    wbr_value val = {.name = t->name, .len = strlen(t->name), .node = nd};
    push(&v, &v.cur, &v.ncur, &v.capcur, val);
  }
  if (!v.oom) reindex(&v, 0);
  v.match_budget = WBR_MATCH_BUDGET;
  for (uint32_t pc = 0; pc < wbr_program_ninsns(prog) && !v.oom && !v.stop; pc++) run_insn(&v, pc);
  if (!v.oom) {
    if (target && !v.stop) {
      compare_target(&v);
    } else {
      plan->out = v.cur;
      plan->nout = v.ncur;
      v.cur = NULL;
    }
  }
  for (size_t i = 0; i < plan->nout && !v.oom; i++) flatten_hist(&v, &plan->out[i]);
  free(v.cur);
  free(v.spare);
  free(v.outs);
  free(v.out_at);
  free(v.idx);
  free(v.consumed);
  wbr_map_free(&v.index);
  free(v.src_lines);
  free(v.src_text);
  if (v.oom) {
    wbr_plan_free(plan);
    return wbr_oom(ctx);
  }
  *out = plan;
  return 0;
}

void wbr_plan_free(wbr_plan *plan) {
  if (!plan) return;
  free(plan->out);
  arena_free(plan->arena);
  free(plan);
}

size_t wbr_plan_problems(const wbr_plan *plan) { return plan ? plan->problems : 0; }
size_t wbr_plan_count(const wbr_plan *plan) { return plan ? plan->nout : 0; }
