/* pipeline.c — apply's stripe pipeline: a permute (and a cast before or after it) of one mapped
 * source tensor is produced a stripe of output rows at a time into a reused buffer, cast on the
 * way out, emitted, and the source pages it read given back. No buffer
 * the size of the tensor, no second pass over one, no fresh mapping per tensor. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pipeline.h"

#define STRIPE (8u << 20)  /* output rows made at a time (source dtype) */
#define BLOCK (1u << 20)   /* a tile of one slab when the source must be read slab by slab */
/* Source pages a permute may keep mapped before they are given back: a transpose reads every
 * source row for each stripe, so the pages it touches, not the stripe, bound its memory. */
#define BUDGET (8u << 20)
#define PAGE 4096u

/* The chain, reduced: the source bytes, the permute as (shape, perm) with size-1 axes dropped
 * and axes that stay together merged (ndim <= 1: no data moves), and the cast if any. */
typedef struct chain {
  const uint8_t *data;
  uint64_t nbytes;
  size_t es;
  wbr_dtype from, to;
  bool cast;
  int ndim;
  int64_t in[WBR_MAX_DIMS], out[WBR_MAX_DIMS];
  int perm[WBR_MAX_DIMS];
} chain;

/* Drop size-1 axes, merge output axes that read consecutive input axes; returns the new ndim. */
static int reduce(int ndim, const int64_t *shape, const int *perm, int64_t *rin, int *rperm) {
  int map[WBR_MAX_DIMS], q[WBR_MAX_DIMS], n = 0, m = 0;
  int64_t s[WBR_MAX_DIMS];
  for (int d = 0; d < ndim; d++) {
    map[d] = shape[d] == 1 ? -1 : n;
    if (shape[d] != 1) s[n++] = shape[d];
  }
  for (int i = 0; i < ndim; i++)
    if (map[perm[i]] >= 0) q[m++] = map[perm[i]];
  int gstart[WBR_MAX_DIMS], glen[WBR_MAX_DIMS], ng = 0;
  for (int i = 0; i < m;) {
    int k = i + 1;
    while (k < m && q[k] == q[k - 1] + 1) k++;
    gstart[ng] = q[i];
    glen[ng++] = k - i;
    i = k;
  }
  for (int g = 0; g < ng; g++) {
    int rank = 0;
    for (int h = 0; h < ng; h++) rank += gstart[h] < gstart[g];
    int64_t prod = 1;
    for (int d = gstart[g]; d < gstart[g] + glen[g]; d++) prod *= s[d];
    rin[rank] = prod;
    rperm[g] = rank;
  }
  return ng;
}

static bool parse(const wbr_pipe *p, const wbr_node *nd, chain *c) {
  memset(c, 0, sizeof *c);
  bool permute = false;
  int ndim = 0;
  int64_t shape[WBR_MAX_DIMS];
  int perm[WBR_MAX_DIMS];
  for (;;) {
    if (nd->kind == WBR_N_CAST && !c->cast) {
      c->cast = true;
      c->to = nd->dtype;
    } else if (nd->kind == WBR_N_PERMUTE && !permute) {
      permute = true;
      ndim = nd->in[0]->ndim;
      memcpy(shape, nd->in[0]->shape, sizeof shape);
      memcpy(perm, nd->perm, sizeof perm);
    } else if (nd->kind == WBR_N_SOURCE) {
      break;
    } else if (nd->kind != WBR_N_RESHAPE) {
      return false;
    }
    nd = nd->in[0];
  }
  const wbr_tensor *t = &p->src->t[nd->src];
  if (t->lazy || !t->data || t->opaque.type || t->nbytes == 0 || (!permute && !c->cast)) return false;
  c->data = t->data;
  c->nbytes = t->nbytes;
  c->from = t->dtype;
  c->es = wbr_dtype_size(t->dtype);
  if (c->cast && c->to == c->from) c->cast = false;
  c->ndim = permute ? reduce(ndim, shape, perm, c->in, c->perm) : 0;
  wbr_permute_shape(c->out, c->ndim, c->in, c->perm);
  return c->ndim > 1 || c->cast;
}

static int64_t prod(const int64_t *v, int from, int to) {
  int64_t n = 1;
  for (int d = from; d < to; d++) n *= v[d];
  return n;
}

/* Output rows per stripe; and whether the source is read slab by slab (tiled) because one
 * stripe would touch more than BUDGET bytes of source pages. 0 rows: not for the pipeline. The
 * stripe and the cast buffer hold STRIPE bytes at most in either dtype. */
typedef struct stripes {
  int64_t rows, slab;   /* output rows per stripe; source axis-0 rows per slab (tiled) */
  bool tiled;
} stripes;

