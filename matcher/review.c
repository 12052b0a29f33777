/* review.c — what a reviewer of a draft needs: hints that carry a layout (`--hint 'A=B
 * transpose'`, `hint "A" = "B" permute (...)`: the pair is taken with exactly that layout), and
 * the REVIEW section of the draft's header and of the summary: what exit 0 proves, and every
 * decision that rests on names or order alone among same-shape candidates (docs/matcher.md,
 * "What exit 0 proves"). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mint.h"

/* ---- hints with a layout ------------------------------------------------------------------- */

static const char *skip_sp(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* "(a, b, ...)" at p into h->perm; the list must be a permutation (as `permute` checks it). */
static int parse_axes(mhint *h, wbr_ctx *ctx, const char *arg, const char *p) {
  static const char help[] = "write the axes in parentheses, each once, e.g. --hint 'A=B permute (3, 2, 0, 1)'";
  p = skip_sp(p);
  if (*p != '(') return wbr_fail(ctx, WBR_ERULES, "--hint", help, "hint '%s': 'permute' wants a list of axes in parentheses", arg);
  p = skip_sp(p + 1);
  bool seen[WBR_MAX_DIMS] = {false};
  int n = 0;
  while (*p != ')') {
    if (!isdigit((unsigned char)*p) || n == WBR_MAX_DIMS)
      return wbr_fail(ctx, WBR_ERULES, "--hint", help, "hint '%s': the axes must be at most %d numbers", arg, WBR_MAX_DIMS);
    long v = strtol(p, (char **)&p, 10);
    if (v >= WBR_MAX_DIMS) return wbr_fail(ctx, WBR_ERULES, "--hint", help, "hint '%s': axis %ld is too large", arg, v);
    h->perm[n++] = (uint8_t)v;
    p = skip_sp(p);
    if (*p == ',') p = skip_sp(p + 1);
    else if (*p != ')') return wbr_fail(ctx, WBR_ERULES, "--hint", help, "hint '%s': expected ',' or ')' in the axes", arg);
  }
  if (*skip_sp(p + 1)) return wbr_fail(ctx, WBR_ERULES, "--hint", help, "hint '%s': text after the axes", arg);
  for (int i = 0; i < n; i++) {
    if (h->perm[i] >= n || seen[h->perm[i]])
      return wbr_fail(ctx, WBR_ERULES, "--hint", help, "hint '%s': the axes are not a permutation of 0..%d", arg, n - 1);
    seen[h->perm[i]] = true;
  }
  if (n == 0) return wbr_fail(ctx, WBR_ERULES, "--hint", help, "hint '%s': empty list of axes", arg);
  h->nperm = (uint8_t)n;
  return 0;
}

int m_hint_parse(mhint *h, wbr_ctx *ctx, const char *arg) {
  memset(h, 0, sizeof *h);
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg || !eq[1])
    return wbr_fail(ctx, WBR_EUSAGE, "--hint", "write it as SOURCE_NAME=TARGET_NAME (globs allowed)",
                    "hint '%s' has no '='", arg);
  /* The target glob ends at the first space; what follows is the layout. */
  const char *end = eq + 1;
  while (*end && *end != ' ' && *end != '\t') end++;
  const char *lay = skip_sp(end);
  if (*lay) {
    size_t w = 0;
    while (isalpha((unsigned char)lay[w])) w++;
    if (w == 9 && !strncmp(lay, "transpose", 9) && !*skip_sp(lay + 9)) {
      h->nperm = 2, h->perm[0] = 1, h->perm[1] = 0;
    } else if (w == 7 && !strncmp(lay, "permute", 7)) {
      int rc = parse_axes(h, ctx, arg, lay + 7);
      if (rc) return rc;
    } else {
      return wbr_fail(ctx, WBR_ERULES, "--hint",
                      "after the target name write nothing, 'transpose' or 'permute (AXES)': --hint 'A=B transpose'",
                      "hint '%s': '%s' is not a layout", arg, lay);
    }
  }
  /* src is A; tgt is B (up to the layout), both in one allocation */
  size_t na = (size_t)(eq - arg), nb = (size_t)(end - eq - 1);
  char *a = malloc(na + nb + 2);
  if (!a) return wbr_oom(ctx);
  memcpy(a, arg, na);
  a[na] = 0;
  memcpy(a + na + 1, eq + 1, nb);
  a[na + 1 + nb] = 0;
  h->src = a;
  h->tgt = a + na + 1;
  return 0;
}

