/* stack.c — scanned and stacked tensors. A source tensor whose leading axis holds the L blocks of
 * a numbered family of the target (nn.scan's `[depth, ...]` tensors, experts stacked `[E, ...]`)
 * is seen by the pairing as L pieces, named as the unscanned model would name them, and the draft
 * opens with the `unstack` that makes them; a stacked target is paired piece by piece and the
 * draft ends with the `stack` that joins them. The pairing itself runs unchanged on the pieces.
 * A leading axis that differs from the family's size is a depth mismatch: nothing is cut, and the
 * family's targets say so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../compiler/ast.h"
#include "../bytecode/pattern.h"
#include "../vm/plan.h"
#include "mint.h"

/* ---- finding the groups ------------------------------------------------------------------------- */

static bool blocksep(char c) { return c == '.' || c == '/'; }

/* The numbered blocks of one side: every digit run followed by '.' or '/' opens a block (the
 * name up to that separator) of a family (the name before the run). Per interned id: a block's
 * family and element count, a family's number of blocks. */
typedef struct blocks {
  mintern in;
  uint32_t *fam;     /* block id -> family id (UINT32_MAX: not a block) */
  uint64_t *sum;     /* block id -> elements of its tensors */
  uint32_t *nblk;    /* family id -> blocks */
  uint32_t *at, *nt; /* block id -> its tensors' element counts, cnt[at .. at+nt) */
  uint64_t *cnt;
} blocks;

static void blocks_free(blocks *b) {
  mi_free(&b->in);
  free(b->fam);
  free(b->sum);
  free(b->nblk);
  free(b->at);
  free(b->nt);
  free(b->cnt);
}

static bool blocks_find(blocks *b, const wbr_tensorset *ts) {
  mi_init(&b->in);
  size_t n = wbr_tensorset_count(ts), cap = 0, k = 0;
  uint32_t(*rec)[2] = NULL; /* (block, family) per digit run */
  uint64_t *ne = NULL;
  bool ok = true;
  for (size_t i = 0; i < n && ok; i++) {
    wbr_tensor_info ti;
    wbr_tensorset_get(ts, i, &ti);
    size_t len = strlen(ti.name), st[M_MAXNUM], en[M_MAXNUM];
    int nr = m_digit_runs(ti.name, len, st, en, M_MAXNUM);
    for (int r = 0; r < nr && ok; r++) {
      if (en[r] >= len || !blocksep(ti.name[en[r]])) continue;
      if (k == cap) {
        cap = cap ? 2 * cap : 256;
        void *a = realloc(rec, cap * sizeof *rec), *c = realloc(ne, cap * sizeof *ne);
        if (a) rec = a;
        if (c) ne = c;
        if (!a || !c) ok = false;
        if (!ok) break;
      }
      rec[k][0] = m_intern_tagged(&b->in, 'B', ti.name, en[r] + 1);
      rec[k][1] = m_intern_tagged(&b->in, 'F', ti.name, st[r]);
      ne[k] = ti.nelem;
      ok = rec[k][0] != UINT32_MAX && rec[k][1] != UINT32_MAX;
      k++;
    }
  }
  size_t ids = b->in.n + 1;
  b->fam = ok ? malloc(ids * sizeof *b->fam) : NULL;
  b->sum = ok ? calloc(ids, sizeof *b->sum) : NULL;
  b->nblk = ok ? calloc(ids, sizeof *b->nblk) : NULL;
  ok = ok && b->fam && b->sum && b->nblk;
  for (size_t i = 0; ok && i < ids; i++) b->fam[i] = UINT32_MAX;
  b->at = ok ? calloc(ids, sizeof *b->at) : NULL;
  b->nt = ok ? calloc(ids, sizeof *b->nt) : NULL;
  b->cnt = ok ? malloc((k + 1) * sizeof *b->cnt) : NULL;
  ok = ok && b->at && b->nt && b->cnt;
  for (size_t i = 0; ok && i < k; i++) {
    uint32_t blk = rec[i][0], fam = rec[i][1];
    if (b->fam[blk] == UINT32_MAX) {
      b->fam[blk] = fam;
      b->nblk[fam]++;
    }
    b->sum[blk] += ne[i];
    b->nt[blk]++;
  }
  for (size_t i = 0, at = 0; ok && i < ids; i++) {
    b->at[i] = (uint32_t)at;
    at += b->nt[i];
    b->nt[i] = 0;
  }
  for (size_t i = 0; ok && i < k; i++) b->cnt[b->at[rec[i][0]] + b->nt[rec[i][0]]++] = ne[i];
  free(rec);
  free(ne);
  return ok;
}

