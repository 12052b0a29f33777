/* pair.c — pairing every target tensor with its source(s). Candidates come from shapes (same
 * element count, then a known layout relation: identity, reshape, 2-D transpose, HWIO<->OIHW,
 * [C,H,D]<->[H*D,C], q/k/v parts of a fused tensor). Evidence is applied in rounds, most
 * reliable first: hints, equal normalised names, unique shapes, siblings of paired parents, runs
 * in definition order, clear name winners, fused parts. A pair is only taken when nothing else
 * is as good; what stays undecided is reported, never guessed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../compiler/frontend.h"
#include "../bytecode/pattern.h"
#include "mint.h"

/* ---- layout relations ------------------------------------------------------------------------ */

static void set_reshape(mop *o, const int64_t *b, int nb) {
  o->kind = MOP_RESHAPE;
  o->n = (uint8_t)nb;
  for (int i = 0; i < nb; i++) o->v[i] = b[i];
}

static void set_perm(mop *o, const int *perm, int n) {
  o->kind = MOP_PERMUTE;
  o->n = (uint8_t)n;
  for (int i = 0; i < n; i++) o->v[i] = perm[i];
}

/* True if b is a plain regrouping of a: ones added or removed, neighbouring axes merged or cut,
 * each group one-to-many or many-to-one (no reshapes that mix axes). */
static bool regroups(const int64_t *a0, int na0, const int64_t *b0, int nb0) {
  int64_t a[WBR_MAX_DIMS], b[WBR_MAX_DIMS];
  int na = 0, nb = 0;
  for (int i = 0; i < na0; i++)
    if (a0[i] != 1) a[na++] = a0[i];
  for (int i = 0; i < nb0; i++)
    if (b0[i] != 1) b[nb++] = b0[i];
  int i = 0, j = 0;
  while (i < na && j < nb) {
    if (a[i] == b[j]) {
      i++;
      j++;
    } else if (a[i] < b[j]) {
      int64_t p = a[i++];
      while (i < na && p < b[j]) p *= a[i++];
      if (p != b[j++]) return false;
    } else {
      int64_t p = b[j++];
      while (j < nb && p < a[i]) p *= b[j++];
      if (p != a[i++]) return false;
    }
  }
  return i == na && j == nb;
}

static int64_t prod(const int64_t *a, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= a[i];
  return p;
}

static const int T2[2] = {1, 0};
static const int HWIO_OIHW[4] = {3, 2, 0, 1};
static const int OIHW_HWIO[4] = {2, 3, 1, 0};

static bool try_perm(mlayout *out, const int64_t *a, int na, const int64_t *b, int nb, const int *perm,
                     int n, int rel) {
  if (na != n || nb != n) return false;
  for (int i = 0; i < n; i++)
    if (b[i] != a[perm[i]]) return false;
  out->rel = (uint8_t)rel;
  out->nops = 1;
  set_perm(&out->op[0], perm, n);
  return true;
}

/* [..in.., ..out..] (k-D, Flax DenseGeneral) -> [out, in] (2-D): reshape to [in, out], transpose. */
static bool try_reshape_t(mlayout *out, const int64_t *a, int na, const int64_t *b, int nb) {
  if (nb != 2 || na < 3) return false;
  for (int p = 1; p < na; p++)
    if (prod(a, 0, p) == b[1] && prod(a, p, na) == b[0]) {
      int64_t mid[2] = {b[1], b[0]};
      out->rel = REL_RESHAPE_T;
      out->nops = 2;
      set_reshape(&out->op[0], mid, 2);
      set_perm(&out->op[1], T2, 2);
      return true;
    }
  return false;
}

/* [out, in] (2-D) -> k-D Flax kernel: transpose, then regroup. */
static bool try_t_reshape(mlayout *out, const int64_t *a, int na, const int64_t *b, int nb) {
  if (na != 2 || nb < 3) return false;
  int64_t ta[2] = {a[1], a[0]};
  for (int p = 1; p < nb; p++)
    if (prod(b, 0, p) == ta[0] && prod(b, p, nb) == ta[1]) {
      out->rel = REL_RESHAPE_T;
      out->nops = 2;
      set_perm(&out->op[0], T2, 2);
      set_reshape(&out->op[1], b, nb);
      return true;
    }
  return false;
}

int rel_find(mlayout *out, const int64_t *a, int na, const int64_t *b, int nb, int conv) {
  memset(out, 0, sizeof *out);
  if (prod(a, 0, na) != prod(b, 0, nb)) return out->rel = REL_NONE;
  if (conv == CONV_FLAX_TO_TORCH) {
    if (try_perm(out, a, na, b, nb, T2, 2, REL_TRANSPOSE)) return out->rel;
    if (try_perm(out, a, na, b, nb, HWIO_OIHW, 4, REL_PERMUTE)) return out->rel;
    if (try_reshape_t(out, a, na, b, nb)) return out->rel;
  } else if (conv == CONV_TORCH_TO_FLAX) {
    if (try_perm(out, a, na, b, nb, T2, 2, REL_TRANSPOSE)) return out->rel;
    if (try_perm(out, a, na, b, nb, OIHW_HWIO, 4, REL_PERMUTE)) return out->rel;
    if (try_t_reshape(out, a, na, b, nb)) return out->rel;
  }
  /* A Flax/TF kernel and a PyTorch weight of 2 or more axes are never related by a plain
   * reshape: if the convention's layout change does not fit, they do not correspond (but see
   * phase_key: a Conv1D weight of the same name). */
  if (conv != CONV_NONE && na >= 2 && nb >= 2) {
    memset(out, 0, sizeof *out);
    return out->rel = REL_NONE;
  }
  if (m_same_shape(a, na, b, nb)) return out->rel = REL_ID;
  if (regroups(a, na, b, nb)) {
    out->rel = REL_RESHAPE;
    out->nops = 1;
    set_reshape(&out->op[0], b, nb);
    return out->rel;
  }
  if (try_perm(out, a, na, b, nb, T2, 2, REL_TRANSPOSE)) return out->rel;
  if (try_perm(out, a, na, b, nb, HWIO_OIHW, 4, REL_PERMUTE)) return out->rel;
  if (try_perm(out, a, na, b, nb, OIHW_HWIO, 4, REL_PERMUTE)) return out->rel;
  if (try_reshape_t(out, a, na, b, nb)) return out->rel;
  if (try_t_reshape(out, a, na, b, nb)) return out->rel;
  memset(out, 0, sizeof *out);
  return out->rel = REL_NONE;
}

/* A pair whose dtypes differ needs a cast the kernels have. */
static bool dtype_ok(wbr_dtype a, wbr_dtype b) { return wbr_cast_supported(a, b); }

static int conv_of(const mtensor *s, const mtensor *t) {
  if (s->kernel && !t->kernel && t->role == ROLE_WEIGHT && !(t->ndim == 2 && m_conv1d_name(t))) return CONV_FLAX_TO_TORCH;
  if (!s->kernel && t->kernel && s->role == ROLE_WEIGHT && !(s->ndim == 2 && m_conv1d_name(s))) return CONV_TORCH_TO_FLAX;
  return CONV_NONE; /* (a GPT-2 weight may be Conv1D [in, out] or Linear: shapes decide) */
}

/* The layout relation by shapes, dtypes and naming convention alone (hints use this one). */
static int layout_raw(const mtensor *s, const mtensor *t, mlayout *out) {
  if (!dtype_ok(s->dtype, t->dtype)) {
    memset(out, 0, sizeof *out);
    return out->rel = REL_NONE;
  }
  return rel_find(out, s->shape, s->ndim, t->shape, t->ndim, conv_of(s, t));
}

/* m_layout_for when the layout classes of s and t are known to fit or not: the same result,
 * with the index map asked before the shapes (a veto leaves *out as a misfit does). */
static int layout_cached(const matcher *m, const mtensor *s, const mtensor *t, mlayout *out, int8_t fits) {
  long c = fits ? m_index_veto(m, s, t) : -1;
  if (!fits || (c >= 0 && !m->fcorr[c].depth)) {
    memset(out, 0, sizeof *out);
    return out->rel = REL_NONE;
  }
  return layout_raw(s, t, out);
}

/* ... and not against a family's index map: what every phase pairs by. A pair between the
 * families of a depth mismatch stays a candidate (it still competes, so that no other candidate
 * looks unique because of it) but is never taken (take()). */
int m_layout_for(const matcher *m, const mtensor *s, const mtensor *t, mlayout *out) {
  int8_t *cell = m_lcache_cell(m, s, t);
  if (cell && *cell >= 0) return layout_cached(m, s, t, out, *cell);
  if (layout_raw(s, t, out) == REL_NONE) {
    if (cell) *cell = 0;
    return REL_NONE;
  }
  if (cell) *cell = 1;
  long c = m_index_veto(m, s, t);
  if (c >= 0 && !m->fcorr[c].depth) {
    memset(out, 0, sizeof *out);
    return out->rel = REL_NONE;
  }
  return out->rel;
}

/* ---- pairs ------------------------------------------------------------------------------------ */

mpair *m_add_pair(matcher *m, uint32_t t, const uint32_t *s, int ns, const mlayout *lay, int ev,
                  const char *fmt, ...) {
  if (!wbr_grow(&m->pairs, &m->pcap, m->npairs + 1, sizeof *m->pairs, 256)) {
    m->oom = true;
    return NULL;
  }
  mpair *p = &m->pairs[m->npairs];
  memset(p, 0, sizeof *p);
  p->t = t;
  p->ns = (uint8_t)ns;
  for (int i = 0; i < ns; i++) p->s[i] = s[i];
  if (lay) p->lay = *lay;
  p->ev = (uint8_t)ev;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->why, sizeof p->why, fmt, ap);
  va_end(ap);
  m->T.t[t].pair = (int32_t)m->npairs;
  for (int i = 0; i < ns; i++) m->S.t[s[i]].pair = (int32_t)m->npairs;
  m->ev_count[ev]++;
  return &m->pairs[m->npairs++];
}

/* ---- the pairing state ------------------------------------------------------------------------ */

#define PM_UNSET UINT32_MAX
#define PM_CONFLICT (UINT32_MAX - 1)
#define SQ_NAMES 2  /* square_conflict: no layer-mate, and GPT-2's names do not show the layout */
#define SQ_HINTED 3 /* ... and a plain hint paired it: it says which, not how */

typedef struct pstate {
  matcher *m;
  uint32_t *by_nelem_s, *by_nelem_t; /* indices sorted by element count */
  uint32_t *pmap;                    /* source parent id -> target parent id */
  uint32_t *pmap_t;                  /* target parent id -> source parent id */
  size_t nids;
  size_t progress;
  /* images of scopes: for an ancestor id, the longest common prefix of the names paired with
   * the tensors under it (a name index on the other side and a length) */
  uint32_t *img_s_idx, *img_s_len; /* source ancestor -> target name prefix */
  uint32_t *img_t_idx, *img_t_len; /* target ancestor -> source name prefix */
  uint8_t *square_conflict;        /* per target: square 2-D weight, layer-mates disagree (SQ_NAMES: none) */
  bool order_off;                  /* the first pass found the two orders disagree (orders_agree) */
  /* free tensors per exact shape (recounted each round; an overestimate only makes the
   * uniqueness tests more cautious) */
  uint64_t *sh_key;
  uint32_t *sh_cnt_s, *sh_cnt_t;
  size_t sh_cap;
  /* where count_src (per target, into by_nelem_s) and count_tgt (per source, into by_nelem_t)
   * resume in the element-count bucket, and its end: the entries before are paired or do not
   * fit, and stay so for the rest of a pass (a pass only adds pairs); UINT32_MAX: not yet */
  uint32_t *cur_s, *end_s, *cur_t, *end_t;
} pstate;

static mtensor *S(pstate *ps, uint32_t i) { return &ps->m->S.t[i]; }
static mtensor *T(pstate *ps, uint32_t i) { return &ps->m->T.t[i]; }
static bool s_free(pstate *ps, uint32_t i) { return m_src_free(ps->m, i); }
static bool t_free(pstate *ps, uint32_t i) { return m_tgt_free(ps->m, i); }

static int cmp_nelem(const void *a, const void *b, void *ud) {
  const mside *side = ud;
  uint64_t x = side->t[*(const uint32_t *)a].nelem, y = side->t[*(const uint32_t *)b].nelem;
  if (x != y) return x < y ? -1 : 1;
  return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Range [lo, hi) of `idx` (sorted by nelem over side) with element count n. */
static void nelem_range(const mside *side, const uint32_t *idx, size_t cnt, uint64_t n, size_t *lo,
                        size_t *hi) {
  size_t a = 0, b = cnt;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (side->t[idx[mid]].nelem < n) a = mid + 1;
    else b = mid;
  }
  *lo = a;
  b = cnt;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (side->t[idx[mid]].nelem <= n) a = mid + 1;
    else b = mid;
  }
  *hi = a;
}

