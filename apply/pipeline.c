/* pipeline.c — apply's stripe pipeline: a permute (and a cast before or after it) of one mapped
 * source tensor is produced a stripe of output rows at a time into a reused buffer, cast on the
 * way out through a 1 MiB scratch, emitted, and the source pages it read given back. No buffer
 * the size of the tensor, no second pass over one, no fresh mapping per tensor. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pipeline.h"

#define STRIPE (8u << 20)  /* output rows made at a time (source dtype) */
#define BLOCK (1u << 20)   /* a tile of one slab when the source must be read slab by slab */
#define SCRATCH (1u << 20) /* cast output chunk: the size of a write */
/* Source pages a permute may keep mapped before they are given back: a transpose reads every
 * source row for each stripe, so the pages it touches, not the stripe, bound its memory. */
#define BUDGET (16u << 20)
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
 * stripe would touch more than BUDGET bytes of source pages. 0 rows: not for the pipeline. */
typedef struct stripes {
  int64_t rows, slab;   /* output rows per stripe; source axis-0 rows per slab (tiled) */
  bool tiled;
} stripes;

static stripes plan_stripes(const chain *c) {
  stripes st = {0, 0, false};
  uint64_t row_b = (uint64_t)prod(c->out, 1, c->ndim) * c->es;
  if (row_b > STRIPE) return st;
  st.rows = (int64_t)(STRIPE / row_b);
  if (st.rows > c->out[0]) st.rows = c->out[0];
  int a = c->perm[0];
  if (a == 0) return st;
  uint64_t runs = (uint64_t)prod(c->in, 0, a), run = (uint64_t)st.rows * (uint64_t)prod(c->in, a + 1, c->ndim) * c->es;
  if (runs * ((run + PAGE - 1) / PAGE + 1) * PAGE <= BUDGET) return st;
  /* Tiled: a block is (rows) x (slab) x (the other axes); keep it near BLOCK. */
  uint64_t other = (uint64_t)(prod(c->in, 1, c->ndim) / c->in[a]) * c->es;
  if ((uint64_t)st.rows * other > BLOCK) st.rows = other > BLOCK ? 1 : (int64_t)(BLOCK / other);
  if ((uint64_t)st.rows * other > BLOCK) {
    st.rows = 0;
    return st;
  }
  st.slab = (int64_t)(BLOCK / ((uint64_t)st.rows * other));
  if (st.slab > c->in[0]) st.slab = c->in[0];
  st.tiled = true;
  return st;
}

bool wbr_pipe_takes(const wbr_pipe *p, const wbr_node *nd) {
  if (nd->kind != WBR_N_PERMUTE && nd->kind != WBR_N_CAST) return false;
  chain c;
  if (!parse(p, nd, &c)) return false;
  return c.ndim <= 1 || plan_stripes(&c).rows > 0;
}

