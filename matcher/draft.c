/* draft.c — the matcher's driver: load both sides (for --update, what the user's rules leave
 * over), pair, induce rules, build them as an AST, print it with the `wbr fmt` printer, and
 * prove that AST by checking, emitting and planning it: every target must come from exactly the
 * sources and operations the pairing chose. A generalisation that breaks the proof falls back to
 * literal statements. --update appends the drafted statements to the user's parsed file. Also
 * writes the evidence (--explain) and the unresolved groups. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/version.h"
#include "../compiler/emit.h"
#include "../compiler/frontend.h"
#include "../vm/plan.h"
#include "mint.h"
#include "mjson.h"

/* ---- quiet context: collects what the proof's compile/plan report ----------------------------- */

static void collect(void *ud, const wbr_diag *d) {
  wbr_buf *b = ud;
  if (b->len > 4000) return;
  char *s = wbr_diag_format(d);
  if (s) wbr_buf_puts(b, s);
  wbr_free(s);
}

/* ---- AST ------------------------------------------------------------------------------------- */

static wbr_ast_comment *comment_n(wbr_ast_file *f, const char *text, size_t len) {
  wbr_ast_comment *c = wbr_ast_alloc(f, sizeof *c);
  if (!c) return NULL;
  size_t n = len + 3;
  char *t = wbr_ast_alloc(f, n);
  if (!t) return NULL;
  snprintf(t, n, "# %.*s", (int)len, text);
  c->text = t;
  return c;
}

static wbr_ast_comment *comment(wbr_ast_file *f, const char *text) { return comment_n(f, text, strlen(text)); }

static int add_comments(wbr_ast_file *f, wbr_ast_comment **v, size_t *n, const char *const *lines, size_t k,
                        bool blank_first) {
  *v = wbr_ast_alloc(f, (k ? k : 1) * sizeof **v);
  if (!*v) return -1;
  for (size_t i = 0; i < k; i++) {
    wbr_ast_comment *c = comment(f, lines[i]);
    if (!c) return -1;
    (*v)[i] = *c;
    (*v)[i].blank_before = i == 0 && blank_first;
  }
  *n = k;
  return 0;
}

static wbr_ast_pat *pats(wbr_ast_file *f, char *const *txt, size_t n) {
  wbr_ast_pat *p = wbr_ast_alloc(f, (n ? n : 1) * sizeof *p);
  if (!p) return NULL;
  for (size_t i = 0; i < n; i++) {
    p[i].kind = WBR_PK_GLOB;
    p[i].text = wbr_ast_strdup(f, txt[i]);
    if (!p[i].text) return NULL;
  }
  return p;
}

static int stmt_to_ast(wbr_ast_file *f, const mstmt *m) {
  wbr_ast_stmt *s = wbr_ast_add_stmt(f, (wbr_stmt_kind)m->kind);
  if (!s) return -1;
  s->in = pats(f, m->inv ? m->inv : m->in, m->nin);
  s->nin = m->nin;
  if (!s->in) return -1;
  if (m->nout) {
    s->out = pats(f, m->out, m->nout);
    s->nout = m->nout;
    if (!s->out) return -1;
  }
  if (m->kind == WBR_STMT_RESHAPE || m->kind == WBR_STMT_PERMUTE ||
      ((m->kind == WBR_STMT_SPLIT || m->kind == WBR_STMT_UNFUSE) && m->nints)) {
    s->ints.v = wbr_ast_alloc(f, (m->nints ? m->nints : 1) * sizeof(int64_t));
    s->ints.spans = wbr_ast_alloc(f, (m->nints ? m->nints : 1) * sizeof(wbr_span));
    if (!s->ints.v || !s->ints.spans) return -1;
    memcpy(s->ints.v, m->ints, m->nints * sizeof(int64_t));
    s->ints.n = m->nints;
    s->has_ints = true;
  }
  if (m->kind == WBR_STMT_CAST) s->dtype = (wbr_dtype)m->ints[0];
  if (m->named) { /* rope, fuse, unfuse (famtab.c): the count, and rope's direction */
    s->groups = (wbr_ast_num){m->count, NULL, {0, 0}};
    s->rope = m->named == MNAMED_ROPE_TO_HALF || m->named == MNAMED_ROPE_K_TO_HALF ? WBR_ROPE_TO_HALF
                                                                                   : WBR_ROPE_TO_INTERLEAVED;
  }
  if (m->has_axis) {
    s->has_axis = true;
    s->axis = m->axis;
  }
  s->blank_before = m->blank_before;
  if (m->comment) {
    s->trail = comment(f, m->comment);
    if (!s->trail) return -1;
  }
  if (m->lead) {
    const char *l[1] = {m->lead};
    if (add_comments(f, &s->lead, &s->nlead, l, 1, false)) return -1;
  }
  return 0;
}

/* `param NAME = VALUE  # where it came from` (famtab.c), at the head of the draft. */
static int params_to_ast(wbr_ast_file *f, const matcher *m) {
  mdecl d[4];
  size_t n = m_famtab_decls(m, d, 4);
  for (size_t i = 0; i < n; i++) {
    wbr_ast_stmt *s = wbr_ast_add_stmt(f, WBR_STMT_PARAM);
    size_t len = strlen(d[i].name);
    char *name = s ? wbr_ast_alloc(f, len + 1) : NULL;
    if (!name || !(s->trail = comment(f, d[i].from))) return -1;
    memcpy(name, d[i].name, len + 1);
    s->name = name;
    s->def = (wbr_ast_num){d[i].value, NULL, {0, 0}};
    s->has_def = true;
  }
  return (int)n;
}

/* The counts of rope, fuse and unfuse statements v[0..n) (from the rules r) read as the declared
 * parameter they equal: heads n_heads for q, n_kv_heads for k and for the groups. */
static int counts_to_params(wbr_ast_file *f, const matcher *m, const mrules *r, wbr_ast_stmt *v) {
  mdecl d[4];
  size_t nd = m_famtab_decls(m, d, 4);
  for (size_t i = 0; i < r->n; i++) {
    const mstmt *ms = &r->v[i];
    bool q = ms->named == MNAMED_ROPE_TO_HALF || ms->named == MNAMED_ROPE_TO_INTERLEAVED;
    const char *want = q ? "n_heads" : "n_kv_heads";
    for (size_t k = 0; ms->named && k < nd; k++) {
      if (strcmp(d[k].name, want) != 0 || d[k].value != ms->count) continue;
      wbr_ast_expr *e = wbr_ast_alloc(f, sizeof *e);
      if (!e) return -1;
      e->op = WBR_EXPR_NAME;
      e->name = want; /* a static string outlives the AST */
      v[i].groups.e = e;
    }
  }
  return 0;
}

