/* vm.c — runs a verified program over a tensor set's names, shapes and dtypes (never its data)
 * and builds the plan: one expression per output tensor. This is the driver: the working set,
 * its name index, the tensors' history, diagnostics and the comparison with a target; each
 * statement is its own function in stmt.c. Statements apply in order to the current set; each
 * problem (a statement that matched nothing, two tensors on one name, a shape that does not fit,
 * a target tensor not produced...) is reported with the statement's position and the tensors'
 * provenance, so a wrong mapping cannot pass unnoticed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/version.h"
#include "vm.h"

/* ---- the run's state (struct vm: vm.h) ---- */

void *vm_alloc(vm *v, size_t n) {
  void *p = wbr_arena_alloc(&v->plan->arena, n);
  if (!p) v->oom = true;
  return p;
}

/* Report a problem with statement pc. */
void vm_stmt_error(vm *v, uint32_t pc, const char *help, const char *fmt, ...) {
  wbr_pos pos = wbr_program_pos(v->prog, pc);
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = wbr_program_source(v->prog), .line = (int)pos.line,
                .col = (int)pos.col, .help = help};
  if (d.file && !*d.file) d.file = NULL;
  char *line = wbr_program_quote(v->prog, pc, &d.span); /* from the program's text, if it has it */
  d.source_line = line;
  v->plan->problems++;
  va_list ap;
  va_start(ap, fmt);
  wbr_vreport(v->ctx, WBR_EMAPPING, &d, fmt, ap);
  va_end(ap);
  free(line);
}

/* Problems not tied to one statement (target comparison). */
static void plan_error(vm *v, const char *help, const char *fmt, ...) WBR_PRINTF(3, 4);
static void plan_error(vm *v, const char *help, const char *fmt, ...) {
  v->plan->problems++;
  wbr_diag d = {.severity = WBR_SEV_ERROR, .help = help};
  va_list ap;
  va_start(ap, fmt);
  wbr_vreport(v->ctx, WBR_EMAPPING, &d, fmt, ap);
  va_end(ap);
}

static void note(vm *v, const char *fmt, ...) WBR_PRINTF(2, 3);
static void note(vm *v, const char *fmt, ...) {
  wbr_diag d = {.severity = WBR_SEV_NOTE};
  va_list ap;
  va_start(ap, fmt);
  wbr_vreport(v->ctx, 0, &d, fmt, ap);
  va_end(ap);
}

/* "rules.wbr:12" for provenance, into buf. */
static const char *where(const vm *v, uint32_t pc, char *buf, size_t n) {
  const char *src = wbr_program_source(v->prog);
  wbr_pos pos = wbr_program_pos(v->prog, pc);
  snprintf(buf, n, "%s:%u", src && *src ? src : "rules", pos.line);
  return buf;
}

/* The source tensors a node reads, as "'a', 'b'" into buf. */
static void sources_of(const vm *v, const wbr_node *nd, wbr_buf *b, int *count) {
  if (nd->kind == WBR_N_SOURCE) {
    if (*count < 4) wbr_buf_printf(b, "%s'%s'", *count ? ", " : "", v->plan->src->t[nd->src].name);
    else if (*count == 4) wbr_buf_puts(b, ", ...");
    (*count)++;
    return;
  }
  for (size_t i = 0; i < nd->nin; i++) sources_of(v, nd->in[i], b, count);
}

/* "from source 'x' (rules.wbr:3, rules.wbr:9)" for a value. */
static char *provenance(vm *v, const wbr_value *val) {
  wbr_buf b;
  wbr_buf_init(&b);
  int count = 0;
  wbr_buf_puts(&b, "from ");
  sources_of(v, val->node, &b, &count);
  if (val->hist) {
    char w[512];
    wbr_buf_printf(&b, " by %s", where(v, val->hist->pc, w, sizeof w));
  }
  char *s = wbr_buf_take(&b);
  if (!s) v->oom = true;
  return s;
}

/* ---- the working set ---- */

static wbr_value *push(vm *v, wbr_value **arr, size_t *n, size_t *cap, wbr_value val) {
  if (!wbr_grow(arr, cap, *n + 1, sizeof **arr, 64)) {
    v->oom = true;
    return NULL;
  }
  (*arr)[*n] = val;
  return &(*arr)[(*n)++];
}

/* Record that instruction pc touched val. */
void vm_touch(vm *v, wbr_value *val, uint32_t pc) {
  if (val->hist && val->hist->pc == pc) return;
  wbr_hist *h = vm_alloc(v, sizeof *h);
  if (!h) return;
  h->pc = pc;
  h->prev = val->hist;
  val->hist = h;
}