static uint64_t shape_hash(const mtensor *x) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)x->ndim;
  for (int d = 0; d < x->ndim; d++) h = (h ^ (uint64_t)x->shape[d]) * 1099511628211ull;
  return h | 1; /* never 0: 0 marks an empty slot */
}

static size_t sh_slot(const pstate *ps, uint64_t h) {
  size_t i = (size_t)(h ^ (h >> 29)) & (ps->sh_cap - 1);
  while (ps->sh_key[i] && ps->sh_key[i] != h) i = (i + 1) & (ps->sh_cap - 1);
  return i;
}

static void shapes_recount(pstate *ps) {
  matcher *m = ps->m;
  memset(ps->sh_key, 0, ps->sh_cap * sizeof *ps->sh_key);
  memset(ps->sh_cnt_s, 0, ps->sh_cap * sizeof *ps->sh_cnt_s);
  memset(ps->sh_cnt_t, 0, ps->sh_cap * sizeof *ps->sh_cnt_t);
  for (int side = 0; side < 2; side++) {
    const mside *sd = side ? &m->T : &m->S;
    for (uint32_t i = 0; i < sd->n; i++) {
      bool fr = side ? ps->m->T.t[i].pair < 0 : ps->m->S.t[i].pair < 0;
      if (!fr) continue;
      uint64_t h = shape_hash(&sd->t[i]);
      size_t k = sh_slot(ps, h);
      ps->sh_key[k] = h;
      if (side) ps->sh_cnt_t[k]++;
      else ps->sh_cnt_s[k]++;
    }
  }
}

static uint32_t free_m_same_shape(const pstate *ps, const mtensor *x, bool sources) {
  size_t k = sh_slot(ps, shape_hash(x));
  return sources ? ps->sh_cnt_s[k] : ps->sh_cnt_t[k];
}

static bool roles_conflict(const mtensor *a, const mtensor *b) {
  return a->role != ROLE_OTHER && b->role != ROLE_OTHER && a->role != b->role;
}

static void record_parents(pstate *ps, uint32_t s, uint32_t t) {
  uint32_t a = S(ps, s)->parent, b = T(ps, t)->parent;
  if (a >= ps->nids || b >= ps->nids) return;
  if (ps->pmap[a] == PM_UNSET) ps->pmap[a] = b;
  else if (ps->pmap[a] != b) ps->pmap[a] = PM_CONFLICT;
  if (ps->pmap_t[b] == PM_UNSET) ps->pmap_t[b] = a;
  else if (ps->pmap_t[b] != a) ps->pmap_t[b] = PM_CONFLICT;
}

/* Shrink the common prefix of ancestor images with a new partner name. */
static void img_update(pstate *ps, bool src_side, const mtensor *x, uint32_t other_i, const mtensor *o) {
  uint32_t *idx = src_side ? ps->img_s_idx : ps->img_t_idx, *len = src_side ? ps->img_s_len : ps->img_t_len;
  const mside *os = src_side ? &ps->m->T : &ps->m->S;
  for (int k = 0; k < x->nanc; k++) {
    uint32_t a = x->anc[k];
    if (a >= ps->nids) continue;
    if (idx[a] == UINT32_MAX) {
      idx[a] = other_i;
      len[a] = (uint32_t)o->len;
      continue;
    }
    const char *p = os->t[idx[a]].name;
    uint32_t l = 0;
    while (l < len[a] && l < o->len && p[l] == o->name[l]) l++;
    len[a] = l;
  }
}

/* Is (s, t) the one pair of their shape class in the whole model, paired or not (a stage's
 * first 1x1 conv, the only one fed by the previous stage's width)? */
static bool shape_unique_overall(pstate *ps, uint32_t s, uint32_t t) {
  matcher *m = ps->m;
  size_t lo, hi, n = 0;
  mlayout l;
  nelem_range(&m->S, ps->by_nelem_s, m->S.n, T(ps, t)->nelem, &lo, &hi);
  for (size_t i = lo; i < hi && n < 2; i++) n += layout_raw(S(ps, ps->by_nelem_s[i]), T(ps, t), &l) != REL_NONE;
  if (n != 1) return false;
  n = 0;
  nelem_range(&m->T, ps->by_nelem_t, m->T.n, S(ps, s)->nelem, &lo, &hi);
  for (size_t i = lo; i < hi && n < 2; i++) n += layout_raw(S(ps, s), T(ps, ps->by_nelem_t[i]), &l) != REL_NONE;
  return n == 1;
}

/* Which blocks a depth mismatch leaves corresponding is not known, but for a pair of a shape
 * found once in each whole model, in blocks of the same rank on both sides: the extra block is
 * not the one that holds it. Decided so in a first draft and after hints alike (the refine loop
 * with the hints alone in a file would otherwise undecide it). */
static bool depth_veto_lifted(pstate *ps, uint32_t s, uint32_t t, int ev, long veto) {
  return veto >= 0 && ev == EV_SHAPE && ps->m->fcorr[veto].depth && m_depth_same_rank(ps->m, S(ps, s), T(ps, t), veto) &&
         shape_unique_overall(ps, s, t);
}

static mpair *take(pstate *ps, uint32_t t, uint32_t s, const mlayout *lay, int ev, const char *why) {
  if (!s_free(ps, s) || !t_free(ps, t)) return NULL; /* a tensor is paired once, or the draft lies */
  long veto = ev == EV_HINT ? -1 : m_index_veto(ps->m, S(ps, s), T(ps, t));
  if (depth_veto_lifted(ps, s, t, ev, veto)) veto = -1;
  mlayout rope;
  bool crossed = ev != EV_HINT && m_convention_crossed(S(ps, s), T(ps, t));
  if (crossed && m_rope_layout(ps->m, S(ps, s), T(ps, t), &rope)) /* two known families (famtab.c) */
    crossed = false, lay = &rope;
  if (ev != EV_HINT && (veto >= 0 || crossed || m_structure_veto(ps->m, s, t)))
    return NULL; /* only a hint decides */
  mpair *p = m_add_pair(ps->m, t, &s, 1, lay, ev, "%s", why);
  if (p && lay == &rope) m_rope_mark(ps->m, p, S(ps, s), &rope);
  if (p) {
    record_parents(ps, s, t);
    img_update(ps, true, S(ps, s), t, T(ps, t));
    img_update(ps, false, T(ps, t), s, S(ps, s));
    ps->progress++;
  }
  return p;
}

static bool sepc(char c) { return c == '.' || c == '/' || c == ':'; }

/* How much of `img` (cut back to whole segments) the name shares, as a fraction of its segments. */
static float prefix_share(const char *img, uint32_t len, const mtensor *x) {
  while (len > 0 && !sepc(img[len - 1])) len--;
  if (len == 0) return -1; /* no information */
  uint32_t segs = 0, common = 0, i = 0;
  for (uint32_t k = 0; k < len; k++) segs += sepc(img[k]);
  for (; i < len && i < x->len && img[i] == x->name[i]; i++)
    if (sepc(img[i])) common++;
  return segs ? (float)common / (float)segs : -1;
}

/* Structural evidence in [0, 1]: the nearest scope of s that already has pairs maps to a
 * prefix of the other side; how much of it t shares (and the same from t's side). */
static float near_scope(pstate *ps, const mtensor *s, const mtensor *t) {
  float tot = 0;
  int n = 0;
  for (int k = 0; k < s->nanc; k++) {
    uint32_t a = s->anc[k];
    if (a >= ps->nids || ps->img_s_idx[a] == UINT32_MAX) continue;
    float f = prefix_share(ps->m->T.t[ps->img_s_idx[a]].name, ps->img_s_len[a], t);
    if (f >= 0) tot += f, n++;
    break;
  }
  for (int k = 0; k < t->nanc; k++) {
    uint32_t a = t->anc[k];
    if (a >= ps->nids || ps->img_t_idx[a] == UINT32_MAX) continue;
    float f = prefix_share(ps->m->S.t[ps->img_t_idx[a]].name, ps->img_t_len[a], s);
    if (f >= 0) tot += f, n++;
    break;
  }
  return n ? tot / (float)n : 0;
}

/* Scope evidence: +1 if the parents are known to correspond, -1 if they are known not to. */
static float scope_of(pstate *ps, const mtensor *s, const mtensor *t) {
  if (s->parent >= ps->nids || t->parent >= ps->nids) return 0;
  uint32_t a = ps->pmap[s->parent], b = ps->pmap_t[t->parent];
  if (a == t->parent && b == s->parent) return 1.0f;
  if ((a != PM_UNSET && a != PM_CONFLICT && a != t->parent) ||
      (b != PM_UNSET && b != PM_CONFLICT && b != s->parent))
    return -1.0f;
  return 0;
}

/* Both parents already correspond to other parents: the pair would cut across the structure
 * (a leftover of one module paired with a leftover of another, issue 10 class 1). */
static bool scope_contradicts(pstate *ps, const mtensor *s, const mtensor *t) {
  if (s->parent >= ps->nids || t->parent >= ps->nids) return false;
  uint32_t a = ps->pmap[s->parent], b = ps->pmap_t[t->parent];
  return a != PM_UNSET && a != PM_CONFLICT && a != t->parent && b != PM_UNSET && b != PM_CONFLICT &&
         b != s->parent;
}

/* The names alone: content words, numbers, roles and layout, without what paired scopes say. */
static float name_score(pstate *ps, const mtensor *s, const mtensor *t, const mlayout *lay) {
  float sc = m_csim(ps->m, s, t) + 0.25f * m_nsim(s, t);
  if (roles_conflict(s, t)) sc -= 2.0f;
  else if (s->role != ROLE_OTHER && s->role == t->role) sc += 0.3f;
  if (lay->rel != REL_ID) sc -= 0.02f * (float)lay->rel;
  return sc;
}

static float score(pstate *ps, const mtensor *s, const mtensor *t, const mlayout *lay) {
  return name_score(ps, s, t, lay) + 0.5f * scope_of(ps, s, t) + near_scope(ps, s, t);
}

/* ---- hints ------------------------------------------------------------------------------------ */

/* Do the captures of a source match (pa, ma over na) and a target match (pb, mb over nb)
 * agree? A named capture must capture the same text as the capture of that name on the other
 * side; the k-th unnamed one (a `*`) the same text as the other side's k-th `*`. Groups are
 * numbered 1..ngroups. */
static bool captures_agree(const wbr_namepat *pa, const char *na, const wbr_match *ma,
                           const wbr_namepat *pb, const char *nb, const wbr_match *mb) {
  uint32_t star_a = 0;
  for (uint32_t g = 1; g <= ma->ngroups && g < 64; g++) {
    const char *name = wbr_namepat_group_name(pa, g);
    uint32_t h = 0;
    if (name) {
      h = wbr_namepat_group_of(pb, name, strlen(name));
    } else {
      star_a++;
      for (uint32_t k = 1, seen = 0; k <= mb->ngroups && k < 64 && !h; k++)
        if (!wbr_namepat_group_name(pb, k) && ++seen == star_a) h = k;
    }
    if (!h || h > mb->ngroups || h >= 64) continue;
    size_t as = ma->group[2 * g], ae = ma->group[2 * g + 1], bs = mb->group[2 * h], be = mb->group[2 * h + 1];
    if (as == SIZE_MAX || bs == SIZE_MAX) continue;
    if (ae - as != be - bs || memcmp(na + as, nb + bs, ae - as) != 0) return false;
  }
  return true;
}

/* Report a bad hint where it was given: at its statement in the --update file, or as --hint. */
static int hint_fail(matcher *m, const mhint *h, const char *help, const char *fmt, ...) WBR_PRINTF(4, 5);
static int hint_fail(matcher *m, const mhint *h, const char *help, const char *fmt, ...) {
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = "--hint", .help = help};
  va_list ap;
  va_start(ap, fmt);
  int rc = h->file ? wbr_vdiag_at(m->ctx, h->file, WBR_SEV_ERROR, (wbr_span){h->start, h->end}, help, fmt, ap)
                   : wbr_vreport(m->ctx, WBR_ERULES, &d, fmt, ap);
  va_end(ap);
  return rc;
}

/* A hinted pair the plain path does not take: the layout the hint gives (exactly), or a dtype
 * no cast reaches. 0, or the error reported. */
static int hint_with_layout(pstate *ps, const mhint *h, const char *label, uint32_t s, uint32_t t, mlayout *lay) {
  const mtensor *x = S(ps, s), *y = T(ps, t);
  char bad[300];
  if (!dtype_ok(x->dtype, y->dtype))
    return hint_fail(ps->m, h, "correct the target's dtype; only floating-point dtypes convert into each other (cast)",
                     "hint %s pairs '%s' (%s) with '%s' (%s): the dtypes differ", label, x->name,
                     wbr_dtype_name(x->dtype), y->name, wbr_dtype_name(y->dtype));
  if (m_hint_layout(h, x, y, lay, bad, sizeof bad) == REL_NONE)
    return hint_fail(ps->m, h, "check the hint's layout: the target's shape must be the source's, axes reordered so",
                     "hint %s pairs '%s' with '%s': %s", label, x->name, y->name, bad);
  return 0;
}