/* ---- comments on statements ------------------------------------------------------------------- */

static const char *ev_name(int ev) {
  switch (ev) {
  case EV_HINT: return "hint";
  case EV_KEY: return "same name";
  case EV_SHAPE: return "unique shape";
  case EV_SIBLING: return "sibling of a paired tensor";
  case EV_ORDER: return "definition order";
  case EV_NAME: return "best name match";
  case EV_FUSED: return "fused parts";
  case EV_UPDATE: return "--update rules";
  case EV_STRUCT: return "structure";
  default: return "?";
  }
}

static void shape_str(char *b, size_t n, const mtensor *t) { wbr_shape_str(b, n, t->ndim, t->shape); }

/* Short notes on layout statements: what changes and why it is believed. */
static void annotate(matcher *m, mrules *r) {
  bool first_of_kind[WBR_STMT_COUNT] = {0};
  int prev = -1;
  for (size_t i = 0; i < r->n; i++) {
    mstmt *s = &r->v[i];
    char buf[200];
    buf[0] = 0;
    if (s->kind != prev && i > 0) s->blank_before = true;
    prev = s->kind;
    switch (s->kind) {
    case WBR_STMT_DROP:
      if (!first_of_kind[s->kind]) snprintf(buf, sizeof buf, "not in the target");
      break;
    case WBR_STMT_TRANSPOSE: {
      /* find a member to describe */
      bool square = false, flax = false;
      for (size_t p = 0; p < m->npairs; p++) {
        mpair *pr = &m->pairs[p];
        if (pr->ns && pr->square_t) square = true;
        if (pr->ns && m->S.t[pr->s[0]].kernel && pr->lay.rel == REL_TRANSPOSE) flax = true;
      }
      if (flax && !first_of_kind[s->kind]) snprintf(buf, sizeof buf, "Flax/TF kernel [in, out] -> [out, in]");
      else if (square && !first_of_kind[s->kind])
        snprintf(buf, sizeof buf, "[in, out] -> [out, in]; square ones follow the other 2-D weights of their layer");
      else if (!first_of_kind[s->kind]) snprintf(buf, sizeof buf, "2-D weights stored [in, out] -> [out, in]");
      break;
    }
    case WBR_STMT_PERMUTE:
      if (s->nints == 4 && s->ints[0] == 3 && s->ints[1] == 2) snprintf(buf, sizeof buf, "conv kernel HWIO -> OIHW");
      else if (s->nints == 4 && s->ints[0] == 2 && s->ints[1] == 3) snprintf(buf, sizeof buf, "conv kernel OIHW -> HWIO");
      break;
    case WBR_STMT_RESHAPE:
      if (s->nints == 1 && s->ints[0] == -1) snprintf(buf, sizeof buf, "flatten (e.g. [C, 1, 1] -> [C])");
      break;
    case WBR_STMT_CONCAT:
      snprintf(buf, sizeof buf, "parts joined in the order their names give (q, k, v; gate, up): check the order");
      break;
    case WBR_STMT_SPLIT:
      snprintf(buf, sizeof buf, "cut in the order the names give (q, k, v; gate, up)%s: check the order",
               s->nints ? ", with the parts' sizes" : "");
      break;
    case WBR_STMT_ROPE:
      if (!first_of_kind[s->kind])
        snprintf(buf, sizeof buf, "the rotary pairs of each head, between the two families' conventions");
      break;
    case WBR_STMT_FUSE:
      snprintf(buf, sizeof buf, "q, k, v per kv group in the order their names give: check the order and the groups");
      break;
    case WBR_STMT_UNFUSE:
      snprintf(buf, sizeof buf, "cut per kv group in the order the names give: check the order and the groups");
      break;
    default:
      break;
    }
    if (s->kind < WBR_STMT_COUNT) first_of_kind[s->kind] = true;
    if (buf[0] && !s->comment) s->comment = wbr_strdup(buf);
  }
}

/* ---- proof ----------------------------------------------------------------------------------- */

/* A unary plan node under a target, as the proof compares it with the pairing's layout. */
typedef enum step_kind { STEP_RESHAPE, STEP_PERMUTE, STEP_SLICE, STEP_CAST } step_kind;

typedef struct step {
  step_kind kind;
  const wbr_node *node;
} step;

/* The layout op (MOP_*) a step is, or 0 for a slice or a cast (no layout op). */
static int step_mop(step_kind k) {
  switch (k) {
  case STEP_RESHAPE: return MOP_RESHAPE;
  case STEP_PERMUTE: return MOP_PERMUTE;
  case STEP_SLICE:
  case STEP_CAST: return 0;
  }
  return 0;
}

/* Unary chain under nd, bottom-up into v; returns the node where it stops. */
static const wbr_node *chain(const wbr_node *nd, step *v, int *n, int max) {
  step tmp[16];
  int k = 0;
  while (nd && k < 16) {
    if (nd->kind == WBR_N_RESHAPE) tmp[k++] = (step){STEP_RESHAPE, nd};
    else if (nd->kind == WBR_N_PERMUTE) tmp[k++] = (step){STEP_PERMUTE, nd};
    else if (nd->kind == WBR_N_SLICE) tmp[k++] = (step){STEP_SLICE, nd};
    else if (nd->kind == WBR_N_CAST) tmp[k++] = (step){STEP_CAST, nd};
    else break;
    nd = nd->nin ? nd->in[0] : NULL;
  }
  *n = 0;
  for (int i = k - 1; i >= 0 && *n < max; i--) v[(*n)++] = tmp[i];
  return nd;
}