/* What the tensors under one scope (a name prefix that ends with a separator) have in common. */
typedef struct scope {
  uint32_t n;   /* tensors */
  int64_t L;    /* their common leading size */
  bool bad;     /* one has fewer than 2 axes, or another leading size */
  bool deep;    /* one has 3 axes or more */
  uint64_t sum; /* elements of one slice of each */
  bool twin;    /* one has a tensor of its name and shape on the other side: it pairs whole */
} scope;

/* A scope can be a stack of L blocks: at least two tensors, all of 2 axes or more and one of 3 or
 * more (a Linear's weight and bias share their leading size too, but the bias has one axis), all
 * with the same leading size L >= 2 (at most what one unstack may make), and none already found
 * whole on the other side. */
static bool stackable(const scope *sc) {
  return sc->n >= 2 && !sc->bad && sc->deep && sc->L >= 2 && sc->L <= (int64_t)WBR_MAX_PARTS && !sc->twin && sc->sum > 0;
}

static bool has_twin(const wbr_tensorset *b, const wbr_tensor_info *ti) {
  long j = wbr_tensorset_find(b, ti->name);
  if (j < 0 || b->t[j].ndim != ti->ndim) return false;
  for (int d = 0; d < ti->ndim; d++)
    if (b->t[j].shape[d] != ti->shape[d]) return false;
  return true;
}

static bool add_group(mfold *f, const char *scope_txt, int64_t L, bool tgt, bool depth, const char *fam, size_t famn) {
  mfgroup *ng = realloc(f->g, (f->ng + 1) * sizeof *ng);
  if (!ng) return false;
  f->g = ng;
  mfgroup *g = &f->g[f->ng];
  memset(g, 0, sizeof *g);
  g->scope = wbr_strdup(scope_txt);
  g->fam = wbr_strdup(fam);
  g->L = L;
  g->tgt = tgt;
  g->depth = depth;
  g->famn = famn;
  if (!g->scope || !g->fam) {
    free(g->scope);
    free(g->fam);
    return false;
  }
  f->ng++;
  return true;
}

/* Is a slice of c elements a tensor of the block (cnt[0..n)), two or three of them fused, or a
 * part of one fused with one or two other slices (sl[0..ns), sl[self] being this one)? Sums of
 * three are tried in blocks and stacks of up to 24 tensors. */
static bool explained(uint64_t c, const uint64_t *cnt, size_t n, const uint64_t *sl, size_t ns, size_t self) {
  for (size_t j = 0; j < n; j++) {
    if (cnt[j] == c) return true;
    for (size_t k = j + 1; k < n; k++) {
      if (cnt[j] + cnt[k] == c) return true;
      for (size_t l = k + 1; l < n && n <= 24; l++)
        if (cnt[j] + cnt[k] + cnt[l] == c) return true;
    }
    for (size_t a = 0; a < ns; a++) {
      if (a == self) continue;
      if (c + sl[a] == cnt[j]) return true;
      for (size_t b = a + 1; b < ns && ns <= 24; b++)
        if (b != self && c + sl[a] + sl[b] == cnt[j]) return true;
    }
  }
  return false;
}

/* How many slices of the stack (sl[0..ns)) block id does not explain. */
static size_t unexplained(const blocks *b, uint32_t id, const uint64_t *sl, size_t ns) {
  size_t u = 0;
  for (size_t i = 0; i < ns; i++) u += !explained(sl[i], b->cnt + b->at[id], b->nt[id], sl, ns, i);
  return u;
}

/* The fit of a stack to a family block. A block holds a slice of every tensor of the stack (fused
 * or not) and at most as much again (buffers such as GPT-2's attention mask). */
typedef struct fit {
  uint32_t fam;
  bool depth;     /* the family has another size than the stack's L */
  size_t unexpl;  /* slices the block does not explain (the router beside the experts) */
  uint64_t extra; /* the block's elements beyond a slice's */
} fit;

static bool fit_better(const fit *x, const fit *y) {
  if (x->depth != y->depth) return !x->depth;
  if (x->unexpl != y->unexpl) return x->unexpl < y->unexpl;
  return x->extra < y->extra;
}

/* The family of b that fits a stack of L slices of sl[0..ns) (sG elements) best: one of size L
 * before any other (a depth mismatch); false if none fits. */
static bool best_family(const blocks *b, uint64_t sG, int64_t L, const uint64_t *sl, size_t ns, fit *out) {
  bool any = false;
  for (uint32_t id = 0; id < b->in.n; id++) {
    uint32_t fm = b->fam[id];
    if (fm == UINT32_MAX || b->sum[id] < sG || b->sum[id] > 2 * sG || b->nblk[fm] < 2) continue;
    fit f = {.fam = fm, .depth = b->nblk[fm] != (uint64_t)L, .extra = b->sum[id] - sG};
    if (any && !f.depth && out->depth) any = false; /* a family of size L beats any other */
    if (any && (f.depth && !out->depth)) continue;
    f.unexpl = unexplained(b, id, sl, ns);
    if (!any || fit_better(&f, out)) *out = f;
    any = true;
  }
  return any;
}

