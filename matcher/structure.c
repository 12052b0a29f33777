/* structure.c — structure first (issue 10, docs/matcher.md "Structure"): the two name trees are
 * aligned as trees of modules, so that `layer1.0.{conv1,bn1}` meets `stage_0/block_0/reduce/
 * {conv,norm}` although the words share nothing. A module's signature is the multiset of its
 * leaves' roles and shapes (up to layout) and of its children's signatures; digit-siblings
 * (`conv1` + `bn1`, Keras' `conv2_block1_0_conv` + `..._bn`) form a module of their own. Modules
 * pair where their signature is unique among the unpaired children of two aligned parents, or
 * where decided pairs (anchors) say so; numbered, repeated modules (blocks) pair only by anchors,
 * and equal candidates without anchors stay undecided (an automorphism is never guessed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mint.h"

#define NONE UINT32_MAX
#define MAXSEG 32 /* segments of a name looked at; the rest is one segment */

/* ---- a string-keyed table over an arena ------------------------------------------------------ */

typedef struct smap {
  wbr_buf arena; /* the keys; entries hold offsets */
  struct sent {
    uint64_t h;
    uint32_t off, len, val, aux;
  } *e;
  size_t cap, n;
  bool oom;
} smap;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t hash_bytes(const char *p, size_t n) { return mix64(wbr_hash(p, n)) | 1; }

static bool smap_grow(smap *s) {
  size_t nc = s->cap ? s->cap * 2 : 1024;
  struct sent *ne = calloc(nc, sizeof *ne);
  if (!ne) return false;
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->e[i].h) continue;
    size_t k = s->e[i].h & (nc - 1);
    while (ne[k].h) k = (k + 1) & (nc - 1);
    ne[k] = s->e[i];
  }
  free(s->e);
  s->e = ne;
  s->cap = nc;
  return true;
}

/* The entry for key[0..n) (created with val NONE if new), or NULL when out of memory. */
static struct sent *smap_get(smap *s, const char *key, size_t n) {
  if (s->oom) return NULL;
  if (2 * (s->n + 1) > s->cap && !smap_grow(s)) {
    s->oom = true;
    return NULL;
  }
  uint64_t h = hash_bytes(key, n);
  size_t k = h & (s->cap - 1);
  for (; s->e[k].h; k = (k + 1) & (s->cap - 1))
    if (s->e[k].h == h && s->e[k].len == n && memcmp(s->arena.p + s->e[k].off, key, n) == 0) return &s->e[k];
  size_t off = s->arena.len;
  wbr_buf_put(&s->arena, key, n);
  if (s->arena.oom) {
    s->oom = true;
    return NULL;
  }
  s->e[k] = (struct sent){.h = h, .off = (uint32_t)off, .len = (uint32_t)n, .val = NONE, .aux = 0};
  s->n++;
  return &s->e[k];
}

/* Is key[0..n) in the table? */
static bool smap_has(const smap *s, const char *key, size_t n) {
  if (!s->cap) return false;
  uint64_t h = hash_bytes(key, n);
  for (size_t k = h & (s->cap - 1); s->e[k].h; k = (k + 1) & (s->cap - 1))
    if (s->e[k].h == h && s->e[k].len == n && memcmp(s->arena.p + s->e[k].off, key, n) == 0) return true;
  return false;
}

static void smap_free(smap *s) {
  wbr_buf_free(&s->arena);
  free(s->e);
}

/* ---- the module tree of one side --------------------------------------------------------------- */

typedef struct snode {
  uint32_t parent, child, next; /* first child, next sibling */
  uint32_t tensor;              /* a leaf's tensor, or NONE */
  uint32_t lo, hi;              /* its tensors: order[lo .. hi) */
  uint32_t nrel;                /* children with a signature */
  uint32_t nleaf;               /* leaves with a signature under it */
  uint64_t fam;                 /* its segment with the digit runs cut out (0: no digits) */
  uint64_t sig;                 /* 0: nothing under it can have a partner on the other side */
  uint64_t agg;                 /* what its parent's signature counts of it (a leaf's role folded) */
  bool rep;                     /* a member of a numbered family with repeated signatures */
} snode;

typedef struct stree {
  const mside *side;
  snode *n;
  size_t nn, cap;
  uint32_t *order, *pos; /* tensors in tree order; pos[tensor] */
  bool oom;
} stree;

static uint32_t node_new(stree *t, uint32_t parent, uint64_t fam) {
  if (!wbr_grow(&t->n, &t->cap, t->nn + 1, sizeof *t->n, 256)) {
    t->oom = true;
    return NONE;
  }
  uint32_t id = (uint32_t)t->nn++;
  t->n[id] = (snode){.parent = parent, .child = NONE, .next = NONE, .tensor = NONE, .fam = fam};
  if (parent != NONE) {
    t->n[id].next = t->n[parent].child;
    t->n[parent].child = id;
  }
  return id;
}