static bool ops_match(const step *v, int n, const mlayout *lay) {
  int j = 0;
  for (int i = 0; i < n; i++) {
    if (v[i].kind == STEP_CAST) continue; /* casts are checked by dtype */
    if (j >= lay->nops || step_mop(v[i].kind) != lay->op[j].kind) return false;
    const mop *o = &lay->op[j++];
    const wbr_node *nd = v[i].node;
    if (o->kind == MOP_RESHAPE) {
      if (nd->ndim != o->n) return false;
      for (int d = 0; d < o->n; d++) /* -1: the size the others leave (the elements are fixed) */
        if (nd->shape[d] != o->v[d] && o->v[d] != -1) return false;
    } else {
      for (int d = 0; d < o->n; d++)
        if (nd->perm[d] != o->v[d]) return false;
    }
  }
  return j == lay->nops;
}

/* Is the chain's leaf source s of the pairing: that very tensor, or piece k of a stack (the
 * unstack step, which is then taken off the chain)? */
static bool leaf_is(const matcher *m, const wbr_node *leaf, step *v, int *n, uint32_t s) {
  int64_t k;
  size_t r = m_fold_real(m, false, s, &k);
  if (!leaf || leaf->kind != WBR_N_SOURCE || leaf->src != r) return false;
  if (k < 0) return true;
  const wbr_node *u = *n >= 1 && v[0].kind == STEP_SLICE ? v[0].node : NULL;
  if (!u || !u->drop_axis || u->axis != 0 || u->start != k || u->len != 1) return false;
  memmove(v, v + 1, (size_t)(*n - 1) * sizeof *v);
  (*n)--;
  return true;
}

/* Does the plan reproduce target t's pair exactly? */
static bool check_output(const matcher *m, const wbr_value *val, const mpair *p) {
  step v[16];
  int n;
  const wbr_node *top = chain(val->node, v, &n, 16);
  if (!top) return false;
  if (p->ns > 1) {
    /* casts above the concat are allowed, and the view of a join per kv group; nothing else */
    if (!ops_match(v, n, &p->post)) return false;
    for (int i = 0; i < n; i++)
      if (v[i].kind == STEP_SLICE) return false;
    if (top->kind != WBR_N_CONCAT || top->nin != p->ns || top->axis != p->axis) return false;
    for (size_t k = 0; k < top->nin; k++) {
      step w[16];
      int nw;
      const wbr_node *leaf = chain(top->in[k], w, &nw, 16);
      if (!leaf_is(m, leaf, w, &nw, p->s[k]) || !ops_match(w, nw, &p->lay)) return false;
    }
    return true;
  }
  if (!leaf_is(m, top, v, &n, p->s[0])) return false;
  if (p->split_k) {
    int np = p->pre.nops; /* a cut per kv group views the source as [G, -1] first */
    if (n < np + 1 || !ops_match(v, np, &p->pre) || v[np].kind != STEP_SLICE) return false;
    const wbr_node *sl = v[np].node;
    if (sl->axis != p->axis || sl->start != p->off || sl->len != p->len || sl->drop_axis) return false;
    return ops_match(v + np + 1, n - np - 1, &p->lay);
  }
  return ops_match(v, n, &p->lay);
}

/* Real target r as paired: its pair, or for a stacked target a stack of its pieces' pairs. */
static bool check_target(const matcher *m, const wbr_value *val, size_t r) {
  size_t L = m_fold_count(m, true, r);
  int64_t piece;
  m_fold_real(m, true, m_fold_piece(m, true, r, 0), &piece);
  if (piece < 0) {
    const mtensor *t = &m->T.t[m_fold_piece(m, true, r, 0)];
    return t->pair < 0 || check_output(m, val, &m->pairs[t->pair]);
  }
  const wbr_node *c = val->node;
  if (!c || c->kind != WBR_N_CONCAT || c->axis != 0 || c->nin != L) return false;
  for (size_t k = 0; k < L; k++) {
    const mtensor *t = &m->T.t[m_fold_piece(m, true, r, k)];
    const wbr_node *in = c->in[k];
    if (in->kind != WBR_N_RESHAPE || in->nin != 1 || in->ndim != t->ndim + 1 || in->shape[0] != 1) return false;
    wbr_value pv = {.node = in->in[0]};
    if (t->pair < 0 || !check_output(m, &pv, &m->pairs[t->pair])) return false;
  }
  return true;
}

/* Check, emit and plan the draft's AST; true when the plan has no problems and every paired target
 * comes out exactly as paired. `why` receives the first reason otherwise. */
static bool prove(const matcher *m, wbr_ast_file *f, const wbr_tensorset *src, const wbr_tensorset *tgt,
                  wbr_buf *why) {
  wbr_ctx *q = NULL;
  wbr_buf diag;
  wbr_buf_init(&diag);
  if (wbr_ctx_new(&q, collect, &diag)) return false;
  wbr_program *prog = NULL;
  wbr_plan *plan = NULL;
  bool ok = false;
  if (wbr_check(f, q) != 0 || wbr_emit(&prog, q, f) != 0) goto out;
  if (wbr_plan_new(&plan, q, prog, src, tgt) != 0) goto out;
  if (plan->problems) goto out;
  if (plan->nout != wbr_tensorset_count(tgt)) goto out;
  ok = true;
  for (size_t i = 0; i < plan->nout && ok; i++) {
    const char *t = tgt->t[i].name;
    if (strcmp(plan->out[i].name, t) != 0) ok = false;
    else if (!check_target(m, &plan->out[i], i)) {
      ok = false;
      wbr_buf_printf(&diag, "proof: %s does not come out as paired\n", t);
    }
  }
out:
  if (why && diag.len) wbr_buf_put(why, diag.p, diag.len);
  wbr_buf_free(&diag);
  wbr_plan_free(plan);
  wbr_program_free(prog);
  wbr_ctx_free(q);
  return ok;
}

/* ---- the draft text ----------------------------------------------------------------------------- */

/* Targets, and how many are paired (a stacked one when all its pieces are). */
static size_t paired_targets(const matcher *m, size_t *ntargets) {
  size_t paired = 0;
  *ntargets = m_fold_nreal(m, true);
  for (size_t i = 0; i < *ntargets; i++) {
    bool all = true;
    for (size_t k = 0; k < m_fold_count(m, true, i); k++) all &= m->T.t[m_fold_piece(m, true, i, k)].pair >= 0;
    paired += all;
  }
  return paired;
}

