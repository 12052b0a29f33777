/* family.c — index maps of numbered families, as evidence (docs/matcher.md, "Index maps"). A
 * family is the set of numbers that follow one prefix on one side (`transformer.h.` -> 0..11).
 * A first pairing pass says which source family corresponds to which target family; the two
 * sets of numbers then fix the map (the same count: identity, constant offset or rank order) or
 * show a depth mismatch (different counts). The second pass vetoes every pair that contradicts
 * a map and, under a depth mismatch, every pair between the two families: which blocks
 * correspond is then not known, and only hints decide it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mint.h"

/* ---- numbered positions of a name ----------------------------------------------------------- */

static int fmem_cmp(const void *a, const void *b) {
  const mfmember *x = a, *y = b;
  if (x->fam != y->fam) return x->fam < y->fam ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Every digit run of every name: its family (the raw prefix before it, interned with a marker
 * byte so it cannot be taken for another kind of id) and its value. */
void m_families_prepare(matcher *m) {
  char buf[512];
  for (int side = 0; side < 2; side++) {
    mside *sd = side ? &m->T : &m->S;
    for (size_t i = 0; i < sd->n; i++) {
      mtensor *x = &sd->t[i];
      size_t st[M_MAXNUM], en[M_MAXNUM];
      int nr = m_digit_runs(x->name, x->len, st, en, M_MAXNUM);
      x->nsf = 0;
      for (int p = 0; p < nr; p++) {
        if (st[p] + 1 >= sizeof buf || en[p] - st[p] > 15) break;
        buf[0] = '\x1e';
        memcpy(buf + 1, x->name, st[p]);
        uint32_t id = mi_id(&m->in, buf, st[p] + 1);
        if (id == UINT32_MAX) {
          m->oom = true;
          return;
        }
        int64_t v = 0;
        for (size_t c = st[p]; c < en[p]; c++) v = v * 10 + (x->name[c] - '0');
        x->sfam[x->nsf] = id;
        x->sval[x->nsf++] = v;
      }
    }
    /* (family, tensor), sorted by family: members() looks at a family's tensors only */
    size_t n = 0;
    for (size_t i = 0; i < sd->n; i++) n += sd->t[i].nsf;
    mfmember *fm = malloc((n + 1) * sizeof *fm);
    if (!fm) {
      m->oom = true;
      return;
    }
    n = 0;
    for (size_t i = 0; i < sd->n; i++)
      for (int p = 0; p < sd->t[i].nsf; p++) fm[n++] = (mfmember){sd->t[i].sfam[p], (uint32_t)i};
    qsort(fm, n, sizeof *fm, fmem_cmp);
    m->fmem[side] = fm;
    m->nfmem[side] = n;
  }
}

/* ---- votes of the first pass ------------------------------------------------------------------ */

typedef struct vote {
  uint32_t fs, ft;
  int64_t vs, vt;
  uint8_t ps, pt; /* which digit run of each name */
} vote;

static int vote_cmp(const void *a, const void *b) {
  const vote *x = a, *y = b;
  if (x->fs != y->fs) return x->fs < y->fs ? -1 : 1;
  if (x->ft != y->ft) return x->ft < y->ft ? -1 : 1;
  if (x->vs != y->vs) return x->vs < y->vs ? -1 : 1;
  if (x->vt != y->vt) return x->vt < y->vt ? -1 : 1;
  return 0;
}

#define MAXPOS 6 /* numbered positions of a name that vote (the outer ones carry the structure) */

static vote *collect_votes(matcher *m, size_t *nv) {
  size_t cap = 0, n = 0;
  vote *v = NULL;
  for (size_t pi = 0; pi < m->npairs; pi++) {
    const mpair *p = &m->pairs[pi];
    if (p->ns != 1 || p->split_k || p->ev == EV_UPDATE) continue;
    const mtensor *s = &m->S.t[p->s[0]], *t = &m->T.t[p->t];
    for (int a = 0; a < s->nsf && a < MAXPOS; a++)
      for (int b = 0; b < t->nsf && b < MAXPOS; b++) {
        if (n == cap) {
          cap = cap ? cap * 2 : 1024;
          vote *nw = realloc(v, cap * sizeof *nw);
          if (!nw) {
            free(v);
            m->oom = true;
            return NULL;
          }
          v = nw;
        }
        v[n++] = (vote){s->sfam[a], t->sfam[b], s->sval[a], t->sval[b], (uint8_t)a, (uint8_t)b};
      }
  }
  if (n) qsort(v, n, sizeof *v, vote_cmp);
  *nv = n;
  return v;
}

/* Rank of x among the distinct values of v[0..n) (sorted). */
static size_t rank_of(const int64_t *v, size_t n, int64_t x) {
  size_t r = 0;
  while (r < n && v[r] < x) r++;
  return r;
}

/* Votes [lo, hi) of one (fs, ft): do they look like one family map? Two numbers at least, or
 * four votes for one, and the most voted partner of each source number (a tie goes to the
 * partner of the same rank), taken together, one-to-one and more than half of the votes (2;
 * 3 when one number only: weak, see m_families_infer); or votes in order only (1, see below);
 * or not (0). */
static int group_valid(const vote *v, size_t lo, size_t hi) {
  enum { K = 1024 }; /* numbers per family (an 80-layer model, an 89-block stage) */
  int64_t svals[K], tvals[K], dom[K];
  size_t ns = 0, nt = 0, ndom = 0, agree = 0;
  for (size_t i = lo; i < hi; i++) {
    if (!ns || svals[ns - 1] != v[i].vs) {
      if (ns == K) return 0;
      svals[ns++] = v[i].vs;
    }
    size_t r = rank_of(tvals, nt, v[i].vt);
    if (r == nt || tvals[r] != v[i].vt) {
      if (nt == K) return 0;
      memmove(tvals + r + 1, tvals + r, (nt - r) * sizeof *tvals);
      tvals[r] = v[i].vt;
      nt++;
    }
  }
  /* one number on each side: only with several votes (a target of one block, a source of two) */
  if (hi - lo < 2 || (ns < 2 && hi - lo < 4)) return 0;
  for (size_t i = lo, si = 0; i < hi; si++) {
    size_t j = i, best = 0;
    int64_t pick = 0;
    while (j < hi && v[j].vs == v[i].vs) {
      size_t k = j;
      while (k < hi && v[k].vs == v[j].vs && v[k].vt == v[j].vt) k++;
      bool same_rank = rank_of(tvals, nt, v[j].vt) == si;
      if (k - j > best || (k - j == best && same_rank)) best = k - j, pick = v[j].vt;
      j = k;
    }
    agree += best;
    dom[ndom++] = pick;
    i = j;
  }
  bool injective = 2 * agree > hi - lo;
  for (size_t a = 0; a < ndom && injective; a++)
    for (size_t b = a + 1; b < ndom; b++)
      if (dom[a] == dom[b]) injective = false;
  if (injective) return ns >= 2 ? 2 : 3;
  /* not one-to-one, but in order (no two votes cross): same-name pairs of a shifted index mixed
   * with the true ones (h.1 -> h.1 beside h.0 -> h.1); the caller accepts it only for two
   * families of the same count, whose map the counts then fix */
  int64_t prev_max = INT64_MIN;
  for (size_t i = lo; i < hi;) {
    size_t j = i;
    int64_t mn = v[i].vt, mx = v[i].vt;
    for (; j < hi && v[j].vs == v[i].vs; j++) mn = v[j].vt < mn ? v[j].vt : mn, mx = v[j].vt > mx ? v[j].vt : mx;
    if (mn < prev_max) return 0;
    prev_max = mx;
    i = j;
  }
  return ns >= 2 && nt >= 2 ? 1 : 0;
}

/* ---- the numbers of a family that take part -------------------------------------------------- */

static int i64_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int pos_in(const mtensor *x, uint32_t fam) {
  for (int p = 0; p < x->nsf; p++)
    if (x->sfam[p] == fam) return p;
  return -1;
}

/* The numbers of family `fam` on one side that belong to the correspondence with `other` (a
 * family of the other side): a number is left out when at least half of its tensors were
 * paired elsewhere and none into `other` (`features.1.0.block.{0,2}` went to conv_dw and norm,
 * not to `mlp.fc{1,2}`; Keras' `conv2_block1_0_*` is the shortcut, paired with `downsample`). */
typedef struct fval {
  int64_t v;
  bool into, paired;
} fval;

static int fval_cmp(const void *a, const void *b) {
  const fval *x = a, *y = b;
  return x->v < y->v ? -1 : x->v > y->v;
}

static int64_t *members(matcher *m, bool src, uint32_t fam, uint32_t other, uint32_t *count) {
  const mside *sd = src ? &m->S : &m->T;
  const mfmember *fm = m->fmem[src ? 0 : 1];
  size_t nfm = m->nfmem[src ? 0 : 1], lo = 0, hi = nfm;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (fm[mid].fam < fam) lo = mid + 1;
    else hi = mid;
  }
  size_t n = 0, cap = 16;
  fval *all = malloc(cap * sizeof *all);
  int64_t *keep = NULL;
  *count = 0;
  if (!all) goto oom;
  for (size_t k = lo; k < nfm && fm[k].fam == fam; k++) {
    if (k > lo && fm[k].i == fm[k - 1].i) continue; /* a family twice in one name */
    const mtensor *x = &sd->t[fm[k].i];
    int p = pos_in(x, fam);
    if (p < 0) continue;
    fval f = {.v = x->sval[p], .paired = x->pair >= 0};
    if (f.paired) {
      const mpair *pr = &m->pairs[x->pair];
      const mtensor *o = src ? &m->T.t[pr->t] : &m->S.t[pr->s[0]];
      f.into = pos_in(o, other) >= 0;
    }
    if (n == cap) {
      fval *na = realloc(all, 2 * cap * sizeof *na);
      if (!na) goto oom;
      all = na, cap *= 2;
    }
    all[n++] = f;
  }
  qsort(all, n, sizeof *all, fval_cmp);
  keep = malloc((n + 1) * sizeof *keep);
  if (!keep) goto oom;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    bool into = false;
    size_t paired = 0;
    for (; j < n && all[j].v == all[i].v; j++) into |= all[j].into, paired += all[j].paired;
    /* a number most of whose tensors are still free is a member whose few paired ones went
     * astray (an order run from the hinted blocks into the extra block's first norm) */
    if (into || 2 * paired < j - i) keep[(*count)++] = all[i].v;
    i = j;
  }
  free(all);
  return keep;