static bool is_sep(char c) { return c == '.' || c == '/' || c == ':'; }
static bool is_dig(char c) { return c >= '0' && c <= '9'; }

/* Segment boundaries of a name: starts and ends of up to MAXSEG segments. */
static int segments(const mtensor *x, size_t *st, size_t *en) {
  int n = 0;
  size_t i = 0;
  while (i <= x->len && n < MAXSEG) {
    size_t j = i;
    while (j < x->len && !(is_sep(x->name[j]) && n < MAXSEG - 1)) j++;
    st[n] = i;
    en[n++] = j;
    i = j + 1;
  }
  return n;
}

/* A segment's family: its text with every digit run cut out, hashed; 0 without digits. */
static uint64_t seg_family(const char *p, size_t n) {
  char buf[256];
  size_t k = 0;
  bool dig = false;
  for (size_t i = 0; i < n && k < sizeof buf - 1; i++) {
    if (is_dig(p[i])) {
      if (!dig) buf[k++] = '#';
      dig = true;
    } else {
      buf[k++] = p[i];
      dig = false;
    }
  }
  bool any = memchr(buf, '#', k) != NULL;
  return any ? hash_bytes(buf, k) : 0;
}

/* The digit-sibling key of a layer segment, into buf: `conv1` and `bn1` -> "#1" (the word before
 * the number cut), `conv2_block1_0_conv` and `..._bn` -> "conv2_block1_0#" (the word after the
 * last number cut). 0 when the segment has no digits or is only digits (downsample.0 is already a
 * child of downsample). */
static size_t sibling_key(const char *p, size_t n, char *buf, size_t cap) {
  size_t first = n, last = 0;
  for (size_t i = 0; i < n; i++)
    if (is_dig(p[i])) {
      if (first == n) first = i;
      last = i + 1;
    }
  if (first == n || (first == 0 && last == n) || n + 2 > cap) return 0;
  size_t k = 0;
  buf[k++] = '\x1f';
  if (last == n) {
    buf[k++] = '#';
    memcpy(buf + k, p + first, n - first);
    k += n - first;
  } else {
    memcpy(buf + k, p, last);
    k += last;
    buf[k++] = '#';
  }
  return k;
}

/* Child `seg` of node `parent`, created if new. */
static uint32_t child_of(stree *t, smap *nodes, uint32_t parent, const char *seg, size_t n) {
  char small[300], *key = n + 4 <= sizeof small ? small : malloc(n + 4);
  if (!key) {
    t->oom = true;
    return NONE;
  }
  memcpy(key, &parent, 4);
  memcpy(key + 4, seg, n);
  struct sent *e = smap_get(nodes, key, n + 4);
  if (key != small) free(key);
  if (!e) {
    t->oom = true;
    return NONE;
  }
  if (e->val == NONE) e->val = node_new(t, parent, seg_family(seg, n));
  return e->val;
}

/* Layers whose digit-sibling key is shared by two or more different layers of one parent. */
static void mark_siblings(stree *t, smap *groups) {
  const mside *sd = t->side;
  char key[600];
  for (size_t i = 0; i < sd->n; i++) {
    const mtensor *x = &sd->t[i];
    size_t st[MAXSEG], en[MAXSEG];
    int ns = segments(x, st, en);
    if (ns < 2) continue;
    const char *L = x->name + st[ns - 2];
    size_t ln = en[ns - 2] - st[ns - 2], gp = st[ns - 2];
    if (gp > 280) continue;
    memcpy(key, x->name, gp);
    size_t k = sibling_key(L, ln, key + gp, sizeof key - gp);
    if (!k) continue;
    struct sent *e = smap_get(groups, key, gp + k);
    if (!e) return;
    /* val: the first tensor seen under such a layer; aux: 1 one layer so far, 2 several */
    if (e->val == NONE) {
      e->val = (uint32_t)i;
      e->aux = 1;
    } else if (e->aux == 1) {
      const mtensor *y = &sd->t[e->val];
      size_t yst[MAXSEG], yen[MAXSEG];
      int yn = segments(y, yst, yen);
      size_t yl = yen[yn - 2] - yst[yn - 2];
      if (yl != ln || memcmp(y->name + yst[yn - 2], L, ln) != 0) e->aux = 2;
    }
  }
}