/* The header comments: `lines`, then what exit 0 proves and the REVIEW list (review.c). */
static int add_header(wbr_ast_file *f, const matcher *m, const char *const *lines, size_t nl) {
  char *rv = m_review_text(m, true);
  if (!rv) return -1;
  size_t n = nl;
  for (const char *c = rv; *c; c++) n += *c == '\n';
  const char **all = calloc(n + 1, sizeof *all);
  int rc = -1;
  if (all) {
    memcpy(all, lines, nl * sizeof *lines);
    size_t k = nl;
    for (char *c = rv, *e; *c && k < n; c = e + 1) {
      e = strchr(c, '\n');
      *e = 0;
      all[k++] = c;
    }
    rc = add_comments(f, &f->head, &f->nhead, all, k, false);
  }
  free(all);
  free(rv);
  return rc;
}

/* The printed draft becomes f's source, as if f had been parsed from it: the line table, and each
 * statement's span on its line (the printer writes one statement per line; the other lines are
 * blank, comments or the header), so what the proof reports points at the draft's lines. */
static int ast_locate(wbr_ast_file *f, const char *text) {
  size_t len = strlen(text), nl = 1;
  for (size_t i = 0; i < len; i++) nl += text[i] == '\n';
  char *src = len < UINT32_MAX ? wbr_ast_alloc(f, len + 1) : NULL;
  uint32_t *ls = src ? wbr_ast_alloc(f, nl * sizeof *ls) : NULL;
  if (!ls) return -1;
  memcpy(src, text, len);
  f->src = src, f->len = len, f->line_start = ls, f->nlines = 0;
  ls[f->nlines++] = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') ls[f->nlines++] = (uint32_t)(i + 1);
  bool header = false;
  wbr_buf b;
  wbr_buf_init(&b);
  for (size_t l = 0, k = 0; l < f->nlines && k < f->nstmts; l++) {
    uint32_t at = ls[l];
    if (!text[at] || text[at] == '\n' || text[at] == '#') continue;
    if (!header) {
      header = true;
      continue;
    }
    wbr_ast_stmt *st = &f->stmts[k++];
    const char *e = strchr(text + at, '\n');
    uint32_t end = e ? (uint32_t)(e - text) : (uint32_t)len;
    if (st->trail) { /* the statement ends where its comment's two spaces begin */
      b.len = 0;
      wbr_fmt_stmt(st, &b);
      end = at + (uint32_t)b.len;
    }
    st->span = (wbr_span){at, end};
    st->kw_span = (wbr_span){at, at + (uint32_t)strlen(wbr_stmt_keyword(st->kind))};
  }
  bool oom = b.oom;
  wbr_buf_free(&b);
  return oom ? -1 : 0;
}

/* The draft as an AST whose source is its printed text (*text, malloc'd); NULL when out of
 * memory. */
static wbr_ast_file *render(matcher *m, const mrules *r, const wbr_match_options *o, bool header, char **text) {
  *text = NULL;
  wbr_ast_file *f = wbr_ast_new("draft.wbr");
  if (!f) return NULL;
  char l0[512], l1[512], l2[512], l3[512];
  const char *lines[6];
  size_t nl = 0;
  size_t fused = 0, ntargets, paired = paired_targets(m, &ntargets);
  for (size_t p = 0; p < m->npairs; p++)
    if (m->pairs[p].ns > 1 || m->pairs[p].split_k) fused++;
  size_t dropped = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].kind == WBR_STMT_DROP && !r->v[i].pieces) dropped += r->v[i].nmembers;
  snprintf(l0, sizeof l0, "Drafted by `wbr match` from %s to %s.", o && o->src_label ? o->src_label : "the source",
           o && o->target_label ? o->target_label : "the target");
  snprintf(l1, sizeof l1, "%zu target tensors, %zu paired, %zu undecided; %zu source tensors, %zu dropped.", ntargets,
           paired, ntargets - paired, m_fold_nreal(m, false), dropped);
  wbr_buf ev;
  wbr_buf_init(&ev);
  wbr_buf_puts(&ev, "Evidence:");
  bool any = false;
  for (int e = 0; e < EV_COUNT; e++)
    if (m->ev_count[e]) {
      wbr_buf_printf(&ev, "%s %zu %s", any ? "," : "", m->ev_count[e], ev_name(e));
      any = true;
    }
  if (!any) wbr_buf_puts(&ev, " none");
  wbr_buf_putc(&ev, '.');
  snprintf(l2, sizeof l2, "%s", ev.p ? ev.p : "");
  wbr_buf_free(&ev);
  lines[nl++] = l0;
  lines[nl++] = l1;
  lines[nl++] = l2;
  if (m->nunres) {
    if (ntargets - paired != m->nunres) /* pieces of stacked targets are listed one by one */
      snprintf(l3, sizeof l3, "INCOMPLETE: %zu target tensors are undecided (%zu entries, pieces of stacked ones "
               "apart); see the end of the file.", ntargets - paired, m->nunres);
    else
      snprintf(l3, sizeof l3, "INCOMPLETE: %zu target tensors are undecided; see the end of the file.", m->nunres);
    lines[nl++] = l3;
  }
  if (header && add_header(f, m, lines, nl)) goto out;
  int ndecl = header ? params_to_ast(f, m) : 0; /* not into an --update file: it may declare them */
  if (ndecl < 0) goto out;
  size_t first = f->nstmts;
  for (size_t i = 0; i < r->n; i++)
    if (stmt_to_ast(f, &r->v[i])) goto out;
  if (ndecl > 0 && counts_to_params(f, m, r, f->stmts + first)) goto out;
  if (ndecl > 0 && f->nstmts > (size_t)ndecl) f->stmts[ndecl].blank_before = true;
  /* unresolved groups in the tail */
  if (m->nunres) {
    size_t cap = m->nunres * 7 + 8, k = 0;
    char **tl = calloc(cap, sizeof *tl);
    if (!tl) goto out;
    tl[k++] = wbr_strdup("UNRESOLVED: no rule was drafted for these targets. Settle each with a hint,");
    tl[k++] = wbr_strdup("either `hint \"SOURCE\" = \"TARGET\"` in a rule file given to --update or --hint SOURCE=TARGET.");
    char pl[4][160];
    size_t np = m_famtab_missing(m, pl, 4);
    for (size_t i = 0; i < np && k + 8 <= cap; i++) tl[k++] = wbr_strdup(pl[i]);
    for (size_t u = 0; u < m->nunres && k + 7 <= cap; u++) {
      munres *un = &m->unres[u];
      char sb[96], buf[1024];
      shape_str(sb, sizeof sb, &m->T.t[un->t]);
      char of[300] = "";
      int64_t piece;
      size_t real = m_fold_real(m, true, un->t, &piece);
      if (piece >= 0) /* a piece of a stacked target: say of which */
        snprintf(of, sizeof of, " (piece %lld of the stacked \"%s\")", (long long)piece, m->fold->t.rs->t[real].name);
      snprintf(buf, sizeof buf, "target \"%s\" %s%s: %s", m->T.t[un->t].name, sb, of, un->why);
      tl[k++] = wbr_strdup(buf);
      for (int c = 0; c < un->ncand; c++) {
        shape_str(sb, sizeof sb, &m->S.t[un->cand[c]]);
        snprintf(buf, sizeof buf, "  candidate \"%s\" %s", m->S.t[un->cand[c]].name, sb);
        tl[k++] = wbr_strdup(buf);
      }
      if (un->dtype) {
        tl[k++] = wbr_strdup("  no hint helps: correct the target's dtype (or cast the source in the rules)");
      } else if (un->param) {
        tl[k++] = wbr_strdup("  no hint helps: give the parameter (see `param ... = ?` above)");
      } else if (un->layout) {
        tl[k++] = wbr_strdup("  no hint carries this layout: write the statements for it by hand");
      } else if (un->ncand) {
        snprintf(buf, sizeof buf, "  e.g. hint \"%s\" = \"%s\"%s", m->S.t[un->cand[0]].name, m->T.t[un->t].name,
                 un->square ? " transpose  # or permute (0, 1): as is" : "");
        tl[k++] = wbr_strdup(buf);
      }
    }
    bool bad = false;
    for (size_t i = 0; i < k; i++) bad |= !tl[i];
    int rc = bad ? -1 : add_comments(f, &f->tail, &f->ntail, (const char *const *)tl, k, true);
    for (size_t i = 0; i < k; i++) free(tl[i]);
    free(tl);
    if (rc) goto out;
  }
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_fmt_ast(f, &b);
  *text = wbr_buf_take(&b);
  if (*text && ast_locate(f, *text) == 0) return f;
