/* induce.c — turning concrete pairs into few rules, the way a person writes them: drops first
 * (`drop "*.num_batches_tracked"`), then layout fixes for fused parts and the fusions, then
 * renames in stages (leaf synonyms: every `kernel` leaf becomes `weight` in one rename, a prefix added or removed for
 * every name, block prefixes `encoder.layers.encoder_layer_{i}.*` -> `blocks.{i}.*`, then what is
 * left inside the blocks), then layout fixes and casts in target terms. Numbers that agree
 * become captures. Every candidate statement is run over the current names by a small simulator
 * and kept only if it acts on exactly the intended tensors and yields exactly the intended names;
 * otherwise a more specific form is used, down to one literal statement per tensor. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../compiler/ast.h"
#include "../bytecode/pattern.h"
#include "mint.h"
#include "shift.h"

/* ---- statements --------------------------------------------------------------------------------- */

void mrules_free(mrules *r) {
  for (size_t i = 0; i < r->n; i++) {
    mstmt *s = &r->v[i];
    for (size_t k = 0; k < s->nin; k++) free(s->inv ? s->inv[k] : s->in[k]);
    free(s->inv);
    for (size_t k = 0; k < s->nout; k++) free(s->out[k]);
    free(s->comment);
    free(s->lead);
    free(s->members);
  }
  free(r->v);
  memset(r, 0, sizeof *r);
}

static mstmt *stmt_new(mrules *r, int kind) {
  if (!wbr_grow(&r->v, &r->cap, r->n + 1, sizeof *r->v, 32)) return NULL;
  mstmt *s = &r->v[r->n++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  return s;
}

mstmt *m_stmt_new(mrules *r, int kind) { return stmt_new(r, kind); }

/* ---- the name simulator ----------------------------------------------------------------------- */

typedef struct msim {
  char **name;
  int32_t *item; /* what the name stands for in the current stage, or -1 */
  bool *alive;
  size_t n, cap;
  bool oom;
  wbr_map map;   /* live name -> slot, rebuilt when dirty */
  bool dirty;
} msim;

static void sim_free(msim *s) {
  for (size_t i = 0; i < s->n; i++) free(s->name[i]);
  free(s->name);
  free(s->item);
  free(s->alive);
  wbr_map_free(&s->map);
}

static void sim_kill(msim *s, size_t i) {
  s->alive[i] = false;
  s->dirty = true;
}

static long sim_add(msim *s, const char *name) {
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 256;
    char **nn = realloc(s->name, nc * sizeof *nn);
    if (nn) s->name = nn;
    int32_t *ni = realloc(s->item, nc * sizeof *ni);
    if (ni) s->item = ni;
    bool *na = realloc(s->alive, nc * sizeof *na);
    if (na) s->alive = na;
    if (!nn || !ni || !na) {
      s->oom = true;
      return -1;
    }
    s->cap = nc;
  }
  s->name[s->n] = wbr_strdup(name);
  if (!s->name[s->n]) {
    s->oom = true;
    return -1;
  }
  s->item[s->n] = -1;
  s->alive[s->n] = true;
  s->dirty = true;
  return (long)s->n++;
}

static long sim_find(msim *s, const char *name) {
  if (s->dirty) {
    wbr_map_free(&s->map);
    wbr_map_init(&s->map);
    for (size_t i = 0; i < s->n; i++)
      if (s->alive[i] && wbr_map_put(&s->map, s->name[i], i, NULL) < 0) s->oom = true;
    s->dirty = false;
  }
  size_t v;
  return wbr_map_get(&s->map, name, &v) ? (long)v : -1;
}

/* A slot renamed by a rule, and its old name. */
typedef struct srename {
  size_t slot;
  char *old;
} srename;

/* Slots ren[0..n) were renamed (their old names are freed here): the name map follows them
 * instead of being rebuilt for the whole set at the next look-up. All old names go first, so
 * that a rule renaming a -> b and b -> c at once leaves both right. */
static void sim_renamed(msim *s, const srename *ren, size_t n) {
  for (size_t k = 0; k < n && !s->dirty; k++) {
    size_t v;
    if (wbr_map_get(&s->map, ren[k].old, &v) && v == ren[k].slot) wbr_map_del(&s->map, ren[k].old);
  }
  for (size_t k = 0; k < n && !s->dirty; k++)
    if (wbr_map_put(&s->map, s->name[ren[k].slot], ren[k].slot, NULL) != 0) s->dirty = true;
  for (size_t k = 0; k < n; k++) free(ren[k].old);
}

/* ---- glob text ---------------------------------------------------------------------------------- */

static void put_lit(wbr_buf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '*' || c == '{' || c == '}' || c == '\\') wbr_buf_putc(b, '\\');
    wbr_buf_putc(b, c);
  }
}

static char *lit(const char *s) {
  wbr_buf b;
  wbr_buf_init(&b);
  put_lit(&b, s, strlen(s));
  wbr_buf_putc(&b, 0);
  return wbr_buf_take(&b);
}

char *m_lit(const char *s) { return lit(s); }

/* ---- generalisation of one stage's items ---------------------------------------------------------- */

/* An item: x is its current name (or several joined by '\x1e' for concat inputs), y the name it
 * should get (NULL for drops and layout ops; several joined by '\x1e' for split outputs). */
typedef struct gitem {
  const char *x;
  const char *y;
  uint32_t id;
} gitem;

typedef struct grule {
  char *pat;  /* joined the same way as the items' x */
  char *tmpl; /* NULL for pattern-only rules */
  uint32_t *ids;
  size_t nids;
} grule;

typedef struct grules {
  grule *v;
  size_t n, cap;
  bool oom;
} grules;

static void grules_free(grules *g) {
  for (size_t i = 0; i < g->n; i++) {
    free(g->v[i].pat);
    free(g->v[i].tmpl);
    free(g->v[i].ids);
  }
  free(g->v);
  memset(g, 0, sizeof *g);
}

static grule *grule_add(grules *g) {
  if (!wbr_grow(&g->v, &g->cap, g->n + 1, sizeof *g->v, 32)) {
    g->oom = true;
    return NULL;
  }
  grule *r = &g->v[g->n++];
  memset(r, 0, sizeof *r);
  return r;
}

#define GMAXRUNS 48

typedef struct runs {
  size_t st[GMAXRUNS], en[GMAXRUNS];
  int n;
} runs;

static void find_runs(const char *s, runs *r) {
  r->n = s ? m_digit_runs(s, strlen(s), r->st, r->en, GMAXRUNS) : 0;
}

static char *sig_of(const char *x, const char *y) {
  wbr_buf b;
  wbr_buf_init(&b);
  const char *parts[2] = {x, y};
  for (int k = 0; k < 2; k++) {
    const char *s = parts[k];
    if (!s) continue;
    if (k) wbr_buf_putc(&b, '\x1d');
    for (size_t i = 0; s[i];) {
      if (isdigit((unsigned char)s[i])) {
        wbr_buf_putc(&b, '#');
        while (isdigit((unsigned char)s[i])) i++;
      } else {
        wbr_buf_putc(&b, s[i++]);
      }
    }
  }
  wbr_buf_putc(&b, 0);
  return wbr_buf_take(&b);
}

static const char *const capnames[] = {"i", "j", "k", "l", "m", "n", "a", "b", "c", "d", "e", "f",
                                       "g", "h", "q", "r", "s", "u", "v", "w"};
#define NCAPNAMES (sizeof capnames / sizeof capnames[0])

/* Run text of member k, run r (x runs first, then y runs). */
typedef struct gctx {
  const gitem *it;
  const uint32_t *mem;
  size_t nmem;
  runs *rx, *ry; /* per member */
} gctx;

static bool run_eq(const gctx *g, size_t a, int ra, size_t b, int rb) {
  const char *sa, *sb;
  size_t la, lb;
  int nxa = g->rx[a].n, nxb = g->rx[b].n;
  if (ra < nxa) {
    sa = g->it[g->mem[a]].x + g->rx[a].st[ra];
    la = g->rx[a].en[ra] - g->rx[a].st[ra];
  } else {
    sa = g->it[g->mem[a]].y + g->ry[a].st[ra - nxa];
    la = g->ry[a].en[ra - nxa] - g->ry[a].st[ra - nxa];
  }
  if (rb < nxb) {
    sb = g->it[g->mem[b]].x + g->rx[b].st[rb];
    lb = g->rx[b].en[rb] - g->rx[b].st[rb];
  } else {
    sb = g->it[g->mem[b]].y + g->ry[b].st[rb - nxb];
    lb = g->ry[b].en[rb - nxb] - g->ry[b].st[rb - nxb];
  }
  return la == lb && memcmp(sa, sb, la) == 0;
}

static void emit_text(wbr_buf *b, const char *s, const runs *r, int base, const int *cls, const bool *cap,
                      const int *capidx) {
  size_t pos = 0;
  for (int k = 0; k < r->n; k++) {
    put_lit(b, s + pos, r->st[k] - pos);
    int run = base + k;
    if (cap[cls[run]]) wbr_buf_printf(b, "{%s}", capnames[capidx[cls[run]] % NCAPNAMES]);
    else put_lit(b, s + r->st[k], r->en[k] - r->st[k]);
    pos = r->en[k];
  }
  put_lit(b, s + pos, strlen(s) - pos);
}

/* The '\x1d' / '\x1e' joiners must survive put_lit untouched: they are not glob specials. */

static void gen_group(grules *out, const gitem *it, uint32_t *mem, size_t nmem, int depth) {
  if (nmem == 0 || out->oom) return;
  runs *rx = malloc(nmem * sizeof *rx), *ry = malloc(nmem * sizeof *ry);
  if (!rx || !ry) {
    free(rx);
    free(ry);
    out->oom = true;
    return;
  }
  for (size_t k = 0; k < nmem; k++) {
    find_runs(it[mem[k]].x, &rx[k]);
    find_runs(it[mem[k]].y, &ry[k]);
  }
  gctx g = {it, mem, nmem, rx, ry};
  int nx = rx[0].n, ny = ry[0].n, R = nx + ny;
  int cls[2 * GMAXRUNS];
  bool constant[2 * GMAXRUNS];
  for (int r = 0; r < R; r++) {
    cls[r] = r;
    constant[r] = true;
    for (size_t k = 1; k < nmem && constant[r]; k++) constant[r] = run_eq(&g, 0, r, k, r);
    for (int q = 0; q < r; q++) {
      if (cls[q] != q) continue;
      bool same = true;
      for (size_t k = 0; k < nmem && same; k++) same = run_eq(&g, k, q, k, r);
      if (same) {
        cls[r] = q;
        break;
      }
    }
  }
  /* a varying target number with no source number of the same value: split on it */
  for (int r = nx; r < R && depth < 8; r++) {
    if (constant[r]) continue;
    bool has_x = false;
    for (int q = 0; q < nx; q++) has_x |= cls[q] == cls[r];
    if (has_x) continue;
    uint32_t *sub = malloc(nmem * sizeof *sub);
    bool *done = calloc(nmem, sizeof *done);
    if (!sub || !done) {
      free(sub);
      free(done);
      out->oom = true;
      goto out;
    }
    for (size_t a = 0; a < nmem; a++) {
      if (done[a]) continue;
      size_t ns = 0;
      for (size_t b = a; b < nmem; b++)
        if (!done[b] && run_eq(&g, a, r, b, r)) {
          done[b] = true;
          sub[ns++] = mem[b];
        }
      gen_group(out, it, sub, ns, depth + 1);
    }
    free(sub);
    free(done);
    goto out;
  }
  {
    bool cap[2 * GMAXRUNS] = {0};
    int capidx[2 * GMAXRUNS] = {0};
    int next = 0;
    for (int r = 0; r < nx; r++)
      if (!constant[r] && cls[r] == r) {
        cap[r] = true;
        capidx[r] = next++;
      }
    for (int r = 0; r < nx; r++)
      if (!constant[r] && !cap[cls[r]]) { /* class rooted at an earlier x run: already set */
      }
    /* a y run whose class is rooted at an x run that is constant stays literal */
    grule *gr = grule_add(out);
    if (!gr) goto out;
    wbr_buf b;
    wbr_buf_init(&b);
    emit_text(&b, it[mem[0]].x, &rx[0], 0, cls, cap, capidx);
    wbr_buf_putc(&b, 0);
    gr->pat = wbr_buf_take(&b);
    if (it[mem[0]].y) {
      wbr_buf_init(&b);
      emit_text(&b, it[mem[0]].y, &ry[0], nx, cls, cap, capidx);
      wbr_buf_putc(&b, 0);
      gr->tmpl = wbr_buf_take(&b);
    }
    gr->ids = malloc(nmem * sizeof *gr->ids);
    if (!gr->pat || (it[mem[0]].y && !gr->tmpl) || !gr->ids) {
      out->oom = true;
      goto out;
    }
    for (size_t k = 0; k < nmem; k++) gr->ids[k] = it[mem[k]].id;
    gr->nids = nmem;
  }
out:
  free(rx);
  free(ry);
}