static void tree_insert(stree *t, smap *nodes, smap *groups, uint32_t i) {
  const mtensor *x = &t->side->t[i];
  size_t st[MAXSEG], en[MAXSEG];
  int ns = segments(x, st, en);
  uint32_t cur = 0;
  for (int k = 0; k + 1 < ns && cur != NONE; k++) {
    if (k == ns - 2 && st[k] <= 280) {
      char key[600];
      memcpy(key, x->name, st[k]);
      size_t kl = sibling_key(x->name + st[k], en[k] - st[k], key + st[k], sizeof key - st[k]);
      struct sent *e = kl ? smap_get(groups, key, st[k] + kl) : NULL;
      if (e && e->aux == 2) cur = child_of(t, nodes, cur, key + st[k], kl);
      if (cur == NONE) return;
    }
    cur = child_of(t, nodes, cur, x->name + st[k], en[k] - st[k]);
  }
  if (cur == NONE) return;
  uint32_t leaf = node_new(t, cur, seg_family(x->name + st[ns - 1], en[ns - 1] - st[ns - 1]));
  if (leaf != NONE) t->n[leaf].tensor = i;
}

/* Shape up to layout: the dimensions other than 1, sorted, and whether it is a float. */
static uint64_t shape_class(const mtensor *x) {
  int64_t d[WBR_MAX_DIMS];
  int n = 0;
  for (int k = 0; k < x->ndim; k++)
    if (x->shape[k] != 1) d[n++] = x->shape[k];
  for (int a = 1; a < n; a++)
    for (int b = a; b > 0 && d[b - 1] > d[b]; b--) {
      int64_t v = d[b];
      d[b] = d[b - 1];
      d[b - 1] = v;
    }
  bool fl = x->dtype == WBR_F64 || x->dtype == WBR_F32 || x->dtype == WBR_F16 || x->dtype == WBR_BF16;
  uint64_t h = mix64(0x5ca1ab1eull + (uint64_t)fl);
  for (int k = 0; k < n; k++) h = mix64(h ^ (uint64_t)d[k]);
  return h | 1;
}

typedef struct famsig {
  uint64_t fam, sig;
  uint32_t node;
} famsig;

static int famsig_cmp(const void *a, const void *b) {
  const famsig *x = a, *y = b;
  if (x->fam != y->fam) return x->fam < y->fam ? -1 : 1;
  if (x->sig != y->sig) return x->sig < y->sig ? -1 : 1;
  return 0;
}

/* Children of v that belong to a numbered family in which two members look alike: blocks of a
 * stage. Such modules are told apart by numbers and anchors only, never by a signature. */
static void mark_repeats(stree *t, uint32_t v, famsig *buf) {
  size_t n = 0;
  for (uint32_t c = t->n[v].child; c != NONE; c = t->n[c].next)
    if (t->n[c].sig && t->n[c].fam) buf[n++] = (famsig){t->n[c].fam, t->n[c].sig, c};
  if (n < 2) return;
  qsort(buf, n, sizeof *buf, famsig_cmp);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    bool rep = false;
    while (j < n && buf[j].fam == buf[i].fam) {
      if (j > i && buf[j].sig == buf[j - 1].sig) rep = true;
      j++;
    }
    for (size_t k = i; k < j && rep; k++) t->n[buf[k].node].rep = true;
    i = j;
  }
}

/* Tree order, ranges and signatures (post order; the tree is at most MAXSEG + 2 deep). */
static void finish(stree *t, uint32_t v, uint32_t *at, const smap *other, const bool *skip, famsig *buf) {
  snode *x = &t->n[v];
  x->lo = *at;
  if (x->tensor != NONE) {
    const mtensor *y = &t->side->t[x->tensor];
    t->order[*at] = x->tensor;
    t->pos[x->tensor] = (*at)++;
    x->hi = *at;
    uint64_t cls = shape_class(y);
    char key[8];
    memcpy(key, &cls, 8);
    bool rel = !(skip && skip[x->tensor]) && smap_has(other, key, 8);
    /* to its module, a weight and a word the matcher does not know as a role (Keras' gamma, a
     * layer scale) may be the same thing; bias, mean, var and counters are told apart. The leaf
     * itself keeps its role: an unknown word pairs with a weight only as the one leftover. */
    int role = y->role == ROLE_OTHER ? ROLE_WEIGHT : y->role;
    x->sig = rel ? mix64(cls ^ (0x1eafull + 0x9e3779b97f4a7c15ull * (uint64_t)(y->role + 1))) | 1 : 0;
    x->agg = rel ? mix64(cls ^ (0x1eafull + 0x9e3779b97f4a7c15ull * (uint64_t)(role + 1))) | 1 : 0;
    x->nleaf = rel;
    return;
  }
  uint64_t sum = 0, only = 0;
  uint32_t nrel = 0, nleaf = 0;
  for (uint32_t c = x->child; c != NONE; c = t->n[c].next) {
    finish(t, c, at, other, skip, buf);
    if (!t->n[c].sig) continue;
    nrel++;
    nleaf += t->n[c].nleaf;
    only = t->n[c].sig;
    sum += mix64(t->n[c].agg);
  }
  x = &t->n[v];
  x->hi = *at;
  x->nrel = nrel;
  x->nleaf = nleaf;
  /* a module with one child is only a wrapper (`module.`, timm's head.fc): transparent */
  x->sig = nrel == 0 ? 0 : nrel == 1 ? only : mix64(sum ^ (0xc0ffeeull * nrel)) | 1;
  x->agg = x->sig;
  mark_repeats(t, v, buf);
}