static size_t hist_len(const wbr_hist *h) {
  size_t n = 0;
  for (; h; h = h->prev) n++;
  return n;
}

/* Add the statements that touched `from` to `to`'s history, keeping program order (a joined
 * tensor's provenance is every input's). */
void vm_merge_insns(vm *v, wbr_value *to, const wbr_value *from) {
  size_t na = hist_len(to->hist), nb = hist_len(from->hist);
  if (!nb) return;
  uint32_t *a = malloc((na + nb) * sizeof *a);
  if (!a) {
    v->oom = true;
    return;
  }
  size_t n = 0;
  for (const wbr_hist *h = to->hist; h; h = h->prev) a[n++] = h->pc;
  for (const wbr_hist *h = from->hist; h; h = h->prev) a[n++] = h->pc;
  /* Newest first in both; rebuild oldest first without duplicates. */
  for (size_t i = 1; i < n; i++)
    for (size_t k = i; k > 0 && a[k - 1] < a[k]; k--) {
      uint32_t t = a[k];
      a[k] = a[k - 1];
      a[k - 1] = t;
    }
  to->hist = NULL;
  for (size_t i = n; i-- > 0;)
    if (!to->hist || to->hist->pc != a[i]) vm_touch(v, to, a[i]);
  free(a);
}

/* Outputs carry their history as an array, oldest first. */
static void flatten_hist(vm *v, wbr_value *val) {
  size_t n = hist_len(val->hist);
  val->ninsns = n;
  val->insns = n ? vm_alloc(v, n * sizeof *val->insns) : NULL;
  if (!val->insns) return;
  for (const wbr_hist *h = val->hist; h; h = h->prev) val->insns[--n] = h->pc;
}

wbr_node *vm_node_new(vm *v, wbr_node_kind k, const wbr_node *like, uint32_t pc, size_t nin) {
  wbr_node *nd = vm_alloc(v, sizeof *nd);
  if (!nd) return NULL;
  nd->kind = k;
  nd->insn = pc;
  if (like) {
    nd->dtype = like->dtype;
    nd->ndim = like->ndim;
    memcpy(nd->shape, like->shape, sizeof nd->shape);
  }
  nd->nin = nin;
  if (nin) {
    nd->in = vm_alloc(v, nin * sizeof *nd->in);
    if (!nd->in) return NULL;
  }
  return nd;
}

/* After a statement: rebuild the name index; two tensors on one name is an error (the later
 * one is dropped so the run can go on and report more). */
static void reindex(vm *v, uint32_t pc) {
  if (wbr_map_reset(&v->index, v->ncur) < 0) {
    v->oom = true;
    return;
  }
  size_t w = 0;
  for (size_t i = 0; i < v->ncur; i++) {
    size_t old;
    int r = wbr_map_put(&v->index, v->cur[i].name, w, &old);
    if (r < 0) {
      v->oom = true;
      return;
    }
    if (r == 1) {
      char *a = provenance(v, &v->cur[old]), *b = provenance(v, &v->cur[i]);
      vm_stmt_error(v, pc, "make the names distinct (a more specific pattern or template), or drop one of them",
                    "two tensors would be named '%s': one %s, one %s", v->cur[i].name, a ? a : "?",
                    b ? b : "?");
      free(a);
      free(b);
      continue;
    }
    v->cur[w++] = v->cur[i];
  }
  v->ncur = w;
}

/* Update the index after a statement that kept every position (v->spare holds the previous
 * working set). False if a new name clashes: the caller rebuilds and reports. */
static bool reindex_renamed(vm *v) {
  for (size_t k = 0; k < v->ncur; k++)
    if (v->cur[k].name != v->spare[k].name) wbr_map_del(&v->index, v->spare[k].name);
  for (size_t k = 0; k < v->ncur; k++) {
    if (v->cur[k].name == v->spare[k].name) continue;
    int r = wbr_map_put(&v->index, v->cur[k].name, k, NULL);
    if (r < 0) v->oom = true;
    if (r != 0) return false;
  }
  return true;
}

long vm_find(const vm *v, const char *name) {
  size_t i;
  return wbr_map_get(&v->index, name, &i) ? (long)i : -1;
}

/* A statement may not grow the working set past WBR_MAX_TENSORS (a bigger source is not refused,
 * but may not grow): reports and stops the run. n is what the statement would make. */
bool vm_too_many(vm *v, uint64_t n) {
  if (n <= WBR_MAX_TENSORS || n <= v->ncur) return false;
  vm_stmt_error(v, v->pc, "check the statement's pattern and axis, and the shapes with `wbr inspect`",
                "this statement would make %llu tensors or more; a plan holds at most %u",
                (unsigned long long)n, WBR_MAX_TENSORS);
  v->stop = true;
  return true;
}