oom:
  free(all);
  free(keep);
  m->oom = true;
  *count = 0;
  return NULL;
}

/* ---- correspondences ----------------------------------------------------------------------- */

void m_families_free(matcher *m) {
  for (size_t i = 0; i < m->nfcorr; i++) {
    free(m->fcorr[i].vs);
    free(m->fcorr[i].vt);
  }
  free(m->fcorr);
  free(m->fcorr_of_s);
  free(m->fcorr_of_t);
  free(m->fmem[0]);
  free(m->fmem[1]);
  m->fmem[0] = m->fmem[1] = NULL;
  m->fcorr = NULL;
  m->fcorr_of_s = m->fcorr_of_t = NULL;
  m->nfcorr = 0;
}

/* Do the two families take part with as many numbers each (and two at least)? */
static bool same_count(matcher *m, uint32_t fs, uint32_t ft) {
  uint32_t ns = 0, nt = 0;
  int64_t *a = members(m, true, fs, ft, &ns), *b = members(m, false, ft, fs, &nt);
  free(a);
  free(b);
  return ns == nt && ns >= 2;
}

/* Are fewer than half of the tensors with number `val` of family `fam` paired (on one side)? */
static bool mostly_free(const matcher *m, bool src, uint32_t fam, int64_t val) {
  const mside *sd = src ? &m->S : &m->T;
  const mfmember *fm = m->fmem[src ? 0 : 1];
  size_t nfm = m->nfmem[src ? 0 : 1], lo = 0, hi = nfm, total = 0, paired = 0;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (fm[mid].fam < fam) lo = mid + 1;
    else hi = mid;
  }
  for (size_t k = lo; k < nfm && fm[k].fam == fam; k++) {
    const mtensor *x = &sd->t[fm[k].i];
    int p = pos_in(x, fam);
    if (p < 0 || x->sval[p] != val || (k > lo && fm[k].i == fm[k - 1].i)) continue;
    total++;
    paired += x->pair >= 0;
  }
  return 2 * paired < total;
}