static void tree_free(stree *t) {
  free(t->n);
  free(t->order);
  free(t->pos);
}

static void classes_of(const mside *sd, smap *out) {
  for (size_t i = 0; i < sd->n; i++) {
    uint64_t c = shape_class(&sd->t[i]);
    char k[8];
    memcpy(k, &c, 8);
    smap_get(out, k, 8);
  }
}

/* The tree of one side; a leaf has a signature only if the other side has a tensor of its shape
 * class (counters the target lacks do not make two modules look different). */
static bool tree_build(stree *t, const mside *sd, const smap *other, const bool *skip) {
  smap nodes = {0}, groups = {0};
  famsig *buf = NULL;
  t->side = sd;
  node_new(t, NONE, 0);
  mark_siblings(t, &groups);
  for (uint32_t i = 0; i < sd->n && !t->oom; i++) tree_insert(t, &nodes, &groups, i);
  t->order = malloc((sd->n + 1) * sizeof *t->order);
  t->pos = malloc((sd->n + 1) * sizeof *t->pos);
  buf = malloc((t->nn + 1) * sizeof *buf);
  bool ok = !t->oom && !nodes.oom && !groups.oom && t->order && t->pos && buf;
  if (ok) {
    uint32_t at = 0;
    finish(t, 0, &at, other, skip, buf);
  }
  free(buf);
  smap_free(&nodes);
  smap_free(&groups);
  return ok;
}

/* ---- aligning the two trees -------------------------------------------------------------------- */

typedef struct item {
  uint32_t v;
  bool need; /* pairs only by anchors (a numbered, repeated module, or inside one) */
} item;

typedef struct actx {
  matcher *m;
  stree S, T;
  mprop *out;
  size_t n, cap;
  uint32_t *al; /* aligned module pairs (source node, target node), parents before children */
  size_t nal, alcap;
  bool oom;
} actx;

static void aligned(actx *c, uint32_t a, uint32_t b) {
  if (c->nal == c->alcap) {
    size_t nc = c->alcap ? c->alcap * 2 : 64;
    uint32_t *na = realloc(c->al, 2 * nc * sizeof *na);
    if (!na) {
      c->oom = true;
      return;
    }
    c->al = na;
    c->alcap = nc;
  }
  c->al[2 * c->nal] = a;
  c->al[2 * c->nal + 1] = b;
  c->nal++;
}

static bool src_free(const matcher *m, uint32_t i) {
  return m->S.t[i].pair < 0 && !(m->src_used_by_update && m->src_used_by_update[i]);
}
static bool tgt_free(const matcher *m, uint32_t i) {
  return m->T.t[i].pair < 0 && !(m->tgt_done_by_update && m->tgt_done_by_update[i]);
}

/* "…" and the end of a tensor's module name, for the evidence text. */
static void module_tail(char *out, size_t n, const mtensor *x) {
  size_t e = x->len;
  while (e > 0 && !is_sep(x->name[e - 1])) e--;
  if (e > 0) e--;
  size_t b = e > 40 ? e - 40 : 0;
  snprintf(out, n, "%s%.*s", b ? "..." : "", (int)(e - b), x->name + b);
}

static void propose(actx *c, uint32_t a, uint32_t b) {
  uint32_t s = c->S.n[a].tensor, t = c->T.n[b].tensor;
  if (!src_free(c->m, s) || !tgt_free(c->m, t)) return;
  if (!wbr_grow(&c->out, &c->cap, c->n + 1, sizeof *c->out, 64)) {
    c->oom = true;
    return;
  }
  mprop *p = &c->out[c->n++];
  char x[48], y[48];
  module_tail(x, sizeof x, &c->m->S.t[s]);
  module_tail(y, sizeof y, &c->m->T.t[t]);
  p->s = s;
  p->t = t;
  snprintf(p->why, sizeof p->why, "aligned modules %s ~ %s", x, y);
}