static int compile_pattern(vm *v, uint32_t pat_index, wbr_namepat **out) {
  const wbr_pattern *pp = wbr_program_pattern(v->prog, pat_index);
  char letters[8];
  wbr_pattern_letters(pp->flags, letters);
  wbr_namepat_error err;
  int rc = wbr_namepat_new(out, pp->kind == WBR_PK_REGEX ? WBR_PK_REGEX : WBR_PK_GLOB,
                           wbr_program_str(v->prog, pp->text), letters, &err);
  if (rc == WBR_ENOMEM) v->oom = true;
  else if (rc) vm_stmt_error(v, v->pc, NULL, "pattern: %s", err.msg);
  return rc;
}

/* Positions in the working set of the names the statement's pattern matches, into v->idx.
 * The matches themselves (captures) are recomputed for the matched names only: a wbr_match is
 * large, and most names do not match. */
static size_t match_all(vm *v, const wbr_namepat *p, bool *failed) {
  size_t n = 0;
  for (size_t i = 0; i < v->ncur; i++) {
    wbr_match m;
    wbr_namepat_error err;
    int r = wbr_namepat_match_in(p, v->mstate, v->cur[i].name, v->cur[i].len, &m, &err);
    if (r < 0) {
      vm_stmt_error(v, v->pc, "simplify the regex", "on '%s': %s", v->cur[i].name, err.msg);
      *failed = true;
      break;
    }
    if (!r) continue;
    if (!wbr_grow(&v->idx, &v->capidx, n + 1, sizeof *v->idx, 64)) {
      v->oom = true;
      break;
    }
    v->idx[n++] = i;
  }
  return n;
}

bool vm_match(vm *v, stmt *s, uint32_t pat_index) {
  s->pat = pat_index;
  s->p = wbr_program_namepat(v->prog, pat_index);
  if (!s->p) { /* a program that was not verified (built in memory): compile it for this run */
    if (compile_pattern(v, pat_index, &s->own)) return false;
    s->p = s->own;
  }
  bool failed = false;
  s->n = match_all(v, s->p, &failed);
  return !failed && !v->oom;
}

/* After a statement: the next working set. Unmatched values stay, matched ones are replaced by
 * their outputs at their position (a statement that failed on a value keeps it unchanged). It is
 * built in the spare array (kept between statements: big models would otherwise pay for fresh
 * pages at every statement). */
static void rebuild(vm *v, size_t nouts) {
  wbr_value *next = v->spare;
  size_t nnext = 0, capnext = v->capspare;
  v->spare = NULL;
  v->capspare = 0;
  size_t o = 0;
  bool ok = true;
  for (size_t i = 0; i < v->ncur && ok; i++) {
    bool replaced = false;
    while (ok && o < nouts && v->out_at[o] == i) {
      ok = push(v, &next, &nnext, &capnext, v->outs[o]) != NULL;
      o++;
      replaced = true;
    }
    /* Unmatched, checked by expect, or matched but failed (reported): it stays as it was. */
    if (ok && !replaced && !v->consumed[i]) ok = push(v, &next, &nnext, &capnext, v->cur[i]) != NULL;
  }
  if (!ok || vm_too_many(v, nnext)) {
    /* failed midway: keep the array for the next statement */
    v->spare = next;
    v->capspare = capnext;
    return;
  }
  /* Most statements (reshape, transpose, cast, expect...) keep every name in place: then the
   * index is still right, and rebuilding it would dominate the run on big models. */
  bool same_len = nnext == v->ncur, same_names = same_len;
  for (size_t k = 0; same_names && k < nnext; k++) same_names = next[k].name == v->cur[k].name;
  v->spare = v->cur;
  v->capspare = v->capcur;
  v->cur = next;
  v->ncur = nnext;
  v->capcur = capnext;
  /* Renames keep every position: update only the renamed entries (a clash falls back to the
   * full rebuild, which reports it). */
  if (!same_names && !(same_len && reindex_renamed(v))) reindex(v, v->pc);
}

/* Execute instruction pc on the working set: the statement's own function (stmt.c) acts on
 * its matches, then its outputs make the next working set. */
static void run_insn(vm *v, uint32_t pc) {
  v->pc = pc;
  stmt s = {.in = wbr_program_insn(v->prog, pc), .pc = pc};
  if (vm_stmt_run(v, &s)) rebuild(v, s.nouts);
  vm_stmt_free(&s);
}