/* A scope that can be a stack, and the family it fits best. */
typedef struct cand {
  uint32_t id;
  fit f;
  double excess; /* how much bigger the family's block is than one slice, relative */
  size_t len;    /* of the scope's text */
} cand;

/* Stacks of the family's size first, then those whose slices the blocks explain, then the closest
 * fit, then the shallowest: of two nested scopes that both fit, the better fit is the stack (the
 * experts, not the experts with the router beside them). */
static int cmp_cand(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->f.depth != y->f.depth) return x->f.depth ? 1 : -1;
  if (x->f.unexpl != y->f.unexpl) return x->f.unexpl < y->f.unexpl ? -1 : 1;
  if (x->excess != y->excess) return x->excess < y->excess ? -1 : 1;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  return x->id < y->id ? -1 : 1;
}

/* The slice sizes of the tensors under scope txt (malloc'd; *n of them). */
static uint64_t *slices_under(const wbr_tensorset *a, const char *txt, size_t *n) {
  size_t lt = strlen(txt), cnt = 0;
  uint64_t *v = malloc((a->n + 1) * sizeof *v);
  for (size_t i = 0; v && i < a->n; i++)
    if (strncmp(a->t[i].name, txt, lt) == 0 && a->t[i].ndim >= 1 && a->t[i].shape[0] > 0)
      v[cnt++] = a->t[i].nelem / (uint64_t)a->t[i].shape[0];
  *n = cnt;
  return v;
}

/* The stacks of side a that correspond to the numbered blocks of side b. */
static bool groups_find(mfold *f, const wbr_tensorset *a, const wbr_tensorset *b, bool a_is_tgt) {
  blocks bl = {0};
  mintern in;
  mi_init(&in);
  scope *sc = NULL;
  cand *order = NULL;
  bool ok = blocks_find(&bl, b);
  size_t n = wbr_tensorset_count(a), cap = 0;
  for (int pass = 0; pass < 2 && ok; pass++) {
    for (size_t i = 0; i < n && ok; i++) {
      wbr_tensor_info ti;
      wbr_tensorset_get(a, i, &ti);
      bool twin = pass == 1 && has_twin(b, &ti);
      for (size_t k = 0; ti.name[k] && ok; k++) {
        if (!blocksep(ti.name[k])) continue;
        uint32_t id = mi_id(&in, ti.name, k + 1);
        if (id == UINT32_MAX) ok = false;
        if (pass == 0 || !ok || id >= cap) continue;
        scope *s = &sc[id];
        s->n++;
        s->twin |= twin;
        if (ti.ndim < 2 || (s->L && s->L != ti.shape[0])) s->bad = true;
        if (ti.ndim >= 3) s->deep = true;
        if (ti.ndim >= 1 && ti.shape[0] > 0) {
          s->L = ti.shape[0];
          s->sum += ti.nelem / (uint64_t)ti.shape[0];
        }
      }
    }
    if (pass == 0 && ok) {
      cap = in.n;
      sc = calloc(cap + 1, sizeof *sc);
      order = malloc((cap + 1) * sizeof *order);
      ok = sc && order;
    }
  }
  /* the best fits first; a scope nested in (or around) a stack taken is not a stack of its own */
  size_t nq = 0;
  for (uint32_t id = 0; ok && id < cap; id++) {
    cand *c = &order[nq];
    if (!stackable(&sc[id])) continue;
    size_t ns;
    uint64_t *sl = slices_under(a, mi_str(&in, id), &ns);
    ok = sl != NULL;
    bool fits = ok && best_family(&bl, sc[id].sum, sc[id].L, sl, ns, &c->f);
    free(sl);
    if (!fits) continue;
    c->id = id;
    c->excess = (double)c->f.extra / (double)sc[id].sum;
    c->len = strlen(mi_str(&in, id));
    nq++;
  }
  if (ok) qsort(order, nq, sizeof *order, cmp_cand);
  size_t first = f->ng;
  for (size_t q = 0; q < nq && ok; q++) {
    const char *txt = mi_str(&in, order[q].id);
    bool overlaps = false;
    for (size_t g = first; g < f->ng && !overlaps; g++) {
      size_t lt = strlen(txt), lg = strlen(f->g[g].scope);
      overlaps = strncmp(txt, f->g[g].scope, lt < lg ? lt : lg) == 0;
    }
    if (overlaps) continue;
    const scope *c = &sc[order[q].id];
    ok = add_group(f, txt, c->L, a_is_tgt, order[q].f.depth, mi_str(&bl.in, order[q].f.fam) + 1, bl.nblk[order[q].f.fam]);
  }
  free(sc);
  free(order);
  mi_free(&in);
  blocks_free(&bl);
  return ok;
}

