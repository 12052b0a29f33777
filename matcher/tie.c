/* tie.c — definition order as the last tie-breaker (issue 10: "order may break a tie among
 * candidates that the numbers and names leave equal; it may never contradict them"). Inside two
 * blocks that correspond (numbered families with an index map, and every decided pair of one
 * lands in the other), k free sources and k free targets that all fit one another, and nothing
 * else in the two blocks, are paired in their definition order: HF ViT's layernorm_before/after
 * against norm1/norm2. Only where both sides are listed in definition order, every corresponding
 * block's decided pairs come in the same order on both sides (a shuffled or reversed side shows
 * inversions), and the names do not prefer another assignment. */
#include <stdlib.h>
#include <string.h>

#include "mint.h"

#define TIE_MAXK 4      /* a tie of more is left undecided (k! assignments are compared) */
#define TIE_MINPAIRS 4  /* decided pairs a block needs before its order is trusted */
#define TIE_MAXFREE 64  /* free tensors of one block considered */

/* The block of a name: its prefix up to the end of its deepest number whose family has an index
 * map (not a depth mismatch), interned; UINT32_MAX when it has none. */
static uint32_t block_of(matcher *m, const mtensor *x, bool src) {
  const int32_t *corr = src ? m->fcorr_of_s : m->fcorr_of_t;
  if (!corr) return UINT32_MAX;
  size_t st[M_MAXNUM], en[M_MAXNUM];
  int nr = m_digit_runs(x->name, x->len, st, en, M_MAXNUM);
  for (int k = (nr < x->nsf ? nr : x->nsf) - 1; k >= 0; k--) {
    int32_t c = corr[x->sfam[k]];
    if (c < 0 || m->fcorr[c].depth) continue;
    uint32_t id = mi_id(&m->in, x->name, en[k]);
    if (id == UINT32_MAX) m->oom = true;
    return id;
  }
  return UINT32_MAX;
}

typedef struct dpair {
  uint32_t a, b; /* blocks */
  uint32_t s, t;
} dpair;

static int cmp_dpair(const void *x, const void *y) {
  const dpair *p = x, *q = y;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  if (p->b != q->b) return p->b < q->b ? -1 : 1;
  return p->s < q->s ? -1 : p->s > q->s;
}

static bool fits(const matcher *m, uint32_t s, uint32_t t, mlayout *l) {
  const mtensor *x = &m->S.t[s], *y = &m->T.t[t];
  if (x->role != ROLE_OTHER && y->role != ROLE_OTHER && x->role != y->role) return false;
  if (m_layout_for(m, x, y, l) == REL_NONE) return false;
  return m_index_veto(m, x, y) < 0 && !m_convention_crossed(x, y);
}

/* Name evidence of assignment perm (source i -> target perm[i]). */
static float names_of(const matcher *m, const uint32_t *s, const uint32_t *t, const int *perm, int k) {
  float v = 0;
  for (int i = 0; i < k; i++) {
    const mtensor *x = &m->S.t[s[i]], *y = &m->T.t[t[perm[i]]];
    v += m_csim(m, x, y) + 0.5f * m_nsim(x, y);
  }
  return v;
}

/* Does some assignment other than the identity have better name evidence? */
static bool names_prefer_other(const matcher *m, const uint32_t *s, const uint32_t *t, int k) {
  int perm[TIE_MAXK], id[TIE_MAXK];
  for (int i = 0; i < k; i++) perm[i] = id[i] = i;
  float base = names_of(m, s, t, id, k);
  /* every permutation, in lexicographic order */
  for (;;) {
    int i = k - 2;
    while (i >= 0 && perm[i] > perm[i + 1]) i--;
    if (i < 0) return false;
    int j = k - 1;
    while (perm[j] < perm[i]) j--;
    int x = perm[i];
    perm[i] = perm[j], perm[j] = x;
    for (int a = i + 1, b = k - 1; a < b; a++, b--) x = perm[a], perm[a] = perm[b], perm[b] = x;
    if (names_of(m, s, t, perm, k) > base + 1e-4f) return true;
  }
}

static int cmp_block(const void *a, const void *b, void *ud) {
  const uint32_t *blk = ud, x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  if (blk[x] != blk[y]) return blk[x] < blk[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

/* A side's tensors by block, then definition order: a block's members are found without a scan
 * of the whole side for every block pair (hundreds of blocks in a 20,000-tensor ResNet). */
static uint32_t *by_block(const uint32_t *blk, size_t n) {
  uint32_t *v = malloc((n + 1) * sizeof *v);
  if (!v) return NULL;
  for (uint32_t i = 0; i < n; i++) v[i] = i;
  if (n) qsort_r(v, n, sizeof *v, cmp_block, (void *)blk);
  return v;
}

/* The free tensors of one block (up to TIE_MAXFREE), in definition order. */
static int block_free(const matcher *m, const uint32_t *blk, const uint32_t *ord, size_t n, bool src, uint32_t b,
                      uint32_t *out) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (blk[ord[mid]] < b) lo = mid + 1;
    else hi = mid;
  }
  int k = 0;
  for (size_t q = lo; q < n && blk[ord[q]] == b; q++) {
    uint32_t i = ord[q];
    if (!(src ? m_src_free(m, i) : m_tgt_free(m, i))) continue;
    if (k == TIE_MAXFREE) return -1;
    out[k++] = i;
  }
  return k;
}

/* Ties of one corresponding block pair: each free target whose fitting free sources of the
 * block are exactly k, each of which fits exactly the same k targets. */