typedef struct sigref {
  char *sig;
  uint32_t idx;
} sigref;

static int cmp_sigref(const void *a, const void *b) {
  const sigref *x = a, *y = b;
  int c = strcmp(x->sig, y->sig);
  if (c) return c;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Group items by the shape of their text and generalise each group. */
static void gen(grules *out, const gitem *it, size_t n, bool literal) {
  if (n == 0) return;
  uint32_t *mem = malloc(n * sizeof *mem);
  sigref *sr = malloc(n * sizeof *sr);
  if (!mem || !sr) {
    free(mem);
    free(sr);
    out->oom = true;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    sr[i].sig = literal ? NULL : sig_of(it[i].x, it[i].y);
    sr[i].idx = (uint32_t)i;
    if (!literal && !sr[i].sig) out->oom = true;
  }
  if (literal || out->oom) {
    for (size_t i = 0; i < n && !out->oom; i++) {
      grule *g = grule_add(out);
      if (!g) break;
      g->pat = lit(it[i].x);
      g->tmpl = it[i].y ? lit(it[i].y) : NULL;
      g->ids = malloc(sizeof *g->ids);
      if (!g->pat || (it[i].y && !g->tmpl) || !g->ids) {
        out->oom = true;
        break;
      }
      g->ids[0] = it[i].id;
      g->nids = 1;
    }
  } else {
    qsort(sr, n, sizeof *sr, cmp_sigref);
    size_t a = 0;
    while (a < n) {
      size_t b = a;
      while (b < n && strcmp(sr[b].sig, sr[a].sig) == 0) b++;
      for (size_t k = a; k < b; k++) mem[k - a] = sr[k].idx;
      gen_group(out, it, mem, b - a, 0);
      a = b;
    }
  }
  for (size_t i = 0; i < n; i++) free(sr[i].sig);
  free(sr);
  free(mem);
}

/* ---- trying a rule on the simulator ---------------------------------------------------------------- */

/* Split joined text (by '\x1e') into parts; returns count. Parts point into a copy in *buf. */
static size_t split_joined(const char *s, char **buf, char **parts, size_t max) {
  *buf = wbr_strdup(s);
  if (!*buf) return 0;
  size_t n = 0;
  char *p = *buf;
  parts[n++] = p;
  for (; *p; p++)
    if (*p == '\x1e' && n < max) {
      *p = 0;
      parts[n++] = p + 1;
    }
  return n;
}

/* The expectation of a stage: for each sim slot in the stage, its item, and what the item's
 * name must become (for renames), or NULL. */
typedef struct stage {
  msim *sim;
  const char **want;  /* per item id: expected new name (renames) or NULL */
  bool *pending;      /* per item id: still to be handled in this stage */
  bool *rider;        /* per item id: may be renamed along by any rule (fused parts), or NULL */
  size_t nitems;
} stage;

/* Match `pat` against the live names; every match must be a pending item of this stage and (for
 * a rename) yield its expected name. Returns the number matched, or -1 if the rule is unfit.
 * With apply, a checking sweep runs first, then the renaming one (from_pass 1: only that). */
static long try_rule_from(stage *st, const char *pat, const char *tmpl, bool apply, int from_pass) {
  msim *sim = st->sim;
  wbr_namepat *np = NULL;
  wbr_template *tp = NULL;
  wbr_namepat_error err;
  long count = 0;
  if (wbr_namepat_new(&np, WBR_PK_GLOB, pat, "", &err)) return -1;
  if (tmpl && wbr_template_new(&tp, np, tmpl, false, &err)) {
    wbr_namepat_free(np);
    return -1;
  }
  wbr_buf b;
  wbr_buf_init(&b);
  srename *ren = NULL; /* slots renamed, with their old names */
  size_t nren = 0, rcap = 0;
  const char *litname = wbr_namepat_literal(np);
  long only = litname ? sim_find(sim, litname) : -1;
  size_t plen;
  const char *pre = wbr_namepat_prefix(np, &plen);
  for (int pass = from_pass; pass < (apply ? 2 : 1) && count >= 0; pass++) {
    count = 0;
    for (size_t i = litname ? (only < 0 ? sim->n : (size_t)only) : 0; i < sim->n; i++) {
      if (litname && (long)i != only) break;
      if (!sim->alive[i]) continue;
      if (plen && strncmp(sim->name[i], pre, plen) != 0) continue; /* the match would say no first */
      wbr_match mm;
      int r = wbr_namepat_match(np, sim->name[i], strlen(sim->name[i]), &mm, &err);
      if (r < 0) {
        count = -1;
        break;
      }
      if (r == 0) continue;
      int32_t it = sim->item[i];
      bool rider = st->rider && it >= 0 && (size_t)it < st->nitems && st->rider[it];
      if (it < 0 || (size_t)it >= st->nitems || (!st->pending[it] && !rider)) {
        count = -1;
        break;
      }
      if (tp) {
        b.len = 0;
        if (wbr_template_uses_arith(tp) && wbr_template_check_match(tp, sim->name[i], &mm, &err)) {
          count = -1;
          break;
        }
        wbr_template_expand(tp, sim->name[i], &mm, -1, true, &b);
        wbr_buf_putc(&b, 0);
        if (b.oom || (!rider && (!st->want[it] || strcmp(b.p, st->want[it]) != 0))) {
          count = -1;
          break;
        }
        /* a name still held by a tensor this rule leaves alone: not yet (a later sweep may
         * rename that one away first, as for a shifted index: h.1 -> h.2, then h.0 -> h.1) */
        long other = pass == 0 ? sim_find(sim, b.p) : -1;
        wbr_match om;
        if (other >= 0 && (size_t)other != i &&
            wbr_namepat_match(np, sim->name[other], strlen(sim->name[other]), &om, &err) != 1) {
          count = -1;
          break;
        }
        if (pass == 1) {
          char *nn = wbr_strdup(b.p);
          if (nn && nren == rcap) {
            srename *nr = realloc(ren, (rcap ? 2 * rcap : 16) * sizeof *nr);
            if (nr) ren = nr, rcap = rcap ? 2 * rcap : 16;
          }
          if (!nn || nren == rcap) {
            free(nn);
            sim->oom = true;
            count = -1;
            break;
          }
          ren[nren++] = (srename){i, sim->name[i]};
          sim->name[i] = nn;
        }
      }
      if (rider) continue;
      if (pass == 1) st->pending[it] = false;
      count++;
    }
    if (count == 0) count = -1;
  }
  sim_renamed(sim, ren, nren);
  free(ren);
  wbr_buf_free(&b);
  wbr_template_free(tp);
  wbr_namepat_free(np);
  return count;
}

static long try_rule(stage *st, const char *pat, const char *tmpl, bool apply) {
  return try_rule_from(st, pat, tmpl, apply, 0);
}

/* try_rule(st, pat, tmpl, true) right after try_rule(st, pat, tmpl, false) found it fit, nothing
 * changed in between: the checking sweep would repeat that test (a sweep of every live name;
 * the 20,000-tensor Flax bench tries 627 rules). */
static long apply_tested(stage *st, const char *pat, const char *tmpl) { return try_rule_from(st, pat, tmpl, true, 1); }

/* Leaf merge: "P.weight" and "P.bias" (same on both sides) become "P.{p}". */
static char *tail_split(const char *s, bool word, size_t *cut) {
  size_t n = strlen(s), i = n;
  while (i > 0 && s[i - 1] != '.' && s[i - 1] != '/' && !(word && s[i - 1] == '_')) i--;
  *cut = i;
  return i > 0 && i < n ? (char *)s + i : NULL;
}

static bool has_special(const char *s) {
  for (; *s; s++)
    if (*s == '{' || *s == '}' || *s == '*' || *s == '\\' || isdigit((unsigned char)*s)) return true;
  return false;
}

static const char *free_capname(const char *pat) {
  static const char *const cands[] = {"p", "x", "y", "z", "t"};
  for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
    char probe[8];
    snprintf(probe, sizeof probe, "{%s}", cands[i]);
    if (!strstr(pat, probe)) return cands[i];
  }
  return NULL;
}

/* Rules that differ only in their last word (the same word on both sides) are tried merged
 * first, as "P.{p}" -> "Q.{p}"; the originals follow as the fallback (run_stage skips a rule
 * whose items are all handled). The input rules are consumed. */
static bool tail_of(const grule *r, bool with_tmpl, size_t *cp, size_t *ct) {
  const char *lp = tail_split(r->pat, with_tmpl, cp);
  if (!lp || has_special(lp) || *cp < 1) return false;
  if (!with_tmpl) return true;
  const char *lt = r->tmpl ? tail_split(r->tmpl, true, ct) : NULL;
  return lt && strcmp(lp, lt) == 0;
}

static void leaf_merge(grules *in, grules *out, bool with_tmpl) {
  bool *used = calloc(in->n + 1, sizeof *used);
  if (!used) {
    out->oom = true;
    return;
  }
  for (size_t i = 0; i < in->n && !out->oom; i++) {
    if (used[i]) continue;
    grule *a = &in->v[i];
    size_t ca = 0, cta = 0, nm = 0, total = a->nids;
    bool ok = tail_of(a, with_tmpl, &ca, &cta);
    for (size_t j = i + 1; ok && j < in->n; j++) {
      grule *b = &in->v[j];
      size_t cb = 0, ctb = 0;
      if (used[j] || !tail_of(b, with_tmpl, &cb, &ctb) || cb != ca || strncmp(a->pat, b->pat, ca) != 0) continue;
      if (with_tmpl && (ctb != cta || strncmp(a->tmpl, b->tmpl, cta) != 0)) continue;
      nm++;
      total += b->nids;
    }
    const char *cn = nm ? free_capname(a->pat) : NULL;
    if (cn && with_tmpl && strstr(a->tmpl, "{p}") && !strcmp(cn, "p")) cn = NULL;
    if (cn) {
      grule *r = grule_add(out);
      if (!r) break;
      wbr_buf b;
      wbr_buf_init(&b);
      wbr_buf_put(&b, a->pat, ca);
      wbr_buf_printf(&b, "{%s}", cn);
      wbr_buf_putc(&b, 0);
      r->pat = wbr_buf_take(&b);
      if (with_tmpl) {
        wbr_buf_init(&b);
        wbr_buf_put(&b, a->tmpl, cta);
        wbr_buf_printf(&b, "{%s}", cn);
        wbr_buf_putc(&b, 0);
        r->tmpl = wbr_buf_take(&b);
      }
      r->ids = malloc(total * sizeof *r->ids);
      if (!r->pat || (with_tmpl && !r->tmpl) || !r->ids) {
        out->oom = true;
        break;
      }
      for (size_t j = i; j < in->n; j++) {
        grule *b2 = &in->v[j];
        size_t cb = 0, ctb = 0;
        if (used[j] || !tail_of(b2, with_tmpl, &cb, &ctb) || cb != ca || strncmp(a->pat, b2->pat, ca) != 0) continue;
        if (with_tmpl && (ctb != cta || strncmp(a->tmpl, b2->tmpl, cta) != 0)) continue;
        memcpy(r->ids + r->nids, b2->ids, b2->nids * sizeof *r->ids);
        r->nids += b2->nids;
      }
      /* the originals, as the fallback */
      for (size_t j = i + 1; j < in->n; j++) {
        grule *b2 = &in->v[j];
        size_t cb = 0, ctb = 0;
        if (used[j] || !tail_of(b2, with_tmpl, &cb, &ctb) || cb != ca || strncmp(in->v[i].pat, b2->pat, ca) != 0) continue;
        if (with_tmpl && (ctb != cta || strncmp(in->v[i].tmpl, b2->tmpl, cta) != 0)) continue;
        grule *k2 = grule_add(out);
        if (!k2) break;
        *k2 = *b2;
        memset(b2, 0, sizeof *b2);
        used[j] = true;
      }
    }
    grule *k1 = grule_add(out);
    if (!k1) break;
    *k1 = in->v[i];
    memset(&in->v[i], 0, sizeof in->v[i]);
    used[i] = true;
  }
  free(used);
}