static int apply_hint(pstate *ps, const mhint *h) {
  matcher *m = ps->m;
  wbr_namepat *pa = NULL, *pb = NULL;
  wbr_namepat_error err;
  int rc = 0;
  char label[600];
  snprintf(label, sizeof label, h->file ? "\"%s\" = \"%s\"" : "'%s=%s'", h->src, h->tgt);
  if (wbr_namepat_new(&pa, WBR_PK_GLOB, h->src, "", &err) ||
      wbr_namepat_new(&pb, WBR_PK_GLOB, h->tgt, "", &err)) {
    rc = hint_fail(m, h, "hints are two globs: \"*\" and {captures} as in rule patterns", "hint %s: %s", label,
                   err.msg);
    goto done;
  }
  size_t pinned = 0, matched_a = 0;
  for (uint32_t s = 0; s < m->S.n; s++) {
    wbr_match ma, mb;
    if (wbr_namepat_match(pa, S(ps, s)->name, S(ps, s)->len, &ma, &err) != 1) continue;
    matched_a++;
    if (!s_free(ps, s)) continue;
    long found = -1;
    int count = 0;
    for (uint32_t t = 0; t < m->T.n; t++) {
      if (!t_free(ps, t)) continue;
      if (wbr_namepat_match(pb, T(ps, t)->name, T(ps, t)->len, &mb, &err) != 1) continue;
      if (!captures_agree(pa, S(ps, s)->name, &ma, pb, T(ps, t)->name, &mb)) continue;
      found = t;
      count++;
    }
    if (count != 1) continue;
    mlayout lay;
    if (h->nperm || !dtype_ok(S(ps, s)->dtype, T(ps, (uint32_t)found)->dtype)) {
      rc = hint_with_layout(ps, h, label, s, (uint32_t)found, &lay);
      if (rc) goto done;
    } else if (layout_raw(S(ps, s), T(ps, (uint32_t)found), &lay) == REL_NONE) {
      char sa[96], sb[96];
      wbr_shape_str(sa, sizeof sa, S(ps, s)->ndim, S(ps, s)->shape);
      wbr_shape_str(sb, sizeof sb, T(ps, (uint32_t)found)->ndim, T(ps, (uint32_t)found)->shape);
      rc = hint_fail(m, h, "check the hint; the shapes must be related by a layout change",
                     "hint %s pairs '%s' %s with '%s' %s, whose shapes do not correspond", label, S(ps, s)->name, sa,
                     T(ps, (uint32_t)found)->name, sb);
      goto done;
    }
    mpair *p = take(ps, (uint32_t)found, s, &lay, EV_HINT, h->nperm ? "with the layout it gives" : "hint");
    if (p) p->layout_hinted = h->nperm > 0;
    pinned++;
  }
  if (matched_a == 0)
    rc = hint_fail(m, h,
                   m_fold_nreal(m, false) != m->S.n
                       ? "the left side of a hint is a source tensor name; stacked sources are cut into pieces first "
                         "(\"P/3/rest\" for block 3 of \"P/rest\"): name the piece, as the draft's candidates do"
                       : "the left side of a hint is a source tensor name (run 'wbr inspect SRC')",
                   "hint %s: '%s' matches no source tensor", label, h->src);
  else if (pinned == 0)
    rc = hint_fail(m, h, "the right side must match exactly one free target per source, with the same captures",
                   "hint %s pins no pair", label);
done:
  wbr_namepat_free(pa);
  wbr_namepat_free(pb);
  return rc;
}

/* ---- phases ----------------------------------------------------------------------------------- */

/* Equal canonical keys, unique on both sides. */
static void phase_key(pstate *ps) {
  matcher *m = ps->m;
  size_t n = ps->nids;
  uint32_t *src_of = malloc(n * sizeof *src_of), *cnt_t = calloc(n, sizeof *cnt_t);
  if (!src_of || !cnt_t) {
    m->oom = true;
    free(src_of);
    free(cnt_t);
    return;
  }
  for (size_t i = 0; i < n; i++) src_of[i] = PM_UNSET;
  for (uint32_t s = 0; s < m->S.n; s++) {
    if (!s_free(ps, s)) continue;
    uint32_t k = S(ps, s)->key;
    src_of[k] = src_of[k] == PM_UNSET ? s : PM_CONFLICT;
  }
  for (uint32_t t = 0; t < m->T.n; t++)
    if (t_free(ps, t)) cnt_t[T(ps, t)->key]++;
  for (uint32_t t = 0; t < m->T.n; t++) {
    if (!t_free(ps, t)) continue;
    uint32_t k = T(ps, t)->key, s = src_of[k];
    if (s >= PM_CONFLICT || cnt_t[k] != 1) continue;
    mlayout lay;
    const mtensor *x = S(ps, s), *y = T(ps, t);
    if (m_layout_for(m, x, y, &lay) == REL_NONE) {
      /* the same name, a kernel on one side, and the same 2-D shape: a Conv1D weight (GPT-2),
       * stored [in, out] like the kernel; only the name says so */
      if (conv_of(x, y) == CONV_NONE || x->ndim != 2 || !m_same_shape(x->shape, 2, y->shape, y->ndim) ||
          !dtype_ok(x->dtype, y->dtype) || m_index_veto(m, x, y) >= 0)
        continue;
      memset(&lay, 0, sizeof lay);
    }
    take(ps, t, s, &lay, EV_KEY, "same name after normalisation");
  }
  free(src_of);
  free(cnt_t);
}

/* The part of x's bucket (sources of target x if src, else targets of source x) still worth
 * scanning in this pass: [*lo, *hi). */
static void bucket_rest(pstate *ps, bool src, uint32_t x, size_t *lo, size_t *hi) {
  uint32_t *cur = src ? ps->cur_s : ps->cur_t, *end = src ? ps->end_s : ps->end_t;
  if (cur[x] == UINT32_MAX) {
    if (src) nelem_range(&ps->m->S, ps->by_nelem_s, ps->m->S.n, T(ps, x)->nelem, lo, hi);
    else nelem_range(&ps->m->T, ps->by_nelem_t, ps->m->T.n, S(ps, x)->nelem, lo, hi);
    cur[x] = (uint32_t)*lo;
    end[x] = (uint32_t)*hi;
  }
  *lo = cur[x];
  *hi = end[x];
}

/* Count compatible free sources of t (up to 2); the last one found in *one. */
static int count_src(pstate *ps, uint32_t t, uint32_t *one, mlayout *lay) {
  if (free_m_same_shape(ps, T(ps, t), true) >= 2) return 2;
  size_t lo, hi;
  bucket_rest(ps, true, t, &lo, &hi);
  int c = 0;
  for (size_t i = lo; i < hi && c < 2; i++) {
    uint32_t s = ps->by_nelem_s[i];
    mlayout l;
    if (!s_free(ps, s) || m_layout_for(ps->m, S(ps, s), T(ps, t), &l) == REL_NONE) continue;
    if (c == 0) ps->cur_s[t] = (uint32_t)i;
    c++;
    *one = s;
    *lay = l;
  }
  if (c == 0) ps->cur_s[t] = (uint32_t)hi;
  return c;
}

static int count_tgt(pstate *ps, uint32_t s, uint32_t *one) {
  if (free_m_same_shape(ps, S(ps, s), false) >= 2) return 2;
  size_t lo, hi;
  bucket_rest(ps, false, s, &lo, &hi);
  int c = 0;
  for (size_t i = lo; i < hi && c < 2; i++) {
    uint32_t t = ps->by_nelem_t[i];
    mlayout l;
    if (!t_free(ps, t) || m_layout_for(ps->m, S(ps, s), T(ps, t), &l) == REL_NONE) continue;
    if (c == 0) ps->cur_t[s] = (uint32_t)i;
    c++;
    *one = t;
  }
  if (c == 0) ps->cur_t[s] = (uint32_t)hi;
  return c;
}

/* The only tensors of their shape class, with names that share something. */
static void phase_shape(pstate *ps) {
  matcher *m = ps->m;
  for (uint32_t t = 0; t < m->T.n; t++) {
    if (!t_free(ps, t)) continue;
    uint32_t s = 0, back = 0;
    mlayout lay;
    if (count_src(ps, t, &s, &lay) != 1) continue;
    if (count_tgt(ps, s, &back) != 1 || back != t) continue;
    if (roles_conflict(S(ps, s), T(ps, t)) || scope_contradicts(ps, S(ps, s), T(ps, t))) continue;
    float w = m_wsim(m, S(ps, s), T(ps, t));
    if (w <= 0 && scope_of(ps, S(ps, s), T(ps, t)) <= 0 && near_scope(ps, S(ps, s), T(ps, t)) < 0.5f) continue;
    take(ps, t, s, &lay, EV_SHAPE, "the only tensors of this shape on both sides");
  }
}

/* Sort helper: indices by parent id. */
static int cmp_parent(const void *a, const void *b, void *ud) {
  const mside *side = ud;
  uint32_t x = side->t[*(const uint32_t *)a].parent, y = side->t[*(const uint32_t *)b].parent;
  if (x != y) return x < y ? -1 : 1;
  return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static void parent_range(const mside *side, const uint32_t *idx, size_t n, uint32_t parent, size_t *lo, size_t *hi) {
  size_t a = 0, b = n;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (side->t[idx[mid]].parent < parent) a = mid + 1;
    else b = mid;
  }
  *lo = a;
  while (a < n && side->t[idx[a]].parent == parent) a++;
  *hi = a;
}

/* Same leaf under parents that correspond (all their paired children agree). */
static void phase_sibling(pstate *ps) {
  matcher *m = ps->m;
  uint32_t *bs = malloc((m->S.n + 1) * sizeof *bs), *bt = malloc((m->T.n + 1) * sizeof *bt);
  if (!bs || !bt) {
    m->oom = true;
    free(bs);
    free(bt);
    return;
  }
  for (uint32_t i = 0; i < m->S.n; i++) bs[i] = i;
  for (uint32_t i = 0; i < m->T.n; i++) bt[i] = i;
  qsort_r(bs, m->S.n, sizeof *bs, cmp_parent, &m->S);
  qsort_r(bt, m->T.n, sizeof *bt, cmp_parent, &m->T);
  for (size_t pi = 0; pi < m->npairs; pi++) {
    const mpair *p = &m->pairs[pi]; /* only until the first take(): it may move the pairs */
    if (p->ns != 1 || p->split_k) continue;
    uint32_t a = S(ps, p->s[0])->parent, b = T(ps, p->t)->parent;
    const char *sib = S(ps, p->s[0])->name;
    if (a >= ps->nids || b >= ps->nids || ps->pmap[a] != b || ps->pmap_t[b] != a) continue;
    size_t slo, shi, tlo, thi;
    parent_range(&m->S, bs, m->S.n, a, &slo, &shi);
    parent_range(&m->T, bt, m->T.n, b, &tlo, &thi);
    for (size_t i = slo; i < shi; i++) {
      uint32_t s = bs[i];
      if (!s_free(ps, s)) continue;
      int c = 0;
      uint32_t hit = 0;
      mlayout lay = {0}, l;
      for (size_t j = tlo; j < thi; j++) {
        uint32_t t = bt[j];
        if (!t_free(ps, t) || T(ps, t)->leafkey != S(ps, s)->leafkey) continue;
        if (m_layout_for(m, S(ps, s), T(ps, t), &l) == REL_NONE) continue;
        c++;
        hit = t;
        lay = l;
      }
      if (c != 1) continue;
      int back = 0;
      for (size_t k = slo; k < shi; k++) {
        uint32_t s2 = bs[k];
        if (s_free(ps, s2) && S(ps, s2)->leafkey == T(ps, hit)->leafkey &&
            m_layout_for(m, S(ps, s2), T(ps, hit), &l) != REL_NONE)
          back++;
      }
      if (back != 1) continue;
      char why[120];
      snprintf(why, sizeof why, "same leaf as its sibling %s", sib);
      take(ps, hit, s, &lay, EV_SIBLING, why);
    }
  }
  free(bs);
  free(bt);
}

/* Is there strong name evidence against (s, t)? Order decides when names disagree, but not
 * against a competitor under already paired parents, with the same normalised name, or with a
 * much better name. */
