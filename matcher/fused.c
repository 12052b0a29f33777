/* fused.c — fused tensors and their parts (issue 10, "Beyond one-to-one"). A fused tensor on one
 * side (qkv, kv, gate_up, a torch in_proj, GPT-2's c_attn) whose size along one axis is the sum
 * of a group of parts on the other side (q, k, v; q, kv; gate, up) is cut with those sizes,
 * unequal ones included (GQA), or, the mirror case, the parts are joined into it. A part a target
 * lacks (BEiT has no k bias) is cut off and dropped. The order of the parts comes from the names
 * on both sides, never from shapes alone; a pair that crosses a convention (convention.c) stays
 * undecided, with the parts named as its alternatives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mint.h"

/* ---- what a name says about parts --------------------------------------------------------------- */

enum { FP_Q, FP_K, FP_V, FP_GATE, FP_UP, FP_NONE = 255 };

static const char *const fp_word[] = {"q", "k", "v", "gate", "up"};

/* The parts a word names, in order (0 when it names none). */
static int word_parts(const char *w, uint8_t *out) {
  static const struct {
    const char *w;
    uint8_t n, p[3];
  } tab[] = {{"q", 1, {FP_Q}},     {"k", 1, {FP_K}},     {"v", 1, {FP_V}},        {"kv", 2, {FP_K, FP_V}},
             {"qkv", 3, {FP_Q, FP_K, FP_V}}, {"gate", 1, {FP_GATE}}, {"up", 1, {FP_UP}}};
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (strcmp(tab[i].w, w) == 0) {
      memcpy(out, tab[i].p, tab[i].n);
      return tab[i].n;
    }
  return 0;
}

static bool attn_part(uint8_t p) { return p <= FP_V; }

/* A tensor's parts: one run of part words (`q_proj` q; `kv` k, v; `qkv_proj`, `query_key_value`
 * q, k, v; `gate_up_proj` gate, up), or, without one, q, k, v by convention for a torch
 * `in_proj` and GPT-2's `c_attn` (blocked, equal parts: `implicit`). */
typedef struct fparts {
  uint8_t p[M_MAXPARTS];
  uint8_t n;
  bool implicit;
} fparts;

static const uint32_t *words_of(const matcher *m, const mtensor *x) {
  const mside *s = x >= m->S.t && x < m->S.t + m->S.n ? &m->S : &m->T;
  return s->words + x->w0;
}

static void parts_of(const matcher *m, const mtensor *x, fparts *out) {
  memset(out, 0, sizeof *out);
  const uint32_t *w = words_of(m, x);
  int runs = 0;
  bool in_run = false, seen[FP_UP + 1] = {0};
  for (uint32_t i = 0; i < x->nw; i++) {
    uint8_t p[3];
    int k = word_parts(m_word(m, w[i]), p);
    if (!k) {
      in_run = false;
      continue;
    }
    if (!in_run) runs++;
    in_run = true;
    for (int j = 0; j < k; j++) {
      if (out->n == M_MAXPARTS || seen[p[j]] || (out->n && attn_part(p[j]) != attn_part(out->p[0]))) runs = 2;
      else seen[p[j]] = true, out->p[out->n++] = p[j];
    }
  }
  if (runs > 1) {
    out->n = 0;
    return;
  }
  if (runs == 0 && (x->fused || m_gpt2_c_attn(x))) {
    out->p[0] = FP_Q, out->p[1] = FP_K, out->p[2] = FP_V;
    out->n = 3;
    out->implicit = true;
  }
}

/* The canonical key without the part words: `blocks.0.attn.q.weight` and `blocks.0.attn.v.weight`
 * are parts of one group. */
static uint32_t group_key(matcher *m, const mtensor *x) {
  const char *k = mi_str(&m->in, x->key);
  wbr_buf b;
  wbr_buf_init(&b);
  for (const char *s = k; *s;) {
    const char *e = strchr(s, '.');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    char w[16];
    uint8_t p[3];
    bool part = n < sizeof w && (memcpy(w, s, n), w[n] = 0, word_parts(w, p) > 0);
    if (!part) {
      if (b.len) wbr_buf_putc(&b, '.');
      wbr_buf_put(&b, s, n);
    }
    s += n + (e != NULL);
  }
  uint32_t id = b.oom ? UINT32_MAX : mi_id(&m->in, b.p ? b.p : "", b.len);
  if (id == UINT32_MAX) m->oom = true;
  wbr_buf_free(&b);
  return id;
}