/* Votes in order between families of different counts: one family map with a depth mismatch,
 * or many-to-one (torchvision ConvNeXt's `features.{2,3}` both into `stages.1`)? A depth
 * mismatch when, without the votes of numbers most of whose tensors are still free (the stray
 * pairs of two order runs that met inside a block: LLaMA's `layers.1.post_attention_layernorm`
 * paired into target block 0, next to source block 0), the votes make a one-to-one map. */
static bool in_order_depth(const matcher *m, const vote *v, size_t lo, size_t hi) {
  vote *keep = malloc((hi - lo) * sizeof *keep);
  if (!keep) return false;
  size_t n = 0;
  int64_t last_s = 0, last_t = 0;
  bool have_s = false, have_t = false, free_s = false, free_t = false;
  for (size_t i = lo; i < hi; i++) {
    if (!have_s || v[i].vs != last_s) free_s = mostly_free(m, true, v[i].fs, v[i].vs), last_s = v[i].vs, have_s = true;
    if (!have_t || v[i].vt != last_t) free_t = mostly_free(m, false, v[i].ft, v[i].vt), last_t = v[i].vt, have_t = true;
    if (!free_s && !free_t) keep[n++] = v[i];
  }
  bool depth = n < hi - lo && group_valid(keep, 0, n) == 2;
  free(keep);
  return depth;
}