static void block_ties(matcher *m, const uint32_t *bs, const uint32_t *bt, const uint32_t *os, const uint32_t *ot,
                       uint32_t a, uint32_t b, mtie **v, size_t *n, size_t *cap) {
  uint32_t fs[TIE_MAXFREE], ft[TIE_MAXFREE];
  int ns = block_free(m, bs, os, m->S.n, true, a, fs), nt = block_free(m, bt, ot, m->T.n, false, b, ft);
  if (ns < 2 || nt < 2) return;
  uint64_t fit_t[TIE_MAXFREE] = {0}, fit_s[TIE_MAXFREE] = {0};
  for (int j = 0; j < nt; j++)
    for (int i = 0; i < ns; i++) {
      mlayout l;
      if (!fits(m, fs[i], ft[j], &l)) continue;
      fit_t[j] |= 1ull << i;
      fit_s[i] |= 1ull << j;
    }
  uint64_t done = 0;
  for (int j = 0; j < nt; j++) {
    uint64_t grp = fit_t[j];
    int k = __builtin_popcountll(grp);
    if (k < 2 || k > TIE_MAXK || (done >> j & 1)) continue;
    uint64_t tg = 0;
    for (int q = 0; q < nt; q++)
      if (fit_t[q] == grp) tg |= 1ull << q;
    done |= tg;
    bool clean = __builtin_popcountll(tg) == k;
    for (int i = 0; i < ns && clean; i++)
      if ((grp >> i & 1) && fit_s[i] != tg) clean = false;
    if (!clean) continue;
    uint32_t s[TIE_MAXK], t[TIE_MAXK];
    int x = 0, y = 0;
    for (int i = 0; i < ns; i++)
      if (grp >> i & 1) s[x++] = fs[i];
    for (int q = 0; q < nt; q++)
      if (tg >> q & 1) t[y++] = ft[q];
    if (names_prefer_other(m, s, t, k)) continue;
    for (int i = 0; i < k; i++) {
      if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        mtie *nv = realloc(*v, *cap * sizeof *nv);
        if (!nv) {
          m->oom = true;
          return;
        }
        *v = nv;
      }
      mtie *e = &(*v)[(*n)++];
      e->s = s[i];
      e->t = t[i];
      e->k = (uint8_t)k;
      fits(m, s[i], t[i], &e->lay);
    }
  }
}

#define TIE_SPLIT (UINT32_MAX - 1) /* a block whose decided pairs go to several blocks */

/* partner[a] = the one block that block a's decided pairs land in, or TIE_SPLIT. */
static void note_partner(uint32_t *partner, uint32_t a, uint32_t b) {
  if (partner[a] == UINT32_MAX) partner[a] = b;
  else if (partner[a] != b) partner[a] = TIE_SPLIT;
}

size_t m_order_ties(matcher *m, mtie **out) {
  *out = NULL;
  if (!m->nfcorr) return 0;
  uint32_t *bs = malloc((m->S.n + 1) * sizeof *bs), *bt = malloc((m->T.n + 1) * sizeof *bt);
  dpair *d = malloc((m->npairs + 1) * sizeof *d);
  uint32_t *ps = NULL, *pt = NULL, *os = NULL, *ot = NULL;
  size_t nd = 0, n = 0, cap = 0;
  if (!bs || !bt || !d) {
    m->oom = true;
    goto out;
  }
  for (uint32_t i = 0; i < m->S.n; i++) bs[i] = block_of(m, &m->S.t[i], true);
  for (uint32_t i = 0; i < m->T.n; i++) bt[i] = block_of(m, &m->T.t[i], false);
  ps = malloc((m->in.n + 1) * sizeof *ps);
  pt = malloc((m->in.n + 1) * sizeof *pt);
  os = by_block(bs, m->S.n);
  ot = by_block(bt, m->T.n);
  if (!ps || !pt || !os || !ot || m->oom) {
    m->oom = true;
    goto out;
  }
  for (size_t i = 0; i <= m->in.n; i++) ps[i] = pt[i] = UINT32_MAX;
  for (size_t p = 0; p < m->npairs; p++) {
    const mpair *pr = &m->pairs[p];
    if (pr->ns != 1 || pr->split_k || pr->ev == EV_UPDATE) continue;
    d[nd++] = (dpair){bs[pr->s[0]], bt[pr->t], pr->s[0], pr->t};
  }
  qsort(d, nd, sizeof *d, cmp_dpair);
  for (size_t i = 0; i < nd; i++) {
    if (d[i].a != UINT32_MAX) note_partner(ps, d[i].a, d[i].b);
    if (d[i].b != UINT32_MAX) note_partner(pt, d[i].b, d[i].a);
  }
  /* every block pair's decided pairs in one order on both sides, or order is not trusted */
  for (size_t i = 1; i < nd; i++)
    if (d[i].a == d[i - 1].a && d[i].b == d[i - 1].b && d[i].a != UINT32_MAX && d[i].b != UINT32_MAX &&
        d[i].t < d[i - 1].t)
      goto out;
  for (size_t i = 0, j; i < nd && !m->oom; i = j) {
    for (j = i + 1; j < nd && d[j].a == d[i].a && d[j].b == d[i].b;) j++;
    if (d[i].a == UINT32_MAX || d[i].b == UINT32_MAX || j - i < TIE_MINPAIRS) continue;
    /* the blocks correspond: no decided pair leaves either for another block */
    if (ps[d[i].a] == d[i].b && pt[d[i].b] == d[i].a) block_ties(m, bs, bt, os, ot, d[i].a, d[i].b, out, &n, &cap);
  }
out:
  free(bs);
  free(bt);
  free(d);
  free(ps);
  free(pt);
  free(os);
  free(ot);
  return n;
}