out:
  free(*text);
  *text = NULL;
  wbr_ast_free(f);
  return NULL;
}

static void explain(matcher *m) {
  wbr_buf *b = &m->explain;
  for (size_t t = 0; t < m->T.n; t++) {
    const mtensor *x = &m->T.t[t];
    char sb[96];
    shape_str(sb, sizeof sb, x);
    if (m->tgt_done_by_update && m->tgt_done_by_update[t]) {
      wbr_buf_printf(b, "%s %s <- (produced by the --update rules)\n", x->name, sb);
      continue;
    }
    if (x->pair < 0) continue;
    const mpair *p = &m->pairs[x->pair];
    wbr_buf_printf(b, "%s %s <- ", x->name, sb);
    for (int i = 0; i < p->ns; i++) {
      char ss[96];
      shape_str(ss, sizeof ss, &m->S.t[p->s[i]]);
      wbr_buf_printf(b, "%s%s %s", i ? " + " : "", m->S.t[p->s[i]].name, ss);
    }
    if (p->split_k) wbr_buf_printf(b, " part %d/%d", p->split_i + 1, p->split_k);
    static const char *const rels[] = {"", "reshape", "transpose", "permute", "reshape+transpose"};
    if (p->named) /* a named layout statement (famtab.c) */
      wbr_buf_printf(b, " [%s %lld]", p->named == MNAMED_GROUPS ? "fused per kv group: groups" : "rope: heads",
                     (long long)p->count);
    else if (p->lay.rel && p->lay.rel < 5) wbr_buf_printf(b, " [%s]", rels[p->lay.rel]);
    wbr_buf_printf(b, "  -- %s: %s", ev_name(p->ev), p->why);
    if (p->rivals) wbr_buf_printf(b, "; REVIEW: among %u same-shape candidates", (unsigned)p->rivals + 1);
    wbr_buf_putc(b, '\n');
  }
  for (size_t u = 0; u < m->nunres; u++) {
    const munres *un = &m->unres[u];
    wbr_buf_printf(b, "%s <- UNDECIDED: %s", m->T.t[un->t].name, un->why);
    for (int c = 0; c < un->ncand; c++) wbr_buf_printf(b, "%s%s", c ? ", " : "; candidates ", m->S.t[un->cand[c]].name);
    wbr_buf_putc(b, '\n');
  }
}

/* ---- --update: what the user's rules leave over -------------------------------------------------- */

typedef struct upd {
  wbr_program *prog;
  wbr_plan *plan;
  wbr_tensorset *left;   /* tensors the rules leave that are not finished targets */
  wbr_tensorset *todo;   /* targets the rules do not produce */
  wbr_tensorset *done;   /* targets the rules produce (the drafted rules must leave them alone) */
  wbr_ast_file *ast;     /* the user's file, parsed once: its program, hints and canonical text */
  mhint *hints;          /* they point into ast */
  size_t nhints;
  char *canon;           /* the user's file, canonically formatted */
  const wbr_match_options *o; /* its --param / --config values plan it (famtab.c) */
} upd;

static void upd_free(upd *u) {
  wbr_plan_free(u->plan);
  wbr_program_free(u->prog);
  wbr_tensorset_free(u->left);
  wbr_tensorset_free(u->todo);
  wbr_tensorset_free(u->done);
  free(u->hints);
  wbr_ast_free(u->ast);
  wbr_free(u->canon);
}

/* --update extends a rule file's text, so bytecode (which keeps neither its comments nor its
 * text) is refused with one error, not parsed as text (an error per line). */
static int refuse_bytecode(wbr_ctx *ctx, const wbr_match_options *o) {
  if (o->update_len < 4 || memcmp(o->update_src, "\x89WBC", 4) != 0) return 0;
  return wbr_fail(ctx, WBR_ERULES, o->update_name,
                  "give --update the .wbr rule file this was compiled from (or `wbr disasm` it to see its statements)",
                  "this is compiled bytecode (.wbc); --update reads and extends a rule file (.wbr)");
}