/* Digit runs in the prefix every name of a side shares (DETR's `backbone.0.body.`): they
 * carry no structure, so "the same place" in two names is counted after them. */
static int lead_runs(const mside *sd) {
  if (sd->n < 2) return 0;
  size_t len = sd->t[0].len;
  for (size_t i = 1; i < sd->n && len; i++) {
    size_t l = 0;
    while (l < len && l < sd->t[i].len && sd->t[i].name[l] == sd->t[0].name[l]) l++;
    len = l;
  }
  while (len > 0 && sd->t[0].name[len - 1] != '.' && sd->t[0].name[len - 1] != '/' && sd->t[0].name[len - 1] != ':')
    len--;
  size_t st[M_MAXNUM], en[M_MAXNUM];
  int nr = m_digit_runs(sd->t[0].name, sd->t[0].len, st, en, M_MAXNUM), k = 0;
  while (k < nr && en[k] <= len) k++;
  return k;
}

/* From the pairs of the first pass: the corresponding families and their maps. */
void m_families_infer(matcher *m) {
  int lead_s = lead_runs(&m->S), lead_t = lead_runs(&m->T);
  size_t nv = 0, nids = m->in.n;
  vote *v = collect_votes(m, &nv);
  uint32_t *best_s = calloc(nids + 1, sizeof *best_s), *second_s = calloc(nids + 1, sizeof *second_s);
  uint32_t *best_t = calloc(nids + 1, sizeof *best_t), *second_t = calloc(nids + 1, sizeof *second_t);
  uint32_t *best1_s = calloc(nids + 1, sizeof *best1_s), *second1_s = calloc(nids + 1, sizeof *second1_s);
  uint32_t *best1_t = calloc(nids + 1, sizeof *best1_t), *second1_t = calloc(nids + 1, sizeof *second1_t);
  m->fcorr_of_s = malloc((nids + 1) * sizeof *m->fcorr_of_s);
  m->fcorr_of_t = malloc((nids + 1) * sizeof *m->fcorr_of_t);
  if (m->oom || !best_s || !second_s || !best_t || !second_t || !best1_s || !second1_s || !best1_t || !second1_t ||
      !m->fcorr_of_s || !m->fcorr_of_t) {
    m->oom = true;
    goto done;
  }
  for (size_t i = 0; i <= nids; i++) m->fcorr_of_s[i] = m->fcorr_of_t[i] = -1;
  /* pass 1: the strongest valid partner of every family, on both sides */
  /* pass 0 counts; pass 1 takes the strong groups, pass 2 the one-number ones where neither
   * family has a partner yet */
  for (int pass = 0; pass < 3; pass++)
    for (size_t i = 0; i < nv;) {
      size_t j = i;
      while (j < nv && v[j].fs == v[i].fs && v[j].ft == v[i].ft) j++;
      uint32_t n = (uint32_t)(j - i), fs = v[i].fs, ft = v[i].ft;
      int g = group_valid(v, i, j);
      if (g == 1 && !same_count(m, fs, ft)) g = in_order_depth(m, v, i, j) ? 2 : 0;
      /* weak: only between numbers at the same place (after a prefix every name shares) */
      if (g == 3 && v[i].ps - lead_s != v[i].pt - lead_t) g = 0;
      /* a one-number group (a target of one block against a source of two) is weak: counted
       * apart, and only where neither family has a partner already */
      uint32_t *bs = g == 3 ? best1_s : best_s, *ss = g == 3 ? second1_s : second_s;
      uint32_t *bt = g == 3 ? best1_t : best_t, *st = g == 3 ? second1_t : second_t;
      if (g) {
        if (pass == 0) {
          if (n > bs[fs]) ss[fs] = bs[fs], bs[fs] = n;
          else if (n > ss[fs]) ss[fs] = n;
          if (n > bt[ft]) st[ft] = bt[ft], bt[ft] = n;
          else if (n > st[ft]) st[ft] = n;
        } else if (n == bs[fs] && n > ss[fs] && n == bt[ft] && n > st[ft] && (pass == 2) == (g == 3) &&
                   m->fcorr_of_s[fs] < 0 && m->fcorr_of_t[ft] < 0) {
          mfcorr c = {.fs = fs, .ft = ft};
          c.vs = members(m, true, fs, ft, &c.ns);
          c.vt = members(m, false, ft, fs, &c.nt);
          c.depth = c.ns != c.nt;
          mfcorr *nc = realloc(m->fcorr, (m->nfcorr + 1) * sizeof *nc);
          if (!nc || m->oom) {
            free(c.vs);
            free(c.vt);
            m->oom = true;
            goto done;
          }
          m->fcorr = nc;
          m->fcorr_of_s[fs] = m->fcorr_of_t[ft] = (int32_t)m->nfcorr;
          m->fcorr[m->nfcorr++] = c;
        }
      }
      i = j;
    }
done:
  free(v);
  free(best_s);
  free(second_s);
  free(best_t);
  free(second_t);
  free(best1_s);
  free(second1_s);
  free(best1_t);
  free(second1_t);
}