static bool strong_against(pstate *ps, const mtensor *a, const mtensor *b, float w0, float sc0, const mtensor *s2,
                           const mtensor *t2) {
  const mtensor *x = s2 ? s2 : a, *y = t2 ? t2 : b;
  if (scope_of(ps, x, y) > 0 && sc0 < 1.0f) return true;
  if (x->key == y->key) return true;
  /* a rival that shares content words the candidate lacks (tok_embeddings for embed_tokens
   * where order offers output) */
  if (m_csim(ps->m, x, y) > m_csim(ps->m, a, b) + 0.25f) return true;
  return m_wsim(ps->m, x, y) >= w0 + 0.5f;
}

/* In a big bucket only the neighbourhood (by position) of x is looked at: the bucket is
 * sorted by position, so it is a binary search. */
static void window(const uint32_t *idx, size_t *lo, size_t *hi, uint32_t x) {
  if (*hi - *lo <= 512) return;
  uint32_t from = x > 64 ? x - 64 : 0, to = x + 64;
  size_t a = *lo, b = *hi;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (idx[mid] < from) a = mid + 1;
    else b = mid;
  }
  size_t c = a;
  b = *hi;
  while (c < b) {
    size_t mid = (c + b) / 2;
    if (idx[mid] <= to) c = mid + 1;
    else b = mid;
  }
  *lo = a;
  *hi = c;
}

/* The part of x's normalised name after its last number ("mlp.down.proj.weight" of
 * layers.2.mlp.down_proj.weight), so that prefixes one side strips do not matter. */
static const char *key_tail(const matcher *m, const mtensor *x) {
  const char *k = mi_str(&m->in, x->key), *tail = k;
  for (const char *p = k; *p; p++)
    if ((p == k || p[-1] == '.') && *p >= '0' && *p <= '9') {
      const char *q = p;
      while (*q >= '0' && *q <= '9') q++;
      if (*q == '.' || !*q) tail = *q ? q + 1 : q;
    }
  return tail;
}

static bool same_nums(const mtensor *a, const mtensor *b) {
  if (a->nnum != b->nnum) return false;
  for (int i = 0; i < a->nnum; i++)
    if (a->num[i] != b->num[i]) return false;
  return true;
}

/* x, a same-numbered neighbour of y's pairing candidate, ends in y's name while the candidate
 * does not: order paired LLaMA's down_proj with the transposed up_proj beside it. */
static bool tail_rival(const matcher *m, const mtensor *x, const mtensor *cand, const mtensor *y) {
  return same_nums(x, cand) && strcmp(key_tail(m, x), key_tail(m, y)) == 0 &&
         strcmp(key_tail(m, cand), key_tail(m, y)) != 0;
}

static bool contradicted(pstate *ps, uint32_t s, uint32_t t) {
  matcher *m = ps->m;
  float w0 = m_wsim(m, S(ps, s), T(ps, t)), sc0 = scope_of(ps, S(ps, s), T(ps, t));
  float ns0 = near_scope(ps, S(ps, s), T(ps, t));
  if (S(ps, s)->key == T(ps, t)->key) return false;
  if (m_fused_claims(m, S(ps, s), T(ps, t))) return true; /* a part a fused tensor holds */
  /* under parents already paired only a same-numbered rival of the very name speaks against */
  bool scoped = sc0 > 0;
  size_t lo, hi;
  nelem_range(&m->S, ps->by_nelem_s, m->S.n, T(ps, t)->nelem, &lo, &hi);
  window(ps->by_nelem_s, &lo, &hi, s);
  for (size_t i = lo; i < hi; i++) {
    uint32_t s2 = ps->by_nelem_s[i];
    if (s2 == s || !s_free(ps, s2)) continue;
    mlayout l;
    if (m_layout_for(m, S(ps, s2), T(ps, t), &l) == REL_NONE) continue;
    if (tail_rival(m, S(ps, s2), S(ps, s), T(ps, t))) return true;
    if (scoped) continue;
    if (strong_against(ps, S(ps, s), T(ps, t), w0, sc0, S(ps, s2), NULL)) return true;
    if (near_scope(ps, S(ps, s2), T(ps, t)) > ns0 + 0.01f) return true;
  }
  nelem_range(&m->T, ps->by_nelem_t, m->T.n, S(ps, s)->nelem, &lo, &hi);
  window(ps->by_nelem_t, &lo, &hi, t);
  for (size_t i = lo; i < hi; i++) {
    uint32_t t2 = ps->by_nelem_t[i];
    if (t2 == t || !t_free(ps, t2)) continue;
    mlayout l;
    if (m_layout_for(m, S(ps, s), T(ps, t2), &l) == REL_NONE) continue;
    if (tail_rival(m, T(ps, t2), T(ps, t), S(ps, s))) return true;
    if (scoped) continue;
    if (strong_against(ps, S(ps, s), T(ps, t), w0, sc0, NULL, T(ps, t2))) return true;
    if (near_scope(ps, S(ps, s), T(ps, t2)) > ns0 + 0.01f) return true;
  }
  return false;
}

/* Is the last component of x's name literally "weight" (PyTorch's spelling)? */
static bool torch_weight(const mtensor *x) {
  return x->len >= 6 && memcmp(x->name + x->len - 6, "weight", 6) == 0 &&
         (x->len == 6 || x->name[x->len - 7] == '.' || x->name[x->len - 7] == '/');
}

/* A transpose between two PyTorch weights that no convention explains (not GPT-2's Conv1D
 * names): Linear to Linear keeps [out, in], so only shapes would speak for it, and definition
 * order alone may not decide it (LLaMA's down_proj [32, 88] beside a missing tensor, paired
 * with up_proj [88, 32] transposed). */
static bool order_layout_unexplained(const mtensor *s, const mtensor *t, const mlayout *lay) {
  if (lay->rel == REL_ID || lay->rel == REL_RESHAPE) return false;
  if (!torch_weight(s) || !torch_weight(t)) return false;
  return !m_conv1d_name(s) && !m_conv1d_name(t);
}

/* Indices of a side sorted by parent (for parent_range). */
static uint32_t *by_parent(mside *side) {
  uint32_t *v = malloc((side->n + 1) * sizeof *v);
  if (!v) return NULL;
  for (uint32_t i = 0; i < side->n; i++) v[i] = i;
  qsort_r(v, side->n, sizeof *v, cmp_parent, side);
  return v;
}

/* Free tensors of x's shape under x's parent. */
static size_t free_in_parent(pstate *ps, mside *side, const uint32_t *idx, const mtensor *x, bool src) {
  size_t lo, hi, n = 0;
  parent_range(side, idx, side->n, x->parent, &lo, &hi);
  for (size_t i = lo; i < hi; i++) {
    const mtensor *y = &side->t[idx[i]];
    if ((src ? s_free(ps, idx[i]) : t_free(ps, idx[i])) && m_same_shape(y->shape, y->ndim, x->shape, x->ndim)) n++;
  }
  return n;
}

/* Do the two definition orders agree where other evidence has paired (in the first pass)? Of
 * the source tensors next to each other that such pairs took, at least half must go to target
 * tensors next to each other, in the same direction. A shuffled side (a target manifest written
 * in random order) agrees by chance only, and its order would pair by chance (ln_2 with
 * input_layernorm): the second pass then goes without order. */
static bool orders_agree(pstate *ps) {
  matcher *m = ps->m;
  size_t adjacent = 0, agree = 0;
  for (size_t i = 0; i + 1 < m->S.n; i++) {
    int32_t a = m->S.t[i].pair, b = m->S.t[i + 1].pair;
    if (a < 0 || b < 0 || a == b) continue;
    const mpair *p = &m->pairs[a], *q = &m->pairs[b];
    if (p->ns != 1 || q->ns != 1 || p->split_k || q->split_k || p->ev == EV_ORDER || q->ev == EV_ORDER) continue;
    adjacent++;
    agree += q->t == p->t + 1;
  }
  return adjacent < 6 || 2 * agree >= adjacent;
}

/* What the walks of one phase_order call have been through: per direction, per `stepped`, per
 * source position, the target position and the number of pairs (+ 1) when a walk was there. A
 * walk is a function of that state and the pairs: one that reaches a state an earlier walk left
 * with no pair taken anywhere since would only repeat it (take nothing, mark the same pairs
 * covered), so it stops. Without this, pairs taken in an order unlike the definition order make
 * many walks cross the same long runs (quadratic on the 20,000-tensor bench). */
typedef struct oseen {
  uint32_t t;
  size_t epoch; /* m->npairs + 1 when left; 0: never */
} oseen;

static bool walk_seen(oseen *v, const matcher *m, int dir, long s, long t, bool stepped) {
  oseen *e = &v[((size_t)(dir > 0) * 2 + stepped) * m->S.n + (size_t)s];
  if (e->epoch == m->npairs + 1 && e->t == (uint32_t)t) return true;
  e->t = (uint32_t)t;
  e->epoch = m->npairs + 1;
  return false;
}

/* Extend runs of single pairs in definition order, both ways: the next source and the next
 * target must both be free, or be paired with each other (then the run steps over them). */
static void phase_order(pstate *ps) {
  matcher *m = ps->m;
  size_t np = m->npairs;
  /* a pair walked over by another pair's run is not walked from again (keeps rounds linear) */
  uint8_t *covered = calloc(np + 1, 1);
  uint32_t *bs = by_parent(&m->S), *bt = by_parent(&m->T);
  oseen *seen = calloc(4 * m->S.n + 1, sizeof *seen);
  if (!covered || !bs || !bt || !seen) {
    m->oom = true;
    free(covered);
    free(bs);
    free(bt);
    free(seen);
    return;
  }
  for (size_t pi = 0; pi < np; pi++) {
    for (int dir = -1; dir <= 1; dir += 2) {
      mpair *p = &m->pairs[pi];
      if (p->ns != 1 || p->split_k || (covered[pi] & (dir < 0 ? 1 : 2))) continue;
      long s = p->s[0], t = p->t;
      char anchor[120];
      snprintf(anchor, sizeof anchor, "continues the run in definition order from %s", S(ps, (uint32_t)s)->name);
      bool stepped = false;
      for (;;) {
        if (walk_seen(seen, m, dir, s, t, stepped)) break;
        long s2 = s + dir, t2 = t + dir;
        if (s2 < 0 || t2 < 0 || (size_t)s2 >= m->S.n || (size_t)t2 >= m->T.n) break;
        mtensor *a = S(ps, (uint32_t)s2), *b = T(ps, (uint32_t)t2);
        if (a->pair >= 0 && a->pair == b->pair && m->pairs[a->pair].ns == 1 && !m->pairs[a->pair].split_k) {
          if ((size_t)a->pair < np) covered[a->pair] |= dir < 0 ? 1 : 2;
          s = s2;
          t = t2;
          continue;
        }
        /* a tensor that nothing on the other side could ever match (a counter the target does
         * not have) is stepped over; not a q/k/v part or a fused tensor, which fusion may take */
        uint32_t dummy;
        mlayout dl;
        const mtensor *a0 = S(ps, (uint32_t)s2), *b0 = T(ps, (uint32_t)t2);
        if (s_free(ps, (uint32_t)s2) && a0->part < 0 && !a0->fused && free_m_same_shape(ps, a0, false) == 0 &&
            count_tgt(ps, (uint32_t)s2, &dummy) == 0) {
          s = s2;
          stepped |= a0->role != ROLE_COUNT;
          continue;
        }
        if (t_free(ps, (uint32_t)t2) && b0->part < 0 && !b0->fused && free_m_same_shape(ps, b0, true) == 0 &&
            count_src(ps, (uint32_t)t2, &dummy, &dl) == 0) {
          t = t2;
          stepped |= b0->role != ROLE_COUNT;
          continue;
        }
        /* past a tensor of another make-up (GPT-2's fused c_attn where the target has q, k, v)
         * the two lists no longer line up: only a counter is stepped over and the run goes on */
        if (stepped) break;
        if (!s_free(ps, (uint32_t)s2) || !t_free(ps, (uint32_t)t2)) break;
        mlayout lay;
        if (m_layout_for(m, a, b, &lay) == REL_NONE || roles_conflict(a, b)) break;
        /* order alone is not enough: the names must agree on something */
        bool support = (a->role != ROLE_OTHER && a->role == b->role) || m_csim(m, a, b) > 0 ||
                       near_scope(ps, a, b) >= 0.5f;
        if (!support) break;
        if (scope_of(ps, a, b) < 0 || contradicted(ps, (uint32_t)s2, (uint32_t)t2)) break;
        /* within modules of different make-up (a norm without its scale on one side) order
         * says nothing about which is which */
        if (free_in_parent(ps, &m->S, bs, a, true) != free_in_parent(ps, &m->T, bt, b, false)) break;
        if (m_family_boundary(m, a, b)) break; /* nor into or out of a numbered family */
        if (order_layout_unexplained(a, b, &lay)) break;
        take(ps, (uint32_t)t2, (uint32_t)s2, &lay, EV_ORDER, anchor);
        s = s2;
        t = t2;
      }
    }
  }
  free(covered);
  free(bs);
  free(bt);
  free(seen);
}