static int item_sig_cmp(const void *a, const void *b, void *ud) {
  const stree *t = ud;
  uint64_t x = t->n[((const item *)a)->v].sig, y = t->n[((const item *)b)->v].sig;
  return x < y ? -1 : x > y;
}

static int item_lo_cmp(const void *a, const void *b, void *ud) {
  const stree *t = ud;
  uint32_t x = t->n[((const item *)a)->v].lo, y = t->n[((const item *)b)->v].lo;
  return x < y ? -1 : x > y;
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct ilist {
  item *v;
  size_t n, cap;
} ilist;

static bool ilist_push(ilist *l, item x) {
  if (!wbr_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v, 16)) return false;
  l->v[l->n++] = x;
  return true;
}

/* Follow wrappers: a module with one child is that child. */
static uint32_t resolve(const stree *t, uint32_t v) {
  while (t->n[v].tensor == NONE && t->n[v].nrel == 1) {
    uint32_t c = t->n[v].child;
    while (c != NONE && !t->n[c].sig) c = t->n[c].next;
    if (c == NONE) break;
    v = c;
  }
  return v;
}

/* The children of v that have a signature, each through its wrappers (`stages.0.blocks`). */
static bool children(const stree *t, uint32_t v, bool need, ilist *out) {
  for (uint32_t c = t->n[v].child; c != NONE; c = t->n[c].next)
    if (t->n[c].sig && !ilist_push(out, (item){resolve(t, c), need || t->n[c].rep})) return false;
  return true;
}

/* Drop the items marked NONE. */
static void compact(ilist *l) {
  size_t k = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].v != NONE) l->v[k++] = l->v[i];
  l->n = k;
}

/* The unpaired modules of `l` (whose signature `o` lacks) with the most leaves, into *best. */
static void largest(const stree *t, const ilist *l, const uint64_t *osig, size_t on, uint32_t *best) {
  for (size_t i = 0; i < l->n; i++) {
    const snode *x = &t->n[l->v[i].v];
    if (x->tensor != NONE || x->nrel < 2 || x->nleaf <= *best) continue;
    if (!bsearch(&x->sig, osig, on, sizeof *osig, u64_cmp)) *best = x->nleaf;
  }
}

/* Replace those unpaired modules of `l` that have `size` leaves or more by their children: the
 * coarsest level first, so that a wrapper on one side (`encoder/`) opens before the other side's
 * stages. */
static bool expand(const stree *t, ilist *l, const uint64_t *osig, size_t on, uint32_t size) {
  size_t n0 = l->n;
  for (size_t i = 0; i < n0; i++) {
    item x = l->v[i];
    const snode *y = &t->n[x.v];
    if (y->tensor != NONE || y->nrel < 2 || y->nleaf < size || bsearch(&y->sig, osig, on, sizeof *osig, u64_cmp))
      continue;
    l->v[i].v = NONE;
    /* what was opened pairs only by anchors: a module that differs from its counterpart (a
     * tensor missing) must not lend its parts to another module's leftovers */
    if (!children(t, x.v, true, l)) return false;
  }
  compact(l);
  return true;
}

static uint64_t *sigs_of(const stree *t, const ilist *l) {
  uint64_t *s = malloc((l->n + 1) * sizeof *s);
  if (!s) return NULL;
  for (size_t i = 0; i < l->n; i++) s[i] = t->n[l->v[i].v].sig;
  qsort(s, l->n, sizeof *s, u64_cmp);
  return s;
}

#define BLOCKED (NONE - 1)

/* Which item of g (sorted by lo) holds tree position p, or NONE. */
static uint32_t holder(const stree *t, const item *g, size_t n, uint32_t p) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (t->n[g[mid].v].lo <= p) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return NONE;
  const snode *x = &t->n[g[lo - 1].v];
  return p < x->hi ? (uint32_t)(lo - 1) : NONE;
}

/* For each item of ga (source side if src): the one item of gb that holds the partners of every
 * paired tensor under it (an anchor), NONE without pairs, BLOCKED when they go elsewhere. A pair
 * made by definition order alone may block but never anchor: order is a tie-breaker, and a run
 * through a shuffled side must not carry a whole block with it. */