static long find_val(const int64_t *v, uint32_t n, int64_t x) {
  const int64_t *hit = bsearch(&x, v, n, sizeof *v, i64_cmp);
  return hit ? hit - v : -1;
}

/* Is x (of the source side if src) a member of a family with a depth mismatch? */
static long in_depth_family(const matcher *m, const mtensor *x, bool src) {
  for (int a = 0; a < x->nsf; a++) {
    int32_t c = (src ? m->fcorr_of_s : m->fcorr_of_t)[x->sfam[a]];
    if (c < 0 || !m->fcorr[c].depth) continue;
    const mfcorr *fc = &m->fcorr[c];
    if (src ? find_val(fc->vs, fc->ns, x->sval[a]) >= 0 : find_val(fc->vt, fc->nt, x->sval[a]) >= 0) return c;
  }
  return -1;
}

/* Under the depth mismatch c, do s and t hold numbers of the same rank in its two families
 * (the first block of a stage on both sides)? */
bool m_depth_same_rank(const matcher *m, const mtensor *s, const mtensor *t, long c) {
  const mfcorr *fc = &m->fcorr[c];
  int a = pos_in(s, fc->fs), b = pos_in(t, fc->ft);
  if (a < 0 || b < 0) return false;
  long i = find_val(fc->vs, fc->ns, s->sval[a]), j = find_val(fc->vt, fc->nt, t->sval[b]);
  return i >= 0 && i == j;
}

/* Does (s, t) contradict a family map? Returns the correspondence it contradicts, or -1. Under
 * a depth mismatch no member of either family is paired (but by a hint): a source or a target
 * taken out of the running must not leave a competitor the field. */