/* Structure (structure.c): the same place in two aligned modules, where shapes, roles, index
 * maps and conventions agree. */
static void phase_structure(pstate *ps) {
  mprop *pr = NULL;
  size_t n = m_structure_propose(ps->m, &pr);
  for (size_t i = 0; i < n; i++) {
    mlayout lay;
    const mtensor *a = S(ps, pr[i].s), *b = T(ps, pr[i].t);
    if (roles_conflict(a, b) || m_layout_for(ps->m, a, b, &lay) == REL_NONE) continue;
    take(ps, pr[i].t, pr[i].s, &lay, EV_STRUCT, pr[i].why);
  }
  free(pr);
}

/* Do the names of a set differ in exactly one number (same text otherwise)? Returns the
 * position of that number among the digit runs, or -1; values go to vals. */
static int one_index(const mside *side, const uint32_t *idx, size_t n, int64_t *vals) {
  if (n < 2) return -1;
  const mtensor *a = &side->t[idx[0]];
  int pos = -1;
  for (size_t k = 1; k < n; k++) {
    const mtensor *b = &side->t[idx[k]];
    if (b->nnum != a->nnum) return -1;
    /* same text around the numbers */
    size_t i = 0, j = 0;
    int run = 0, diff = -1;
    while (i < a->len && j < b->len) {
      bool da = a->name[i] >= '0' && a->name[i] <= '9', db = b->name[j] >= '0' && b->name[j] <= '9';
      if (da != db) return -1;
      if (!da) {
        if (a->name[i] != b->name[j]) return -1;
        i++, j++;
        continue;
      }
      size_t i2 = i, j2 = j;
      while (i2 < a->len && a->name[i2] >= '0' && a->name[i2] <= '9') i2++;
      while (j2 < b->len && b->name[j2] >= '0' && b->name[j2] <= '9') j2++;
      if (i2 - i != j2 - j || memcmp(a->name + i, b->name + j, i2 - i) != 0) {
        if (diff >= 0) return -1;
        diff = run;
      }
      run++;
      i = i2, j = j2;
    }
    if (i != a->len || j != b->len || diff < 0) return -1;
    if (pos >= 0 && diff != pos) return -1;
    pos = diff;
  }
  if (pos < 0 || pos >= M_MAXNUM) return -1;
  for (size_t k = 0; k < n; k++) {
    vals[k] = side->t[idx[k]].num[pos];
    for (size_t q = 0; q < k; q++)
      if (vals[q] == vals[k]) return -1;
  }
  return pos;
}

static void sort_by_val(uint32_t *idx, int64_t *vals, size_t n) {
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && vals[j - 1] > vals[j]; j--) {
      int64_t v = vals[j];
      vals[j] = vals[j - 1];
      vals[j - 1] = v;
      uint32_t x = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = x;
    }
}

/* Strike out of a bucket's score matrix (nt x ns) the sources that are no longer free;
 * gone[b] marks a column already struck. */
static void forget_taken(pstate *ps, float *sc, bool *gone, size_t nt, size_t ns, const uint32_t *fs) {
  for (size_t b = 0; b < ns; b++) {
    if (gone[b] || s_free(ps, fs[b])) continue;
    for (size_t a = 0; a < nt; a++) sc[a * ns + b] = -1e9f;
    gone[b] = true;
  }
}

/* A row's tie set as a hash (the columns within 0.01 of its best, and whether any lies in the
 * margin below), so that rows with the same tie set are found without comparing every pair of
 * rows in full (a stage of 100 identical blocks). */
static uint64_t tie_hash(const float *row, size_t ns, float best) {
  uint64_t h = 1469598103934665603ull;
  for (size_t b = 0; b < ns; b++) {
    if (row[b] >= best - 0.01f) h = (h ^ b) * 1099511628211ull;
    else if (row[b] > best - 0.15f) h ^= 0x5bd1e995ull;
  }
  return h;
}

/* The best and second best score of one row; false if the row has no candidate. */
static bool row_best(const float *row, size_t ns, float *best, float *second) {
  *best = *second = -1e9f;
  for (size_t b = 0; b < ns; b++) {
    if (row[b] <= -1e8f) continue;
    if (row[b] > *best) *second = *best, *best = row[b];
    else if (row[b] > *second) *second = row[b];
  }
  return *best > -1e8f;
}

/* near_scope's half for x (a source if src): the image of its nearest scope with pairs, cut
 * back to whole segments, and how many segments that is; r->img NULL when it adds nothing. */
static void near_img(pstate *ps, bool src, const mtensor *x, mnrec *r) {
  const uint32_t *idx = src ? ps->img_s_idx : ps->img_t_idx, *len = src ? ps->img_s_len : ps->img_t_len;
  const mside *os = src ? &ps->m->T : &ps->m->S;
  r->img = NULL;
  for (int k = 0; k < x->nanc; k++) {
    uint32_t a = x->anc[k];
    if (a >= ps->nids || idx[a] == UINT32_MAX) continue;
    const char *img = os->t[idx[a]].name;
    uint32_t l = len[a], segs = 0;
    while (l > 0 && !sepc(img[l - 1])) l--;
    for (uint32_t i = 0; i < l; i++)
      if (sepc(img[i])) {
        if (segs < M_NREC_SEPS) r->sep[segs] = (uint16_t)i;
        segs++;
      }
    if (l == 0) return; /* prefix_share's "no information" */
    r->img = img;
    r->ilen = l;
    r->isegs = segs;
    return;
  }
}

/* prefix_share of a record's image with x: the separators of the image before the first byte
 * where it and x's name differ (compared eight bytes at a time). */
static float rec_share(const mnrec *r, const mtensor *x) {
  uint32_t n = r->ilen < x->len ? r->ilen : (uint32_t)x->len, i = 0, common = 0;
  if (r->isegs > M_NREC_SEPS) {
    for (; i < n && r->img[i] == x->name[i]; i++)
      if (sepc(r->img[i])) common++;
    return (float)common / (float)r->isegs;
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t u, v;
    memcpy(&u, r->img + i, 8);
    memcpy(&v, x->name + i, 8);
    if (u != v) break;
  }
  while (i < n && r->img[i] == x->name[i]) i++;
  while (common < r->isegs && r->sep[common] < i) common++;
  return (float)common / (float)r->isegs;
}

/* near_scope(s, t) from the records of s and t. */
static float near_rec(const mnrec *rs, const mnrec *rt, const mtensor *s, const mtensor *t) {
  float tot = 0;
  int n = 0;
  if (rs->img) tot += rec_share(rs, t), n++;
  if (rt->img) tot += rec_share(rt, s), n++;
  return n ? tot / (float)n : 0;
}

/* score(s, t) from their records (phase_name's matrix), rel its layout relation: the same float. */
static float score_rec(pstate *ps, const mnrec *rs, const mnrec *rt, const mtensor *s, const mtensor *t, int rel) {
  float cs = rs->many || rt->many ? m_csim(ps->m, s, t) : m_nrec_csim(ps->m, rs, rt);
  float sc = cs + 0.25f * m_nrec_nsim(rs, rt) + 0.5f * scope_of(ps, s, t) + near_rec(rs, rt, s, t);
  if (roles_conflict(s, t)) sc -= 2.0f;
  else if (s->role != ROLE_OTHER && s->role == t->role) sc += 0.3f;
  if (rel != REL_ID) sc -= 0.02f * (float)rel;
  return sc;
}

/* Layout classes of a bucket: tensors alike in dtype, shape, role, "kernel" and GPT-2 names
 * relate alike to any other (layout_raw looks at nothing else), so the relation is found once
 * per pair of classes. NB_MAXCLS: a tensor past the last class, related one by one. */
#define NB_MAXCLS 32
typedef struct nbucket {
  mnrec *rt, *rs;
  uint32_t rep[2][NB_MAXCLS]; /* a tensor of each class, per side (0: sources) */
  bool c1d[2][NB_MAXCLS];
  int ncls[2];
  int8_t rel[NB_MAXCLS][NB_MAXCLS]; /* [source class][target class]; -1: not yet */
} nbucket;

static uint8_t layout_class(pstate *ps, nbucket *nb, bool src, uint32_t i) {
  const mtensor *x = src ? S(ps, i) : T(ps, i);
  bool c1d = m_conv1d_name(x);
  int side = src ? 0 : 1;
  for (int k = 0; k < nb->ncls[side]; k++) {
    const mtensor *y = src ? S(ps, nb->rep[side][k]) : T(ps, nb->rep[side][k]);
    if (x->dtype == y->dtype && x->role == y->role && x->kernel == y->kernel && nb->c1d[side][k] == c1d &&
        m_same_shape(x->shape, x->ndim, y->shape, y->ndim))
      return (uint8_t)k;
  }
  if (nb->ncls[side] == NB_MAXCLS) return NB_MAXCLS;
  nb->rep[side][nb->ncls[side]] = i;
  nb->c1d[side][nb->ncls[side]] = c1d;
  return (uint8_t)nb->ncls[side]++;
}

/* m_layout_for(S(s), T(t))'s relation for the bucket's source b and target a. */
static int bucket_rel(pstate *ps, nbucket *nb, size_t a, size_t b, uint32_t s, uint32_t t) {
  mlayout l;
  uint8_t cs = nb->rs[b].cls, ct = nb->rt[a].cls;
  if (cs == NB_MAXCLS || ct == NB_MAXCLS) return m_layout_for(ps->m, S(ps, s), T(ps, t), &l);
  int8_t *r = &nb->rel[cs][ct];
  if (*r < 0) *r = (int8_t)layout_raw(S(ps, nb->rep[0][cs]), T(ps, nb->rep[1][ct]), &l);
  if (*r == REL_NONE) return REL_NONE;
  long c = m_index_veto(ps->m, S(ps, s), T(ps, t));
  return c >= 0 && !ps->m->fcorr[c].depth ? REL_NONE : *r;
}

/* Records for a bucket's free tensors (ids in v, n of them): NULL when out of memory. */
static mnrec *bucket_recs(pstate *ps, nbucket *nb, bool src, const uint32_t *v, size_t n) {
  mnrec *r = malloc((n + 1) * sizeof *r);
  if (!r) return NULL;
  const mside *side = src ? &ps->m->S : &ps->m->T;
  for (size_t i = 0; i < n; i++) {
    m_nrec_fill(ps->m, side, &side->t[v[i]], &r[i]);
    near_img(ps, src, &side->t[v[i]], &r[i]);
    r[i].live = src ? s_free(ps, v[i]) : t_free(ps, v[i]);
    r[i].cls = layout_class(ps, nb, src, v[i]);
  }
  return r;
}

/* The bucket's records and classes; false when out of memory. */
static bool bucket_init(pstate *ps, nbucket *nb, const uint32_t *ft, size_t nt, const uint32_t *fs, size_t ns) {
  nb->ncls[0] = nb->ncls[1] = 0;
  memset(nb->rel, -1, sizeof nb->rel);
  nb->rt = bucket_recs(ps, nb, false, ft, nt);
  nb->rs = bucket_recs(ps, nb, true, fs, ns);
  return nb->rt && nb->rs;
}

/* ---- name ties that paired scopes make lopsided ---------------------------------------------- */

/* A row of the bucket whose best names tie (cands: those columns); false if it has no clean
 * tie: one best of 0.2 or more, at least two within 0.01 of it, none in the margin below. */
static bool tie_row(const float *row, size_t ns, uint32_t *cands, size_t *nc, float *best) {
  float second;
  *nc = 0;
  if (!row_best(row, ns, best, &second) || *best < 0.2f || *best - second >= 0.15f) return false;
  for (size_t b = 0; b < ns; b++) {
    if (row[b] >= *best - 0.01f) cands[(*nc)++] = (uint32_t)b;
    else if (row[b] > *best - 0.15f) return false;
  }
  return *nc >= 2;
}

/* Does the whole score prefer an assignment of the group other than src[k] -> tgt[k]: would
 * exchanging the sources of two targets raise the total by more than a rounding? */
static bool scopes_prefer_other(pstate *ps, const uint32_t *src, const uint32_t *tgt, size_t n) {
  for (size_t k = 0; k < n; k++)
    for (size_t l = k + 1; l < n; l++) {
      mlayout a, b, c, d;
      if (m_layout_for(ps->m, S(ps, src[k]), T(ps, tgt[k]), &a) == REL_NONE ||
          m_layout_for(ps->m, S(ps, src[l]), T(ps, tgt[l]), &b) == REL_NONE)
        return true;
      if (m_layout_for(ps->m, S(ps, src[l]), T(ps, tgt[k]), &c) == REL_NONE ||
          m_layout_for(ps->m, S(ps, src[k]), T(ps, tgt[l]), &d) == REL_NONE)
        continue;
      float keep = score(ps, S(ps, src[k]), T(ps, tgt[k]), &a) + score(ps, S(ps, src[l]), T(ps, tgt[l]), &b);
      float swap = score(ps, S(ps, src[l]), T(ps, tgt[k]), &c) + score(ps, S(ps, src[k]), T(ps, tgt[l]), &d);
      if (swap > keep + 0.01f) return true;
    }
  return false;
}