/* ---- the sides as the pairing sees them --------------------------------------------------------------- */

static long group_of(const mfold *f, bool tgt, const char *name) {
  for (size_t g = 0; g < f->ng; g++)
    if (f->g[g].tgt == tgt && !f->g[g].depth && strncmp(name, f->g[g].scope, strlen(f->g[g].scope)) == 0)
      return (long)g;
  return -1;
}

/* Piece k of a name under scope: the index goes in as a segment of its own, after the scope. */
static char *piece_name(const mfgroup *g, const char *name, int64_t k) {
  wbr_buf b;
  wbr_buf_init(&b);
  size_t ls = strlen(g->scope);
  wbr_buf_put(&b, name, ls);
  wbr_buf_printf(&b, "%lld%c%s", (long long)k, g->scope[ls - 1], name + ls);
  wbr_buf_putc(&b, 0);
  return wbr_buf_take(&b);
}

static bool in_byte_order(const wbr_tensorset *ts) {
  size_t n = wbr_tensorset_count(ts);
  if (n < 4) return false;
  for (size_t i = 1; i < n; i++)
    if (strcmp(ts->t[i - 1].name, ts->t[i].name) > 0) return false;
  return true;
}

static void side_free(mfside *fs) {
  wbr_tensorset_free(fs->virt);
  free(fs->real);
  free(fs->piece);
  free(fs->at);
  free(fs->cnt);
  free(fs->pieces);
  free(fs->grp);
  memset(fs, 0, sizeof *fs);
}

typedef struct vrec {
  char *name;
  uint32_t real;
  int64_t piece;
} vrec;

static int cmp_vrec(const void *a, const void *b) { return strcmp(((const vrec *)a)->name, ((const vrec *)b)->name); }

/* Cut side `tgt` of f: every tensor of a group becomes its L pieces, block by block at the place
 * of the group's first tensor (the order an unscanned model defines them in); a side in byte
 * order stays in byte order, so that it still says nothing about definition order. */
static int side_build(mfold *f, mfside *fs, wbr_ctx *ctx, const wbr_tensorset *real, bool tgt) {
  size_t n = wbr_tensorset_count(real), nv = 0;
  int32_t *grp = malloc((n + 1) * sizeof *grp);
  if (!grp) return WBR_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    grp[i] = (int32_t)group_of(f, tgt, real->t[i].name);
    nv += grp[i] < 0 ? 1 : (size_t)f->g[grp[i]].L;
  }
  if (nv == n) {
    free(grp);
    return 0; /* nothing to cut */
  }
  vrec *v = calloc(nv + 1, sizeof *v);
  bool *done = calloc(n + 1, sizeof *done);
  int rc = v && done ? 0 : WBR_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    if (done[i]) continue;
    int32_t g = grp[i];
    for (int64_t p = 0; p < (g < 0 ? 1 : f->g[g].L) && !rc; p++)
      for (size_t j = i; j < n && !rc; j++) {
        if (grp[j] != g || (g < 0 && j != i)) continue;
        done[j] = true;
        v[k].name = g < 0 ? wbr_strdup(real->t[j].name) : piece_name(&f->g[g], real->t[j].name, p);
        v[k].real = (uint32_t)j;
        v[k].piece = g < 0 ? -1 : p;
        rc = v[k++].name ? 0 : WBR_ENOMEM;
        /* a piece that has the name of a whole tensor: the side cannot be cut so */
        if (!rc && g >= 0 && wbr_tensorset_find(real, v[k - 1].name) >= 0) rc = 1;
      }
  }
  if (!rc && in_byte_order(real)) qsort(v, k, sizeof *v, cmp_vrec);
  if (!rc) {
    fs->real = malloc((k + 1) * sizeof *fs->real);
    fs->piece = malloc((k + 1) * sizeof *fs->piece);
    fs->at = malloc((n + 1) * sizeof *fs->at);
    fs->cnt = calloc(n + 1, sizeof *fs->cnt);
    fs->pieces = malloc((k + 1) * sizeof *fs->pieces);
    if (!fs->real || !fs->piece || !fs->at || !fs->cnt || !fs->pieces) rc = WBR_ENOMEM;
  }
  if (!rc) rc = wbr_tensorset_new(&fs->virt, ctx);
  for (size_t i = 0; i < k && !rc; i++) {
    const wbr_tensor *t = &real->t[v[i].real];
    int64_t shape[WBR_MAX_DIMS];
    int nd = v[i].piece < 0 ? t->ndim : t->ndim - 1;
    for (int d = 0; d < nd; d++) shape[d] = v[i].piece < 0 ? t->shape[d] : t->shape[d + 1];
    rc = wbr_tensorset_add(fs->virt, v[i].name, t->dtype, nd, shape, NULL);
    fs->real[i] = v[i].real;
    fs->piece[i] = v[i].piece;
  }
  /* per real tensor, its pieces in index order */
  for (size_t i = 0, at = 0; i < n && !rc; i++) {
    fs->at[i] = (uint32_t)at;
    at += grp[i] < 0 ? 1 : (size_t)f->g[grp[i]].L;
  }
  for (size_t i = 0; i < k && !rc; i++) {
    uint32_t r = v[i].real;
    fs->pieces[fs->at[r] + (v[i].piece < 0 ? 0 : (uint32_t)v[i].piece)] = (uint32_t)i;
    fs->cnt[r]++;
  }
  fs->nreal = n;
  fs->rs = real;
  fs->grp = grp;
  for (size_t i = 0; v && i < k; i++) free(v[i].name);
  free(v);
  free(done);
  if (rc) side_free(fs);
  return rc == 1 ? 0 : rc;
}