/* The last statement kind emitted for a merged rule: the merged rule is tried first; when it
 * is fit, the rules it merged (which follow it, flagged) are skipped. */

/* Segments of a pattern: split at unescaped '.' and '/'. */
static int segs_of(const char *p, size_t *st, size_t *en, int max) {
  int n = 0;
  size_t b = 0, i = 0;
  for (; p[i]; i++) {
    if (p[i] == '\\' && p[i + 1]) {
      i++;
      continue;
    }
    if (p[i] == '.' || p[i] == '/') {
      if (n < max) st[n] = b, en[n] = i, n++;
      b = i + 1;
    }
  }
  if (n < max) st[n] = b, en[n] = i, n++;
  return n;
}

static bool seg_plain(const char *p, size_t b, size_t e) {
  for (size_t i = b; i < e; i++)
    if (p[i] == '{' || p[i] == '*' || p[i] == '\\') return false;
  return true;
}

/* Pattern-only rules that differ in one plain segment are tried merged as "{x}" first. */
static bool same_but(const grule *a, const grule *b, int k) {
  size_t sa[32], ea[32], sb[32], eb[32];
  int na = segs_of(a->pat, sa, ea, 32), nb = segs_of(b->pat, sb, eb, 32);
  if (na != nb || k >= na || !seg_plain(b->pat, sb[k], eb[k])) return false;
  for (int q = 0; q < na; q++) {
    if (q == k) continue;
    if (ea[q] - sa[q] != eb[q] - sb[q] || memcmp(a->pat + sa[q], b->pat + sb[q], ea[q] - sa[q]) != 0) return false;
  }
  return ea[k] - sa[k] != eb[k] - sb[k] || memcmp(a->pat + sa[k], b->pat + sb[k], ea[k] - sa[k]) != 0;
}

static void seg_merge(grules *in, grules *out) {
  bool *used = calloc(in->n + 1, sizeof *used);
  if (!used) {
    out->oom = true;
    return;
  }
  for (size_t i = 0; i < in->n && !out->oom; i++) {
    if (used[i]) continue;
    grule *a = &in->v[i];
    size_t sa[32], ea[32];
    int na = segs_of(a->pat, sa, ea, 32), bestk = -1;
    size_t bestc = 0;
    for (int k = 0; k < na; k++) {
      if (!seg_plain(a->pat, sa[k], ea[k])) continue;
      size_t c = 0;
      for (size_t j = i + 1; j < in->n; j++) c += !used[j] && same_but(a, &in->v[j], k);
      if (c > bestc) bestc = c, bestk = k;
    }
    const char *cn = bestk >= 0 ? free_capname(a->pat) : NULL;
    if (cn) {
      grule *r = grule_add(out);
      if (!r) break;
      wbr_buf b;
      wbr_buf_init(&b);
      wbr_buf_put(&b, a->pat, sa[bestk]);
      wbr_buf_printf(&b, "{%s}", cn);
      wbr_buf_puts(&b, a->pat + ea[bestk]);
      wbr_buf_putc(&b, 0);
      r->pat = wbr_buf_take(&b);
      size_t total = a->nids;
      for (size_t j = i + 1; j < in->n; j++)
        if (!used[j] && same_but(a, &in->v[j], bestk)) total += in->v[j].nids;
      r->ids = malloc(total * sizeof *r->ids);
      if (!r->pat || !r->ids) {
        out->oom = true;
        break;
      }
      memcpy(r->ids, a->ids, a->nids * sizeof *r->ids);
      r->nids = a->nids;
      for (size_t j = i + 1; j < in->n; j++) {
        if (used[j] || !same_but(a, &in->v[j], bestk)) continue;
        memcpy(r->ids + r->nids, in->v[j].ids, in->v[j].nids * sizeof *r->ids);
        r->nids += in->v[j].nids;
        grule *k2 = grule_add(out);
        if (!k2) break;
        *k2 = in->v[j];
        memset(&in->v[j], 0, sizeof in->v[j]);
        used[j] = true;
      }
    }
    grule *k1 = grule_add(out);
    if (!k1) break;
    *k1 = in->v[i];
    memset(&in->v[i], 0, sizeof in->v[i]);
    used[i] = true;
  }
  free(used);
}

/* ---- the stage driver ----------------------------------------------------------------------------- */

typedef struct ictx {
  matcher *m;
  mrules *out;
  msim sim;
  bool literal;
  bool oom;
} ictx;

static mstmt *emit(ictx *ic, int kind, const char *pat, const char *tmpl) {
  mstmt *s = stmt_new(ic->out, kind);
  if (!s) {
    ic->oom = true;
    return NULL;
  }
  s->in[0] = wbr_strdup(pat);
  s->nin = 1;
  if (!s->in[0]) ic->oom = true;
  if (tmpl) {
    s->out[0] = wbr_strdup(tmpl);
    s->nout = 1;
    if (!s->out[0]) ic->oom = true;
  }
  return s;
}

/* Apply generalised rules in order; merged rules are tried before their parts. Each fit rule
 * becomes a statement of `kind` (ops filled by the caller through `fill`). Items left pending
 * afterwards get literal statements. */
typedef void (*fill_fn)(ictx *ic, mstmt *s, const void *ud, uint32_t first_item);

static void run_stage(ictx *ic, stage *st, const gitem *it, size_t n, int kind, bool with_tmpl, fill_fn fill,
                      const void *ud) {
  grules g = {0}, merged = {0};
  gen(&g, it, n, ic->literal);
  if (!ic->literal && with_tmpl) leaf_merge(&g, &merged, true);
  else if (!ic->literal) seg_merge(&g, &merged);
  else merged = g, memset(&g, 0, sizeof g);
  if (g.oom || merged.oom) ic->oom = true;
  for (size_t i = 0; i < merged.n && !ic->oom; i++) {
    grule *r = &merged.v[i];
    /* skip rules whose items are all handled (parts of a merged rule that fit) */
    bool any = false;
    for (size_t k = 0; k < r->nids; k++) any |= st->pending[r->ids[k]];
    if (!any) continue;
    long c = try_rule(st, r->pat, r->tmpl, false);
    if (c < 0) continue;
    try_rule(st, r->pat, r->tmpl, true);
    mstmt *s = emit(ic, kind, r->pat, r->tmpl);
    if (s && fill) fill(ic, s, ud, r->ids[0]);
    if (s) s->nmembers = (size_t)c;
  }
  /* literal fallback */
  for (size_t i = 0; i < n && !ic->oom; i++) {
    uint32_t id = it[i].id;
    if (!st->pending[id]) continue;
    char *p = lit(it[i].x), *t = it[i].y ? lit(it[i].y) : NULL;
    if (p && try_rule(st, p, t, true) > 0) {
      mstmt *s = emit(ic, kind, p, t);
      if (s && fill) fill(ic, s, ud, id);
      if (s) s->nmembers = 1;
    } else {
      ic->oom |= !p;
    }
    free(p);
    free(t);
  }
  grules_free(&g);
  grules_free(&merged);
}

/* ---- stages ------------------------------------------------------------------------------------ */

static const char *sname(const matcher *m, uint32_t s) { return m->S.t[s].name; }
static const char *tname(const matcher *m, uint32_t t) { return m->T.t[t].name; }

static bool pair_live(const mpair *p) { return p->ns > 0; }

/* Sources to drop: free, not consumed by --update rules, and no undecided target could use them:
 * a source of the same size as an undecided target is kept (whatever its shape or dtype), so
 * that a hint the user adds still finds it under its own name. Except (same_name) a source
 * with the name of an undecided target: kept, it would map onto that target unasked, the very
 * guess the matcher refused; it is dropped, with a note. */
static bool *drop_set(matcher *m, bool same_name) {
  bool *d = calloc(m->S.n + 1, sizeof *d);
  wbr_map undecided;
  wbr_map_init(&undecided);
  if (!d) return NULL;
  for (size_t s = 0; s < m->S.n; s++)
    d[s] = m->S.t[s].pair < 0 && !(m->src_used_by_update && m->src_used_by_update[s]);
  bool *keep = calloc(m->S.n + 1, sizeof *keep);
  if (!keep) {
    free(d);
    return NULL;
  }
  for (size_t u = 0; u < m->nunres; u++) {
    for (int k = 0; k < m->unres[u].ncand; k++) keep[m->unres[u].cand[k]] = true;
    uint64_t ne = m->T.t[m->unres[u].t].nelem;
    for (size_t s = 0; s < m->S.n; s++)
      if (d[s] && m->S.t[s].nelem == ne) keep[s] = true;
    if (wbr_map_put(&undecided, m->T.t[m->unres[u].t].name, u, NULL) < 0) m->oom = true;
  }
  for (size_t s = 0; s < m->S.n; s++) keep[s] |= m_fold_keep(m, (uint32_t)s);
  for (size_t s = 0; s < m->S.n; s++) {
    size_t u;
    bool named = d[s] && wbr_map_get(&undecided, m->S.t[s].name, &u);
    d[s] = same_name ? named : d[s] && !keep[s] && !named;
  }
  wbr_map_free(&undecided);
  free(keep);
  return d;
}

static void stage_drops(ictx *ic, bool same_name) {
  matcher *m = ic->m;
  bool *d = drop_set(m, same_name);
  if (!d) {
    ic->oom = true;
    return;
  }
  size_t n = 0;
  for (size_t s = 0; s < m->S.n; s++) n += d[s];
  if (!n) {
    free(d);
    return;
  }
  /* items: sim slot s <-> source s (the sim starts with every source in order) */
  size_t first = ic->out->n;
  stage st = {.sim = &ic->sim, .nitems = m->S.n};
  st.pending = calloc(m->S.n + 1, sizeof *st.pending);
  st.want = calloc(m->S.n + 1, sizeof *st.want);
  gitem *it = malloc(n * sizeof *it);
  if (!st.pending || !st.want || !it) {
    ic->oom = true;
    goto done;
  }
  size_t k = 0;
  for (size_t s = 0; s < m->S.n; s++) {
    ic->sim.item[s] = (int32_t)s;
    if (d[s]) {
      st.pending[s] = true;
      it[k].x = sname(m, (uint32_t)s);
      it[k].y = NULL;
      it[k].id = (uint32_t)s;
      k++;
    }
  }
  /* "*.leaf" for every leaf only dropped tensors have */
  if (!ic->literal)
    for (size_t i = 0; i < n && !ic->oom; i++) {
      if (!st.pending[it[i].id]) continue;
      size_t cut;
      const char *leaf = tail_split(it[i].x, false, &cut);
      if (!leaf || cut < 2) continue;
      wbr_buf b;
      wbr_buf_init(&b);
      wbr_buf_putc(&b, '*');
      wbr_buf_putc(&b, it[i].x[cut - 1]);
      put_lit(&b, leaf, strlen(leaf));
      wbr_buf_putc(&b, 0);
      if (!b.oom) {
        long c = try_rule(&st, b.p, NULL, false);
        if (c >= 2) {
          try_rule(&st, b.p, NULL, true);
          mstmt *sm = emit(ic, WBR_STMT_DROP, b.p, NULL);
          if (sm) sm->nmembers = (size_t)c;
        }
      }
      wbr_buf_free(&b);
    }
  size_t left = 0;
  for (size_t i = 0; i < n; i++)
    if (st.pending[it[i].id]) it[left++] = it[i];
  run_stage(ic, &st, it, left, WBR_STMT_DROP, false, NULL, NULL);
  if (same_name && ic->out->n > first && !ic->out->v[first].comment)
    ic->out->v[first].comment = wbr_strdup("undecided: a target of the same name wants a decision (see UNRESOLVED)");
  for (size_t s = 0; s < m->S.n; s++)
    if (d[s]) sim_kill(&ic->sim, s);
done:
  for (size_t s = 0; s < m->S.n && ic->sim.item; s++) ic->sim.item[s] = -1;
  free(st.pending);
  free(st.want);
  free(it);
  free(d);
}

/* Layout statements for a group of items sharing one op sequence. */
typedef struct opgroup {
  mop ops[3];
  uint8_t nops;
} opgroup;