/* Are the n numbers the group's names vary in (digit run pos of x) every number of that family
 * on its side? Rank order inside a part of a family says nothing: the leftovers of two blocks
 * (`X.{0,2}.a` against `Y.{0,1}.a`, one tensor missing on each side) are no family. */
static bool whole_family(const matcher *m, bool src, const mtensor *x, int pos, size_t n) {
  if (pos < 0 || pos >= x->nsf) return false;
  const mside *sd = src ? &m->S : &m->T;
  const mfmember *fm = m->fmem[src ? 0 : 1];
  size_t nfm = m->nfmem[src ? 0 : 1], lo = 0, hi = nfm, nv = 0;
  uint32_t fam = x->sfam[pos];
  int64_t *seen = malloc((n + 1) * sizeof *seen);
  if (!seen) return false;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (fm[mid].fam < fam) lo = mid + 1;
    else hi = mid;
  }
  for (size_t k = lo; k < nfm && fm[k].fam == fam && nv <= n; k++) {
    const mtensor *y = &sd->t[fm[k].i];
    for (int p = 0; p < y->nsf; p++) {
      if (y->sfam[p] != fam) continue;
      size_t q = 0;
      while (q < nv && seen[q] != y->sval[p]) q++;
      if (q == nv && nv <= n) seen[nv++] = y->sval[p];
      break;
    }
  }
  free(seen);
  return nv == n;
}

/* One group of the bucket (targets rows[0..n), sources the columns cands[0..n) of fs): paired
 * in the order of their one varying number, when both sides are one name with one number, the
 * names say something beyond shapes, and nothing in roles, scopes or a whole score objects. */
static void take_name_tie(pstate *ps, const uint32_t *rows, const uint32_t *cands, size_t n, const uint32_t *ft,
                          const uint32_t *fs) {
  uint32_t *src = malloc(n * sizeof *src), *tgt = malloc(n * sizeof *tgt);
  int64_t *vs = malloc(n * sizeof *vs), *vt = malloc(n * sizeof *vt);
  if (!src || !tgt || !vs || !vt) {
    ps->m->oom = true;
    goto out;
  }
  for (size_t k = 0; k < n; k++) {
    src[k] = fs[cands[k]], tgt[k] = ft[rows[k]];
    if (!s_free(ps, src[k]) || !t_free(ps, tgt[k])) goto out; /* an earlier group took it */
  }
  int pa = one_index(&ps->m->S, src, n, vs), pb = one_index(&ps->m->T, tgt, n, vt);
  if (!whole_family(ps->m, true, S(ps, src[0]), pa, n) || !whole_family(ps->m, false, T(ps, tgt[0]), pb, n)) goto out;
  if (m_csim(ps->m, S(ps, src[0]), T(ps, tgt[0])) <= 0 && near_scope(ps, S(ps, src[0]), T(ps, tgt[0])) <= 0)
    goto out;
  sort_by_val(src, vs, n);
  sort_by_val(tgt, vt, n);
  for (size_t k = 0; k < n; k++)
    if (roles_conflict(S(ps, src[k]), T(ps, tgt[k])) || scope_contradicts(ps, S(ps, src[k]), T(ps, tgt[k]))) goto out;
  if (scopes_prefer_other(ps, src, tgt, n)) goto out;
  for (size_t k = 0; k < n; k++) {
    mlayout l;
    if (m_layout_for(ps->m, S(ps, src[k]), T(ps, tgt[k]), &l) == REL_NONE) continue;
    char why[120];
    snprintf(why, sizeof why, "names tie and one index varies on each side: number %zu of %zu on both (scopes agree)",
             k + 1, n);
    take(ps, tgt[k], src[k], &l, EV_NAME, why);
  }
out:
  free(src), free(tgt), free(vs), free(vt);
}

typedef struct hrow {
  uint64_t h;
  uint32_t a;
} hrow;

static int hrow_cmp(const void *x, const void *y) {
  const hrow *p = x, *q = y;
  if (p->h != q->h) return p->h < q->h ? -1 : 1;
  return p->a < q->a ? -1 : p->a > q->a;
}

/* The indexed-family ties of phase_name once more, judged by the names alone: a pair taken by
 * definition order inside one block of a family (ConvNeXt's `layer_scale`, listed before the
 * swapped blocks) gives that block's scope an image, so the whole scores of the family's
 * members no longer tie exactly, though they prefer no other assignment. Rows with the same
 * tie set (by hash, then checked) form a group of as many targets as sources. */
static void phase_name_ties(pstate *ps, const uint32_t *ft, size_t nt, const uint32_t *fs, size_t ns, const bool *done) {
  float *nm = malloc(nt * ns * sizeof *nm);
  hrow *hr = malloc(nt * sizeof *hr);
  uint32_t *ca = malloc(ns * sizeof *ca), *cb = malloc(ns * sizeof *cb), *rows = malloc(nt * sizeof *rows);
  size_t nh = 0;
  if (!nm || !hr || !ca || !cb || !rows) {
    ps->m->oom = true;
    goto out;
  }
  for (size_t a = 0; a < nt; a++)
    for (size_t b = 0; b < ns; b++) {
      mlayout l;
      bool ok = !done[a] && t_free(ps, ft[a]) && s_free(ps, fs[b]) &&
                m_layout_for(ps->m, S(ps, fs[b]), T(ps, ft[a]), &l) != REL_NONE;
      nm[a * ns + b] = ok ? name_score(ps, S(ps, fs[b]), T(ps, ft[a]), &l) : -1e9f;
    }
  for (size_t a = 0; a < nt; a++) {
    size_t nc;
    float best;
    if (tie_row(nm + a * ns, ns, ca, &nc, &best)) hr[nh++] = (hrow){tie_hash(nm + a * ns, ns, best), (uint32_t)a};
  }
  qsort(hr, nh, sizeof *hr, hrow_cmp);
  for (size_t i = 0; i < nh;) {
    size_t j = i, nc = 0, nc2 = 0;
    float best, best2;
    while (j < nh && hr[j].h == hr[i].h) j++;
    tie_row(nm + hr[i].a * ns, ns, ca, &nc, &best);
    bool same = j - i == nc;
    for (size_t k = i; k < j && same; k++) {
      rows[k - i] = hr[k].a;
      same = tie_row(nm + hr[k].a * ns, ns, cb, &nc2, &best2) && nc2 == nc && fabsf(best2 - best) < 0.005f &&
             memcmp(ca, cb, nc * sizeof *ca) == 0;
    }
    if (same) take_name_tie(ps, rows, ca, nc, ft, fs);
    i = j;
  }
out:
  free(nm), free(hr), free(ca), free(cb), free(rows);
}

/* Mutual best name match with a clear margin, within each element-count bucket. The match must
 * rest on more than role words (weight, bias): shared content words or paired scopes. Where
 * a group of sources and a group of targets tie exactly and each group is one name with one
 * varying index, the indices are taken to correspond in order. */
static void phase_name(pstate *ps) {
  matcher *m = ps->m;
  uint32_t *ft = malloc((m->T.n + 1) * sizeof *ft), *fs = malloc((m->S.n + 1) * sizeof *fs);
  if (!ft || !fs) {
    m->oom = true;
    free(ft);
    free(fs);
    return;
  }
  size_t i = 0;
  while (i < m->T.n) {
    uint64_t ne = T(ps, ps->by_nelem_t[i])->nelem;
    size_t tlo = i, thi = i;
    while (thi < m->T.n && T(ps, ps->by_nelem_t[thi])->nelem == ne) thi++;
    i = thi;
    size_t slo, shi;
    nelem_range(&m->S, ps->by_nelem_s, m->S.n, ne, &slo, &shi);
    if (slo == shi) continue;
    /* only the free tensors of the bucket take part */
    size_t nt = 0, ns = 0;
    for (size_t k = tlo; k < thi; k++)
      if (t_free(ps, ps->by_nelem_t[k])) ft[nt++] = ps->by_nelem_t[k];
    for (size_t k = slo; k < shi; k++)
      if (s_free(ps, ps->by_nelem_s[k])) fs[ns++] = ps->by_nelem_s[k];
    if (!nt || !ns || nt * ns > 4000000) continue; /* nothing to do, or too big to score pairwise */
    float *sc = malloc(nt * ns * sizeof(float));
    float *bt_sc = malloc(nt * 2 * sizeof(float)), *bs_sc = malloc(ns * 2 * sizeof(float));
    uint32_t *bt_s = malloc(nt * sizeof(uint32_t)), *bs_t = malloc(ns * sizeof(uint32_t));
    bool *done = calloc(nt, sizeof(bool));
    nbucket nb;
    bool nb_ok = bucket_init(ps, &nb, ft, nt, fs, ns);
    if (!sc || !bt_sc || !bs_sc || !bt_s || !bs_t || !done || !nb_ok) {
      m->oom = true;
      free(sc), free(bt_sc), free(bs_sc), free(bt_s), free(bs_t), free(done), free(nb.rt), free(nb.rs);
      free(ft), free(fs);
      return;
    }
    for (size_t k = 0; k < nt; k++) bt_sc[2 * k] = bt_sc[2 * k + 1] = -1e9f, bt_s[k] = UINT32_MAX;
    for (size_t k = 0; k < ns; k++) bs_sc[2 * k] = bs_sc[2 * k + 1] = -1e9f, bs_t[k] = UINT32_MAX;
    for (size_t a = 0; a < nt; a++) {
      uint32_t t = ft[a];
      bool tf = t_free(ps, t);
      for (size_t b = 0; b < ns; b++) {
        uint32_t s = fs[b];
        float v = -1e9f;
        int rel;
        if (tf && nb.rs[b].live && (rel = bucket_rel(ps, &nb, a, b, s, t)) != REL_NONE)
          v = score_rec(ps, &nb.rs[b], &nb.rt[a], S(ps, s), T(ps, t), rel);
        sc[a * ns + b] = v;
        if (v <= -1e8f) continue;
        if (v > bt_sc[2 * a]) {
          bt_sc[2 * a + 1] = bt_sc[2 * a];
          bt_sc[2 * a] = v;
          bt_s[a] = (uint32_t)b;
        } else if (v > bt_sc[2 * a + 1]) {
          bt_sc[2 * a + 1] = v;
        }
        if (v > bs_sc[2 * b]) {
          bs_sc[2 * b + 1] = bs_sc[2 * b];
          bs_sc[2 * b] = v;
          bs_t[b] = (uint32_t)a;
        } else if (v > bs_sc[2 * b + 1]) {
          bs_sc[2 * b + 1] = v;
        }
      }
    }
    for (size_t a = 0; a < nt; a++) {
      uint32_t b = bt_s[a];
      if (b == UINT32_MAX || bs_t[b] != a) continue;
      float best = bt_sc[2 * a];
      if (best < 0.2f || best - bt_sc[2 * a + 1] < 0.15f || best - bs_sc[2 * b + 1] < 0.15f) continue;
      uint32_t t = ft[a], s = fs[b];
      if (roles_conflict(S(ps, s), T(ps, t)) || scope_contradicts(ps, S(ps, s), T(ps, t))) continue;
      if (m_csim(m, S(ps, s), T(ps, t)) <= 0 && near_scope(ps, S(ps, s), T(ps, t)) <= 0 &&
          scope_of(ps, S(ps, s), T(ps, t)) <= 0)
        continue;
      mlayout l;
      m_layout_for(m, S(ps, s), T(ps, t), &l);
      char why[120];
      float next = bt_sc[2 * a + 1] > bs_sc[2 * b + 1] ? bt_sc[2 * a + 1] : bs_sc[2 * b + 1];
      if (next > -1e8f) snprintf(why, sizeof why, "best name match on both sides (score %.2f, next %.2f)", best, next);
      else snprintf(why, sizeof why, "best name match on both sides (score %.2f, no other candidate)", best);
      take(ps, t, s, &l, EV_NAME, why);
      done[a] = true;
    }
    /* indexed families that tie; the scores were computed before the pairs above were taken,
     * so the sources those (and every tie group below) take are struck out first: a source is
     * never paired twice */
    uint32_t *cs = malloc(ns * sizeof *cs), *ct = malloc(nt * sizeof *ct);
    int64_t *vs = malloc(ns * sizeof *vs), *vt = malloc(nt * sizeof *vt);
    bool *gone = calloc(ns, sizeof *gone);
    uint32_t *src = malloc(ns * sizeof *src), *tgt = malloc(nt * sizeof *tgt); /* no cap: 89 equal blocks */
    uint64_t *rowh = malloc(nt * sizeof *rowh);
    uint32_t *tried = calloc(nt, sizeof *tried), epoch = 1; /* a row's tie group was tried since the last take */
    bool ok = cs && ct && vs && vt && gone && src && tgt && rowh && tried, stale = true;
    if (!ok) m->oom = true;
    else forget_taken(ps, sc, gone, nt, ns, fs);
    for (size_t a = 0; a < nt && ok; a++) {
      uint32_t t = ft[a];
      if (done[a] || !t_free(ps, t) || tried[a] == epoch) continue;
      float best, second;
      if (!row_best(sc + a * ns, ns, &best, &second)) continue;
      if (best < 0.2f || best - second >= 0.15f) continue;
      size_t nc = 0;
      for (size_t b = 0; b < ns; b++)
        if (sc[a * ns + b] >= best - 0.01f) cs[nc++] = (uint32_t)b;
      if (nc < 2) continue;
      /* if any candidate scores in the margin below the tie, the group is not clean */
      bool clean = true;
      for (size_t b = 0; b < ns && clean; b++)
        if (sc[a * ns + b] < best - 0.01f && sc[a * ns + b] > best - 0.15f) clean = false;
      if (!clean) continue;
      /* targets with the same tie set */
      for (size_t a2 = 0; a2 < nt && stale; a2++) {
        float b2, s2;
        rowh[a2] = row_best(sc + a2 * ns, ns, &b2, &s2) ? tie_hash(sc + a2 * ns, ns, b2) : 0;
      }
      stale = false;
      size_t nd = 0;
      for (size_t a2 = 0; a2 < nt; a2++) {
        if (done[a2] || !t_free(ps, ft[a2]) || rowh[a2] != rowh[a]) continue;
        float b2 = -1e9f, s2;
        if (!row_best(sc + a2 * ns, ns, &b2, &s2)) continue;
        bool same = fabsf(b2 - best) < 0.005f;
        for (size_t b = 0; b < ns && same; b++) {
          bool in = sc[a2 * ns + b] >= b2 - 0.01f, in0 = sc[a * ns + b] >= best - 0.01f;
          if (in != in0) same = false;
          else if (!in && sc[a2 * ns + b] > b2 - 0.15f) same = false;
        }
        if (same) ct[nd++] = (uint32_t)a2;
      }
      for (size_t k = 0; k < nd; k++) tried[ct[k]] = epoch; /* its rows would find the same group */
      if (nd != nc) continue;
      for (size_t k = 0; k < nc; k++) src[k] = fs[cs[k]], tgt[k] = ft[ct[k]];
      int ps_pos = one_index(&m->S, src, nc, vs), pt_pos = one_index(&m->T, tgt, nc, vt);
      if (ps_pos < 0 || pt_pos < 0) continue;
      /* some evidence beyond shapes must hold for the group */
      if (m_csim(m, S(ps, src[0]), T(ps, tgt[0])) <= 0 && near_scope(ps, S(ps, src[0]), T(ps, tgt[0])) <= 0) continue;
      bool conflict = false;
      for (size_t k = 0; k < nc; k++)
        conflict |= roles_conflict(S(ps, src[k]), T(ps, tgt[k])) || scope_contradicts(ps, S(ps, src[k]), T(ps, tgt[k]));
      if (conflict) continue;
      sort_by_val(src, vs, nc);
      sort_by_val(tgt, vt, nc);
      for (size_t k = 0; k < nc; k++) {
        mlayout l;
        if (m_layout_for(m, S(ps, src[k]), T(ps, tgt[k]), &l) == REL_NONE) continue;
        char why[120];
        snprintf(why, sizeof why, "names tie and one index varies on each side: number %zu of %zu on both",
                 k + 1, nc);
        take(ps, tgt[k], src[k], &l, EV_NAME, why);
      }
      for (size_t k = 0; k < nd; k++) done[ct[k]] = true;
      forget_taken(ps, sc, gone, nt, ns, fs);
      stale = true; /* struck columns change the tie sets */
      epoch++;
    }
    free(cs), free(ct), free(vs), free(vt), free(gone), free(src), free(tgt), free(rowh), free(tried);
    if (ok) phase_name_ties(ps, ft, nt, fs, ns, done);
    free(sc), free(bt_sc), free(bs_sc), free(bt_s), free(bs_t), free(done), free(nb.rt), free(nb.rs);
  }
  free(ft);
  free(fs);
}