/* ---- candidates ------------------------------------------------------------------------------------ */

/* A free tensor that names parts, of the side that has the parts. */
typedef struct fmember {
  uint32_t i, key;
  fparts fp;
} fmember;

/* One way to make fused tensor f out of (or into) a group: its pieces in order along `axis`. */
typedef struct fcand {
  uint32_t f;                  /* the fused tensor */
  uint32_t key;                /* the group */
  uint32_t piece[M_MAXPARTS];  /* tensor of the other side per piece, UINT32_MAX for the cut one */
  int64_t size[M_MAXPARTS];
  mlayout lay[M_MAXPARTS];
  uint8_t npiece, axis, cut;   /* cut: 1 + the piece no tensor takes, or 0 */
  uint8_t cut_part;
  float score;
  const char *crossed; /* a convention the pair crosses (probe only) */
  int64_t groups;      /* > 0: fused per kv group, that many (famtab.c); -1 while being fitted */
} fcand;

typedef struct fctx {
  matcher *m;
  bool split; /* the fused tensor is a source */
  bool probe; /* fits that cross a convention too (to name them as alternatives), no others */
  mside *fs, *ps; /* the side of the fused tensors, the side of the parts */
} fctx;

static bool is_free(const fctx *c, const mside *side, uint32_t i) {
  return side == &c->m->S ? m_src_free(c->m, i) : m_tgt_free(c->m, i);
}

static bool role_conflict(const mtensor *a, const mtensor *b) {
  return a->role != ROLE_OTHER && b->role != ROLE_OTHER && a->role != b->role;
}

/* The layout that takes a part of f (its size `size` along `axis`) to member y, or back. */
static bool piece_layout(const fctx *c, const mtensor *f, int axis, int64_t size, const mtensor *y, mlayout *l) {
  mtensor part = *f;
  part.shape[axis] = size;
  part.nelem = y->nelem;
  if (c->split) return m_layout_for(c->m, &part, y, l) != REL_NONE;
  return m_layout_for(c->m, y, &part, l) != REL_NONE;
}

static const char TWO_AXES[] = "it fits cut along axis 0 and along axis 1 (a Linear or a Conv1D layout): the shapes do not say which";
static const char CUT_RIVAL[] = "the part it would cut off and drop may be the free target that names that part (of its size)";

/* Is there, outside the group, a free tensor that names the part about to be cut off, in f's
 * role and of its size (a k bias under another name)? Then cutting it off is a guess. */
static bool rival_for_cut(const fctx *c, const mtensor *f, uint8_t part, uint64_t nelem) {
  for (uint32_t i = 0; i < c->ps->n; i++) {
    const mtensor *y = &c->ps->t[i];
    if (y->nelem != nelem || !is_free(c, c->ps, i) || role_conflict(f, y)) continue;
    fparts fp;
    parts_of(c->m, y, &fp);
    if (fp.n == 1 && fp.p[0] == part && m_index_veto(c->m, f, y) < 0) return true;
  }
  return false;
}

/* A fit across the per-kv-group convention: q, k, v whole along axis 0, as they are; the group
 * count from the parameters (famtab.c), or, probing, the reason it waits for them. */
static bool group_fit(const fctx *c, const fparts *fp, fcand *out, int axis) {
  if (axis != 0 || out->cut || out->npiece != 3 || fp->p[0] != FP_Q || fp->p[1] != FP_K || fp->p[2] != FP_V)
    return false;
  for (int k = 0; k < 3; k++)
    if (out->lay[k].nops) return false;
  out->groups = m_qkv_groups(c->m, out->size, c->probe);
  if (out->groups >= 1) return true;
  if (c->probe) out->crossed = m_qkv_param_why;
  return c->probe;
}