long m_index_veto(const matcher *m, const mtensor *s, const mtensor *t) {
  if (!m->fam_active) return -1;
  long d = in_depth_family(m, s, true);
  if (d < 0) d = in_depth_family(m, t, false);
  if (d >= 0) return d;
  for (int a = 0; a < s->nsf; a++) {
    int32_t c = m->fcorr_of_s[s->sfam[a]];
    if (c < 0) continue;
    const mfcorr *fc = &m->fcorr[c];
    int b = pos_in(t, fc->ft);
    if (b < 0) continue;
    long i = find_val(fc->vs, fc->ns, s->sval[a]), j = find_val(fc->vt, fc->nt, t->sval[b]);
    if (i < 0 || j < 0) continue;
    if (fc->depth || i != j) return c;
  }
  return -1;
}

/* Would (s, t) cross the boundary of a mapped family: one a member, the other outside its
 * partner? Definition order may not (an order run from the head into the last block). */
bool m_family_boundary(const matcher *m, const mtensor *s, const mtensor *t) {
  if (!m->fam_active) return false;
  for (int a = 0; a < s->nsf; a++) {
    int32_t c = m->fcorr_of_s[s->sfam[a]];
    if (c >= 0 && find_val(m->fcorr[c].vs, m->fcorr[c].ns, s->sval[a]) >= 0 && pos_in(t, m->fcorr[c].ft) < 0)
      return true;
  }
  for (int b = 0; b < t->nsf; b++) {
    int32_t c = m->fcorr_of_t[t->sfam[b]];
    if (c >= 0 && find_val(m->fcorr[c].vt, m->fcorr[c].nt, t->sval[b]) >= 0 && pos_in(s, m->fcorr[c].fs) < 0)
      return true;
  }
  return false;
}

/* "transformer.h" for the family of "transformer.h.N" (marker byte and separator cut). */
static void fam_label(const matcher *m, uint32_t fam, char *out, size_t n) {
  const char *p = mi_str(&m->in, fam) + 1;
  size_t len = strlen(p);
  while (len > 0 && (p[len - 1] == '.' || p[len - 1] == '/' || p[len - 1] == '_' || p[len - 1] == ':' ||
                     p[len - 1] == '-'))
    len--;
  snprintf(out, n, "%.*s", (int)len, len ? p : "(top level)");
}

void m_families_describe(const matcher *m, long c, char *out, size_t n) {
  const mfcorr *fc = &m->fcorr[c];
  char a[160], b[160];
  fam_label(m, fc->fs, a, sizeof a);
  fam_label(m, fc->ft, b, sizeof b);
  if (fc->depth)
    snprintf(out, n, "depth mismatch: source has %u blocks in `%s`, target %u in `%s`; which correspond is not known",
             fc->ns, a, fc->nt, b);
  else if (fc->ns && fc->vs[0] == fc->vt[0] && fc->vs[fc->ns - 1] == fc->vt[fc->nt - 1])
    snprintf(out, n, "contradicts the index map `%s.N` -> `%s.N`", a, b);
  else
    snprintf(out, n, "contradicts the index map `%s.%lld..%lld` -> `%s.%lld..%lld` (in order)", a,
             (long long)fc->vs[0], (long long)fc->vs[fc->ns - 1], b, (long long)fc->vt[0],
             (long long)fc->vt[fc->nt - 1]);
}

/* One warning per depth mismatch that leaves targets undecided. */
void m_families_warn(matcher *m) {
  for (size_t c = 0; c < m->nfcorr; c++) {
    const mfcorr *fc = &m->fcorr[c];
    if (!fc->depth) continue;
    size_t open = 0;
    for (size_t t = 0; t < m->T.n; t++) {
      const mtensor *x = &m->T.t[t];
      int b = pos_in(x, fc->ft);
      if (b >= 0 && x->pair < 0 && !(m->tgt_done_by_update && m->tgt_done_by_update[t])) open++;
    }
    if (!open) continue;
    char msg[400];
    m_families_describe(m, (long)c, msg, sizeof msg);
    wbr_diag d = {.severity = WBR_SEV_WARNING, .message = msg,
                  .help = "hint which blocks correspond (see the UNRESOLVED comments), or drop the extra blocks in "
                          "rules given to --update"};
    wbr_report(m->ctx, 0, &d);
  }
}