static int upd_load(upd *u, wbr_ctx *ctx, const wbr_tensorset *src, const wbr_tensorset *tgt,
                    const wbr_match_options *o) {
  int rc = refuse_bytecode(ctx, o);
  if (rc) return rc;
  u->o = o;
  rc = wbr_parse_checked(&u->ast, ctx, o->update_name, o->update_src, o->update_len);
  if (rc) return rc;
  rc = wbr_emit(&u->prog, ctx, u->ast);
  if (rc) return rc;
  wbr_buf cb;
  wbr_buf_init(&cb);
  wbr_fmt_ast(u->ast, &cb);
  u->canon = wbr_buf_take(&cb);
  if (!u->canon) return wbr_oom(ctx);
  /* hints: their two names and where they are */
  u->hints = calloc(u->ast->nstmts + 1, sizeof *u->hints);
  if (!u->hints) return wbr_oom(ctx);
  for (size_t i = 0; i < u->ast->nstmts; i++) {
    const wbr_ast_stmt *s = &u->ast->stmts[i];
    if (s->kind != WBR_STMT_HINT || s->nin != 2) continue;
    mhint *h = &u->hints[u->nhints++];
    *h = (mhint){.src = s->in[0].text, .tgt = s->in[1].text, .file = u->ast, .start = s->span.start,
                 .end = s->span.end};
    if (s->hint_layout == WBR_HINT_TRANSPOSE) h->nperm = 2, h->perm[0] = 1, h->perm[1] = 0;
    for (size_t k = 0; s->hint_layout == WBR_HINT_PERMUTE && k < s->ints.n && k < WBR_MAX_DIMS; k++)
      h->perm[h->nperm++] = (uint8_t)s->ints.v[k];
  }
  rc = m_plan_given(&u->plan, ctx, u->prog, src, NULL, o);
  if (rc) return rc;
  if (u->plan->problems)
    return wbr_fail(ctx, WBR_EMAPPING, o->update_name, "fix the rules so that `wbr plan` runs without errors, then retry",
                    "the rules given to --update do not run over the source");
  rc = wbr_tensorset_new(&u->left, ctx);
  if (!rc) rc = wbr_tensorset_new(&u->todo, ctx);
  if (!rc) rc = wbr_tensorset_new(&u->done, ctx);
  if (rc) return rc;
  size_t nt = wbr_tensorset_count(tgt);
  bool *done = calloc(nt + 1, sizeof *done);
  if (!done) return wbr_oom(ctx);
  for (size_t i = 0; i < u->plan->nout && !rc; i++) {
    const wbr_value *v = &u->plan->out[i];
    long t = wbr_tensorset_find(tgt, v->name);
    if (t >= 0) {
      wbr_tensor_info ti;
      wbr_tensorset_get(tgt, (size_t)t, &ti);
      bool same = ti.ndim == v->node->ndim && ti.dtype == v->node->dtype;
      for (int d = 0; same && d < ti.ndim; d++) same = ti.shape[d] == v->node->shape[d];
      if (same) {
        done[t] = true;
        continue;
      }
    }
    rc = wbr_tensorset_add(u->left, v->name, v->node->dtype, v->node->ndim, v->node->shape, NULL);
  }
  for (size_t t = 0; t < nt && !rc; t++) {
    wbr_tensor_info ti;
    wbr_tensorset_get(tgt, t, &ti);
    rc = wbr_tensorset_add(done[t] ? u->done : u->todo, ti.name, ti.dtype, ti.ndim, ti.shape, NULL);
  }
  free(done);
  return rc;
}

/* ---- driver ------------------------------------------------------------------------------------ */

/* The comments that open the drafted part of an --update file, in f's arena: the user's closing
 * comments, then what was drafted and the REVIEW list (review.c). */
static wbr_ast_comment *update_intro(wbr_ast_file *f, const char *review, size_t ntodo, size_t *n) {
  size_t cap = f->ntail + 2;
  for (const char *c = review; c && *c; c++) cap += *c == '\n';
  wbr_ast_comment *v = wbr_ast_alloc(f, cap * sizeof *v), *c;
  char line[160];
  snprintf(line, sizeof line, "Drafted by `wbr match --update` for the %zu targets these rules leave unmapped.", ntodo);
  if (!v || !(c = comment(f, line))) return NULL;
  size_t k = f->ntail;
  if (k) memcpy(v, f->tail, k * sizeof *v);
  v[k] = *c;
  v[k++].blank_before = true;
  for (const char *r = review; r && *r;) {
    const char *e = strchr(r, '\n');
    size_t len = e ? (size_t)(e - r) : strlen(r);
    if (!(c = comment_n(f, r, len))) return NULL;
    v[k++] = *c;
    r += len + (e != NULL);
  }
  *n = k;
  return v;
}

/* Append d's statements and closing comments to f, attached as parsing f's text followed by the
 * intro comments and d's text (without its header line) would attach them: the intro leads the
 * first drafted statement, or closes the file when nothing was drafted. d keeps owning what the
 * appended statements point to. */
static int update_append(wbr_ast_file *f, const wbr_ast_file *d, const wbr_ast_comment *intro, size_t nintro) {
  for (size_t i = 0; i < d->nstmts; i++) {
    wbr_ast_stmt *s = wbr_ast_add_stmt(f, d->stmts[i].kind);
    if (!s) return -1;
    *s = d->stmts[i];
    if (i > 0) continue;
    wbr_ast_comment *lead = wbr_ast_alloc(f, (nintro + s->nlead) * sizeof *lead);
    if (!lead) return -1;
    memcpy(lead, intro, nintro * sizeof *lead);
    if (s->nlead) {
      memcpy(lead + nintro, s->lead, s->nlead * sizeof *lead);
      lead[nintro].blank_before = s->blank_before; /* its own first comment now follows others */
    } else {
      s->blank_after_lead = s->blank_before;
    }
    s->blank_before = intro[0].blank_before;
    lead[0].blank_before = false;
    s->lead = lead;
    s->nlead += nintro;
  }
  if (d->nstmts) {
    f->tail = d->tail;
    f->ntail = d->ntail;
    return 0;
  }
  wbr_ast_comment *tail = wbr_ast_alloc(f, (nintro + d->ntail) * sizeof *tail);
  if (!tail) return -1;
  memcpy(tail, intro, nintro * sizeof *tail);
  if (d->ntail) memcpy(tail + nintro, d->tail, d->ntail * sizeof *tail);
  f->tail = tail;
  f->ntail = nintro + d->ntail;
  return 0;
}