int m_fold_build(mfold *f, wbr_ctx *ctx, const wbr_tensorset *src, const wbr_tensorset *tgt) {
  memset(f, 0, sizeof *f);
  if (!groups_find(f, src, tgt, false) || !groups_find(f, tgt, src, true)) return wbr_oom(ctx);
  int rc = side_build(f, &f->s, ctx, src, false);
  if (!rc) rc = side_build(f, &f->t, ctx, tgt, true);
  if (rc) return rc == WBR_ENOMEM ? wbr_oom(ctx) : rc;
  /* a group that could not be cut (a piece name taken) is not one */
  for (size_t g = 0; g < f->ng; g++)
    if (!f->g[g].depth && !(f->g[g].tgt ? f->t.virt : f->s.virt)) f->g[g].depth = f->g[g].cut_failed = true;
  return 0;
}

void m_fold_free(mfold *f) {
  side_free(&f->s);
  side_free(&f->t);
  for (size_t g = 0; g < f->ng; g++) {
    free(f->g[g].scope);
    free(f->g[g].fam);
  }
  free(f->g);
  memset(f, 0, sizeof *f);
}

const wbr_tensorset *m_fold_set(const mfold *f, bool tgt, const wbr_tensorset *real) {
  const mfside *fs = tgt ? &f->t : &f->s;
  return fs->virt ? fs->virt : real;
}

size_t m_fold_real(const matcher *m, bool tgt, uint32_t v, int64_t *piece) {
  const mfside *fs = m->fold ? (tgt ? &m->fold->t : &m->fold->s) : NULL;
  if (!fs || !fs->virt) {
    *piece = -1;
    return v;
  }
  *piece = fs->piece[v];
  return fs->real[v];
}

size_t m_fold_nreal(const matcher *m, bool tgt) {
  const mfside *fs = m->fold ? (tgt ? &m->fold->t : &m->fold->s) : NULL;
  return fs && fs->virt ? fs->nreal : (tgt ? m->T.n : m->S.n);
}

size_t m_fold_count(const matcher *m, bool tgt, size_t real) {
  const mfside *fs = m->fold ? (tgt ? &m->fold->t : &m->fold->s) : NULL;
  return fs && fs->virt ? fs->cnt[real] : 1;
}

uint32_t m_fold_piece(const matcher *m, bool tgt, size_t real, size_t k) {
  const mfside *fs = m->fold ? (tgt ? &m->fold->t : &m->fold->s) : NULL;
  return fs && fs->virt ? fs->pieces[fs->at[real] + k] : (uint32_t)real;
}

/* ---- the statements ------------------------------------------------------------------------------ */

/* Does glob pat select, among the names of ts, exactly those marked in want? */
static bool selects_exactly(const char *pat, const wbr_tensorset *ts, const bool *want) {
  wbr_namepat *np = NULL;
  wbr_namepat_error err;
  if (wbr_namepat_new(&np, WBR_PK_GLOB, pat, "", &err)) return false;
  bool ok = true;
  for (size_t i = 0; i < ts->n && ok; i++) {
    wbr_match mm;
    ok = (wbr_namepat_match(np, ts->t[i].name, strlen(ts->t[i].name), &mm, &err) == 1) == want[i];
  }
  wbr_namepat_free(np);
  return ok;
}