static size_t wide(const chain *c) {
  size_t t = c->cast ? wbr_dtype_size(c->to) : 0;
  return t > c->es ? t : c->es;
}

static stripes plan_stripes(const chain *c, unsigned parts) {
  stripes st = {0, 0, false};
  uint64_t row_b = (uint64_t)prod(c->out, 1, c->ndim) * wide(c);
  if (row_b > STRIPE) return st;
  st.rows = (int64_t)(STRIPE / row_b);
  if (st.rows > c->out[0]) st.rows = c->out[0];
  int a = c->perm[0];
  if (a == 0) return st;
  uint64_t runs = (uint64_t)prod(c->in, 0, a), run = (uint64_t)st.rows * (uint64_t)prod(c->in, a + 1, c->ndim) * c->es;
  if (runs * ((run + PAGE - 1) / PAGE + 1) * PAGE <= BUDGET) return st;
  /* Tiled: a block is (rows) x (slab) x (the other axes); keep it near BLOCK, and the source
   * pages the parts in flight touch near BUDGET. */
  uint64_t other = (uint64_t)(prod(c->in, 1, c->ndim) / c->in[a]) * c->es;
  if ((uint64_t)st.rows * other > BLOCK) st.rows = other > BLOCK ? 1 : (int64_t)(BLOCK / other);
  if ((uint64_t)st.rows * other > BLOCK) {
    st.rows = 0;
    return st;
  }
  run = (uint64_t)st.rows * (uint64_t)prod(c->in, a + 1, c->ndim) * c->es;
  uint64_t per_row = (uint64_t)prod(c->in, 1, a) * ((run + PAGE - 1) / PAGE + 1) * PAGE;
  uint64_t by_pages = BUDGET / (2 * (uint64_t)parts) / per_row;
  st.slab = (int64_t)(BLOCK / ((uint64_t)st.rows * other));
  if (by_pages < (uint64_t)st.slab) st.slab = by_pages ? (int64_t)by_pages : 1;
  if (st.slab > c->in[0]) st.slab = c->in[0];
  st.tiled = true;
  return st;
}

bool wbr_pipe_takes(const wbr_pipe *p, const wbr_node *nd) {
  if (!p->src || (nd->kind != WBR_N_PERMUTE && nd->kind != WBR_N_CAST)) return false;
  chain c;
  if (!parse(p, nd, &c)) return false;
  return c.ndim <= 1 || plan_stripes(&c, wbr_pool_size(p->pool)).rows > 0;
}