static bool is_identity(const uint8_t *perm, int n) {
  for (int i = 0; i < n; i++)
    if (perm[i] != i) return false;
  return true;
}

int m_hint_layout(const mhint *h, const mtensor *s, const mtensor *t, mlayout *out, char *bad, size_t nb) {
  memset(out, 0, sizeof *out);
  char ss[96], ts[96], ps[96];
  wbr_shape_str(ss, sizeof ss, s->ndim, s->shape);
  wbr_shape_str(ts, sizeof ts, t->ndim, t->shape);
  if (s->ndim != h->nperm) {
    snprintf(bad, nb, "the layout has %d axes, the source %s has %d", h->nperm, ss, s->ndim);
    return out->rel = REL_NONE;
  }
  int64_t got[WBR_MAX_DIMS];
  for (int i = 0; i < h->nperm; i++) got[i] = s->shape[h->perm[i]];
  bool fits = t->ndim == h->nperm;
  for (int i = 0; fits && i < h->nperm; i++) fits = got[i] == t->shape[i];
  if (!fits) {
    wbr_shape_str(ps, sizeof ps, h->nperm, got);
    snprintf(bad, nb, "under that layout the source %s becomes %s, not the target's %s", ss, ps, ts);
    return out->rel = REL_NONE;
  }
  if (is_identity(h->perm, h->nperm)) return out->rel = REL_ID;
  out->rel = h->nperm == 2 ? REL_TRANSPOSE : REL_PERMUTE;
  out->nops = 1;
  out->op[0].kind = MOP_PERMUTE;
  out->op[0].n = h->nperm;
  for (int i = 0; i < h->nperm; i++) out->op[0].v[i] = h->perm[i];
  return out->rel;
}

/* ---- rivals: what else was a candidate when a pair was decided by names or order ------------ */

enum { MAXBIND = 4 };

/* One tensor in the scan order: its shape (hashed), and its numbers that a (non-depth) index map
 * constrains, as (family, value); `key` is the one of the family with the most numbers. */
typedef struct rent {
  uint64_t h;
  uint32_t i;
  uint32_t fam[MAXBIND];
  int64_t val[MAXBIND];
  uint8_t n, key;
  bool depth; /* a member of a family of another depth: a candidate that is never vetoed away */
} rent;

static uint64_t hash_shape(const mtensor *x) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)x->ndim;
  for (int d = 0; d < x->ndim; d++) h = (h ^ (uint64_t)x->shape[d]) * 1099511628211ull;
  return h;
}