/* Fused tensors and their parts, both ways (fused.c): a fused target joined from its parts, a
 * fused source cut into them, with the sizes the parts have. */
static void phase_fused(pstate *ps) { ps->progress += m_fused_pairs(ps->m); }

/* Pairs of a family's layout that no shape relation shows (famtab.c). */
static void phase_famtab(pstate *ps) {
  mprop *v = NULL;
  mlayout *l = NULL;
  size_t n = m_famtab_propose(ps->m, &v, &l);
  for (size_t i = 0; i < n; i++) take(ps, v[i].t, v[i].s, &l[i], EV_KEY, v[i].why);
  free(v);
  free(l);
}

/* Last: definition order breaks exact ties inside corresponding blocks (tie.c). */
static void phase_ties(pstate *ps) {
  mtie *v = NULL;
  size_t n = m_order_ties(ps->m, &v);
  for (size_t i = 0; i < n; i++) {
    char why[120];
    snprintf(why, sizeof why, "breaks a tie of %d in a block whose decided pairs keep one order on both sides", v[i].k);
    take(ps, v[i].t, v[i].s, &v[i].lay, EV_ORDER, why);
  }
  free(v);
}

/* Square 2-D weights give no shape evidence for a transpose: follow the other 2-D weights of
 * the same layer (the name up to its first number). If they disagree, it is left ambiguous. */
static size_t layer_scope_len(const mtensor *x) {
  for (size_t i = 0; i < x->len; i++)
    if (x->name[i] >= '0' && x->name[i] <= '9') {
      while (i < x->len && x->name[i] >= '0' && x->name[i] <= '9') i++;
      return i;
    }
  size_t p = x->len;
  while (p > 0 && x->name[p - 1] != '.' && x->name[p - 1] != '/') p--;
  return p;
}

/* The 2-D shape a pair's layout acts on: the target's, or for a fused pair each part's. */
static bool pair_2d(pstate *ps, const mpair *p, int64_t *rows, int64_t *cols) {
  const mtensor *t = T(ps, p->t);
  if (p->ns < 1 || t->ndim != 2 || (p->lay.rel != REL_ID && p->lay.rel != REL_TRANSPOSE)) return false;
  /* a concat's layout acts on each part, joined along its axis */
  *rows = t->shape[0] / (p->ns > 1 && p->axis == 0 ? p->ns : 1);
  *cols = t->shape[1] / (p->ns > 1 && p->axis == 1 ? p->ns : 1);
  return true;
}

/* Take back a pair (every part of a split with it): it is undecided after all. */
static void unpair(pstate *ps, size_t pi, uint8_t why) {
  matcher *m = ps->m;
  mpair *p = &m->pairs[pi];
  uint32_t s0 = p->s[0];
  bool split = p->split_k > 0;
  for (size_t qi = 0; qi < m->npairs; qi++) {
    mpair *q = &m->pairs[qi];
    if (qi != pi && !(split && q->split_k && q->ns && q->s[0] == s0)) continue;
    if (q->ns == 0) continue;
    m->T.t[q->t].pair = -1;
    for (int k = 0; k < q->ns; k++) m->S.t[q->s[k]].pair = -1;
    q->ns = 0;
    if (m->ev_count[q->ev]) m->ev_count[q->ev]--; /* the header's evidence counts pairs kept */
    if (ps->square_conflict) ps->square_conflict[q->t] = why;
  }
}

/* A square pair under GPT-2's names with no non-square layer-mate: the layouts both sides'
 * layers show decide (square.c), else it is undecided. */
static void square_gpt2(pstate *ps, size_t pi, size_t ls) {
  mpair *p = &ps->m->pairs[pi];
  const mtensor *t = T(ps, p->t);
  int rel = m_square_gpt2_layout(ps->m, S(ps, p->s[0]), ls, t, layer_scope_len(t));
  if (rel == REL_NONE) { /* even when hinted: a plain hint says which source, not the layout */
    unpair(ps, pi, p->ev == EV_HINT ? SQ_HINTED : SQ_NAMES);
    return;
  }
  memset(&p->lay, 0, sizeof p->lay);
  p->lay.rel = (uint8_t)rel;
  if (rel == REL_TRANSPOSE) {
    p->lay.nops = 1;
    set_perm(&p->lay.op[0], T2, 2);
  }
  snprintf(p->why + strlen(p->why), sizeof p->why - strlen(p->why), "; square: %s",
           rel == REL_TRANSPOSE ? "the two layers store [in, out] and [out, in]" : "both layers store one layout");
}

/* A square 2-D weight (or a square part of a fused one) gives no shape evidence for a
 * transpose: it follows the non-square 2-D weights of its layer (the source name up to its
 * first number), all of them; if they disagree it is undecided; with none, the naming
 * convention stays (a Flax kernel is transposed, a PyTorch weight is not). */
static void fix_square(pstate *ps) {
  matcher *m = ps->m;
  for (size_t pi = 0; pi < m->npairs; pi++) {
    mpair *p = &m->pairs[pi];
    int64_t r, c;
    if (!pair_2d(ps, p, &r, &c) || r != c || r == 1) continue; /* a hint says which, not how */
    if (p->layout_hinted) continue;                             /* ... unless it says how */
    const mtensor *s = S(ps, p->s[0]);
    size_t L = layer_scope_len(s);
    size_t tr = 0, id = 0;
    for (size_t qi = 0; qi < m->npairs; qi++) {
      mpair *q = &m->pairs[qi];
      int64_t r2, c2;
      if (qi == pi || !pair_2d(ps, q, &r2, &c2) || r2 == c2) continue;
      const mtensor *s2 = S(ps, q->s[0]);
      if (s2->len < L || memcmp(s2->name, s->name, L) != 0) continue;
      if (q->lay.rel == REL_TRANSPOSE) tr++;
      else id++;
    }
    if (tr && id) {
      if (p->ev != EV_HINT) unpair(ps, pi, 1);
    } else if (!tr && !id && (m_conv1d_name(s) || m_conv1d_name(T(ps, p->t)))) {
      square_gpt2(ps, pi, L);
    } else if (tr && p->lay.rel == REL_ID) {
      p->lay.rel = REL_TRANSPOSE;
      p->lay.nops = 1;
      set_perm(&p->lay.op[0], T2, 2);
      p->square_t = true;
      snprintf(p->why + strlen(p->why), sizeof p->why - strlen(p->why),
               "; square: transposed like the %zu other 2-D weights of %.*s", tr, (int)L, s->name);
    } else if (id && p->lay.rel == REL_TRANSPOSE) {
      memset(&p->lay, 0, sizeof p->lay);
      p->lay.rel = REL_ID;
      snprintf(p->why + strlen(p->why), sizeof p->why - strlen(p->why),
               "; square: kept [in, out] like the %zu other 2-D weights of %.*s", id, (int)L, s->name);
    }
  }
}

/* Keep the four best candidates of u by score (sc holds their scores). */
static void keep_best(munres *u, float *sc, uint32_t s, float v) {
  int at = u->ncand < 4 ? u->ncand : 4;
  while (at > 0 && sc[at - 1] < v) at--;
  if (at >= 4) return;
  for (int k = (u->ncand < 4 ? u->ncand : 3); k > at; k--) {
    u->cand[k] = u->cand[k - 1];
    sc[k] = sc[k - 1];
  }
  u->cand[at] = s;
  sc[at] = v;
  if (u->ncand < 4) u->ncand++;
}

static void sort_u64(uint64_t *v, size_t n) {
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
      uint64_t x = v[j];
      v[j] = v[j - 1];
      v[j - 1] = x;
    }
}

/* Do the parents of s and t hold the same make-up: as many tensors, of the same element counts
 * (timm's `norm.{weight,bias}` and torchvision's `block.2.{weight,bias}`, not `block.0`'s conv
 * and its bias)? It ranks the candidates an UNRESOLVED comment lists; it decides nothing. */
static bool same_makeup(pstate *ps, const uint32_t *bps, const uint32_t *bpt, uint32_t s, uint32_t t) {
  enum { K = 16 };
  uint64_t a[K], b[K];
  size_t lo, hi, n = 0;
  parent_range(&ps->m->S, bps, ps->m->S.n, S(ps, s)->parent, &lo, &hi);
  if (hi - lo > K) return false;
  for (size_t i = lo; i < hi; i++) a[n++] = S(ps, bps[i])->nelem;
  parent_range(&ps->m->T, bpt, ps->m->T.n, T(ps, t)->parent, &lo, &hi);
  if (hi - lo != n) return false;
  for (size_t i = lo; i < hi; i++) b[i - lo] = T(ps, bpt[i])->nelem;
  sort_u64(a, n);
  sort_u64(b, n);
  return memcmp(a, b, n * sizeof *a) == 0;
}