/* Lay the members of one group [g0, g1) out as the pieces of f along `axis`; false if they do
 * not make exactly f (or f but one part, cut off, when splitting). */
static bool fit_axis(const fctx *c, const mtensor *f, const fparts *fp, const fmember *g, size_t ng, int axis,
                     fcand *out) {
  matcher *m = c->m;
  int64_t whole = f->shape[axis], sum = 0;
  if (whole <= 0 || f->nelem % (uint64_t)whole) return false;
  uint64_t per = f->nelem / (uint64_t)whole; /* elements per unit of the axis */
  int at[M_MAXPARTS];
  for (int k = 0; k < fp->n; k++) at[k] = -1;
  for (size_t j = 0; j < ng; j++) {
    /* the member's parts: a run of f's, in f's order */
    int pos = -1;
    for (int k = 0; k < fp->n; k++)
      if (fp->p[k] == g[j].fp.p[0]) pos = k;
    if (pos < 0 || pos + g[j].fp.n > fp->n) continue;
    bool run = true;
    for (int k = 0; k < g[j].fp.n; k++) run &= fp->p[pos + k] == g[j].fp.p[k];
    if (!run) continue;
    for (int k = 0; k < g[j].fp.n; k++) {
      if (at[pos + k] >= 0) return false; /* two members for one part: not a clean group */
      at[pos + k] = (int)j;
    }
  }
  memset(out, 0, sizeof *out);
  int missing = -1;
  for (int k = 0; k < fp->n;) {
    if (out->npiece == M_MAXPARTS) return false;
    if (at[k] < 0) {
      if (missing >= 0 || !c->split) return false; /* only one part may be cut off */
      missing = k;
      out->piece[out->npiece++] = UINT32_MAX;
      out->cut = out->npiece;
      out->cut_part = fp->p[k];
      k++;
      continue;
    }
    const fmember *y = &g[at[k]];
    const mtensor *yt = &c->ps->t[y->i];
    if (yt->nelem % per) return false;
    int64_t size = (int64_t)(yt->nelem / per);
    if (!piece_layout(c, f, axis, size, yt, &out->lay[out->npiece])) return false;
    const char *cv = m_convention_crossed(c->split ? f : yt, c->split ? yt : f);
    if (cv && m_qkv_grouped_pair(c->split ? f : yt, c->split ? yt : f)) cv = NULL, out->groups = -1;
    if ((cv && !c->probe) || role_conflict(f, yt) || m_index_veto(m, c->split ? f : yt, c->split ? yt : f) >= 0)
      return false;
    if (cv && !out->crossed) out->crossed = cv;
    out->piece[out->npiece] = y->i;
    out->size[out->npiece++] = size;
    sum += size;
    k += y->fp.n;
  }
  if (out->npiece < 2 || (missing >= 0 && out->npiece - 1 < 2)) return false;
  if (missing >= 0) {
    if (sum >= whole) return false;
    if (rival_for_cut(c, f, fp->p[missing], (uint64_t)(whole - sum) * per)) {
      if (!c->probe) return false;
      out->crossed = out->crossed ? out->crossed : CUT_RIVAL;
    }
    out->size[out->cut - 1] = whole - sum;
  } else if (sum != whole) {
    return false;
  }
  /* in_proj and c_attn are cut in equal thirds by convention */
  for (int k = 1; fp->implicit && k < out->npiece; k++)
    if (out->size[k] != out->size[0]) return false;
  /* a join is one concat with one layout for every part */
  for (int k = 1; !c->split && k < out->npiece; k++)
    if (memcmp(&out->lay[k], &out->lay[0], sizeof out->lay[0]) != 0) return false;
  if (out->groups && !group_fit(c, fp, out, axis)) return false;
  out->axis = (uint8_t)axis;
  return true;
}