/* The user's --update file with the drafted statements appended (the draft's AST d, without its
 * header); the whole file must map the real source onto the real target for res->complete to
 * stay true. The user's AST is given back as it was, for a second try. */
static int update_join(wbr_ctx *ctx, wbr_match_result *res, const upd *u, const wbr_ast_file *d,
                       const wbr_tensorset *src, const wbr_tensorset *target) {
  wbr_ast_file *f = u->ast;
  size_t nstmts = f->nstmts, ntail = f->ntail, nintro = 0;
  wbr_ast_comment *tail = f->tail;
  const wbr_ast_comment *intro = update_intro(f, res->review, wbr_tensorset_count(u->todo), &nintro);
  bool joined = intro && update_append(f, d, intro, nintro) == 0;
  wbr_buf all;
  wbr_buf_init(&all);
  if (joined) wbr_fmt_ast(f, &all);
  res->draft = joined ? wbr_buf_take(&all) : NULL;
  wbr_ctx *q = NULL;
  wbr_buf diag;
  wbr_buf_init(&diag);
  int rc = 0;
  if (!res->draft || wbr_ctx_new(&q, collect, &diag)) {
    rc = wbr_oom(ctx);
  } else if (wbr_check(f, q) != 0) {
    res->complete = false;
  } else if (res->complete) {
    /* the whole file must map the real source onto the real target */
    wbr_program *pg = NULL;
    wbr_plan *pl = NULL;
    res->complete = wbr_emit(&pg, q, f) == 0 && m_plan_given(&pl, q, pg, src, target, u->o) == 0 && pl->problems == 0;
    wbr_plan_free(pl);
    wbr_program_free(pg);
  }
  wbr_ctx_free(q);
  wbr_buf_free(&all);
  wbr_buf_free(&diag);
  f->nstmts = nstmts;
  f->tail = tail;
  f->ntail = ntail;
  res->ntargets = wbr_tensorset_count(target);
  res->npaired += res->ntargets - wbr_tensorset_count(u->todo);
  return rc;
}

/* The bytes of a result of that version: a caller built against an older header has a shorter one. */
static size_t result_size(unsigned version) {
  return version >= 2 ? sizeof(wbr_match_result) : offsetof(wbr_match_result, json);
}

void wbr_match_result_free(wbr_match_result *r) {
  if (!r) return;
  free(r->draft);
  free(r->explain);
  free(r->review);
  if (r->version >= 2) free(r->json);
  unsigned version = r->version;
  memset(r, 0, result_size(version));
  r->version = version;
}

static void matcher_free(matcher *m) {
  m_side_free(&m->S);
  m_side_free(&m->T);
  mi_free(&m->in);
  free(m->idf);
  free(m->isrole);
  free(m->pairs);
  free(m->unres);
  m_families_free(m);
  m_famtab_free(m);
  wbr_buf_free(&m->explain);
}

/* Draft rules mapping s onto t (both already loaded); fills text, the verdict and, when ast is not
 * NULL, the draft's AST (for --update to append). */
static int draft_for(wbr_ctx *ctx, const wbr_tensorset *s, const wbr_tensorset *t, const wbr_tensorset *finished,
                     bool literal_only, const mhint *hints, size_t nhints, const wbr_match_options *o, bool header,
                     wbr_match_result *res, char **text, wbr_ast_file **ast, wbr_buf *expl, mjson *js) {
  matcher m;
  memset(&m, 0, sizeof m);
  m.ctx = ctx;
  m.finished = finished;
  if (o && o->version >= 2) m.params = o->params, m.nparams = o->nparams; /* the head counts (famtab.c) */
  mi_init(&m.in);
  wbr_buf_init(&m.explain);
  mfold fold;
  int rc = m_fold_build(&fold, ctx, s, t); /* scanned/stacked tensors: paired piece by piece */
  m.fold = &fold;
  if (!rc) rc = m_side_load(&m, &m.S, m_fold_set(&fold, false, s));
  if (!rc) rc = m_side_load(&m, &m.T, m_fold_set(&fold, true, t));
  if (!rc) {
    m_analyse_both(&m);
    m_layouts_apply(&m, o);
    if (m.oom) rc = wbr_oom(ctx);
  }
  if (!rc) rc = m_pair_all(&m, hints, nhints);
  mrules rules = {0};
  wbr_ast_file *f = NULL;
  bool proven = false;
  wbr_buf why;
  wbr_buf_init(&why);
  for (int attempt = literal_only ? 1 : 0; attempt < 2 && !rc; attempt++) {
    mrules_free(&rules);
    rc = m_induce(&m, &rules, NULL, attempt == 1);
    if (rc) {
      rc = wbr_oom(ctx);
      break;
    }
    annotate(&m, &rules);
    free(*text);
    wbr_ast_free(f);
    f = render(&m, &rules, o, header, text);
    if (!f) {
      rc = wbr_oom(ctx);
      break;
    }
    if (m.nunres) break; /* an incomplete draft cannot be proven; it is written as is */
    why.len = 0;
    if (prove(&m, f, s, t, &why)) {
      proven = true;
      break;
    }
  }
  if (!rc) {
    size_t nt;
    res->npaired += paired_targets(&m, &nt);
    res->ntargets += nt;
    for (size_t u = 0; u < m.nunres; u++) {
      if (m.unres[u].ncand) res->nambiguous++;
      else res->nunmatched++;
      res->ndtype += m.unres[u].dtype;
      res->ndepth += m.unres[u].depth;
    }
    res->nreview += m_review_count(&m);
    free(res->review);
    res->review = m_review_text(&m, false);
    if (!res->review) rc = wbr_oom(ctx);
    res->nstmts += rules.n;
    res->complete = proven && m.nunres == 0;
    m_json_collect(js, &m);
    if (expl) {
      explain(&m);
      if (!proven && !m.nunres) {
        wbr_buf_puts(&m.explain, "the draft could not be proven:\n");
        if (why.len) wbr_buf_put(&m.explain, why.p, why.len);
      }
      if (m.explain.len) wbr_buf_put(expl, m.explain.p, m.explain.len);
    }
  }
  if (ast && !rc) *ast = f, f = NULL;
  wbr_ast_free(f);
  wbr_buf_free(&why);
  mrules_free(&rules);
  matcher_free(&m);
  m_fold_free(&fold);
  return rc;
}