/* ---- the target ---- */

#define MAX_REPORTS 20

static void compare_target(vm *v) {
  const wbr_tensorset *tg = v->plan->target;
  bool *used = calloc(v->ncur ? v->ncur : 1, sizeof *used);
  wbr_value *out = calloc(tg->n ? tg->n : 1, sizeof *out);
  if (!used || !out) {
    free(used);
    free(out);
    v->oom = true;
    return;
  }
  size_t nout = 0, missing = 0, extra = 0, wrong = 0;
  for (size_t t = 0; t < tg->n; t++) {
    const wbr_tensor *tt = &tg->t[t];
    long i = vm_find(v, tt->name);
    if (i >= 0) {
      used[i] = true;
      wbr_value *val = &v->cur[i];
      const wbr_node *nd = val->node;
      bool same = nd->ndim == tt->ndim && nd->dtype == tt->dtype &&
                  memcmp(nd->shape, tt->shape, (size_t)nd->ndim * sizeof *nd->shape) == 0;
      const wbr_tensor *st = nd->kind == WBR_N_SOURCE ? &v->plan->src->t[nd->src] : NULL;
      if (same && st && st->opaque.type && tt->opaque.type && strcmp(st->opaque.type, tt->opaque.type) != 0) {
        if (wrong++ < MAX_REPORTS)
          plan_error(v, "the target was quantized differently: convert from a checkpoint of the same quantization",
                     "tensor '%s' is %s but the target's is %s", tt->name, st->opaque.type, tt->opaque.type);
        same = true; /* reported */
      }
      if (!same && wrong++ < MAX_REPORTS) {
        char a[256], b[256];
        wbr_shape_str(a, sizeof a, nd->ndim, nd->shape);
        wbr_shape_str(b, sizeof b, tt->ndim, tt->shape);
        char *prov = provenance(v, val);
        bool shape_differs = nd->ndim != tt->ndim || memcmp(nd->shape, tt->shape, (size_t)nd->ndim * sizeof *nd->shape) != 0;
        plan_error(v, shape_differs ? "add a reshape, transpose or permute for it, or check that it comes from the right source"
                                    : "add a cast for it",
                   "tensor '%s' is %s %s (%s) but the target wants %s %s", tt->name, a,
                   wbr_dtype_name(nd->dtype), prov ? prov : "?", b, wbr_dtype_name(tt->dtype));
        free(prov);
      }
      out[nout++] = *val;
    }
  }
  for (size_t t = 0; t < tg->n; t++) {
    const wbr_tensor *tt = &tg->t[t];
    if (vm_find(v, tt->name) >= 0 || vm_allow_take(v, tt)) continue;
    if (missing++ >= MAX_REPORTS) continue;
    /* Suggest the closest leftover names. */
    const char *best[3] = {0};
    size_t bestd[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
    for (size_t i = 0; i < v->ncur; i++) {
      if (used[i]) continue;
      size_t tl = strlen(tt->name);
      size_t d = wbr_edit_distance(tt->name, tl, v->cur[i].name, strlen(v->cur[i].name), 0);
      if (d > (tl / 2 > 3 ? tl / 2 : 3)) continue; /* too different to be a useful suggestion */
      for (int k = 0; k < 3; k++) {
        if (d < bestd[k]) {
          for (int j = 2; j > k; j--) best[j] = best[j - 1], bestd[j] = bestd[j - 1];
          best[k] = v->cur[i].name;
          bestd[k] = d;
          break;
        }
      }
    }
    char help[1024];
    if (best[0])
      snprintf(help, sizeof help, "closest names the rules produce that the target lacks: '%s'%s%s%s%s%s",
               best[0], best[1] ? ", '" : "", best[1] ? best[1] : "", best[1] ? "'" : "",
               best[2] ? ", '" : "", best[2] ? best[2] : "");
    if (best[2]) strncat(help, "'", sizeof help - strlen(help) - 1);
    char sh[256];
    wbr_shape_str(sh, sizeof sh, tt->ndim, tt->shape);
    plan_error(v, best[0] ? help : "add a rule that produces it, or --allow-missing it if the model initialises it itself", "target tensor '%s' %s %s is not produced by the rules",
               tt->name, sh, wbr_dtype_name(tt->dtype));
  }
  for (size_t i = 0; i < v->ncur; i++) {
    if (used[i]) continue;
    if (extra++ >= MAX_REPORTS) continue;
    char *prov = provenance(v, &v->cur[i]);
    plan_error(v, "drop it, or rename it to a name the target has", "tensor '%s' (%s) is not in the target",
               v->cur[i].name, prov ? prov : "?");
    free(prov);
  }
  /* those past MAX_REPORTS are problems too: the count adds up to what is wrong */
  v->plan->problems += (missing > MAX_REPORTS ? missing - MAX_REPORTS : 0) + (extra > MAX_REPORTS ? extra - MAX_REPORTS : 0) +
                       (wrong > MAX_REPORTS ? wrong - MAX_REPORTS : 0);
  if (missing > MAX_REPORTS) note(v, "... and %zu more target tensors not produced", missing - MAX_REPORTS);
  if (extra > MAX_REPORTS) note(v, "... and %zu more tensors not in the target", extra - MAX_REPORTS);
  if (wrong > MAX_REPORTS) note(v, "... and %zu more tensors with the wrong shape or dtype", wrong - MAX_REPORTS);
  free(used);
  v->plan->out = out;
  v->plan->nout = nout;
  /* Values not in the target are left out of the plan; they were reported. */
}

int wbr_plan_new(wbr_plan **out, wbr_ctx *ctx, const wbr_program *prog, const wbr_tensorset *src,
                 const wbr_tensorset *target) {
  return wbr_plan_new_with(out, ctx, prog, src, target, NULL);
}

int wbr_plan_new_with(wbr_plan **out, wbr_ctx *ctx, const wbr_program *prog,
                      const wbr_tensorset *src, const wbr_tensorset *target,
                      const wbr_plan_options *opts) {
  if (!out || !prog || !src) return WBR_EUSAGE;
  if (opts && WBR_CHECK_VERSION(ctx, "wbr_plan_new_with", opts, wbr_plan_options, WBR_PLAN_OPTIONS))
    return WBR_EUSAGE;
  *out = NULL;
  wbr_plan *plan = calloc(1, sizeof *plan);
  if (!plan) return wbr_oom(ctx);
  plan->ctx = ctx;
  plan->prog = prog;
  plan->src = src;
  plan->target = target;
  wbr_arena_init(&plan->arena, 65536); /* plans of large checkpoints hold many nodes */
  vm v = {.plan = plan, .ctx = ctx, .prog = prog};
  wbr_map_init(&v.index);
  int brc = vm_params_bind(&v, opts); /* before anything runs: the int lists' values */
  if (brc == 0) brc = vm_allow_begin(&v, opts);
  if (brc) {
    wbr_map_free(&v.index);
    wbr_plan_free(plan);
    return brc == WBR_ENOMEM ? wbr_oom(ctx) : brc;
  }
  for (size_t i = 0; i < src->n && !v.oom; i++) {
    const wbr_tensor *t = &src->t[i];
    wbr_node *nd = vm_node_new(&v, WBR_N_SOURCE, NULL, UINT32_MAX, 0);
    if (!nd) break;
    nd->src = i;
    nd->dtype = t->dtype;
    nd->ndim = t->ndim;
    memcpy(nd->shape, t->shape, sizeof nd->shape);
    wbr_value val = {.name = t->name, .len = strlen(t->name), .node = nd};
    push(&v, &v.cur, &v.ncur, &v.capcur, val);
  }
  if (!v.oom) reindex(&v, 0);
  v.match_budget = WBR_MATCH_BUDGET;
  if (!v.oom && wbr_namepat_state_new(&v.mstate, &v.match_budget) != 0) v.oom = true;
  for (uint32_t pc = 0; pc < wbr_program_ninsns(prog) && !v.oom && !v.stop; pc++) run_insn(&v, pc);
  if (!v.oom) {
    if (target && !v.stop) {
      compare_target(&v);
    } else {
      plan->out = v.cur;
      plan->nout = v.ncur;
      v.cur = NULL;
    }
  }
  for (size_t i = 0; i < plan->nout && !v.oom; i++) flatten_hist(&v, &plan->out[i]);
  vm_allow_end(&v);
  free(v.cur);
  free(v.spare);
  free(v.outs);
  free(v.out_at);
  free(v.idx);
  free(v.consumed);
  free(v.sizes);
  free(v.parts);
  wbr_namepat_state_free(v.mstate);
  wbr_map_free(&v.index);
  if (v.oom) {
    wbr_plan_free(plan);
    return wbr_oom(ctx);
  }
  *out = plan;
  return 0;
}

void wbr_plan_free(wbr_plan *plan) {
  if (!plan) return;
  free(plan->out);
  wbr_arena_free(&plan->arena);
  free(plan);
}

size_t wbr_plan_problems(const wbr_plan *plan) { return plan ? plan->problems : 0; }
size_t wbr_plan_count(const wbr_plan *plan) { return plan ? plan->nout : 0; }