static void fill_op(ictx *ic, mstmt *s, const void *ud, uint32_t first) {
  (void)ic;
  (void)first;
  const mop *o = ud;
  if (o->kind == MOP_PERMUTE) {
    if (o->n == 2 && o->v[0] == 1 && o->v[1] == 0) {
      s->kind = WBR_STMT_TRANSPOSE;
    } else {
      s->kind = WBR_STMT_PERMUTE;
      s->nints = o->n;
      for (int i = 0; i < o->n; i++) s->ints[i] = o->v[i];
    }
  } else {
    s->kind = WBR_STMT_RESHAPE;
    s->nints = o->n;
    for (int i = 0; i < o->n; i++) s->ints[i] = o->v[i];
  }
}

static bool op_eq(const mop *a, const mop *b) {
  if (a->kind != b->kind || a->n != b->n) return false;
  for (int i = 0; i < a->n; i++)
    if (a->v[i] != b->v[i]) return false;
  return true;
}

/* A reshape to 1-D is written [-1], so it generalises over widths. */
static mop op_norm(const mop *o) {
  mop r = *o;
  if (r.kind == MOP_RESHAPE && r.n == 1) r.v[0] = -1;
  return r;
}

static int op_class(const mop *o) {
  if (o->kind == MOP_RESHAPE) return 0;
  if (o->n == 2 && o->v[0] == 1 && o->v[1] == 0) return 2;
  return 1;
}

/* Emit layout statements for `items` (slot ids in the sim), whose layouts are lays[i]. */
static void stage_ops(ictx *ic, const uint32_t *slots, const mlayout *lays, size_t n) {
  if (!n) return;
  msim *sim = &ic->sim;
  stage st = {.sim = sim, .nitems = sim->n};
  st.pending = calloc(sim->n + 1, sizeof *st.pending);
  st.want = calloc(sim->n + 1, sizeof *st.want);
  gitem *it = malloc(n * sizeof *it);
  bool *done = calloc(n, sizeof *done);
  if (!st.pending || !st.want || !it || !done) {
    ic->oom = true;
    goto out;
  }
  for (size_t i = 0; i < sim->n; i++) sim->item[i] = (int32_t)i;
  /* Rounds: every item's next op; reshapes first, then permutes, then transposes, so that
   * transposes that follow a reshape join the plain ones in one statement. */
  uint8_t *next = calloc(n, 1);
  if (!next) {
    ic->oom = true;
    goto out;
  }
  for (int guard = 0; guard < 16 && !ic->oom; guard++) {
    int cls = -1;
    for (int pri = 0; pri < 3 && cls < 0; pri++)
      for (size_t a = 0; a < n; a++)
        if (next[a] < lays[a].nops && op_class(&lays[a].op[next[a]]) == pri) {
          cls = pri;
          break;
        }
    if (cls < 0) break;
    memset(done, 0, n * sizeof *done);
    for (size_t a = 0; a < n; a++) {
      if (done[a] || next[a] >= lays[a].nops || op_class(&lays[a].op[next[a]]) != cls) continue;
      mop oa = op_norm(&lays[a].op[next[a]]);
      size_t k = 0;
      for (size_t b = a; b < n; b++) {
        if (done[b] || next[b] >= lays[b].nops) continue;
        mop ob = op_norm(&lays[b].op[next[b]]);
        if (!op_eq(&oa, &ob)) continue;
        done[b] = true;
        st.pending[slots[b]] = true;
        it[k].x = sim->name[slots[b]];
        it[k].y = NULL;
        it[k].id = slots[b];
        k++;
      }
      run_stage(ic, &st, it, k, WBR_STMT_RESHAPE, false, fill_op, &oa);
    }
    for (size_t a = 0; a < n; a++)
      if (done[a]) next[a]++;
  }
  free(next);
out:
  for (size_t i = 0; i < sim->n; i++) sim->item[i] = -1;
  free(st.pending);
  free(st.want);
  free(it);
  free(done);
}

/* Joined text helper. */
static char *join3(const char *a, const char *b, const char *c, const char *d) {
  wbr_buf bf;
  wbr_buf_init(&bf);
  const char *v[4] = {a, b, c, d};
  for (int i = 0; i < 4 && v[i]; i++) {
    if (i) wbr_buf_putc(&bf, '\x1e');
    wbr_buf_puts(&bf, v[i]);
  }
  wbr_buf_putc(&bf, 0);
  return wbr_buf_take(&bf);
}

/* Tail word of every part of a joined concat rule and of its output, if all the same. */
static bool concat_tail(const grule *r, char *stem, size_t cap, char *word, size_t wcap) {
  char *buf = NULL, *parts[M_MAXPARTS];
  size_t np = split_joined(r->pat, &buf, parts, M_MAXPARTS);
  bool ok = np >= 2 && r->tmpl;
  wbr_buf b;
  wbr_buf_init(&b);
  const char *w0 = NULL;
  for (size_t q = 0; q <= np && ok; q++) {
    const char *x = q < np ? parts[q] : r->tmpl;
    size_t cut;
    const char *w = tail_split(x, false, &cut);
    if (!w || has_special(w) || (w0 && strcmp(w, w0) != 0)) ok = false;
    else {
      w0 = w;
      wbr_buf_put(&b, x, cut);
      wbr_buf_putc(&b, '\x1e');
    }
  }
  if (ok && !b.oom && b.len < cap && strlen(w0) < wcap) {
    memcpy(stem, b.p, b.len);
    stem[b.len] = 0;
    snprintf(word, wcap, "%s", w0);
  } else {
    ok = false;
  }
  wbr_buf_free(&b);
  free(buf);
  return ok;
}

/* Concat rules that differ only in their tail word (weight, bias) are tried merged first. */
static void concat_leaf_merge(grules *in, grules *out) {
  bool *used = calloc(in->n + 1, sizeof *used);
  char (*stems)[1024] = calloc(in->n + 1, sizeof *stems);
  char word[256];
  bool *has = calloc(in->n + 1, sizeof *has);
  if (!used || !stems || !has) {
    out->oom = true;
    goto done;
  }
  for (size_t i = 0; i < in->n; i++) has[i] = concat_tail(&in->v[i], stems[i], sizeof stems[i], word, sizeof word);
  for (size_t i = 0; i < in->n && !out->oom; i++) {
    if (used[i]) continue;
    size_t same = 0, total = in->v[i].nids;
    for (size_t j = i + 1; has[i] && j < in->n; j++)
      if (!used[j] && has[j] && strcmp(stems[i], stems[j]) == 0) same++, total += in->v[j].nids;
    const char *cn = same ? free_capname(in->v[i].pat) : NULL;
    if (cn && strstr(in->v[i].tmpl, "{p}") && !strcmp(cn, "p")) cn = NULL;
    if (cn) {
      grule *r = grule_add(out);
      if (!r) break;
      wbr_buf b;
      wbr_buf_init(&b);
      /* the stem holds each part's prefix and the output's, separated by \x1e */
      char *st = stems[i], *e;
      size_t q = 0;
      wbr_buf pat;
      wbr_buf_init(&pat);
      while ((e = strchr(st, '\x1e')) != NULL) {
        wbr_buf *dst = strchr(e + 1, '\x1e') ? &pat : &b;
        if (dst == &pat && q) wbr_buf_putc(&pat, '\x1e');
        wbr_buf_put(dst, st, (size_t)(e - st));
        wbr_buf_printf(dst, "{%s}", cn);
        st = e + 1;
        q++;
      }
      wbr_buf_putc(&pat, 0);
      wbr_buf_putc(&b, 0);
      r->pat = wbr_buf_take(&pat);
      r->tmpl = wbr_buf_take(&b);
      r->ids = malloc(total * sizeof *r->ids);
      if (!r->pat || !r->tmpl || !r->ids) {
        out->oom = true;
        break;
      }
      for (size_t j = i; j < in->n; j++) {
        if (used[j] || (j > i && (!has[j] || strcmp(stems[i], stems[j]) != 0))) continue;
        memcpy(r->ids + r->nids, in->v[j].ids, in->v[j].nids * sizeof *r->ids);
        r->nids += in->v[j].nids;
        if (j == i) continue;
        grule *k2 = grule_add(out);
        if (!k2) break;
        *k2 = in->v[j];
        memset(&in->v[j], 0, sizeof in->v[j]);
        used[j] = true;
      }
    }
    grule *k1 = grule_add(out);
    if (!k1) break;
    *k1 = in->v[i];
    memset(&in->v[i], 0, sizeof in->v[i]);
    used[i] = true;
  }
done:
  free(used);
  free(stems);
  free(has);
}

/* A split statement's axis, and its sizes where the pieces differ (fused.c knows them). */
static void split_fill(const matcher *m, mstmt *st, uint32_t s) {
  int64_t sz[M_MAXPARTS];
  int axis = 0, n = m_split_pieces(m, s, sz, &axis);
  for (size_t p = 0; p < m->npairs; p++) /* cut per kv group: unfuse, sizes in whole rows */
    if (m->pairs[p].split_k && m->pairs[p].s[0] == s && m->pairs[p].named == MNAMED_GROUPS) {
      st->kind = WBR_STMT_UNFUSE;
      st->named = MNAMED_GROUPS;
      st->count = m->pairs[p].count;
      st->has_axis = false;
      for (int i = 0; i < n; i++) sz[i] *= st->count;
      axis = 0;
      break;
    }
  st->axis = axis;
  bool equal = true;
  for (int i = 1; i < n; i++) equal &= sz[i] == sz[0];
  if (equal) return;
  for (int i = 0; i < n; i++) st->ints[i] = sz[i];
  st->nints = (size_t)n;
}

static bool sim_taken(void *ud, const char *name) { return sim_find(ud, name) >= 0; }

/* Pieces of a split that no target takes (BEiT has no k bias): dropped right after the split,
 * under the names m_cut_name gave them. */
static void drop_cuts(ictx *ic, char *const *cuts, size_t n) {
  msim *sim = &ic->sim;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += cuts[i] != NULL;
  if (!k) return;
  stage st = {.sim = sim, .nitems = sim->n};
  st.pending = calloc(sim->n + 1, sizeof *st.pending);
  st.want = calloc(sim->n + 1, sizeof *st.want);
  gitem *it = malloc(k * sizeof *it);
  size_t q = 0, first = ic->out->n;
  if (!st.pending || !st.want || !it) {
    ic->oom = true;
    goto out;
  }
  for (size_t i = 0; i < sim->n; i++) sim->item[i] = (int32_t)i;
  for (size_t i = 0; i < n; i++) {
    long slot = cuts[i] ? sim_find(sim, cuts[i]) : -1;
    if (slot < 0) continue;
    st.pending[slot] = true;
    it[q++] = (gitem){.x = sim->name[slot], .y = NULL, .id = (uint32_t)slot};
  }
  run_stage(ic, &st, it, q, WBR_STMT_DROP, false, NULL, NULL);
  if (ic->out->n > first && !ic->out->v[first].comment)
    ic->out->v[first].comment = wbr_strdup("a part of the fused source the target does not have");
  for (size_t i = first; i < ic->out->n; i++) ic->out->v[i].pieces = true;
  for (size_t i = 0; i < q; i++) sim_kill(sim, it[i].id);
out:
  for (size_t i = 0; i < sim->n; i++) sim->item[i] = -1;
  free(st.pending);
  free(st.want);
  free(it);
}

/* A join per kv group is one fuse statement (its views are the statement's own). */
static void concat_named(mstmt *s, const mpair *pr) {
  if (pr->named != MNAMED_GROUPS) return;
  s->kind = WBR_STMT_FUSE;
  s->named = MNAMED_GROUPS;
  s->count = pr->count;
  s->axis = 0;
  s->has_axis = false;
}