void wbr_release_mapped(const wbr_tensorset *src, const void *ptr, size_t n) {
  if (!wbr_ts_in_mapping(src, ptr, n)) return;
  uintptr_t a = ((uintptr_t)ptr + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
  uintptr_t e = ((uintptr_t)ptr + n) & ~(uintptr_t)(PAGE - 1);
  if (e > a) (void)madvise((void *)a, e - a, MADV_DONTNEED);
}

/* ---- Parts: one stripe (or chunk) split over the pool's threads ------------------------------ */

typedef struct job {
  wbr_pipe *p;
  const chain *c;
  const stripes *st;
  int64_t r0, nr;          /* the stripe's output rows */
  uint8_t *rows, *cast;    /* where its rows go (source dtype), and their cast */
  const uint8_t *from;     /* cast_part: source elements ... */
  uint64_t nelem;          /* ... and how many */
  int rc[WBR_PIPE_MAX_THREADS];
} job;

static void span(uint64_t n, unsigned k, unsigned parts, uint64_t *a, uint64_t *b) {
  *a = n * k / parts;
  *b = n * (k + 1) / parts;
}

/* Elements [a, b) of j->from cast into p->cast. */
static void cast_part(void *arg, unsigned k, unsigned parts) {
  job *j = arg;
  uint64_t a, b;
  span(j->nelem, k, parts, &a, &b);
  size_t ts = wbr_dtype_size(j->c->to);
  if (b > a && wbr_cast(j->cast + a * ts, j->c->to, j->from + a * j->c->es, j->c->from, (size_t)(b - a)))
    j->rc[k] = WBR_EINTERNAL;
}

/* Rows of the stripe, permuted (and cast) in place: part k's share of its rows. */
static void rows_part(void *arg, unsigned k, unsigned parts) {
  job *j = arg;
  const chain *c = j->c;
  uint64_t a, b, row_e = (uint64_t)prod(c->out, 1, c->ndim);
  span((uint64_t)j->nr, k, parts, &a, &b);
  if (b == a) return;
  uint8_t *dst = j->rows + a * row_e * c->es;
  if (wbr_permute_rows(dst, c->data, c->es, c->ndim, c->in, c->perm, j->r0 + (int64_t)a, (int64_t)(b - a)))
    j->rc[k] = WBR_EINTERNAL;
  else if (c->cast && wbr_cast(j->cast + a * row_e * wbr_dtype_size(c->to), c->to, dst, c->from, (size_t)((b - a) * row_e)))
    j->rc[k] = WBR_EINTERNAL;
}

/* Tiled: slabs k, k + parts, ... of the source's axis 0, each permuted into this part's block,
 * put in place in the stripe, and its pages given back at once. */
static void slabs_part(void *arg, unsigned k, unsigned parts) {
  job *j = arg;
  const chain *c = j->c;
  int jx = 0;
  while (c->perm[jx] != 0) jx++;
  int64_t sshape[WBR_MAX_DIMS], slab[WBR_MAX_DIMS];
  memcpy(sshape, c->out, sizeof sshape);
  sshape[0] = j->nr;
  memcpy(slab, c->in, sizeof slab);
  uint64_t in0_b = (uint64_t)prod(c->in, 1, c->ndim) * c->es;
  for (int64_t c0 = (int64_t)k * j->st->slab; c0 < c->in[0]; c0 += (int64_t)parts * j->st->slab) {
    slab[0] = c->in[0] - c0 < j->st->slab ? c->in[0] - c0 : j->st->slab;
    const uint8_t *from = c->data + (uint64_t)c0 * in0_b;
    if (wbr_permute_rows(j->p->block[k], from, c->es, c->ndim, slab, c->perm, j->r0, j->nr) ||
        wbr_slice_put(j->rows, c->es, c->ndim, sshape, jx, c0, j->p->block[k], slab[0])) {
      j->rc[k] = WBR_EINTERNAL;
      return;
    }
    wbr_release_mapped(j->p->src, from, (size_t)(in0_b * (uint64_t)slab[0]));
  }
}

/* Run fn over the pool; the pipeline's own error (p->own, p->fault) or 0. */
static int run_parts(wbr_pipe *p, wbr_task_fn fn, job *j) {
  memset(j->rc, 0, sizeof j->rc);
  void *addr;
  if (!wbr_pool_run(p->pool, fn, j, &addr)) {
    p->fault = addr;
    return p->own = WBR_EFORMAT;
  }
  for (unsigned k = 0; k < wbr_pool_size(p->pool); k++)
    if (j->rc[k]) return p->own = j->rc[k];
  return 0;
}

/* Where the chain's output goes: fn, or straight into dst (the memory route) when not NULL. */
typedef struct target {
  wbr_emit_fn fn;
  void *ud;
  uint8_t *dst;
} target;

/* Output bytes [off, off + n) are ready at bytes (dst: they are there already). */
static int put(const target *t, const uint8_t *bytes, uint64_t off, uint64_t n) {
  if (!t->dst) return t->fn(t->ud, bytes, (size_t)n);
  if (bytes != t->dst + off) memcpy(t->dst + off, bytes, (size_t)n);
  return 0;
}

/* n elements from `from` to output element e0 on, cast over the pool when the chain casts. */
static int out_elems(wbr_pipe *p, const chain *c, const uint8_t *from, uint64_t e0, uint64_t n, const target *t) {
  size_t ts = c->cast ? wbr_dtype_size(c->to) : c->es;
  if (!c->cast) return put(t, from, e0 * ts, n * ts);
  uint8_t *to = t->dst ? t->dst + e0 * ts : p->cast;
  job j = {.p = p, .c = c, .from = from, .nelem = n, .cast = to};
  int rc = run_parts(p, cast_part, &j);
  return rc ? rc : put(t, to, e0 * ts, n * ts);
}

/* No data moves (a cast alone, or a permute of size-1 axes): the source chunk by chunk. */
static int run_flat(wbr_pipe *p, const chain *c, const target *t) {
  int rc = 0;
  uint64_t chunk = STRIPE / wide(c), total = c->nbytes / c->es;
  for (uint64_t e = 0; e < total && rc == 0; e += chunk) {
    uint64_t n = total - e < chunk ? total - e : chunk;
    const uint8_t *from = c->data + e * c->es;
    rc = out_elems(p, c, from, e, n, t);
    wbr_release_mapped(p->src, from, (size_t)(n * c->es));
  }
  return rc;
}

static int run_stripes(wbr_pipe *p, const chain *c, const target *t) {
  stripes st = plan_stripes(c, wbr_pool_size(p->pool));
  uint64_t row_e = (uint64_t)prod(c->out, 1, c->ndim);
  uint64_t in0_b = (uint64_t)prod(c->in, 1, c->ndim) * c->es, touched = 0;
  int a = c->perm[0];
  uint64_t runs = (uint64_t)prod(c->in, 0, a), inner = (uint64_t)prod(c->in, a + 1, c->ndim) * c->es;
  int rc = 0;
  for (int64_t r0 = 0; r0 < c->out[0] && rc == 0; r0 += st.rows) {
    job j = {.p = p, .c = c, .st = &st, .r0 = r0, .nr = c->out[0] - r0 < st.rows ? c->out[0] - r0 : st.rows};
    uint64_t n = (uint64_t)j.nr * row_e, e0 = (uint64_t)r0 * row_e;
    size_t ts = c->cast ? wbr_dtype_size(c->to) : c->es;
    /* Into the caller's memory, rows (or their cast) go straight to their place. */
    j.rows = t->dst && !c->cast ? t->dst + e0 * c->es : p->stripe;
    j.cast = t->dst ? t->dst + e0 * ts : p->cast;
    if (st.tiled) {
      rc = run_parts(p, slabs_part, &j);
      if (rc == 0) rc = out_elems(p, c, j.rows, e0, n, t);
    } else {
      rc = run_parts(p, rows_part, &j);
      if (rc == 0) rc = put(t, c->cast ? j.cast : j.rows, e0 * ts, n * ts);
    }
    if (a == 0) { /* the stripe read one range of the source: give exactly it back */
      wbr_release_mapped(p->src, c->data + (uint64_t)r0 * in0_b, (size_t)((uint64_t)j.nr * in0_b));
    } else if (!st.tiled && (touched += runs * ((uint64_t)j.nr * inner + 2 * PAGE)) >= BUDGET) {
      wbr_release_mapped(p->src, c->data, (size_t)c->nbytes);
      touched = 0;
    }
  }
  if (a != 0) wbr_release_mapped(p->src, c->data, (size_t)c->nbytes);
  return rc;
}

static bool alloc_buffers(wbr_pipe *p, const chain *c) {
  if (c->cast && !p->cast && !(p->cast = malloc(STRIPE))) return false;
  if (c->ndim <= 1) return true;
  if (!p->stripe && !(p->stripe = malloc(STRIPE))) return false;
  for (unsigned k = 0; k < wbr_pool_size(p->pool); k++)
    if (!p->block[k] && !(p->block[k] = malloc(BLOCK))) return false;
  return true;
}

static int pipe_run(wbr_pipe *p, const wbr_node *nd, const target *t) {
  chain c;
  p->own = 0;
  p->fault = NULL;
  if (!parse(p, nd, &c)) return p->own = WBR_EINTERNAL;
  if (p->threads > 1 && !p->pool && !p->no_pool && !(p->pool = wbr_pool_new(p->threads))) p->no_pool = true;
  if (!alloc_buffers(p, &c)) return p->own = WBR_ENOMEM;
  return c.ndim > 1 ? run_stripes(p, &c, t) : run_flat(p, &c, t);
}

int wbr_pipe_emit(wbr_pipe *p, const wbr_node *nd, wbr_emit_fn fn, void *ud) {
  target t = {fn, ud, NULL};
  return pipe_run(p, nd, &t);
}

int wbr_pipe_make(wbr_pipe *p, const wbr_node *nd, void *dst) {
  target t = {NULL, NULL, dst};
  return pipe_run(p, nd, &t);
}

void wbr_pipe_free(wbr_pipe *p) {
  wbr_pool_free(p->pool);
  free(p->stripe);
  free(p->cast);
  for (unsigned k = 0; k < WBR_PIPE_MAX_THREADS; k++) free(p->block[k]);
  memset(p, 0, sizeof *p);
}

/* Where output i's bytes sit in the source file when apply copies them unchanged (a rename or
 * reshape of a mapped tensor, which goes to the output by copy_file_range), else UINT64_MAX:
 * the writer's alignment hint (wbr_tensorset.src_offset). NULL when out of memory. */
uint64_t *wbr_copy_offsets(const wbr_plan *plan) {
  uint64_t *v = malloc((plan->nout ? plan->nout : 1) * sizeof *v);
  for (size_t i = 0; v && i < plan->nout; i++) {
    const wbr_node *nd = plan->out[i].node;
    while (nd->kind == WBR_N_RESHAPE) nd = nd->in[0];
    const wbr_tensor *t = nd->kind == WBR_N_SOURCE ? &plan->src->t[nd->src] : NULL;
    v[i] = t && !t->lazy && wbr_ts_in_mapping(plan->src, t->data, t->nbytes)
               ? (uint64_t)(t->data - (const uint8_t *)plan->src->map_base)
               : UINT64_MAX;
  }
  return v;
}