/* f and the group [g, g + ng): one fitting layout along a single axis, scored by names. */
static bool fit_group(const fctx *c, uint32_t fi, const fparts *fp, const fmember *g, size_t ng, fcand *out) {
  const mtensor *f = &c->fs->t[fi];
  fcand a;
  int fits = 0;
  for (int axis = 0; axis < f->ndim && axis < 2; axis++)
    if (fit_axis(c, f, fp, g, ng, axis, &a)) {
      if (fits++) { /* two axes fit: the shapes do not say which (Linear or Conv1D) */
        if (!c->probe) return false;
        out->crossed = out->crossed ? out->crossed : TWO_AXES;
        continue;
      }
      *out = a;
    }
  if (!fits) return false;
  out->f = fi;
  out->key = g[0].key;
  float s = 0;
  int n = 0;
  for (int k = 0; k < out->npiece; k++) {
    if (out->piece[k] == UINT32_MAX) continue;
    const mtensor *y = &c->ps->t[out->piece[k]];
    s += m_wsim(c->m, f, y) + 0.5f * m_nsim(f, y);
    n++;
  }
  out->score = n ? s / (float)n : 0;
  return true;
}

static int cmp_member(const void *a, const void *b) {
  const fmember *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* The free members of the parts side, sorted by group. */
static size_t members(fctx *c, fmember **out) {
  matcher *m = c->m;
  fmember *v = malloc((c->ps->n + 1) * sizeof *v);
  size_t n = 0;
  if (!v) {
    m->oom = true;
    *out = NULL;
    return 0;
  }
  for (uint32_t i = 0; i < c->ps->n; i++) {
    if (!is_free(c, c->ps, i)) continue;
    fparts fp;
    parts_of(m, &c->ps->t[i], &fp);
    if (!fp.n || fp.implicit) continue;
    v[n].i = i;
    v[n].fp = fp;
    v[n].key = group_key(m, &c->ps->t[i]);
    n++;
  }
  qsort(v, n, sizeof *v, cmp_member);
  *out = v;
  return n;
}

/* ---- taking them ---------------------------------------------------------------------------------- */

static size_t take_cand(fctx *c, const fcand *k) {
  matcher *m = c->m;
  size_t made = 0;
  if (!c->split) {
    uint32_t s[M_MAXPARTS];
    for (int i = 0; i < k->npiece; i++) s[i] = k->piece[i];
    mpair *p = m_add_pair(m, k->f, s, k->npiece, &k->lay[0], EV_FUSED,
                          "%d parts joined in the order their names give%s", k->npiece,
                          k->groups > 0 ? ", per kv group" : "");
    if (!p) return 0;
    p->axis = k->axis;
    if (k->groups > 0) m_qkv_group_join(p, &c->fs->t[k->f], k->groups);
    return 1;
  }
  int64_t off = 0;
  for (int i = 0; i < k->npiece; i++) {
    if (k->piece[i] != UINT32_MAX) {
      uint32_t f = k->f;
      mpair *p = m_add_pair(m, k->piece[i], &f, 1, &k->lay[i], EV_FUSED,
                            "part %d of %d of the fused source (axis %d, %lld:%lld; order from the names)%s",
                            i + 1, k->npiece, k->axis, (long long)off, (long long)(off + k->size[i]),
                            k->cut ? "; one part cut off" : "");
      if (!p) break;
      p->split_k = k->npiece;
      p->split_i = (uint8_t)i;
      p->axis = k->axis;
      p->off = off;
      p->len = k->size[i];
      p->cut = k->cut;
      p->cut_part = k->cut_part;
      if (k->groups > 0) m_qkv_group_cut(p, &c->fs->t[k->f], &c->ps->t[k->piece[i]], k->groups, off, k->size[i]);
      made++;
    }
    off += k->size[i];
  }
  return made;
}

/* Every fitting (fused tensor, group) of one direction; a candidate is taken when it is clearly
 * the best for its fused tensor and for its group, and every tensor in it is still free. */
static size_t candidates(fctx *c, fcand **out) {
  matcher *m = c->m;
  fmember *mem = NULL;
  size_t nmem = members(c, &mem);
  fcand *cand = NULL;
  size_t nc = 0, cap = 0;
  for (uint32_t fi = 0; fi < c->fs->n && nmem && !m->oom; fi++) {
    if (!is_free(c, c->fs, fi)) continue;
    fparts fp;
    parts_of(m, &c->fs->t[fi], &fp);
    if (fp.n < 2) continue;
    for (size_t g0 = 0, g1; g0 < nmem; g0 = g1) {
      for (g1 = g0 + 1; g1 < nmem && mem[g1].key == mem[g0].key;) g1++;
      fcand k;
      if (!fit_group(c, fi, &fp, mem + g0, g1 - g0, &k) || (c->probe && !k.crossed)) continue;
      if (nc == cap) {
        cap = cap ? 2 * cap : 64;
        fcand *nv = realloc(cand, cap * sizeof *nv);
        if (!nv) {
          m->oom = true;
          break;
        }
        cand = nv;
      }
      cand[nc++] = k;
    }
  }
  free(mem);
  *out = cand;
  return nc;
}

static size_t fuse_direction(fctx *c) {
  matcher *m = c->m;
  fcand *cand = NULL;
  size_t nc = candidates(c, &cand), made = 0;
  for (size_t i = 0; i < nc && !m->oom; i++) {
    const fcand *k = &cand[i];
    if (k->score < 0.2f) continue;
    bool clear = true;
    for (size_t j = 0; j < nc && clear; j++)
      if (j != i && (cand[j].f == k->f || cand[j].key == k->key) && cand[j].score > k->score - 0.15f) clear = false;
    for (int p = 0; p < k->npiece && clear; p++)
      if (k->piece[p] != UINT32_MAX && !is_free(c, c->ps, k->piece[p])) clear = false;
    if (clear && is_free(c, c->fs, k->f)) made += take_cand(c, k);
  }
  free(cand);
  return made;
}

size_t m_fused_pairs(matcher *m) {
  fctx join = {.m = m, .split = false, .fs = &m->T, .ps = &m->S};
  fctx cut = {.m = m, .split = true, .fs = &m->S, .ps = &m->T};
  size_t made = fuse_direction(&join);
  return made + fuse_direction(&cut);
}

/* The undecided targets that fit a fused tensor or its parts but for a convention (per-head
 * `query_key_value`, Meta's rotary `wq`/`wk`): why, and the sources they would be made of. */
static void blocked_direction(fctx *c, mfblock **v, size_t *n, size_t *cap) {
  fcand *cand = NULL;
  size_t nc = candidates(c, &cand);
  for (size_t i = 0; i < nc; i++) {
    const fcand *k = &cand[i];
    for (int p = 0; p < (c->split ? k->npiece : 1); p++) {
      if (c->split && k->piece[p] == UINT32_MAX) continue;
      if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        mfblock *nv = realloc(*v, *cap * sizeof *nv);
        if (!nv) {
          c->m->oom = true;
          free(cand);
          return;
        }
        *v = nv;
      }
      mfblock *b = &(*v)[(*n)++];
      memset(b, 0, sizeof *b);
      b->why = k->crossed;
      b->t = c->split ? k->piece[p] : k->f;
      if (c->split) {
        b->cand[b->ncand++] = k->f;
        b->part = (uint8_t)(p + 1);
        b->of = k->npiece;
      } else {
        for (int q = 0; q < k->npiece && b->ncand < 4; q++) b->cand[b->ncand++] = k->piece[q];
      }
    }
  }
  free(cand);
}