/* The --hint options as hints: SOURCE=TARGET[ LAYOUT], cut at the first '=' (review.c). *out
 * holds n + extra slots. */
static int cli_hints(mhint **out, wbr_ctx *ctx, const wbr_match_options *o, size_t extra) {
  *out = calloc(o->nhints + extra + 1, sizeof **out);
  if (!*out) return wbr_oom(ctx);
  for (size_t i = 0; i < o->nhints; i++) {
    int rc = m_hint_parse(&(*out)[i], ctx, o->hints[i]);
    if (rc) return rc;
  }
  return 0;
}

static void cli_hints_free(mhint *h, size_t n) {
  for (size_t i = 0; h && i < n; i++) free((char *)h[i].src);
  free(h);
}

/* A rule file cannot spell a name with a control character (the lexer refuses them), so a
 * draft naming one could never be read back, and its text would drive the terminal. */
static int refuse_unspellable(wbr_ctx *ctx, const wbr_tensorset *ts, const char *label) {
  for (size_t i = 0; i < ts->n; i++) {
    const unsigned char *c = (const unsigned char *)ts->t[i].name;
    for (; *c; c++) {
      if (*c >= 0x20 && *c != 0x7f && !(c[0] == 0xC2 && c[1] >= 0x80 && c[1] <= 0x9F)) continue;
      wbr_buf b;
      wbr_buf_init(&b);
      wbr_buf_put_clean(&b, ts->t[i].name, false);
      char *shown = wbr_buf_take(&b);
      int rc = wbr_fail(ctx, WBR_EFORMAT, label, "rename the tensor in the checkpoint first; match cannot draft rules for it",
                        "tensor '%s' has a control character in its name, which a rule file cannot spell",
                        shown ? shown : "?");
      free(shown);
      return rc;
    }
  }
  return 0;
}

int wbr_match_run(wbr_match_result *res, wbr_ctx *ctx, const wbr_tensorset *src, const wbr_tensorset *target,
                  const wbr_match_options *o) {
  if (!res || !src || !target) return wbr_fail(ctx, WBR_EUSAGE, NULL, NULL, "wbr_match_run: NULL argument");
  int bad = WBR_CHECK_VERSION(ctx, "wbr_match_run", res, wbr_match_result, WBR_MATCH_RESULT);
  if (!bad && o) bad = WBR_CHECK_VERSION(ctx, "wbr_match_run", o, wbr_match_options, WBR_MATCH_OPTIONS);
  if (bad) return bad;
  unsigned version = res->version;
  memset(res, 0, result_size(version));
  res->version = version;
  bad = refuse_unspellable(ctx, src, o && o->src_label ? o->src_label : NULL);
  if (!bad) bad = refuse_unspellable(ctx, target, o && o->target_label ? o->target_label : NULL);
  if (!bad && o && o->version >= 2 && !o->update_name) /* --update: its file may declare others */
    bad = m_famtab_check_params(ctx, o->params, o->nparams);
  if (!bad) bad = m_layouts_check(ctx, o);
  if (bad) return bad;
  wbr_match_options none = WBR_MATCH_OPTIONS_INIT;
  if (!o) o = &none;
  wbr_buf expl;
  wbr_buf_init(&expl);
  mjson js;
  m_json_init(&js);
  char *text = NULL;
  wbr_ast_file *dast = NULL;
  mhint *hints = NULL;
  int rc;
  if (!o->update_src) {
    rc = cli_hints(&hints, ctx, o, 0);
    if (!rc) rc = draft_for(ctx, src, target, NULL, false, hints, o->nhints, o, true, res, &text, NULL, o->explain ? &expl : NULL, &js);
    if (!rc) res->draft = text, text = NULL;
  } else {
    upd u = {0};
    rc = upd_load(&u, ctx, src, target, o);
    size_t nh = o->nhints;
    if (!rc) rc = cli_hints(&hints, ctx, o, u.nhints);
    for (size_t i = 0; !rc && i < u.nhints; i++) hints[nh++] = u.hints[i];
    if (!rc && wbr_tensorset_count(u.todo) == 0) {
      /* the rules already produce every target: keep them as they are */
      res->draft = wbr_strdup(u.canon);
      res->ntargets = wbr_tensorset_count(target);
      res->npaired = res->ntargets;
      wbr_ctx *q = NULL;
      wbr_buf d;
      wbr_buf_init(&d);
      if (!wbr_ctx_new(&q, collect, &d)) {
        wbr_plan *pl = NULL;
        res->complete = m_plan_given(&pl, q, u.prog, src, target, o) == 0 && pl->problems == 0;
        wbr_plan_free(pl);
        wbr_ctx_free(q);
      }
      wbr_buf_free(&d);
      if (!res->draft) rc = wbr_oom(ctx);
    } else if (!rc) {
      rc = draft_for(ctx, u.left, u.todo, u.done, false, hints, nh, o, false, res, &text, &dast, o->explain ? &expl : NULL,
                     &js);
      if (!rc) rc = update_join(ctx, res, &u, dast, src, target);
      if (!rc && !res->complete && !res->nambiguous && !res->nunmatched) {
        /* proven on the leftovers, yet the whole file fails (a drafted statement the same as
         * one of the user's is a duplicate): the drafted part in literal statements */
        wbr_match_result_free(res);
        m_json_reset(&js);
        free(text);
        text = NULL;
        wbr_ast_free(dast);
        dast = NULL;
        rc = draft_for(ctx, u.left, u.todo, u.done, true, hints, nh, o, false, res, &text, &dast, NULL, &js);
        if (!rc) rc = update_join(ctx, res, &u, dast, src, target);
      }
    }
    wbr_ast_free(dast);
    upd_free(&u);
  }
  cli_hints_free(hints, o->nhints);
  free(text);
  if (!rc && o->explain) {
    wbr_buf_putc(&expl, 0);
    res->explain = wbr_buf_take(&expl);
  }
  wbr_buf_free(&expl);
  if (!rc && version >= 2 && !(res->json = m_json_result(&js, res))) rc = wbr_oom(ctx);
  m_json_free(&js);
  if (rc) wbr_match_result_free(res);
  return rc;
}