static void anchors(const actx *c, bool src, const item *ga, size_t na, const item *gb, size_t nb, uint32_t *out) {
  const stree *ta = src ? &c->S : &c->T, *tb = src ? &c->T : &c->S;
  const matcher *m = c->m;
  for (size_t i = 0; i < na; i++) {
    const snode *x = &ta->n[ga[i].v];
    uint32_t a = NONE, weak = NONE;
    for (uint32_t k = x->lo; k < x->hi && a != BLOCKED; k++) {
      uint32_t ti = ta->order[k];
      int32_t pi = (src ? m->S.t : m->T.t)[ti].pair;
      if (pi < 0) continue;
      const mpair *p = &m->pairs[pi];
      uint32_t *slot = p->ev == EV_ORDER ? &weak : &a;
      for (int q = 0; q < (src ? 1 : p->ns) && a != BLOCKED; q++) {
        uint32_t o = src ? p->t : p->s[q];
        uint32_t h = holder(tb, gb, nb, tb->pos[o]);
        *slot = h == NONE ? BLOCKED : *slot == NONE || *slot == h ? h : BLOCKED;
        if (weak == BLOCKED) a = BLOCKED;
      }
    }
    if (a != BLOCKED && weak != NONE && a != NONE && a != weak) a = BLOCKED;
    out[i] = a;
  }
}

static void align(actx *c, uint32_t a, uint32_t b, bool top, bool weak);

/* One group of equal signatures: anchored pairs, and a lone unanchored pair where neither
 * needs anchors; everything else stays for other evidence. Under the two roots, which only
 * correspond by assumption, a lone tensor of a unique shape is not structure: it needs names. */
static void pair_group(actx *c, item *ga, size_t na, item *gb, size_t nb, bool top) {
  qsort_r(ga, na, sizeof *ga, item_lo_cmp, &c->S);
  qsort_r(gb, nb, sizeof *gb, item_lo_cmp, &c->T);
  uint32_t *A = malloc((na + 1) * sizeof *A), *B = malloc((nb + 1) * sizeof *B);
  if (!A || !B) {
    c->oom = true;
    free(A);
    free(B);
    return;
  }
  anchors(c, true, ga, na, gb, nb, A);
  anchors(c, false, gb, nb, ga, na, B);
  size_t ua = 0, ub = 0, ia = 0, ib = 0;
  bool blocked = false;
  for (size_t i = 0; i < na; i++) {
    if (A[i] == NONE) ua++, ia = i;
    blocked |= A[i] == BLOCKED;
  }
  for (size_t j = 0; j < nb; j++) {
    if (B[j] == NONE) ub++, ib = j;
    blocked |= B[j] == BLOCKED;
  }
  for (size_t i = 0; i < na && !c->oom; i++)
    if (A[i] < BLOCKED && B[A[i]] == i) align(c, ga[i].v, gb[A[i]].v, false, false);
  bool leaf = c->S.n[resolve(&c->S, ga[ia].v)].tensor != NONE;
  if (na == nb && ua == 1 && ub == 1 && !blocked && !ga[ia].need && !gb[ib].need && !(top && leaf) && !c->oom)
    align(c, ga[ia].v, gb[ib].v, false, false);
  free(A);
  free(B);
}

typedef struct lo_ctx {
  const stree *t;
  const item *v;
} lo_ctx;

static int index_lo_cmp(const void *a, const void *b, void *ud) {
  const lo_ctx *c = ud;
  uint32_t x = c->t->n[c->v[*(const uint32_t *)a].v].lo, y = c->t->n[c->v[*(const uint32_t *)b].v].lo;
  return x < y ? -1 : x > y;
}

/* The items of l whose signature o lacks, as indices into l sorted by position, and copies. */
static size_t unmatched(const stree *t, const ilist *l, const uint64_t *o, size_t on, uint32_t *ix, item *cp) {
  size_t n = 0;
  for (size_t i = 0; i < l->n; i++)
    if (!bsearch(&t->n[l->v[i].v].sig, o, on, sizeof *o, u64_cmp)) ix[n++] = (uint32_t)i;
  lo_ctx lc = {t, l->v};
  qsort_r(ix, n, sizeof *ix, index_lo_cmp, &lc);
  for (size_t k = 0; k < n; k++) cp[k] = l->v[ix[k]];
  return n;
}

/* Unpaired modules of the two lists that anchors pair although their signatures differ: taken
 * out of the lists into pend (source, target, ...), to be aligned as they are. */