void wbr_release_mapped(const wbr_tensorset *src, const void *ptr, size_t n) {
  if (!wbr_ts_in_mapping(src, ptr, n)) return;
  uintptr_t a = ((uintptr_t)ptr + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
  uintptr_t e = ((uintptr_t)ptr + n) & ~(uintptr_t)(PAGE - 1);
  if (e > a) (void)madvise((void *)a, e - a, MADV_DONTNEED);
}

/* Emit n bytes of the chain's source dtype, cast on the way when the chain casts. */
static int out(wbr_pipe *p, const chain *c, const uint8_t *bytes, size_t n, wbr_emit_fn fn, void *ud) {
  if (!c->cast) return fn(ud, bytes, n);
  return wbr_cast_stream(fn, ud, c->to, bytes, c->from, n / c->es, p->scratch, SCRATCH);
}

/* No data moves (a cast alone, or a permute of size-1 axes): the source in STRIPE chunks. */
static int run_flat(wbr_pipe *p, const chain *c, wbr_emit_fn fn, void *ud) {
  int rc = 0;
  for (uint64_t off = 0; off < c->nbytes && rc == 0; off += STRIPE) {
    size_t n = c->nbytes - off < STRIPE ? (size_t)(c->nbytes - off) : STRIPE;
    rc = out(p, c, c->data + off, n, fn, ud);
    wbr_release_mapped(p->src, c->data + off, n);
  }
  return rc;
}

/* Make stripe [r0, r0 + nr) in p->stripe. Tiled: slab by slab of the source's axis 0, each
 * permuted into p->block and put in place, its pages given back at once. */
static int make_stripe(wbr_pipe *p, const chain *c, const stripes *st, int64_t r0, int64_t nr) {
  if (!st->tiled) return wbr_permute_rows(p->stripe, c->data, c->es, c->ndim, c->in, c->perm, r0, nr);
  int j = 0;
  while (c->perm[j] != 0) j++;
  int64_t sshape[WBR_MAX_DIMS], slab[WBR_MAX_DIMS];
  memcpy(sshape, c->out, sizeof sshape);
  sshape[0] = nr;
  memcpy(slab, c->in, sizeof slab);
  uint64_t in0_b = (uint64_t)prod(c->in, 1, c->ndim) * c->es;
  for (int64_t c0 = 0; c0 < c->in[0]; c0 += st->slab) {
    slab[0] = c->in[0] - c0 < st->slab ? c->in[0] - c0 : st->slab;
    const uint8_t *from = c->data + (uint64_t)c0 * in0_b;
    int rc = wbr_permute_rows(p->block, from, c->es, c->ndim, slab, c->perm, r0, nr);
    if (rc == 0) rc = wbr_slice_put(p->stripe, c->es, c->ndim, sshape, j, c0, p->block, slab[0]);
    if (rc) return rc;
    wbr_release_mapped(p->src, from, (size_t)(in0_b * (uint64_t)slab[0]));
  }
  return 0;
}

static int run_stripes(wbr_pipe *p, const chain *c, wbr_emit_fn fn, void *ud) {
  stripes st = plan_stripes(c);
  uint64_t row_b = (uint64_t)prod(c->out, 1, c->ndim) * c->es;
  uint64_t in0_b = (uint64_t)prod(c->in, 1, c->ndim) * c->es, touched = 0;
  int a = c->perm[0];
  uint64_t runs = (uint64_t)prod(c->in, 0, a), inner = (uint64_t)prod(c->in, a + 1, c->ndim) * c->es;
  int rc = 0;
  for (int64_t r0 = 0; r0 < c->out[0] && rc == 0; r0 += st.rows) {
    int64_t nr = c->out[0] - r0 < st.rows ? c->out[0] - r0 : st.rows;
    rc = make_stripe(p, c, &st, r0, nr);
    if (rc) return p->own = rc == WBR_ENOMEM ? WBR_ENOMEM : WBR_EINTERNAL;
    rc = out(p, c, p->stripe, (size_t)((uint64_t)nr * row_b), fn, ud);
    if (a == 0) { /* the stripe read one range of the source: give exactly it back */
      wbr_release_mapped(p->src, c->data + (uint64_t)r0 * in0_b, (size_t)((uint64_t)nr * in0_b));
    } else if (!st.tiled && (touched += runs * ((uint64_t)nr * inner + 2 * PAGE)) >= BUDGET) {
      wbr_release_mapped(p->src, c->data, (size_t)c->nbytes);
      touched = 0;
    }
  }
  if (a != 0) wbr_release_mapped(p->src, c->data, (size_t)c->nbytes);
  return rc;
}

int wbr_pipe_emit(wbr_pipe *p, const wbr_node *nd, wbr_emit_fn fn, void *ud) {
  chain c;
  p->own = 0;
  if (!parse(p, nd, &c)) return p->own = WBR_EINTERNAL;
  if ((c.cast && !p->scratch && !(p->scratch = malloc(SCRATCH))) ||
      (c.ndim > 1 && !p->stripe && !(p->stripe = malloc(STRIPE))) ||
      (c.ndim > 1 && !p->block && !(p->block = malloc(BLOCK))))
    return p->own = WBR_ENOMEM;
  return c.ndim > 1 ? run_stripes(p, &c, fn, ud) : run_flat(p, &c, fn, ud);
}

void wbr_pipe_free(wbr_pipe *p) {
  free(p->stripe);
  free(p->block);
  free(p->scratch);
  p->stripe = p->block = p->scratch = NULL;
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