/* Digits of a scope masked, so that the groups of one family of stacks (the experts of every
 * layer) can share a statement. */
static bool same_but_numbers(const char *a, const char *b) {
  for (;; a++, b++) {
    bool da = *a >= '0' && *a <= '9', db = *b >= '0' && *b <= '9';
    if (da && db) {
      while (a[1] >= '0' && a[1] <= '9') a++;
      while (b[1] >= '0' && b[1] <= '9') b++;
      continue;
    }
    if (*a != *b) return false;
    if (!*a) return true;
  }
}

/* The common scope of groups gi[0..n) as a glob: literal, but a number that differs among them is
 * a capture ({i}, {j}, ...). */
static char *scope_glob(const mfold *f, const size_t *gi, size_t n) {
  const char *s0 = f->g[gi[0]].scope;
  size_t st[M_MAXNUM], en[M_MAXNUM], st2[M_MAXNUM], en2[M_MAXNUM];
  int nr = m_digit_runs(s0, strlen(s0), st, en, M_MAXNUM), caps = 0;
  wbr_buf b;
  wbr_buf_init(&b);
  size_t pos = 0;
  for (int r = 0; r < nr; r++) {
    bool varies = false;
    for (size_t k = 1; k < n && !varies; k++) {
      const char *s = f->g[gi[k]].scope;
      int n2 = m_digit_runs(s, strlen(s), st2, en2, M_MAXNUM);
      varies = n2 != nr || en2[r] - st2[r] != en[r] - st[r] || memcmp(s + st2[r], s0 + st[r], en[r] - st[r]) != 0;
    }
    if (!varies) continue;
    char *l = wbr_strndup(s0 + pos, st[r] - pos), *e = l ? m_lit(l) : NULL;
    wbr_buf_printf(&b, "%s{%c}", e ? e : "", "ijklmnabcdefgh"[caps++ % 14]);
    if (!e) b.oom = true;
    free(l);
    free(e);
    pos = en[r];
  }
  char *e = m_lit(s0 + pos);
  wbr_buf_puts(&b, e ? e : "");
  if (!e) b.oom = true;
  free(e);
  wbr_buf_putc(&b, 0);
  return wbr_buf_take(&b);
}

static mstmt *stmt_io(mrules *out, int kind, size_t nin, size_t nmembers) {
  mstmt *s = m_stmt_new(out, kind);
  if (!s) return NULL;
  s->inv = calloc(nin + 1, sizeof *s->inv);
  if (!s->inv) return NULL;
  s->nin = nin;
  s->nout = 1;
  s->axis = 0;
  s->has_axis = true;
  s->nmembers = nmembers;
  return s;
}

static bool stmt_ok(const mstmt *s) {
  if (!s->inv) return false;
  for (size_t k = 0; k < s->nin; k++)
    if (!s->inv[k]) return false;
  return s->out[0] != NULL;
}

static bool in_set(const size_t *gi, size_t n, int32_t g) {
  for (size_t k = 0; k < n; k++)
    if ((int32_t)gi[k] == g) return true;
  return false;
}

/* Is every piece of real target r paired? */
static bool finished(const matcher *m, size_t r) {
  for (size_t k = 0; k < m_fold_count(m, true, r); k++)
    if (m->T.t[m_fold_piece(m, true, r, k)].pair < 0) return false;
  return true;
}

/* One unstack for the tensors of groups gi[0..n): `unstack "P*" axis 0 -> "P{#}.*"`; false if
 * the pattern would select other tensors too. */
static bool unstack_groups(matcher *m, mrules *out, const size_t *gi, size_t n, bool *want) {
  const mfside *fs = &m->fold->s;
  size_t cnt = 0;
  for (size_t r = 0; r < fs->nreal; r++) cnt += want[r] = in_set(gi, n, fs->grp[r]);
  char *p = scope_glob(m->fold, gi, n);
  const char *sc = m->fold->g[gi[0]].scope;
  wbr_buf pat, tmpl;
  wbr_buf_init(&pat);
  wbr_buf_init(&tmpl);
  wbr_buf_printf(&pat, "%s*", p ? p : "");
  wbr_buf_printf(&tmpl, "%s{#}%c*", p ? p : "", sc[strlen(sc) - 1]);
  bool ok = p && !pat.oom && !tmpl.oom && selects_exactly(pat.p, fs->rs, want);
  if (ok) {
    mstmt *s = stmt_io(out, WBR_STMT_UNSTACK, 1, cnt);
    ok = s != NULL;
    if (s) s->inv[0] = wbr_buf_take(&pat), s->out[0] = wbr_buf_take(&tmpl);
  }
  wbr_buf_free(&pat);
  wbr_buf_free(&tmpl);
  free(p);
  return ok;
}