static bool has_val(const int64_t *v, uint32_t n, int64_t x) {
  for (uint32_t lo = 0, hi = n; lo < hi;) {
    uint32_t mid = (lo + hi) / 2;
    if (v[mid] == x) return true;
    if (v[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

static void rent_fill(const matcher *m, const mtensor *x, bool src, uint32_t i, rent *e) {
  memset(e, 0, sizeof *e);
  e->h = hash_shape(x);
  e->i = i;
  if (!m->fam_active) return;
  uint32_t best = 0;
  for (int a = 0; a < x->nsf; a++) {
    int32_t c = (src ? m->fcorr_of_s : m->fcorr_of_t)[x->sfam[a]];
    if (c < 0) continue;
    const mfcorr *fc = &m->fcorr[c];
    uint32_t nv = src ? fc->ns : fc->nt;
    if (!has_val(src ? fc->vs : fc->vt, nv, x->sval[a])) continue;
    if (fc->depth) {
      e->depth = true;
      continue;
    }
    if (e->n == MAXBIND) continue; /* fewer binds only skip fewer */
    if (nv > best) best = nv, e->key = e->n;
    e->fam[e->n] = x->sfam[a];
    e->val[e->n++] = x->sval[a];
  }
  if (e->depth) e->n = 0; /* sorted apart from the keyed ones, so never skipped unseen */
}

static uint32_t key_fam(const rent *e) { return e->n ? e->fam[e->key] : UINT32_MAX; }
static int64_t key_val(const rent *e) { return e->n ? e->val[e->key] : 0; }

static int rent_cmp(const void *a, const void *b) {
  const rent *x = a, *y = b;
  if (x->h != y->h) return x->h < y->h ? -1 : 1;
  if (key_fam(x) != key_fam(y)) return key_fam(x) < key_fam(y) ? -1 : 1;
  if (key_val(x) != key_val(y)) return key_val(x) < key_val(y) ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Does the map of family `fam` (of x's side) bind `other` (of the other side): is `other` in the
 * partner family with a number of the map? Then a tensor of x's side in `fam` with a number other
 * than x's is vetoed for `other` (family.c m_index_veto), and can be skipped unseen. */
static bool binds(const matcher *m, uint32_t fam, bool src, const mtensor *other) {
  int32_t c = (src ? m->fcorr_of_s : m->fcorr_of_t)[fam];
  if (c < 0) return false;
  const mfcorr *fc = &m->fcorr[c];
  uint32_t pf = src ? fc->ft : fc->fs;
  for (int b = 0; b < other->nsf; b++)
    if (other->sfam[b] == pf) return has_val(src ? fc->vt : fc->vs, src ? fc->nt : fc->ns, other->sval[b]);
  return false;
}

/* Was tensor i of a side free when pair P was taken (pairs are stored in the order taken)? */
static bool free_at(const matcher *m, const mside *side, bool src, uint32_t i, size_t P) {
  const bool *upd = src ? m->src_used_by_update : m->tgt_done_by_update;
  if (upd && upd[i]) return false;
  int32_t q = side->t[i].pair;
  return q < 0 || (size_t)q > P || m->pairs[q].ns == 0;
}

/* x against e on the first `level` sort keys (1: shape, 2: and key family, 3: and its number). */
static int cmp_level(const rent *x, const rent *e, int level) {
  if (x->h != e->h) return x->h < e->h ? -1 : 1;
  if (level >= 2 && key_fam(x) != key_fam(e)) return key_fam(x) < key_fam(e) ? -1 : 1;
  if (level >= 3 && key_val(x) != key_val(e)) return key_val(x) < key_val(e) ? -1 : 1;
  return 0;
}

/* Range [lo, hi) of v[0..n) equal to e on the first `level` sort keys. */
static void rent_range(const rent *v, size_t n, const rent *e, int level, size_t *lo, size_t *hi) {
  size_t a = 0, b = n;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (cmp_level(&v[mid], e, level) < 0) a = mid + 1;
    else b = mid;
  }
  *lo = a;
  b = n;
  while (a < b) {
    size_t mid = (a + b) / 2;
    if (cmp_level(&v[mid], e, level) <= 0) a = mid + 1;
    else b = mid;
  }
  *hi = a;
}

/* bind[k]: binds(m, self->fam[k], src, other), found once per count_in (it does not depend on o). */
static bool skippable(const rent *self, const rent *o, const bool *bind) {
  if (o->depth) return false; /* m_layout_for keeps it a candidate */
  for (int k = 0; k < self->n; k++)
    for (int j = 0; j < o->n; j++)
      if (o->fam[j] == self->fam[k] && o->val[j] != self->val[k] && bind[k]) return true;
  return false;
}

/* Is y a candidate for `other` (of the other side)? By a layout, or for a part of a fused pair
 * (whose shapes differ from its partner's), by the same q/k/v letter and no index map against it. */
static bool candidate(const matcher *m, const mtensor *x, const mtensor *y, bool src, const mtensor *other, bool fused) {
  mlayout l;
  if (!fused) return m_layout_for(m, src ? y : other, src ? other : y, &l) != REL_NONE;
  if (y->part != x->part || y->fused != x->fused) return false;
  long c = m_index_veto(m, src ? y : other, src ? other : y);
  return c < 0 || m->fcorr[c].depth;
}

/* Candidates of x's side in v[lo, hi) for the pair (self on x's side, `other`), free at P. */
static size_t count_in(const matcher *m, const rent *v, size_t lo, size_t hi, const rent *self, bool src,
                       const mtensor *other, size_t P, bool fused) {
  const mside *side = src ? &m->S : &m->T;
  const mtensor *x = &side->t[self->i];
  size_t n = 0;
  bool bind[MAXBIND];
  for (int k = 0; k < self->n; k++) bind[k] = binds(m, self->fam[k], src, other);
  for (size_t k = lo; k < hi; k++) {
    const rent *o = &v[k];
    if (o->i == self->i || o->h != self->h || skippable(self, o, bind)) continue;
    const mtensor *y = &side->t[o->i];
    if (!free_at(m, side, src, o->i, P) || y->ndim != x->ndim || memcmp(y->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim))
      continue;
    if (y->role != ROLE_OTHER && other->role != ROLE_OTHER && y->role != other->role) continue;
    if (candidate(m, x, y, src, other, fused)) n++;
  }
  return n;
}

/* The rivals on one side: the same shape, minus (unseen) the key family's other numbers when
 * its map binds the partner. */
static size_t side_rivals(const matcher *m, const rent *v, size_t n, const rent *self, bool src, const mtensor *other,
                          size_t P, bool fused) {
  size_t lo, hi, flo, fhi, vlo, vhi;
  rent_range(v, n, self, 1, &lo, &hi);
  if (!self->n || !binds(m, key_fam(self), src, other)) return count_in(m, v, lo, hi, self, src, other, P, fused);
  rent_range(v, n, self, 2, &flo, &fhi);
  rent_range(v, n, self, 3, &vlo, &vhi);
  return count_in(m, v, lo, flo, self, src, other, P, fused) + count_in(m, v, vlo, vhi, self, src, other, P, fused) +
         count_in(m, v, fhi, hi, self, src, other, P, fused);
}

static size_t max_z(size_t a, size_t b) { return a > b ? a : b; }

void m_count_rivals(matcher *m) {
  rent *vs = calloc(m->S.n + 1, sizeof *vs), *vt = calloc(m->T.n + 1, sizeof *vt);
  size_t *at_s = calloc(m->S.n + 1, sizeof *at_s), *at_t = calloc(m->T.n + 1, sizeof *at_t);
  if (!vs || !vt || !at_s || !at_t) {
    m->oom = true;
    goto done;
  }
  for (uint32_t i = 0; i < m->S.n; i++) rent_fill(m, &m->S.t[i], true, i, &vs[i]);
  for (uint32_t i = 0; i < m->T.n; i++) rent_fill(m, &m->T.t[i], false, i, &vt[i]);
  qsort(vs, m->S.n, sizeof *vs, rent_cmp);
  qsort(vt, m->T.n, sizeof *vt, rent_cmp);
  for (size_t k = 0; k < m->S.n; k++) at_s[vs[k].i] = k;
  for (size_t k = 0; k < m->T.n; k++) at_t[vt[k].i] = k;
  for (size_t P = 0; P < m->npairs; P++) {
    mpair *p = &m->pairs[P];
    p->rivals = 0;
    bool fused = p->ev == EV_FUSED;
    if (p->ns == 0 || (p->ev != EV_NAME && p->ev != EV_ORDER && !fused)) continue;
    /* each part of a concat against the fused target; the first (or the split source) for the rest */
    size_t r = 0;
    for (int k = 0; k < p->ns; k++)
      r = max_z(r, side_rivals(m, vs, m->S.n, &vs[at_s[p->s[k]]], true, &m->T.t[p->t], P, fused));
    r = max_z(r, side_rivals(m, vt, m->T.n, &vt[at_t[p->t]], false, &m->S.t[p->s[0]], P, fused));
    p->rivals = r > UINT16_MAX ? UINT16_MAX : (uint16_t)r;
  }
done:
  free(vs);
  free(vt);
  free(at_s);
  free(at_t);
}

/* ---- REVIEW -------------------------------------------------------------------------------- */

static bool on_names_alone(const mpair *p) {
  return p->ns >= 1 && p->rivals > 0 && (p->ev == EV_NAME || p->ev == EV_ORDER || p->ev == EV_FUSED);
}

bool m_review_pair(const mpair *p) { return on_names_alone(p); }

size_t m_review_count(const matcher *m) {
  size_t n = 0;
  for (size_t i = 0; i < m->npairs; i++) n += on_names_alone(&m->pairs[i]);
  return n;
}

/* The pair's names with every digit run as '#': pairs of one form differ only in numbers. */
static void form_of(const matcher *m, const mpair *p, wbr_buf *b) {
  const char *names[2] = {m->T.t[p->t].name, m->S.t[p->s[0]].name};
  for (int k = 0; k < 2; k++) {
    for (const char *c = names[k]; *c; c++) {
      if (isdigit((unsigned char)*c)) {
        while (isdigit((unsigned char)c[1])) c++;
        wbr_buf_putc(b, '#');
      } else {
        wbr_buf_putc(b, *c);
      }
    }
    wbr_buf_putc(b, '\n');
  }
  wbr_buf_printf(b, "%d", p->ev);
}

enum { REVIEW_MAX_LINES = 24 };

/* Review lines for the pairs on names alone, in target order, one per form (its first member,
 * and how many more). */
static void review_lines(const matcher *m, wbr_buf *out) {
  size_t n = m->T.n, shown = 0, groups = 0;
  char **form = calloc(n + 1, sizeof *form);
  size_t *count = calloc(n + 1, sizeof *count);
  wbr_map first;
  wbr_map_init(&first);
  if (!form || !count) {
    out->oom = true;
    goto done;
  }
  for (size_t t = 0; t < n; t++) {
    if (m->T.t[t].pair < 0 || !on_names_alone(&m->pairs[m->T.t[t].pair])) continue;
    wbr_buf b;
    wbr_buf_init(&b);
    form_of(m, &m->pairs[m->T.t[t].pair], &b);
    form[t] = wbr_buf_take(&b);
    size_t old = t;
    int r = form[t] ? wbr_map_put(&first, form[t], t, &old) : -1;
    if (r < 0) {
      out->oom = true;
      goto done;
    }
    count[old]++;
  }
  for (size_t t = 0; t < n; t++) {
    if (!count[t]) continue;
    groups++;
    if (shown == REVIEW_MAX_LINES) continue;
    const mpair *p = &m->pairs[m->T.t[t].pair];
    wbr_buf_printf(out, "  %s from %s", m->T.t[p->t].name, m->S.t[p->s[0]].name);
    for (int k = 1; k < p->ns; k++) wbr_buf_printf(out, " + %s", m->S.t[p->s[k]].name);
    if (p->split_k) wbr_buf_printf(out, " part %d/%d", p->split_i + 1, p->split_k);
    wbr_buf_printf(out, "  (%s among %u same-shape candidates)",
                   p->ev == EV_ORDER ? "definition order" : p->ev == EV_FUSED ? "q/k/v parts by name" : "best name match",
                   (unsigned)p->rivals + 1);
    if (count[t] > 1) wbr_buf_printf(out, " and %zu more like it", count[t] - 1);
    wbr_buf_putc(out, '\n');
    shown++;
  }
  if (groups > shown) wbr_buf_printf(out, "  ... and %zu more forms (wbr match --explain lists every pair)\n", groups - shown);
done:
  wbr_map_free(&first);
  for (size_t i = 0; form && i < n; i++) free(form[i]);
  free(form);
  free(count);
}

char *m_review_text(const matcher *m, bool header) {
  wbr_buf b;
  wbr_buf_init(&b);
  size_t fams = 0, depth = 0;
  for (size_t i = 0; i < m->nfcorr; i++) m->fcorr[i].depth ? depth++ : fams++;
  char maps[120];
  snprintf(maps, sizeof maps, "%zu index map%s", fams, fams == 1 ? "" : "s");
  if (depth)
    snprintf(maps + strlen(maps), sizeof maps - strlen(maps), " (%zu famil%s of another depth refused)", depth,
             depth == 1 ? "y" : "ies");
  if (header) {
    wbr_buf_puts(&b, "Exit 0 means: compiled and planned against both sides, every target with its name, shape and\n");
    wbr_buf_puts(&b, "dtype from exactly the sources and operations paired here. Checked: shapes, dtypes, names,\n");
    wbr_buf_printf(&b, "structure, %s. Not checked: values (conventions shapes cannot show: docs/matcher.md).\n", maps);
  } else {
    wbr_buf_printf(&b, "checked: shapes, dtypes, names, structure, %s; not values\n", maps);
  }
  size_t n = m_review_count(m);
  if (n == 0) {
    wbr_buf_puts(&b, "REVIEW: no decision rests on names or order alone among same-shape candidates.\n");
  } else {
    wbr_buf_printf(&b, "REVIEW: %zu decision%s rest%s on names or order alone among same-shape candidates; read %s first:\n", n,
                   n == 1 ? "" : "s", n == 1 ? "s" : "", n == 1 ? "it" : "them");
    review_lines(m, &b);
  }
  if (b.oom) {
    wbr_buf_free(&b);
    return NULL;
  }
  return wbr_buf_take(&b);
}