/* concat and split: generalised over their joined names; checked part by part. */
static void stage_fused(ictx *ic) {
  matcher *m = ic->m;
  msim *sim = &ic->sim;
  /* pre-ops on concat parts (source names) */
  size_t nparts = 0;
  for (size_t p = 0; p < m->npairs; p++)
    if (pair_live(&m->pairs[p]) && m->pairs[p].ns > 1) nparts += m->pairs[p].ns;
  if (nparts) {
    uint32_t *slots = malloc(nparts * sizeof *slots);
    mlayout *lays = malloc(nparts * sizeof *lays);
    if (!slots || !lays) {
      free(slots);
      free(lays);
      ic->oom = true;
      return;
    }
    size_t k = 0;
    for (size_t p = 0; p < m->npairs; p++) {
      mpair *pr = &m->pairs[p];
      if (!pair_live(pr) || pr->ns < 2 || !pr->lay.nops || pr->named) continue;
      for (int i = 0; i < pr->ns; i++) {
        slots[k] = pr->s[i]; /* a source keeps its slot through renames */
        lays[k] = pr->lay;
        k++;
      }
    }
    stage_ops(ic, slots, lays, k);
    free(slots);
    free(lays);
  }
  /* concat statements */
  size_t nc = 0;
  for (size_t p = 0; p < m->npairs; p++) nc += pair_live(&m->pairs[p]) && m->pairs[p].ns > 1;
  if (nc) {
    gitem *it = malloc(nc * sizeof *it);
    char **texts = calloc(nc, sizeof *texts);
    uint32_t *pid = malloc(nc * sizeof *pid);
    bool *done = calloc(nc, sizeof *done);
    if (!it || !texts || !pid || !done) {
      ic->oom = true;
    } else {
      size_t k = 0;
      for (size_t p = 0; p < m->npairs; p++) {
        mpair *pr = &m->pairs[p];
        if (!pair_live(pr) || pr->ns < 2) continue;
        texts[k] = join3(sim->name[pr->s[0]], sim->name[pr->s[1]], pr->ns > 2 ? sim->name[pr->s[2]] : NULL,
                         pr->ns > 3 ? sim->name[pr->s[3]] : NULL);
        it[k].x = texts[k];
        it[k].y = tname(m, pr->t);
        it[k].id = (uint32_t)k;
        pid[k] = (uint32_t)p;
        k++;
      }
      grules g0 = {0}, g = {0};
      gen(&g0, it, k, ic->literal);
      if (!ic->literal) concat_leaf_merge(&g0, &g);
      else g = g0, memset(&g0, 0, sizeof g0);
      grules_free(&g0);
      for (size_t r = 0; r < g.n && !ic->oom; r++) {
        bool any = false;
        for (size_t z = 0; z < g.v[r].nids; z++) any |= !done[g.v[r].ids[z]];
        if (!any) continue;
        /* verify: each input pattern matches exactly its members' parts */
        char *buf = NULL, *parts[M_MAXPARTS];
        size_t np = split_joined(g.v[r].pat, &buf, parts, M_MAXPARTS);
        bool ok = np >= 2;
        for (size_t q = 0; q < np && ok; q++) {
          wbr_namepat *pat = NULL;
          wbr_namepat_error err;
          if (wbr_namepat_new(&pat, WBR_PK_GLOB, parts[q], "", &err)) {
            ok = false;
            break;
          }
          size_t hits = 0;
          for (size_t i = 0; i < sim->n && ok; i++) {
            if (!sim->alive[i]) continue;
            wbr_match mm;
            if (wbr_namepat_match(pat, sim->name[i], strlen(sim->name[i]), &mm, &err) != 1) continue;
            bool member = false;
            for (size_t z = 0; z < g.v[r].nids && !member; z++)
              member = i == m->pairs[pid[g.v[r].ids[z]]].s[q];
            if (!member) ok = false;
            hits++;
          }
          if (hits != g.v[r].nids) ok = false;
          wbr_namepat_free(pat);
        }
        /* one statement joins every member along one axis */
        for (size_t z = 1; z < g.v[r].nids && ok; z++)
          ok = m->pairs[pid[g.v[r].ids[z]]].axis == m->pairs[pid[g.v[r].ids[0]]].axis;
        if (!ok) {
          free(buf);
          continue;
        }
        mstmt *s = stmt_new(ic->out, WBR_STMT_CONCAT);
        if (!s) {
          ic->oom = true;
          free(buf);
          break;
        }
        for (size_t q = 0; q < np; q++) s->in[q] = wbr_strdup(parts[q]);
        s->nin = np;
        s->out[0] = wbr_strdup(g.v[r].tmpl);
        s->nout = 1;
        s->axis = m->pairs[pid[g.v[r].ids[0]]].axis;
        s->has_axis = true;
        concat_named(s, &m->pairs[pid[g.v[r].ids[0]]]);
        s->nmembers = g.v[r].nids;
        free(buf);
        for (size_t z = 0; z < g.v[r].nids; z++) done[g.v[r].ids[z]] = true;
      }
      grules_free(&g);
      for (size_t i = 0; i < k && !ic->oom; i++) {
        mpair *pr = &m->pairs[pid[i]];
        if (!done[i]) {
          mstmt *s = stmt_new(ic->out, WBR_STMT_CONCAT);
          if (!s) {
            ic->oom = true;
            break;
          }
          for (int q = 0; q < pr->ns; q++) s->in[q] = lit(sim->name[pr->s[q]]);
          s->nin = pr->ns;
          s->out[0] = lit(tname(m, pr->t));
          s->nout = 1;
          s->axis = pr->axis;
          s->has_axis = true;
          concat_named(s, pr);
          s->nmembers = 1;
        }
        for (int q = 0; q < pr->ns; q++) sim->alive[pr->s[q]] = false; /* map rebuilt below */
      }
      sim->dirty = true;
      for (size_t i = 0; i < k && !ic->oom; i++) sim_add(sim, tname(m, m->pairs[pid[i]].t));
      for (size_t i = 0; i < k; i++) free(texts[i]);
    }
    free(it);
    free(texts);
    free(pid);
    free(done);
  }
  /* split statements: generalised like concat (the input and the joined outputs) */
  size_t nsp = 0;
  for (size_t p = 0; p < m->npairs; p++) {
    mpair *pr = &m->pairs[p];
    nsp += pair_live(pr) && pr->split_k && m_split_first(m, p);
  }
  if (nsp && !ic->oom) {
    gitem *it = malloc(nsp * sizeof *it);
    char **texts = calloc(nsp, sizeof *texts);
    uint32_t *src = malloc(nsp * sizeof *src);
    bool *done = calloc(nsp, sizeof *done);
    char **cuts = calloc(nsp, sizeof *cuts); /* the name of a piece cut off, to drop */
    size_t k = 0;
    if (!it || !texts || !src || !done || !cuts) ic->oom = true;
    for (size_t p = 0; p < m->npairs && !ic->oom; p++) {
      mpair *pr = &m->pairs[p];
      if (!pair_live(pr) || !pr->split_k || !m_split_first(m, p)) continue;
      const char *outs[M_MAXPARTS] = {0};
      for (size_t q = 0; q < m->npairs; q++) {
        mpair *o = &m->pairs[q];
        if (pair_live(o) && o->split_k && o->s[0] == pr->s[0] && o->split_i < M_MAXPARTS) outs[o->split_i] = tname(m, o->t);
      }
      if (pr->cut && pr->cut <= M_MAXPARTS && !outs[pr->cut - 1])
        outs[pr->cut - 1] = cuts[k] = m_cut_name(m, pr->s[0], sim_taken, sim);
      bool all = true;
      for (int q = 0; q < pr->split_k && q < M_MAXPARTS; q++) all &= outs[q] != NULL;
      if (!all) {
        free(cuts[k]);
        cuts[k] = NULL;
        continue;
      }
      texts[k] = join3(outs[0], outs[1], pr->split_k > 2 ? outs[2] : NULL, pr->split_k > 3 ? outs[3] : NULL);
      it[k].x = sim->name[pr->s[0]];
      it[k].y = texts[k];
      it[k].id = (uint32_t)k;
      src[k] = pr->s[0];
      k++;
    }
    grules g0 = {0}, g = {0};
    if (!ic->oom) {
      gen(&g0, it, k, ic->literal);
      /* merge weight/bias: the joined outputs play the parts of a concat */
      for (size_t r = 0; r < g0.n; r++) {
        char *t = g0.v[r].pat;
        g0.v[r].pat = g0.v[r].tmpl;
        g0.v[r].tmpl = t;
      }
      if (!ic->literal) concat_leaf_merge(&g0, &g);
      else g = g0, memset(&g0, 0, sizeof g0);
      for (size_t r = 0; r < g.n; r++) {
        char *t = g.v[r].pat;
        g.v[r].pat = g.v[r].tmpl;
        g.v[r].tmpl = t;
      }
    }
    for (size_t r = 0; r < g.n && !ic->oom; r++) {
      bool any = false;
      for (size_t z = 0; z < g.v[r].nids; z++) any |= !done[g.v[r].ids[z]];
      if (!any || !g.v[r].tmpl) continue;
      wbr_namepat *pat = NULL;
      wbr_namepat_error err;
      if (wbr_namepat_new(&pat, WBR_PK_GLOB, g.v[r].pat, "", &err)) continue;
      size_t hits = 0;
      bool ok = true;
      for (size_t i = 0; i < sim->n && ok; i++) {
        if (!sim->alive[i]) continue;
        wbr_match mm;
        if (wbr_namepat_match(pat, sim->name[i], strlen(sim->name[i]), &mm, &err) != 1) continue;
        bool member = false;
        for (size_t z = 0; z < g.v[r].nids && !member; z++) member = i == src[g.v[r].ids[z]];
        ok = member;
        hits++;
      }
      wbr_namepat_free(pat);
      /* one statement cuts every member along one axis into the same sizes */
      for (size_t z = 1; z < g.v[r].nids && ok; z++) ok = m_split_alike(m, src[g.v[r].ids[0]], src[g.v[r].ids[z]]);
      if (!ok || hits != g.v[r].nids) continue;
      char *buf = NULL, *parts[M_MAXPARTS];
      size_t np = split_joined(g.v[r].tmpl, &buf, parts, M_MAXPARTS);
      mstmt *st = stmt_new(ic->out, WBR_STMT_SPLIT);
      if (!st || np < 2) {
        ic->oom |= !st;
        free(buf);
        continue;
      }
      st->in[0] = wbr_strdup(g.v[r].pat);
      st->nin = 1;
      for (size_t q = 0; q < np; q++) st->out[st->nout++] = wbr_strdup(parts[q]);
      st->has_axis = true;
      split_fill(m, st, src[g.v[r].ids[0]]);
      st->nmembers = g.v[r].nids;
      free(buf);
      for (size_t z = 0; z < g.v[r].nids; z++) done[g.v[r].ids[z]] = true;
    }
    for (size_t i = 0; i < k && !ic->oom; i++) {
      if (!done[i]) {
        char *buf = NULL, *parts[M_MAXPARTS];
        size_t np = split_joined(it[i].y, &buf, parts, M_MAXPARTS);
        mstmt *st = stmt_new(ic->out, WBR_STMT_SPLIT);
        if (!st) {
          ic->oom = true;
          free(buf);
          break;
        }
        st->in[0] = lit(it[i].x);
        st->nin = 1;
        for (size_t q = 0; q < np; q++) st->out[st->nout++] = lit(parts[q]);
        st->has_axis = true;
        split_fill(m, st, src[i]);
        st->nmembers = 1;
        free(buf);
      }
    }
    /* the sources go, the parts come */
    for (size_t i = 0; i < k; i++) sim->alive[src[i]] = false;
    sim->dirty = true;
    for (size_t i = 0; i < k && !ic->oom; i++) {
      char *buf = NULL, *parts[M_MAXPARTS];
      size_t np = split_joined(texts[i], &buf, parts, M_MAXPARTS);
      for (size_t q = 0; q < np; q++) sim_add(sim, parts[q]);
      free(buf);
    }
    if (!ic->oom) drop_cuts(ic, cuts, k);
    grules_free(&g0);
    grules_free(&g);
    for (size_t i = 0; i < k; i++) free(texts[i]), free(cuts[i]);
    free(cuts);
    free(it);
    free(texts);
    free(src);
    free(done);
  }
}

/* ---- renames ----------------------------------------------------------------------------------- */

typedef struct rn {
  uint32_t slot;    /* sim slot */
  const char *y;    /* target name */
  uint32_t s, t;    /* source and target tensor */
} rn;

static bool is_sepc(char c) { return c == '.' || c == '/'; }

/* Stage: last segments that are synonyms (kernel -> weight, scale -> weight) for every tensor
 * that has them: one rename of the `kernel` leaf to `weight` instead of one per module. */