/* What the free sources of a target's size are to it. */
typedef struct fits {
  size_t ok, vetoed, dtype, size; /* fit; fit but contradict an index map; fit but for the dtype; size only */
  size_t conv;                    /* fit, but cross a convention */
  const char *conv_why;
  long veto;                      /* a correspondence they contradict */
  uint32_t dtype_src;             /* one source that fits but for its dtype */
} fits;

static void classify(pstate *ps, uint32_t t, munres *u, fits *f, const uint32_t *bps, const uint32_t *bpt) {
  matcher *m = ps->m;
  const mtensor *x = T(ps, t);
  size_t lo, hi;
  nelem_range(&m->S, ps->by_nelem_s, m->S.n, x->nelem, &lo, &hi);
  float sc[4] = {0};
  memset(f, 0, sizeof *f);
  f->veto = -1;
  for (size_t i = lo; i < hi; i++) {
    uint32_t s = ps->by_nelem_s[i];
    if (!s_free(ps, s)) continue;
    const mtensor *y = S(ps, s);
    mlayout l;
    float tier;
    if (layout_raw(y, x, &l) != REL_NONE) {
      long c = m_index_veto(m, y, x);
      const char *cv = m_convention_crossed(y, x);
      if (c >= 0) f->vetoed++, f->veto = c, tier = 100;
      else if (cv) f->conv++, f->conv_why = cv, tier = 50;
      else f->ok++, tier = 0;
    } else if (rel_find(&l, y->shape, y->ndim, x->shape, x->ndim, conv_of(y, x)) != REL_NONE) {
      if (!f->dtype) f->dtype_src = s;
      f->dtype++, tier = 200;
    } else {
      f->size++, tier = 300;
    }
    float like = bps && bpt && same_makeup(ps, bps, bpt, s, t) ? 0.5f : 0;
    keep_best(u, sc, s, (tier < 300 ? score(ps, y, x, &l) : m_csim(m, y, x)) - tier + like);
  }
}

/* Undecided targets: their candidates (also those that fit only but for an index map, a dtype,
 * or a layout: the draft keeps them, and a hint may want them), for the draft's comments and
 * the verdict, and why in words. */
static void collect_unresolved(pstate *ps) {
  matcher *m = ps->m;
  mfblock *blk = NULL; /* blocked by a convention only (fused.c) */
  size_t nblk = m_fused_blocked(m, &blk);
  uint32_t *bps = by_parent(&m->S), *bpt = by_parent(&m->T); /* NULL: candidates unranked by make-up */
  for (uint32_t t = 0; t < m->T.n; t++) {
    if (!t_free(ps, t)) continue;
    if (!wbr_grow(&m->unres, &m->ucap, m->nunres + 1, sizeof *m->unres, 64)) {
      m->oom = true;
      break;
    }
    munres *u = &m->unres[m->nunres++];
    memset(u, 0, sizeof *u);
    u->t = t;
    fits f;
    classify(ps, t, u, &f, bps, bpt);
    const mtensor *x = T(ps, t);
    if (m_fold_why(m, t, u->why, sizeof u->why)) {
      u->ncand = 0; /* a stack whose depth is not the family's (stack.c): no one-to-one hint helps */
      u->depth = true;
    } else if (ps->square_conflict && ps->square_conflict[t]) {
      u->square = true;
      if (ps->square_conflict[t] >= SQ_NAMES)
        snprintf(u->why, sizeof u->why, "%s%s", m_square_gpt2_why(),
                 ps->square_conflict[t] == SQ_HINTED ? "; a plain hint pairs it but says no layout: give the hint one" : "");
      else
        snprintf(u->why, sizeof u->why,
                 "square 2-D weight: the other 2-D weights of its layer disagree about a transpose");
    } else if (f.ok == 0 && m_fused_why(m, blk, nblk, t, u)) {
      /* a fused tensor or a part of one, across a convention: its parts are the alternatives */
    } else if (f.ok == 0 && f.conv) {
      snprintf(u->why, sizeof u->why, "%zu free source%s fit by shape, but the pair crosses a %s", f.conv,
               f.conv == 1 ? "" : "s", f.conv_why);
      if (u->ncand) m_rope_why(m, S(ps, u->cand[0]), x, u->why, sizeof u->why, &u->param);
    } else if (f.ok == 0 && f.vetoed) {
      char d[300];
      m_families_describe(m, f.veto, d, sizeof d);
      u->depth = m->fcorr[f.veto].depth;
      snprintf(u->why, sizeof u->why, "%zu free source%s fit by shape, but pairing %s %s", f.vetoed,
               f.vetoed == 1 ? "" : "s", f.vetoed == 1 ? "it" : "them", d);
    } else if (f.ok == 0 && f.dtype) {
      const mtensor *y = S(ps, f.dtype_src);
      u->dtype = true;
      snprintf(u->why, sizeof u->why,
               "dtype mismatch: \"%s\" has a shape that fits but is %s, the target is %s (is the target's dtype right?)",
               y->name, wbr_dtype_name(y->dtype), wbr_dtype_name(x->dtype));
      char msg[600];
      snprintf(msg, sizeof msg, "dtype mismatch: target '%s' is %s; '%s', whose shape fits, is %s", x->name,
               wbr_dtype_name(x->dtype), y->name, wbr_dtype_name(y->dtype));
      wbr_diag dg = {.severity = WBR_SEV_WARNING, .message = msg,
                     .help = "check the target's dtypes (a manifest written with one dtype for every tensor?)"};
      wbr_report(m->ctx, 0, &dg);
    } else if (f.ok == 0 && f.size) {
      snprintf(u->why, sizeof u->why,
               "no free source has a shape that fits by a known layout change; %zu of the same size are kept", f.size);
    } else if (f.ok == 0) {
      snprintf(u->why, sizeof u->why, "no free source tensor has a shape that fits");
    } else if (f.ok == 1) {
      snprintf(u->why, sizeof u->why, "one source fits by shape, but the names give no evidence");
    } else {
      snprintf(u->why, sizeof u->why, "%zu free sources fit by shape; names and order do not decide", f.ok);
    }
  }
  free(blk);
  free(bps);
  free(bpt);
}

/* A side listed in byte order (as safetensors writers store it) carries no definition order. */
static bool sorted_side(const mside *side) {
  if (side->n < 4) return false;
  for (size_t i = 1; i < side->n; i++)
    if (strcmp(side->t[i - 1].name, side->t[i].name) > 0) return false;
  return true;
}

/* One pairing pass from scratch: hints, then the rounds of evidence. */
static int pair_pass(pstate *ps, const mhint *hints, size_t nhints) {
  matcher *m = ps->m;
  m->npairs = 0;
  memset(m->ev_count, 0, sizeof m->ev_count);
  for (size_t i = 0; i < m->S.n; i++) m->S.t[i].pair = -1;
  for (size_t i = 0; i < m->T.n; i++) m->T.t[i].pair = -1;
  for (size_t i = 0; i < ps->nids; i++) ps->pmap[i] = ps->pmap_t[i] = ps->img_s_idx[i] = ps->img_t_idx[i] = PM_UNSET;
  memset(ps->cur_s, 0xff, (m->T.n + 1) * sizeof *ps->cur_s); /* every tensor is free again */
  memset(ps->cur_t, 0xff, (m->S.n + 1) * sizeof *ps->cur_t);
  int rc = 0;
  m_structure_free(m); /* the last pass's alignment says nothing about this one's pairs */
  for (size_t i = 0; i < nhints && rc == 0; i++) rc = apply_hint(ps, &hints[i]);
  if (rc) return rc;
  phase_key(ps);
  bool use_order = !ps->order_off && !sorted_side(&m->S) && !sorted_side(&m->T);
  for (int round = 0; round < 64 && !m->oom; round++) {
    ps->progress = 0;
    shapes_recount(ps);
    phase_shape(ps);
    phase_sibling(ps);
    if (ps->progress) continue;
    phase_structure(ps);
    if (ps->progress) continue;
    if (use_order) phase_order(ps);
    if (ps->progress) continue;
    phase_name(ps);
    if (ps->progress) continue;
    phase_fused(ps);
    if (!ps->progress) phase_famtab(ps);
    if (!ps->progress && use_order) phase_ties(ps);
    if (!ps->progress) break;
  }
  return 0;
}

int m_pair_all(matcher *m, const mhint *hints, size_t nhints) {
  m_families_prepare(m);
  if (!m->oom) m_famtab_prepare(m);
  if (m->oom) return wbr_oom(m->ctx);
  m_fused_prepare(m); /* freed at done (an allocation failure is m->oom, reported there) */
  m_lcache_build(m);
  pstate ps = {.m = m};
  ps.nids = m->in.n;
  ps.by_nelem_s = malloc((m->S.n + 1) * sizeof(uint32_t));
  ps.by_nelem_t = malloc((m->T.n + 1) * sizeof(uint32_t));
  ps.pmap = malloc((ps.nids + 1) * sizeof(uint32_t));
  ps.pmap_t = malloc((ps.nids + 1) * sizeof(uint32_t));
  ps.img_s_idx = malloc((ps.nids + 1) * sizeof(uint32_t));
  ps.img_s_len = malloc((ps.nids + 1) * sizeof(uint32_t));
  ps.img_t_idx = malloc((ps.nids + 1) * sizeof(uint32_t));
  ps.img_t_len = malloc((ps.nids + 1) * sizeof(uint32_t));
  ps.square_conflict = calloc(m->T.n + 1, sizeof(uint8_t));
  ps.sh_cap = 1024;
  while (ps.sh_cap < 2 * (m->S.n + m->T.n)) ps.sh_cap *= 2;
  ps.sh_key = malloc(ps.sh_cap * sizeof *ps.sh_key);
  ps.sh_cnt_s = malloc(ps.sh_cap * sizeof *ps.sh_cnt_s);
  ps.sh_cnt_t = malloc(ps.sh_cap * sizeof *ps.sh_cnt_t);
  ps.cur_s = malloc((m->T.n + 1) * sizeof *ps.cur_s);
  ps.end_s = malloc((m->T.n + 1) * sizeof *ps.end_s);
  ps.cur_t = malloc((m->S.n + 1) * sizeof *ps.cur_t);
  ps.end_t = malloc((m->S.n + 1) * sizeof *ps.end_t);
  int rc = 0;
  if (!ps.by_nelem_s || !ps.by_nelem_t || !ps.pmap || !ps.pmap_t || !ps.img_s_idx || !ps.img_s_len ||
      !ps.img_t_idx || !ps.img_t_len || !ps.square_conflict || !ps.sh_key || !ps.sh_cnt_s || !ps.sh_cnt_t ||
      !ps.cur_s || !ps.end_s || !ps.cur_t || !ps.end_t) {
    rc = wbr_oom(m->ctx);
    goto done;
  }
  for (uint32_t i = 0; i < m->S.n; i++) ps.by_nelem_s[i] = i;
  for (uint32_t i = 0; i < m->T.n; i++) ps.by_nelem_t[i] = i;
  qsort_r(ps.by_nelem_s, m->S.n, sizeof(uint32_t), cmp_nelem, &m->S);
  qsort_r(ps.by_nelem_t, m->T.n, sizeof(uint32_t), cmp_nelem, &m->T);

  /* the first pass finds which numbered families correspond; the second pairs again, vetoing
   * what contradicts their index maps (family.c) */
  rc = pair_pass(&ps, hints, nhints);
  if (rc) goto done;
  m_families_infer(m);
  ps.order_off = !orders_agree(&ps);
  if ((m->nfcorr || ps.order_off) && !m->oom) {
    m->fam_active = m->nfcorr > 0;
    rc = pair_pass(&ps, hints, nhints);
    if (rc) goto done;
  }
  fix_square(&ps);
  m_count_rivals(m);
  collect_unresolved(&ps);
  m_families_warn(m);
  m_fold_warn(m);
  if (m->oom) rc = wbr_oom(m->ctx);
done:
  m_fused_free(m);
  m_structure_free(m);
  m_structure_trees_free(m);
  m_lcache_free(m);
  free(ps.by_nelem_s);
  free(ps.by_nelem_t);
  free(ps.pmap);
  free(ps.pmap_t);
  free(ps.img_s_idx);
  free(ps.img_s_len);
  free(ps.img_t_idx);
  free(ps.img_t_len);
  free(ps.square_conflict);
  free(ps.sh_key);
  free(ps.sh_cnt_s);
  free(ps.sh_cnt_t);
  free(ps.cur_s);
  free(ps.end_s);
  free(ps.cur_t);
  free(ps.end_t);
  return rc;
}