size_t m_fused_blocked(matcher *m, mfblock **out) {
  fctx join = {.m = m, .split = false, .probe = true, .fs = &m->T, .ps = &m->S};
  fctx cut = {.m = m, .split = true, .probe = true, .fs = &m->S, .ps = &m->T};
  size_t n = 0, cap = 0;
  *out = NULL;
  blocked_direction(&join, out, &n, &cap);
  blocked_direction(&cut, out, &n, &cap);
  return n;
}

/* ---- for the rules (induce.c) ------------------------------------------------------------------- */

bool m_split_first(const matcher *m, size_t p) {
  const mpair *pr = &m->pairs[p];
  for (size_t q = 0; q < p; q++) {
    const mpair *o = &m->pairs[q];
    if (o->ns && o->split_k && o->s[0] == pr->s[0]) return false;
  }
  return true;
}

int m_split_pieces(const matcher *m, uint32_t s, int64_t *sizes, int *axis) {
  int n = 0, cut = 0;
  int64_t sum = 0;
  for (size_t p = 0; p < m->npairs; p++) {
    const mpair *pr = &m->pairs[p];
    if (!pr->ns || !pr->split_k || pr->s[0] != s || pr->split_i >= M_MAXPARTS) continue;
    n = pr->split_k;
    cut = pr->cut;
    *axis = pr->axis;
    sizes[pr->split_i] = pr->len;
    sum += pr->len;
  }
  if (cut && cut <= n) sizes[cut - 1] = m->S.t[s].shape[*axis] - sum;
  return n;
}