static void rn_leaf_synonyms(ictx *ic, stage *st, rn *r, size_t n) {
  matcher *m = ic->m;
  msim *sim = &ic->sim;
  mintern seen;
  mi_init(&seen);
  for (size_t i = 0; i < n && !ic->oom; i++) {
    if (!st->pending[r[i].slot]) continue;
    const char *x = sim->name[r[i].slot];
    size_t cx, cy;
    const char *lx = tail_split(x, false, &cx), *ly = tail_split(r[i].y, false, &cy);
    if (!lx || !ly || strcmp(lx, ly) == 0 || has_special(lx) || has_special(ly)) continue;
    if (m->S.t[r[i].s].leafkey != m->T.t[r[i].t].leafkey) continue;
    /* once per (separator, leaf, new leaf) */
    wbr_buf p, t;
    wbr_buf_init(&p);
    wbr_buf_init(&t);
    wbr_buf_putc(&p, '*');
    wbr_buf_putc(&p, x[cx - 1]);
    put_lit(&p, lx, strlen(lx));
    wbr_buf_putc(&p, 0);
    wbr_buf_putc(&t, '*');
    wbr_buf_putc(&t, x[cx - 1]);
    put_lit(&t, ly, strlen(ly));
    wbr_buf_putc(&t, 0);
    size_t before = seen.n;
    wbr_buf key;
    wbr_buf_init(&key);
    wbr_buf_puts(&key, p.p ? p.p : "");
    wbr_buf_putc(&key, '\x1d');
    wbr_buf_puts(&key, t.p ? t.p : "");
    mi_id(&seen, key.p ? key.p : "", key.len);
    wbr_buf_free(&key);
    if (seen.n == before || p.oom || t.oom) {
      wbr_buf_free(&p);
      wbr_buf_free(&t);
      continue;
    }
    /* expectation: the leaf swapped, for every pending item with these two leaves */
    char **tmp = calloc(n, sizeof *tmp);
    if (!tmp) {
      ic->oom = true;
      break;
    }
    size_t cnt = 0;
    for (size_t k = 0; k < n; k++) {
      if (!st->pending[r[k].slot]) continue;
      const char *xk = sim->name[r[k].slot];
      size_t ck, cyk;
      const char *lk = tail_split(xk, false, &ck), *lyk = tail_split(r[k].y, false, &cyk);
      if (!lk || strcmp(lk, lx) != 0 || !lyk || strcmp(lyk, ly) != 0 || xk[ck - 1] != x[cx - 1]) continue;
      wbr_buf w;
      wbr_buf_init(&w);
      wbr_buf_put(&w, xk, ck);
      wbr_buf_puts(&w, ly);
      wbr_buf_putc(&w, 0);
      tmp[k] = wbr_buf_take(&w);
      st->want[r[k].slot] = tmp[k];
      cnt++;
    }
    if (cnt >= 2 && try_rule(st, p.p, t.p, false) >= 2) {
      long c = try_rule(st, p.p, t.p, true);
      mstmt *s = emit(ic, WBR_STMT_RENAME, p.p, t.p);
      if (s) s->nmembers = (size_t)c;
    }
    for (size_t k = 0; k < n; k++) {
      if (!tmp[k]) continue;
      st->want[r[k].slot] = r[k].y;
      free(tmp[k]);
      st->pending[r[k].slot] = strcmp(sim->name[r[k].slot], r[k].y) != 0;
    }
    free(tmp);
    wbr_buf_free(&p);
    wbr_buf_free(&t);
  }
  mi_free(&seen);
}

/* Stage: one prefix added to (or removed from) every remaining name. */
static void rn_common_prefix(ictx *ic, stage *st, rn *r, size_t n) {
  msim *sim = &ic->sim;
  size_t live = 0;
  const char *x0 = NULL, *y0 = NULL;
  for (size_t i = 0; i < n; i++)
    if (st->pending[r[i].slot]) {
      live++;
      if (!x0) {
        x0 = sim->name[r[i].slot];
        y0 = r[i].y;
      }
    }
  if (live < 2) return;
  size_t lx = strlen(x0), ly = strlen(y0);
  bool add = ly > lx && strcmp(y0 + ly - lx, x0) == 0 && is_sepc(y0[ly - lx - 1]);
  bool rem = lx > ly && strcmp(x0 + lx - ly, y0) == 0 && is_sepc(x0[lx - ly - 1]);
  if (!add && !rem) return;
  const char *pre = add ? y0 : x0;
  size_t plen = add ? ly - lx : lx - ly;
  for (size_t i = 0; i < n; i++) {
    if (!st->pending[r[i].slot]) continue;
    const char *x = sim->name[r[i].slot], *y = r[i].y;
    if (add ? (strlen(y) != strlen(x) + plen || strncmp(y, pre, plen) || strcmp(y + plen, x))
            : (strlen(x) != strlen(y) + plen || strncmp(x, pre, plen) || strcmp(x + plen, y)))
      return;
  }
  wbr_buf p, t;
  wbr_buf_init(&p);
  wbr_buf_init(&t);
  if (add) {
    wbr_buf_putc(&p, '*');
    put_lit(&t, pre, plen);
    wbr_buf_putc(&t, '*');
  } else {
    put_lit(&p, pre, plen);
    wbr_buf_putc(&p, '*');
    wbr_buf_putc(&t, '*');
  }
  wbr_buf_putc(&p, 0);
  wbr_buf_putc(&t, 0);
  if (!p.oom && !t.oom && try_rule(st, p.p, t.p, false) > 0) {
    long c = try_rule(st, p.p, t.p, true);
    mstmt *s = emit(ic, WBR_STMT_RENAME, p.p, t.p);
    if (s) s->nmembers = (size_t)c;
  }
  wbr_buf_free(&p);
  wbr_buf_free(&t);
}

/* Digit-masked signature of a prefix rewrite (numbers that agree across sides become '#'). */
static char *rewrite_sig(const char *a, size_t na, const char *b, size_t nb) {
  runs ra, rb;
  char *ca = wbr_strndup(a, na), *cb = wbr_strndup(b, nb);
  wbr_buf s;
  wbr_buf_init(&s);
  if (!ca || !cb) goto out;
  find_runs(ca, &ra);
  find_runs(cb, &rb);
  const char *sv[2] = {ca, cb};
  runs *rv[2] = {&ra, &rb}, *ov[2] = {&rb, &ra};
  for (int side = 0; side < 2; side++) {
    const char *x = sv[side];
    const char *o = sv[1 - side];
    size_t pos = 0;
    for (int k = 0; k < rv[side]->n; k++) {
      wbr_buf_put(&s, x + pos, rv[side]->st[k] - pos);
      size_t l = rv[side]->en[k] - rv[side]->st[k];
      bool shared = false;
      for (int q = 0; q < ov[side]->n && !shared; q++)
        shared = ov[side]->en[q] - ov[side]->st[q] == l && memcmp(o + ov[side]->st[q], x + rv[side]->st[k], l) == 0;
      if (shared) wbr_buf_putc(&s, '#');
      else wbr_buf_put(&s, x + rv[side]->st[k], l);
      pos = rv[side]->en[k];
    }
    wbr_buf_puts(&s, x + pos);
    wbr_buf_putc(&s, side ? 0 : '\x1d');
  }
out:
  free(ca);
  free(cb);
  return wbr_buf_take(&s);
}

/* Signature of the part of a rename left after a prefix: digits as in rewrite_sig, and the last
 * segment replaced by '@' when both sides end in the same one (they will merge as {p}). */
static char *residual_sig(const char *x, const char *y) {
  size_t cx, cy;
  const char *lx = tail_split(x, false, &cx), *ly = tail_split(y, false, &cy);
  wbr_buf a, b;
  wbr_buf_init(&a);
  wbr_buf_init(&b);
  if (lx && ly && strcmp(lx, ly) == 0) {
    wbr_buf_put(&a, x, cx);
    wbr_buf_putc(&a, '@');
    wbr_buf_put(&b, y, cy);
    wbr_buf_putc(&b, '@');
  } else {
    wbr_buf_puts(&a, x);
    wbr_buf_puts(&b, y);
  }
  char *r = NULL;
  if (!a.oom && !b.oom) r = rewrite_sig(a.p ? a.p : "", a.len, b.p ? b.p : "", b.len);
  wbr_buf_free(&a);
  wbr_buf_free(&b);
  return r;
}

typedef struct scopeopt {
  uint32_t xid;  /* interned "x" + prefix, or UINT32_MAX for "no prefix rename" */
  uint32_t ylen; /* length of the target prefix */
  uint32_t psig, rsig;
  bool ident;    /* nothing left to rename after the prefix */
} scopeopt;

static uint32_t intern_tagged(mintern *in, char tag, const char *s, size_t n) {
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_putc(&b, tag);
  wbr_buf_put(&b, s, n);
  uint32_t id = b.oom ? UINT32_MAX : mi_id(in, b.p, b.len);
  wbr_buf_free(&b);
  return id;
}

uint32_t m_intern_tagged(mintern *in, char tag, const char *s, size_t n) { return intern_tagged(in, tag, s, n); }

/* Stage: block prefixes. A prefix X of source names maps consistently to a prefix Y of target
 * names when every pair under X lands under Y and vice versa. Each pair picks the scope whose
 * prefix rename and remaining rename are shared by the most pairs (a cost of 1/count each),
 * and `X*` -> `Y*` renames are generalised over numbers. */
/* "A{i}B*" -> "C{i+K}D*" for a family of prefix renames found by shift.c. */
static void shift_rule(const gitem *it, const mshift *f, wbr_buf *p, wbr_buf *t) {
  const char *x = it[f->first].x, *y = it[f->first].y;
  put_lit(p, x, f->xs);
  wbr_buf_puts(p, "{i}");
  put_lit(p, x + f->xe, strlen(x + f->xe));
  wbr_buf_puts(p, "*");
  put_lit(t, y, f->ys);
  wbr_buf_printf(t, "{i%+lld}", (long long)f->k);
  put_lit(t, y + f->ye, strlen(y + f->ye));
  wbr_buf_puts(t, "*");
  wbr_buf_putc(p, 0);
  wbr_buf_putc(t, 0);
}

/* Which prefix renames gen() drafts one per scope: those of a group of one (true in the result:
 * not such a rename). A group's generalised rule that does not fit falls back to one per scope
 * too, but whether it fits depends on the rules before it: those are left as they are. */
static bool *shift_skip(const gitem *it, size_t k, const grules *g) {
  bool *skip = malloc((k + 1) * sizeof *skip);
  if (!skip) return NULL;
  for (size_t w = 0; w < k; w++) skip[w] = true;
  for (size_t q = 0; q < g->n; q++) {
    bool one = g->v[q].nids == 1;
    for (size_t z = 0; one && z < g->v[q].nids; z++)
      for (size_t w = 0; w < k; w++)
        if (it[w].id == g->v[q].ids[z]) skip[w] = false;
  }
  return skip;
}

/* Prefix renames of a numbered family shifted by one K (h.0. -> blocks.1., h.1. -> blocks.2.,
 * ...) that gen() would draft one per block: one rule with index arithmetic per family, when the
 * simulator proves it renames exactly those. They are then done, so gen()'s rules for them match
 * nothing and are not emitted. */
static void shift_renames(ictx *ic, stage *st, const gitem *it, size_t k, const grules *g) {
  const char **x = malloc((k + 1) * sizeof *x), **y = malloc((k + 1) * sizeof *y);
  bool *done = shift_skip(it, k, g), *in = calloc(k + 1, sizeof *in);
  mshift f;
  for (size_t i = 0; x && y && i < k; i++) {
    x[i] = it[i].x;
    y[i] = it[i].y;
  }
  while (x && y && done && in && !ic->oom && m_shift_family(x, y, k, done, in, &f) >= 2) {
    for (size_t i = 0; i < k; i++) done[i] = done[i] || in[i];
    wbr_buf p, t;
    wbr_buf_init(&p);
    wbr_buf_init(&t);
    shift_rule(it, &f, &p, &t);
    if (!p.oom && !t.oom && try_rule(st, p.p, t.p, false) > 0) {
      long c = apply_tested(st, p.p, t.p);
      mstmt *s = emit(ic, WBR_STMT_RENAME, p.p, t.p);
      if (s) s->nmembers = (size_t)c;
    }
    wbr_buf_free(&p);
    wbr_buf_free(&t);
  }
  if (!x || !y || !done || !in) ic->oom = true;
  free(x);
  free(y);
  free(done);
  free(in);
}