static bool pair_anchored(actx *c, ilist *LA, ilist *LB, const uint64_t *sa, const uint64_t *sb, ilist *pend) {
  uint32_t *ia = malloc((LA->n + 1) * sizeof *ia), *ib = malloc((LB->n + 1) * sizeof *ib);
  uint32_t *A = malloc((LA->n + 1) * sizeof *A), *B = malloc((LB->n + 1) * sizeof *B);
  item *ua = malloc((LA->n + 1) * sizeof *ua), *ub = malloc((LB->n + 1) * sizeof *ub);
  bool ok = ia && ib && A && B && ua && ub;
  if (ok) {
    size_t na = unmatched(&c->S, LA, sb, LB->n, ia, ua), nb = unmatched(&c->T, LB, sa, LA->n, ib, ub);
    anchors(c, true, ua, na, ub, nb, A);
    anchors(c, false, ub, nb, ua, na, B);
    for (size_t k = 0; k < na && ok; k++) {
      if (A[k] >= BLOCKED || B[A[k]] != k) continue;
      ok = ilist_push(pend, ua[k]) && ilist_push(pend, ub[A[k]]);
      LA->v[ia[k]].v = NONE;
      LB->v[ib[A[k]]].v = NONE;
    }
    compact(LA);
    compact(LB);
  }
  free(ia), free(ib), free(A), free(B), free(ua), free(ub);
  return ok;
}

/* The one leaf of each side that no signature paired, where their roles differ only by a word
 * the matcher does not know (Keras' gamma for a weight): the same place in aligned modules. */
static void leftover_leaf(actx *c, const ilist *LA, const ilist *LB) {
  uint64_t *sa = sigs_of(&c->S, LA), *sb = sigs_of(&c->T, LB);
  uint32_t la = NONE, lb = NONE;
  size_t na = 0, nb = 0;
  for (size_t i = 0; i < LA->n && sa && sb; i++)
    if (!bsearch(&c->S.n[LA->v[i].v].sig, sb, LB->n, sizeof *sb, u64_cmp)) na++, la = LA->v[i].need ? NONE : LA->v[i].v;
  for (size_t j = 0; j < LB->n && sa && sb; j++)
    if (!bsearch(&c->T.n[LB->v[j].v].sig, sa, LA->n, sizeof *sa, u64_cmp)) nb++, lb = LB->v[j].need ? NONE : LB->v[j].v;
  if (!sa || !sb) c->oom = true;
  free(sa);
  free(sb);
  if (na != 1 || nb != 1 || la == NONE || lb == NONE) return;
  if (c->S.n[la].tensor == NONE || c->T.n[lb].tensor == NONE || c->S.n[la].agg != c->T.n[lb].agg) return;
  propose(c, la, lb);
}

/* Align two modules known to correspond: their children, level by level. Two modules that only
 * anchors pair (their signatures differ: a tensor missing, another nesting) are `weak`: their
 * children too pair only by anchors, since names that lie about one part (a renumbered block)
 * would otherwise carry a neighbour along. */
static void align(actx *c, uint32_t a, uint32_t b, bool top, bool weak) {
  a = resolve(&c->S, a);
  b = resolve(&c->T, b);
  bool la = c->S.n[a].tensor != NONE, lb = c->T.n[b].tensor != NONE;
  if (la || lb) {
    if (la && lb) propose(c, a, b);
    return;
  }
  if (!top) aligned(c, a, b);
  ilist LA = {0}, LB = {0}, pend = {0};
  bool ok = children(&c->S, a, weak, &LA) && children(&c->T, b, weak, &LB);
  /* an unpaired module larger than everything unpaired on the other side can meet its
   * counterpart only inside itself: open it; where both sides' largest are alike, open both */
  for (bool more = true; ok && more;) {
    uint64_t *sa = sigs_of(&c->S, &LA), *sb = sigs_of(&c->T, &LB);
    size_t na = LA.n, nb = LB.n; /* the lists change below; the signatures are of these */
    uint32_t ma = 0, mb = 0;
    if (sa && sb) {
      largest(&c->S, &LA, sb, nb, &ma);
      largest(&c->T, &LB, sa, na, &mb);
    }
    /* modules that differ (a tensor missing) but whose pairs say they correspond are aligned as
     * they are, not opened */
    if (sa && sb && !pair_anchored(c, &LA, &LB, sa, sb, &pend)) ok = false;
    more = ma || mb;
    uint32_t ta = ma > mb ? mb + 1 : ma == mb ? ma : UINT32_MAX, tb = mb > ma ? ma + 1 : ma == mb ? mb : UINT32_MAX;
    ok = sa && sb && (!more || (expand(&c->S, &LA, sb, nb, ta) && expand(&c->T, &LB, sa, na, tb)));
    free(sa);
    free(sb);
  }
  if (ok) {
    if (LA.n) qsort_r(LA.v, LA.n, sizeof *LA.v, item_sig_cmp, &c->S); /* an empty list may be NULL */
    if (LB.n) qsort_r(LB.v, LB.n, sizeof *LB.v, item_sig_cmp, &c->T);
    for (size_t i = 0, j = 0; i < LA.n && j < LB.n && !c->oom;) {
      uint64_t x = c->S.n[LA.v[i].v].sig, y = c->T.n[LB.v[j].v].sig;
      if (x < y) {
        i++;
        continue;
      }
      if (y < x) {
        j++;
        continue;
      }
      size_t i2 = i, j2 = j;
      while (i2 < LA.n && c->S.n[LA.v[i2].v].sig == x) i2++;
      while (j2 < LB.n && c->T.n[LB.v[j2].v].sig == x) j2++;
      pair_group(c, LA.v + i, i2 - i, LB.v + j, j2 - j, top);
      i = i2;
      j = j2;
    }
    if (!top) leftover_leaf(c, &LA, &LB);
    for (size_t k = 0; k + 1 < pend.n && !c->oom; k += 2) align(c, pend.v[k].v, pend.v[k + 1].v, false, true);
  } else {
    c->oom = true;
  }
  free(LA.v);
  free(LB.v);
  free(pend.v);
}