bool m_split_alike(const matcher *m, uint32_t a, uint32_t b) {
  int64_t sa[M_MAXPARTS], sb[M_MAXPARTS];
  int xa = 0, xb = 0, na = m_split_pieces(m, a, sa, &xa), nb = m_split_pieces(m, b, sb, &xb);
  if (na != nb || xa != xb) return false;
  bool ea = true, eb = true, same = true;
  for (int i = 0; i < na; i++) {
    ea &= sa[i] == sa[0];
    eb &= sb[i] == sb[0];
    same &= sa[i] == sb[i];
  }
  return same || (ea && eb); /* equal pieces need no sizes */
}

/* The spellings of a part word, by style: q / query / wq. */
static const char *const spell[][3] = {
    {"q", "query", "wq"}, {"k", "key", "wk"}, {"v", "value", "wv"}, {"gate", "gate", "gate"}, {"up", "up", "up"}};

/* In `name`, the token (between separators, '_' and '-') that spells part `part`: its start
 * and length, and which style. */
static bool find_spelling(const char *name, int part, size_t *at, size_t *len, int *style) {
  for (size_t i = 0; name[i];) {
    size_t j = i;
    while (name[j] && name[j] != '.' && name[j] != '/' && name[j] != ':' && name[j] != '_' && name[j] != '-') j++;
    for (int st = 0; st < 3 && j > i; st++)
      if (strlen(spell[part][st]) == j - i && strncasecmp(name + i, spell[part][st], j - i) == 0) {
        *at = i, *len = j - i, *style = st;
        return true;
      }
    i = name[j] ? j + 1 : j;
  }
  return false;
}

static bool name_used(const matcher *m, const char *name, bool (*taken)(void *, const char *), void *ud) {
  for (size_t t = 0; t < m->T.n; t++)
    if (strcmp(m->T.t[t].name, name) == 0) return true;
  return taken(ud, name);
}

/* A name for the piece of split source s that no target takes: a neighbouring piece's target
 * name with its part word respelled (`blocks.0.attn.q_bias` -> `blocks.0.attn.k_bias`), so the
 * draft reads in target terms; NULL if no free name is found. */
char *m_cut_name(const matcher *m, uint32_t s, bool (*taken)(void *, const char *), void *ud) {
  const mpair *near = NULL;
  int cut = 0, part = 0;
  for (size_t p = 0; p < m->npairs; p++) {
    const mpair *pr = &m->pairs[p];
    if (!pr->ns || !pr->split_k || pr->s[0] != s || !pr->cut) continue;
    cut = pr->cut - 1;
    part = pr->cut_part;
    if (!near || abs(pr->split_i - cut) < abs(near->split_i - cut)) near = pr;
  }
  if (!near || part > FP_UP) return NULL;
  const char *tn = m->T.t[near->t].name;
  fparts fp;
  parts_of(m, &m->T.t[near->t], &fp);
  size_t at = 0, len = 0;
  int style = 0;
  wbr_buf b;
  wbr_buf_init(&b);
  if (fp.n == 1 && find_spelling(tn, fp.p[0], &at, &len, &style)) {
    const char *w = spell[part][style];
    wbr_buf_put(&b, tn, at);
    for (size_t i = 0; w[i]; i++) /* keep the case of the word it replaces */
      wbr_buf_putc(&b, (char)(i < len && tn[at + i] >= 'A' && tn[at + i] <= 'Z' ? w[i] - 'a' + 'A' : w[i]));
    wbr_buf_puts(&b, tn + at + len);
  } else {
    wbr_buf_printf(&b, "%s.%s", tn, fp_word[part]);
  }
  for (int tries = 0; tries < 4 && !b.oom; tries++) {
    wbr_buf_putc(&b, 0);
    if (!name_used(m, b.p, taken, ud)) return wbr_buf_take(&b);
    b.len--;
    wbr_buf_puts(&b, "_cut");
  }
  wbr_buf_free(&b);
  return NULL;
}