static void rn_prefixes(ictx *ic, stage *st, rn *r, size_t n) {
  msim *sim = &ic->sim;
  mintern pin;
  mi_init(&pin);
  size_t cap = 0;
  uint32_t *cnt_x = NULL, *cnt_y = NULL, *lcp_len = NULL, *lcp_src = NULL, *cnt_sig = NULL;
  scopeopt *opt = NULL;
  size_t *opt0 = calloc(n + 1, sizeof *opt0), nopt = 0, optcap = 0;
  uint32_t *choice = malloc((n + 1) * sizeof *choice);
  bool *chosen = NULL;
  if (!opt0 || !choice) {
    ic->oom = true;
    goto out;
  }
  /* pass 0 interns every separator-ended prefix; pass 1 counts and builds the y LCPs */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < n; i++) {
      if (!st->pending[r[i].slot]) continue;
      const char *x = sim->name[r[i].slot], *y = r[i].y;
      for (int side = 0; side < 2; side++) {
        const char *s = side ? y : x;
        for (size_t k = 0; s[k]; k++) {
          if (!is_sepc(s[k])) continue;
          uint32_t id = intern_tagged(&pin, side ? 'y' : 'x', s, k + 1);
          if (id == UINT32_MAX) {
            ic->oom = true;
            goto out;
          }
          if (pass == 0 || id >= cap) continue;
          if (side) {
            cnt_y[id]++;
            continue;
          }
          cnt_x[id]++;
          if (lcp_src[id] == UINT32_MAX) {
            lcp_src[id] = (uint32_t)i;
            lcp_len[id] = (uint32_t)strlen(y);
          } else {
            const char *y0 = r[lcp_src[id]].y;
            uint32_t l = 0;
            while (l < lcp_len[id] && y[l] && y[l] == y0[l]) l++;
            lcp_len[id] = l;
          }
        }
      }
    }
    if (pass == 0) {
      cap = pin.n;
      cnt_x = calloc(cap + 1, sizeof *cnt_x);
      cnt_y = calloc(cap + 1, sizeof *cnt_y);
      lcp_len = calloc(cap + 1, sizeof *lcp_len);
      lcp_src = malloc((cap + 1) * sizeof *lcp_src);
      if (!cnt_x || !cnt_y || !lcp_len || !lcp_src) {
        ic->oom = true;
        goto out;
      }
      for (size_t k = 0; k <= cap; k++) lcp_src[k] = UINT32_MAX;
    }
  }
  /* the options of each pair, with the signatures of the renames they imply */
  for (size_t i = 0; i < n && !ic->oom; i++) {
    opt0[i] = nopt;
    if (!st->pending[r[i].slot]) continue;
    const char *x = sim->name[r[i].slot], *y = r[i].y;
    for (size_t k = 0;; k++) {
      bool end = !x[k];
      if (!end && !is_sepc(x[k])) continue;
      scopeopt o = {.xid = UINT32_MAX};
      char *ps = NULL, *rs = NULL;
      if (end) {
        rs = residual_sig(x, y);
      } else {
        uint32_t id = intern_tagged(&pin, 'x', x, k + 1);
        if (id >= cap || lcp_src[id] == UINT32_MAX) continue;
        uint32_t l = lcp_len[id];
        const char *y0 = r[lcp_src[id]].y;
        while (l > 0 && !is_sepc(y0[l - 1])) l--;
        if (l == 0) continue;
        uint32_t yid = intern_tagged(&pin, 'y', y0, l);
        if (yid >= cap || cnt_y[yid] != cnt_x[id]) continue;
        if (l == k + 1 && memcmp(x, y0, l) == 0) continue; /* nothing to rename */
        o.xid = id;
        o.ylen = l;
        ps = rewrite_sig(x, k + 1, y0, l);
        o.ident = strcmp(x + k + 1, y + l) == 0;
        if (!o.ident) rs = residual_sig(x + k + 1, y + l);
      }
      o.psig = ps ? intern_tagged(&pin, 'P', ps, strlen(ps)) : UINT32_MAX;
      o.rsig = rs ? intern_tagged(&pin, 'R', rs, strlen(rs)) : UINT32_MAX;
      free(ps);
      free(rs);
      if (nopt == optcap) {
        optcap = optcap ? optcap * 2 : 256;
        scopeopt *no = realloc(opt, optcap * sizeof *no);
        if (!no) {
          ic->oom = true;
          break;
        }
        opt = no;
      }
      opt[nopt++] = o;
      if (end) break;
    }
  }
  opt0[n] = nopt;
  if (ic->oom) goto out;
  cnt_sig = calloc(pin.n + 1, sizeof *cnt_sig);
  if (!cnt_sig) {
    ic->oom = true;
    goto out;
  }
  for (size_t q = 0; q < nopt; q++) {
    if (opt[q].psig < pin.n) cnt_sig[opt[q].psig]++;
    if (opt[q].rsig < pin.n) cnt_sig[opt[q].rsig]++;
  }
  for (size_t i = 0; i < n; i++) {
    choice[i] = UINT32_MAX;
    double best = 1e9;
    for (size_t q = opt0[i]; q < (i + 1 < n ? opt0[i + 1] : nopt); q++) {
      double c = 0;
      if (opt[q].psig < pin.n) c += 1.0 / cnt_sig[opt[q].psig];
      if (opt[q].rsig < pin.n) c += 1.0 / cnt_sig[opt[q].rsig];
      if (c < best - 1e-9) {
        best = c;
        choice[i] = opt[q].xid;
      }
    }
  }
  /* a pair uses the shallowest chosen scope on its path */
  chosen = calloc(pin.n + 1, sizeof *chosen);
  if (!chosen) {
    ic->oom = true;
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    if (st->pending[r[i].slot] && choice[i] < cap) chosen[choice[i]] = true;
  {
    gitem *it = malloc((n + 1) * sizeof *it);
    char **xs = calloc(n + 1, sizeof *xs), **ys = calloc(n + 1, sizeof *ys);
    uint32_t *scope_of_pair = malloc((n + 1) * sizeof *scope_of_pair);
    bool *seen = calloc(pin.n + 1, sizeof *seen);
    size_t k = 0;
    if (!it || !xs || !ys || !scope_of_pair || !seen) {
      ic->oom = true;
    } else {
      for (size_t i = 0; i < n; i++) {
        scope_of_pair[i] = UINT32_MAX;
        if (!st->pending[r[i].slot]) continue;
        const char *x = sim->name[r[i].slot];
        for (size_t q = 0; x[q]; q++) {
          if (!is_sepc(x[q])) continue;
          uint32_t id = intern_tagged(&pin, 'x', x, q + 1);
          if (id < cap && chosen[id]) {
            scope_of_pair[i] = id;
            break;
          }
        }
        uint32_t id = scope_of_pair[i];
        if (id == UINT32_MAX || seen[id]) continue;
        seen[id] = true;
        uint32_t l = lcp_len[id];
        const char *y0 = r[lcp_src[id]].y;
        while (l > 0 && !is_sepc(y0[l - 1])) l--;
        xs[k] = wbr_strdup(mi_str(&pin, id) + 1);
        ys[k] = wbr_strndup(y0, l);
        it[k].x = xs[k];
        it[k].y = ys[k];
        it[k].id = id;
        if (!xs[k] || !ys[k]) ic->oom = true;
        k++;
      }
      /* every pair under a chosen scope expects its prefix swapped */
      for (size_t i = 0; i < n && !ic->oom; i++) {
        uint32_t id = scope_of_pair[i];
        if (id == UINT32_MAX) continue;
        uint32_t l = lcp_len[id];
        const char *y0 = r[lcp_src[id]].y;
        while (l > 0 && !is_sepc(y0[l - 1])) l--;
        size_t xl = strlen(mi_str(&pin, id)) - 1;
        wbr_buf w;
        wbr_buf_init(&w);
        wbr_buf_put(&w, y0, l);
        wbr_buf_puts(&w, sim->name[r[i].slot] + xl);
        wbr_buf_putc(&w, 0);
        st->want[r[i].slot] = wbr_buf_take(&w);
        if (!st->want[r[i].slot]) {
          st->want[r[i].slot] = r[i].y;
          scope_of_pair[i] = UINT32_MAX;
          ic->oom = true;
        }
      }
      grules g = {0};
      gen(&g, it, k, ic->literal);
      if (!ic->literal && !g.oom) shift_renames(ic, st, it, k, &g);
      for (size_t q = 0; q < g.n && !ic->oom; q++) {
        wbr_buf p, t;
        wbr_buf_init(&p);
        wbr_buf_init(&t);
        wbr_buf_puts(&p, g.v[q].pat);
        wbr_buf_putc(&p, '*');
        wbr_buf_putc(&p, 0);
        wbr_buf_puts(&t, g.v[q].tmpl);
        wbr_buf_putc(&t, '*');
        wbr_buf_putc(&t, 0);
        if (!p.oom && !t.oom && try_rule(st, p.p, t.p, false) > 0) {
          long c = apply_tested(st, p.p, t.p);
          mstmt *s = emit(ic, WBR_STMT_RENAME, p.p, t.p);
          if (s) s->nmembers = (size_t)c;
        } else if (!p.oom && !t.oom) {
          /* the generalised form does not fit: one prefix rename per scope of the group */
          for (size_t z = 0; z < g.v[q].nids; z++) {
            const char *xp = mi_str(&pin, g.v[q].ids[z]) + 1;
            for (size_t w = 0; w < k; w++) {
              if (it[w].id != g.v[q].ids[z]) continue;
              char *lp = lit(xp), *lt = lit(it[w].y);
              wbr_buf p2, t2;
              wbr_buf_init(&p2);
              wbr_buf_init(&t2);
              wbr_buf_printf(&p2, "%s*", lp ? lp : "");
              wbr_buf_printf(&t2, "%s*", lt ? lt : "");
              if (lp && lt && !p2.oom && !t2.oom && try_rule(st, p2.p, t2.p, false) > 0) {
                long c = apply_tested(st, p2.p, t2.p);
                mstmt *s = emit(ic, WBR_STMT_RENAME, p2.p, t2.p);
                if (s) s->nmembers = (size_t)c;
              }
              free(lp);
              free(lt);
              wbr_buf_free(&p2);
              wbr_buf_free(&t2);
            }
          }
        }
        wbr_buf_free(&p);
        wbr_buf_free(&t);
      }
      grules_free(&g);
      for (size_t i = 0; i < n; i++) {
        if (scope_of_pair[i] == UINT32_MAX) continue;
        free((char *)st->want[r[i].slot]);
        st->want[r[i].slot] = r[i].y;
      }
      for (size_t i = 0; i < n; i++) st->pending[r[i].slot] = strcmp(sim->name[r[i].slot], r[i].y) != 0;
    }
    for (size_t i = 0; i < k; i++) {
      free(xs[i]);
      free(ys[i]);
    }
    free(it);
    free(xs);
    free(ys);
    free(scope_of_pair);
    free(seen);
  }
out:
  free(opt0);
  free(opt);
  free(choice);
  free(chosen);
  free(cnt_x);
  free(cnt_y);
  free(lcp_len);
  free(lcp_src);
  free(cnt_sig);
  mi_free(&pin);
}