static void unstack_literal(matcher *m, mrules *out, size_t g) {
  const mfside *fs = &m->fold->s;
  const mfgroup *gr = &m->fold->g[g];
  size_t ls = strlen(gr->scope);
  for (size_t r = 0; r < fs->nreal; r++) {
    if (fs->grp[r] != (int32_t)g) continue;
    const char *name = fs->rs->t[r].name;
    mstmt *s = stmt_io(out, WBR_STMT_UNSTACK, 1, 1);
    if (!s) return;
    s->inv[0] = m_lit(name);
    char *a = wbr_strndup(name, ls), *ea = a ? m_lit(a) : NULL, *eb = m_lit(name + ls);
    wbr_buf b;
    wbr_buf_init(&b);
    wbr_buf_printf(&b, "%s{#}%c%s", ea ? ea : "", gr->scope[ls - 1], eb ? eb : "");
    s->out[0] = ea && eb && !b.oom ? wbr_buf_take(&b) : NULL;
    wbr_buf_free(&b);
    free(a);
    free(ea);
    free(eb);
  }
}

/* One stack for the finished targets of groups gi[0..n) (of one L): `stack "P0.*", "P1.*", ...
 * axis 0 -> "P*"`; false if a target is not finished or the first input would select more. */
static bool stack_groups(matcher *m, mrules *out, const size_t *gi, size_t n, bool *want) {
  const mfside *fs = &m->fold->t;
  int64_t L = m->fold->g[gi[0]].L;
  size_t cnt = 0;
  for (size_t r = 0; r < fs->nreal; r++)
    if (in_set(gi, n, fs->grp[r])) {
      if (!finished(m, r)) return false;
      cnt++;
    }
  for (size_t v = 0; v < fs->virt->n; v++) want[v] = fs->piece[v] == 0 && in_set(gi, n, fs->grp[fs->real[v]]);
  char *p = scope_glob(m->fold, gi, n);
  const char *sc = m->fold->g[gi[0]].scope;
  char sep = sc[strlen(sc) - 1];
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_printf(&b, "%s0%c*", p ? p : "", sep);
  bool ok = p && !b.oom && selects_exactly(b.p, fs->virt, want);
  wbr_buf_free(&b);
  mstmt *s = ok ? stmt_io(out, WBR_STMT_STACK, (size_t)L, cnt) : NULL;
  for (int64_t k = 0; s && k < L; k++) {
    wbr_buf_init(&b);
    wbr_buf_printf(&b, "%s%lld%c*", p, (long long)k, sep);
    s->inv[k] = wbr_buf_take(&b);
  }
  if (s) {
    wbr_buf_init(&b);
    wbr_buf_printf(&b, "%s*", p);
    s->out[0] = wbr_buf_take(&b);
  }
  free(p);
  return ok;
}

static void stack_literal(matcher *m, mrules *out, size_t g) {
  const mfside *fs = &m->fold->t;
  for (size_t r = 0; r < fs->nreal; r++) {
    if (fs->grp[r] != (int32_t)g || !finished(m, r)) continue;
    size_t L = m_fold_count(m, true, r);
    mstmt *s = stmt_io(out, WBR_STMT_STACK, L, 1);
    if (!s) return;
    for (size_t k = 0; k < L; k++) s->inv[k] = m_lit(m->T.t[m_fold_piece(m, true, r, k)].name);
    s->out[0] = m_lit(fs->rs->t[r].name);
  }
}

/* The statements of one side's groups: those that differ only in numbers (and, for a stack, have
 * the same L) share one, where its pattern selects exactly their tensors; else one per group,
 * else one per tensor. */