/* What the alignment says about any pair, kept until the next alignment: for each tensor, the
 * counterpart of the deepest aligned module it is under (a range of the other tree's order). */
struct mstruct {
  uint32_t *lo[2], *hi[2]; /* per side (0 source, 1 target) and tensor; lo NONE: no module */
  uint32_t *pos[2];        /* each tensor's place in its own tree's order */
};

void m_structure_free(matcher *m) {
  struct mstruct *x = m->structure;
  if (!x) return;
  for (int k = 0; k < 2; k++) free(x->lo[k]), free(x->hi[k]), free(x->pos[k]);
  free(x);
  m->structure = NULL;
}

static bool keep_alignment(actx *c) {
  matcher *m = c->m;
  m_structure_free(m);
  struct mstruct *x = calloc(1, sizeof *x);
  if (!x) return false;
  m->structure = x;
  for (int k = 0; k < 2; k++) {
    const stree *t = k ? &c->T : &c->S;
    size_t n = t->side->n;
    x->lo[k] = malloc((n + 1) * sizeof *x->lo[k]);
    x->hi[k] = malloc((n + 1) * sizeof *x->hi[k]);
    x->pos[k] = malloc((n + 1) * sizeof *x->pos[k]);
    if (!x->lo[k] || !x->hi[k] || !x->pos[k]) return false;
    memcpy(x->pos[k], t->pos, n * sizeof *t->pos);
    for (size_t i = 0; i < n; i++) x->lo[k][i] = NONE;
  }
  /* parents were aligned before their children: the last pair over a tensor is its deepest */
  for (size_t p = 0; p < c->nal; p++)
    for (int k = 0; k < 2; k++) {
      const snode *a = &(k ? &c->T : &c->S)->n[c->al[2 * p + k]], *b = &(k ? &c->S : &c->T)->n[c->al[2 * p + 1 - k]];
      const stree *t = k ? &c->T : &c->S;
      for (uint32_t q = a->lo; q < a->hi; q++) {
        x->lo[k][t->order[q]] = b->lo;
        x->hi[k][t->order[q]] = b->hi;
      }
    }
  return true;
}

/* Would (s, t) pair the leftovers of two aligned modules: s outside the counterpart of t's
 * module and t outside the counterpart of s's (issue 10 class 1)? Only a hint may. One side
 * alone is not enough: an aligned module may hold more than its counterpart (timm's stages.1
 * holds the downsample that torchvision keeps in features.2). */
bool m_structure_veto(const matcher *m, uint32_t s, uint32_t t) {
  const struct mstruct *x = m->structure;
  if (!x || x->lo[0][s] == NONE || x->lo[1][t] == NONE) return false;
  return (x->pos[1][t] < x->lo[0][s] || x->pos[1][t] >= x->hi[0][s]) &&
         (x->pos[0][s] < x->lo[1][t] || x->pos[0][s] >= x->hi[1][t]);
}

size_t m_structure_propose(matcher *m, mprop **out) {
  actx c = {.m = m};
  smap cs = {0}, ct = {0};
  *out = NULL;
  classes_of(&m->S, &cs);
  classes_of(&m->T, &ct);
  bool ok = !cs.oom && !ct.oom && tree_build(&c.S, &m->S, &ct, m->src_used_by_update) &&
            tree_build(&c.T, &m->T, &cs, m->tgt_done_by_update);
  if (ok) align(&c, 0, 0, true, false);
  if (ok && !c.oom && !keep_alignment(&c)) c.oom = true;
  if (!ok || c.oom) {
    m->oom = true;
    free(c.out);
    c.out = NULL;
    c.n = 0;
  }
  free(c.al);
  tree_free(&c.S);
  tree_free(&c.T);
  smap_free(&cs);
  smap_free(&ct);
  *out = c.out;
  return c.n;
}