/* Stage: what is left, generalised; a shared leading part is written as '*'. */
static void rn_rest(ictx *ic, stage *st, rn *r, size_t n) {
  msim *sim = &ic->sim;
  gitem *it = malloc((n + 1) * sizeof *it);
  if (!it) {
    ic->oom = true;
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!st->pending[r[i].slot]) continue;
    it[k].x = sim->name[r[i].slot];
    it[k].y = r[i].y;
    it[k].id = r[i].slot;
    k++;
  }
  grules g = {0}, merged = {0};
  gen(&g, it, k, ic->literal);
  if (!ic->literal) leaf_merge(&g, &merged, true);
  else merged = g, memset(&g, 0, sizeof g);
  for (size_t q = 0; q < merged.n && !ic->oom; q++) {
    grule *gr = &merged.v[q];
    bool any = false;
    for (size_t z = 0; z < gr->nids; z++) any |= st->pending[gr->ids[z]];
    if (!any) continue;
    /* shared leading part -> '*' (only if the template needs no capture from it) */
    const char *pat = gr->pat, *tmpl = gr->tmpl;
    char *sp = NULL, *stt = NULL;
    if (!ic->literal) {
      size_t l = 0, lastsep = 0;
      while (pat[l] && pat[l] == tmpl[l]) {
        if (is_sepc(pat[l]) && (l == 0 || pat[l - 1] != '\\')) lastsep = l;
        l++;
      }
      if (lastsep > 0) {
        bool uses = false;
        for (const char *c = tmpl + lastsep; *c && !uses; c++)
          if (*c == '{') {
            const char *e = strchr(c, '}');
            if (e) {
              char name[40];
              size_t nl = (size_t)(e - c + 1) < sizeof name ? (size_t)(e - c + 1) : sizeof name - 1;
              memcpy(name, c, nl);
              name[nl] = 0;
              if (!strstr(pat + lastsep, name)) uses = true;
            }
          }
        if (!uses) {
          wbr_buf b;
          wbr_buf_init(&b);
          wbr_buf_putc(&b, '*');
          wbr_buf_puts(&b, pat + lastsep);
          wbr_buf_putc(&b, 0);
          sp = wbr_buf_take(&b);
          wbr_buf_init(&b);
          wbr_buf_putc(&b, '*');
          wbr_buf_puts(&b, tmpl + lastsep);
          wbr_buf_putc(&b, 0);
          stt = wbr_buf_take(&b);
        }
      }
    }
    if (sp && stt && try_rule(st, sp, stt, false) > 0) {
      long c = apply_tested(st, sp, stt);
      mstmt *s = emit(ic, WBR_STMT_RENAME, sp, stt);
      if (s) s->nmembers = (size_t)c;
    } else if (try_rule(st, pat, tmpl, false) > 0) {
      long c = apply_tested(st, pat, tmpl);
      mstmt *s = emit(ic, WBR_STMT_RENAME, pat, tmpl);
      if (s) s->nmembers = (size_t)c;
    }
    free(sp);
    free(stt);
  }
  /* literal renames, in sweeps: one whose new name is still taken waits for a later sweep */
  for (bool progress = true; progress && !ic->oom;) {
    progress = false;
    for (size_t i = 0; i < k && !ic->oom; i++) {
      if (!st->pending[it[i].id]) continue;
      char *p = lit(it[i].x), *t = lit(it[i].y);
      if (p && t && try_rule(st, p, t, true) > 0) {
        mstmt *s = emit(ic, WBR_STMT_RENAME, p, t);
        if (s) s->nmembers = 1;
        progress = true;
      }
      ic->oom |= !p || !t;
      free(p);
      free(t);
    }
  }
  grules_free(&g);
  grules_free(&merged);
  free(it);
}

static void stage_renames(ictx *ic) {
  matcher *m = ic->m;
  msim *sim = &ic->sim;
  rn *r = malloc((m->npairs + 1) * sizeof *r);
  stage st = {.sim = sim, .nitems = sim->n};
  st.pending = calloc(sim->n + 1, sizeof *st.pending);
  st.want = calloc(sim->n + 1, sizeof *st.want);
  if (!r || !st.pending || !st.want) {
    ic->oom = true;
    goto out;
  }
  size_t n = 0;
  st.rider = calloc(sim->n + 1, sizeof *st.rider);
  if (!st.rider) {
    ic->oom = true;
    goto out;
  }
  for (size_t i = 0; i < sim->n; i++) sim->item[i] = (int32_t)i;
  for (size_t p = 0; p < m->npairs; p++) {
    mpair *pr = &m->pairs[p];
    if (!pair_live(pr)) continue;
    if (pr->ns > 1 || pr->split_k) {
      /* fused parts keep whatever name the renames give them */
      for (int q = 0; q < pr->ns; q++)
        if (pr->s[q] < sim->n) st.rider[pr->s[q]] = true;
      continue;
    }
    long slot = sim_find(sim, sname(m, pr->s[0]));
    if (slot < 0) continue;
    r[n].slot = (uint32_t)slot;
    r[n].y = tname(m, pr->t);
    r[n].s = pr->s[0];
    r[n].t = pr->t;
    st.want[slot] = r[n].y;
    st.pending[slot] = strcmp(sim->name[slot], r[n].y) != 0;
    n++;
  }
  if (!ic->literal) {
    rn_leaf_synonyms(ic, &st, r, n);
    rn_common_prefix(ic, &st, r, n);
    rn_prefixes(ic, &st, r, n);
  }
  rn_rest(ic, &st, r, n);
out:
  for (size_t i = 0; i < sim->n; i++) sim->item[i] = -1;
  free(r);
  free(st.pending);
  free(st.want);
  free(st.rider);
}

static void fill_rope(ictx *ic, mstmt *s, const void *ud, uint32_t first) {
  (void)ic;
  (void)first;
  const mpair *pr = ud;
  s->named = pr->named;
  s->count = pr->count;
}

/* rope statements in target terms, one per direction, head count and q/k (famtab.c). */
static void stage_rope(ictx *ic) {
  matcher *m = ic->m;
  msim *sim = &ic->sim;
  stage st = {.sim = sim, .nitems = sim->n};
  st.pending = calloc(sim->n + 1, sizeof *st.pending);
  st.want = calloc(sim->n + 1, sizeof *st.want);
  gitem *it = malloc((m->npairs + 1) * sizeof *it);
  bool *done = calloc(m->npairs + 1, sizeof *done);
  if (!st.pending || !st.want || !it || !done) ic->oom = true;
  for (size_t i = 0; i < sim->n && !ic->oom; i++) sim->item[i] = (int32_t)i;
  for (size_t a = 0; a < m->npairs && !ic->oom; a++) {
    const mpair *pa = &m->pairs[a];
    if (done[a] || !pair_live(pa) || pa->named == MNAMED_NONE || pa->named == MNAMED_GROUPS) continue;
    size_t k = 0;
    for (size_t b = a; b < m->npairs; b++) {
      const mpair *pb = &m->pairs[b];
      bool alike = pair_live(pb) && pb->named == pa->named && pb->count == pa->count;
      long slot = alike ? sim_find(sim, tname(m, pb->t)) : -1;
      if (done[b] || slot < 0) continue;
      done[b] = true;
      st.pending[slot] = true;
      it[k++] = (gitem){.x = sim->name[slot], .y = NULL, .id = (uint32_t)slot};
    }
    run_stage(ic, &st, it, k, WBR_STMT_ROPE, false, fill_rope, pa);
  }
  for (size_t i = 0; i < sim->n; i++) sim->item[i] = -1;
  free(st.pending);
  free(st.want);
  free(it);
  free(done);
}

/* For `cast "*" dt`: the live slots the cast leaves as they are, which it may match along with
 * those that need it: a paired tensor whose source and target dtypes agree and are dt already, or
 * an integer or bool dtype (cast keeps those; not U8, which may be a quantized tensor's blocks).
 * Any other live name (unpaired, finished by --update, F8, another cast) keeps "*" unfit. So when
 * every floating target needs the one cast, the draft says it once (issue 15). */
static bool *cast_riders(const matcher *m, msim *sim, wbr_dtype dt) {
  bool *r = calloc(sim->n + 1, sizeof *r);
  if (!r) return NULL;
  for (size_t p = 0; p < m->npairs; p++) {
    const mpair *pr = &m->pairs[p];
    if (!pair_live(pr)) continue;
    wbr_dtype sd = m->S.t[pr->s[0]].dtype, td = m->T.t[pr->t].dtype;
    bool kept = td == dt || (td != WBR_U8 && !wbr_dtype_is_float(td));
    long slot = sim_find(sim, tname(m, pr->t));
    if (slot >= 0 && sd == td && kept) r[slot] = true;
  }
  return r;
}

/* Layout statements in target terms (after the renames), then casts. */
static void stage_post(ictx *ic) {
  matcher *m = ic->m;
  msim *sim = &ic->sim;
  uint32_t *slots = malloc((m->npairs + 1) * sizeof *slots);
  mlayout *lays = malloc((m->npairs + 1) * sizeof *lays);
  if (!slots || !lays) {
    ic->oom = true;
    goto out;
  }
  size_t k = 0;
  for (size_t p = 0; p < m->npairs; p++) {
    mpair *pr = &m->pairs[p];
    if (!pair_live(pr) || pr->ns != 1 || !pr->lay.nops) continue;
    if (pr->named) continue; /* said by a rope, fuse or unfuse statement */
    long slot = sim_find(sim, tname(m, pr->t));
    if (slot < 0) continue;
    slots[k] = (uint32_t)slot;
    lays[k] = pr->lay;
    k++;
  }
  stage_ops(ic, slots, lays, k);
  stage_rope(ic);
  /* casts: group targets by the dtype they need */
  for (int dt = 0; dt < WBR_DTYPE_COUNT && !ic->oom; dt++) {
    size_t need = 0;
    for (size_t p = 0; p < m->npairs; p++) {
      mpair *pr = &m->pairs[p];
      if (pair_live(pr) && (int)m->T.t[pr->t].dtype == dt && m->S.t[pr->s[0]].dtype != m->T.t[pr->t].dtype) need++;
    }
    if (!need) continue;
    stage st = {.sim = sim, .nitems = sim->n};
    st.pending = calloc(sim->n + 1, sizeof *st.pending);
    st.want = calloc(sim->n + 1, sizeof *st.want);
    gitem *it = malloc(need * sizeof *it);
    if (!st.pending || !st.want || !it) {
      ic->oom = true;
    } else {
      size_t q = 0;
      for (size_t i = 0; i < sim->n; i++) sim->item[i] = (int32_t)i;
      for (size_t p = 0; p < m->npairs; p++) {
        mpair *pr = &m->pairs[p];
        if (!pair_live(pr) || (int)m->T.t[pr->t].dtype != dt || m->S.t[pr->s[0]].dtype == m->T.t[pr->t].dtype) continue;
        long slot = sim_find(sim, tname(m, pr->t));
        if (slot < 0) continue;
        st.pending[slot] = true;
        it[q].x = sim->name[slot];
        it[q].y = NULL;
        it[q].id = (uint32_t)slot;
        q++;
      }
      mop cast = {.kind = 0, .n = (uint8_t)dt};
      st.rider = cast_riders(m, sim, (wbr_dtype)dt); /* NULL (none) when out of memory */
      if (!ic->literal && try_rule(&st, "*", NULL, false) > 0) {
        long c = try_rule(&st, "*", NULL, true);
        mstmt *s = emit(ic, WBR_STMT_CAST, "*", NULL);
        if (s) {
          s->ints[0] = dt;
          s->nmembers = (size_t)c;
        }
      }
      (void)cast;
      free(st.rider);
      st.rider = NULL;
      size_t left = 0;
      for (size_t i = 0; i < q; i++)
        if (st.pending[it[i].id]) it[left++] = it[i];
      size_t before = ic->out->n;
      run_stage(ic, &st, it, left, WBR_STMT_CAST, false, NULL, NULL);
      for (size_t i = before; i < ic->out->n; i++) ic->out->v[i].ints[0] = dt;
      for (size_t i = 0; i < sim->n; i++) sim->item[i] = -1;
    }
    free(st.pending);
    free(st.want);
    free(it);
  }
out:
  free(slots);
  free(lays);
}

/* The names an --update file already finishes: live in the simulator but no item of any stage,
 * so a generalised rule that would also act on them (`rename "*" -> "body.*"`) is unfit. */
static void sim_add_finished(msim *sim, const wbr_tensorset *done) {
  size_t n = done ? wbr_tensorset_count(done) : 0;
  for (size_t i = 0; i < n && !sim->oom; i++) {
    wbr_tensor_info ti;
    wbr_tensorset_get(done, i, &ti);
    sim_add(sim, ti.name);
  }
}

int m_induce(matcher *m, mrules *out, const bool *literal_src, bool all_literal) {
  (void)literal_src;
  ictx ic = {.m = m, .out = out, .literal = all_literal};
  for (size_t s = 0; s < m->S.n; s++)
    if (sim_add(&ic.sim, m->S.t[s].name) < 0) break;
  /* sources consumed by --update rules are not in play */
  if (m->src_used_by_update)
    for (size_t s = 0; s < m->S.n && s < ic.sim.n; s++)
      if (m->src_used_by_update[s]) sim_kill(&ic.sim, s);
  sim_add_finished(&ic.sim, m->finished);
  if (!ic.sim.oom && m_fold_unstack(m, out, all_literal)) ic.oom = true; /* the pieces come first */
  if (!ic.sim.oom) stage_drops(&ic, false);
  if (!ic.sim.oom) stage_drops(&ic, true);
  /* renames first: fused parts ride along, so the fusions read in target terms */
  if (!ic.sim.oom && !ic.oom) stage_renames(&ic);
  if (!ic.sim.oom && !ic.oom) stage_fused(&ic);
  if (!ic.sim.oom && !ic.oom) stage_post(&ic);
  if (!ic.sim.oom && !ic.oom && m_fold_stack(m, out, all_literal)) ic.oom = true;
  bool oom = ic.oom || ic.sim.oom;
  sim_free(&ic.sim);
  return oom ? WBR_ENOMEM : 0;
}