static int fold_stmts(matcher *m, mrules *out, bool tgt, bool literal) {
  const mfold *f = m->fold;
  const mfside *fs = tgt ? &f->t : &f->s;
  if (!fs->virt) return 0;
  size_t first = out->n;
  size_t *gi = malloc((f->ng + 1) * sizeof *gi);
  bool *done = calloc(f->ng + 1, sizeof *done);
  bool *want = calloc(fs->virt->n + fs->nreal + 1, sizeof *want);
  int rc = gi && done && want ? 0 : WBR_ENOMEM;
  for (size_t g = 0; g < f->ng && !rc; g++) {
    if (done[g] || f->g[g].tgt != tgt || f->g[g].depth) continue;
    size_t n = 0;
    for (size_t h = g; h < f->ng; h++)
      if (!done[h] && f->g[h].tgt == tgt && !f->g[h].depth && same_but_numbers(f->g[g].scope, f->g[h].scope) &&
          (!tgt || f->g[h].L == f->g[g].L))
        gi[n++] = h;
    bool ok = !literal && (tgt ? stack_groups(m, out, gi, n, want) : unstack_groups(m, out, gi, n, want));
    for (size_t k = 0; k < n; k++) {
      if (!ok && !literal && (tgt ? stack_groups(m, out, gi + k, 1, want) : unstack_groups(m, out, gi + k, 1, want)))
        continue;
      if (!ok) {
        if (tgt) stack_literal(m, out, gi[k]);
        else unstack_literal(m, out, gi[k]);
      }
    }
    for (size_t k = 0; k < n; k++) done[gi[k]] = true;
  }
  for (size_t i = first; i < out->n && !rc; i++)
    if (!stmt_ok(&out->v[i])) rc = WBR_ENOMEM;
  if (!rc && out->n > first) {
    mstmt *s = &out->v[first];
    s->comment = wbr_strdup(tgt ? "the blocks joined on a new leading axis, in index order"
                                : "one tensor per block of the leading axis (scanned or stacked)");
    if (!s->comment) rc = WBR_ENOMEM;
  }
  free(gi);
  free(done);
  free(want);
  return rc;
}

int m_fold_unstack(matcher *m, mrules *out, bool literal) { return m->fold ? fold_stmts(m, out, false, literal) : 0; }

int m_fold_stack(matcher *m, mrules *out, bool literal) { return m->fold ? fold_stmts(m, out, true, literal) : 0; }

/* ---- what the rest of the matcher asks ------------------------------------------------------------ */

/* Is x's name a member of family fam (the family text, then a number and a separator)? */
static bool in_family(const char *name, const char *fam) {
  size_t l = strlen(fam);
  if (strncmp(name, fam, l) != 0 || name[l] < '0' || name[l] > '9') return false;
  while (name[l] >= '0' && name[l] <= '9') l++;
  return blocksep(name[l]);
}

/* The words for group g's mismatch. */
static void depth_words(const mfgroup *g, char *out, size_t n) {
  snprintf(out, n, "depth mismatch: the %s's \"%s*\" stack %lld blocks on their leading axis, the %s has %zu in \"%s\"",
           g->tgt ? "target" : "source", g->scope, (long long)g->L, g->tgt ? "source" : "target", g->famn, g->fam);
}

/* The depth-mismatch group that real target `name` belongs to (a member of its family, or one
 * of its stacked tensors), or NULL. */
static const mfgroup *mismatch_of(const mfold *f, const char *name) {
  for (size_t g = 0; g < f->ng; g++) {
    const mfgroup *gr = &f->g[g];
    if (!gr->depth || gr->cut_failed) continue;
    if (gr->tgt ? strncmp(name, gr->scope, strlen(gr->scope)) == 0 : in_family(name, gr->fam)) return gr;
  }
  return NULL;
}

static const char *real_target_name(const matcher *m, uint32_t t) {
  int64_t piece;
  size_t r = m_fold_real(m, true, t, &piece);
  return m->fold->t.rs ? m->fold->t.rs->t[r].name : m->T.t[t].name;
}

bool m_fold_why(const matcher *m, uint32_t t, char *why, size_t n) {
  const mfgroup *g = m->fold ? mismatch_of(m->fold, real_target_name(m, t)) : NULL;
  if (g) depth_words(g, why, n);
  return g != NULL;
}

void m_fold_warn(matcher *m) {
  for (size_t g = 0; m->fold && g < m->fold->ng; g++) {
    const mfgroup *gr = &m->fold->g[g];
    bool open = false;
    for (size_t u = 0; u < m->nunres && !open; u++) open = mismatch_of(m->fold, real_target_name(m, m->unres[u].t)) == gr;
    if (!open) continue;
    char msg[600];
    depth_words(gr, msg, sizeof msg);
    wbr_diag d = {.severity = WBR_SEV_WARNING, .message = msg,
                  .help = "the blocks cannot be paired one to one; cut or drop the extra blocks in rules given to --update"};
    wbr_report(m->ctx, 0, &d);
  }
}

bool m_fold_keep(const matcher *m, uint32_t s) {
  const mfold *f = m->fold;
  int64_t piece;
  if (!f) return false;
  size_t r = m_fold_real(m, false, s, &piece);
  const char *name = f->s.rs ? f->s.rs->t[r].name : m->S.t[s].name;
  for (size_t g = 0; g < f->ng; g++) {
    const mfgroup *gr = &f->g[g];
    if (!gr->depth || gr->cut_failed) continue;
    /* the source's stack, or a member of the source family a stacked target mismatches */
    if (gr->tgt ? in_family(name, gr->fam) : strncmp(name, gr->scope, strlen(gr->scope)) == 0) return true;
  }
  return false;
}