bool m_fused_why(const matcher *m, const mfblock *v, size_t n, uint32_t t, munres *u) {
  for (size_t i = 0; i < n; i++) {
    const mfblock *b = &v[i];
    if (b->t != t) continue;
    if (b->why == TWO_AXES || b->why == CUT_RIVAL)
      snprintf(u->why, sizeof u->why, "part %d of %d of the fused source \"%s\", but %s", b->part, b->of,
               m->S.t[b->cand[0]].name, b->why);
    else if (b->of)
      snprintf(u->why, sizeof u->why, "it fits as part %d of %d of the fused source \"%s\", but the pair crosses a %s",
               b->part, b->of, m->S.t[b->cand[0]].name, b->why);
    else
      snprintf(u->why, sizeof u->why, "%d free sources fit joined as its parts, but the pair crosses a %s", b->ncand,
               b->why);
    memcpy(u->cand, b->cand, sizeof u->cand);
    u->ncand = b->ncand;
    u->layout = b->why != m_qkv_param_why;
    u->param = !u->layout;
    return true;
  }
  return false;
}

/* ---- parts that fusion may take (order runs must not) ------------------------------------------ */

enum { FPM_PARTS = 0x1f, FPM_FUSED = 0x80 };

void m_fused_prepare(matcher *m) {
  for (int side = 0; side < 2; side++) {
    mside *sd = side ? &m->T : &m->S;
    m->pmask[side] = calloc(sd->n + 1, 1);
    m->fusedv[side] = malloc((sd->n + 1) * sizeof *m->fusedv[side]);
    m->nfused[side] = 0;
    if (!m->pmask[side] || !m->fusedv[side]) {
      m->oom = true;
      return;
    }
    for (uint32_t i = 0; i < sd->n; i++) {
      fparts fp;
      parts_of(m, &sd->t[i], &fp);
      uint8_t k = 0;
      for (int j = 0; j < fp.n; j++) k |= (uint8_t)(1u << fp.p[j]);
      if (fp.n >= 2) k |= FPM_FUSED, m->fusedv[side][m->nfused[side]++] = i;
      m->pmask[side][i] = k;
    }
  }
}

void m_fused_free(matcher *m) {
  for (int side = 0; side < 2; side++) {
    free(m->pmask[side]);
    free(m->fusedv[side]);
    m->pmask[side] = NULL;
    m->fusedv[side] = NULL;
    m->nfused[side] = 0;
  }
}

/* x (of side `side`) names one part that a free fused tensor of the other side, in x's block,
 * holds, and `other` (x's would-be partner) does not name it. */
static bool claimed(const matcher *m, int side, const mtensor *x, const mtensor *other) {
  const mside *sd = side ? &m->T : &m->S;
  uint8_t k = m->pmask[side][x - sd->t], ko = m->pmask[!side][other - (side ? &m->S : &m->T)->t];
  if (!(k & FPM_PARTS) || (k & FPM_FUSED) || (ko & k & FPM_PARTS) == (k & FPM_PARTS)) return false;
  for (size_t i = 0; i < m->nfused[!side]; i++) {
    uint32_t f = m->fusedv[!side][i];
    const mtensor *y = &(side ? &m->S : &m->T)->t[f];
    if (y == other || (m->pmask[!side][f] & k) != k || !(side ? m_src_free(m, f) : m_tgt_free(m, f))) continue;
    if (m_index_veto(m, side ? y : x, side ? x : y) < 0 && m_nsim(x, y) >= 0) return true;
  }
  return false;
}

bool m_fused_claims(const matcher *m, const mtensor *s, const mtensor *t) {
  if (!m->pmask[0] || !m->pmask[1]) return false;
  return claimed(m, 1, t, s) || claimed(m, 0, s, t);
}
