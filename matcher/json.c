/* json.c — the matcher's verdict as one JSON object (wbr_match_result.json, `wbr match --json`):
 * the counts of the text summary, every unresolved target with its candidates and a --hint that
 * settles it, the REVIEW decisions and the draft. Built from what the draft's UNRESOLVED comments
 * already say, so the two cannot disagree. The schema is stable: docs/matcher.md. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mint.h"
#include "mjson.h"

void m_json_init(mjson *j) {
  j->unresolved = cJSON_CreateArray();
  j->review = cJSON_CreateArray();
  j->oom = !j->unresolved || !j->review;
}

void m_json_free(mjson *j) {
  cJSON_Delete(j->unresolved);
  cJSON_Delete(j->review);
  memset(j, 0, sizeof *j);
}

void m_json_reset(mjson *j) {
  m_json_free(j);
  m_json_init(j);
}

/* {"shape": [...], "dtype": "F32"} fields of t into o. */
static void add_tensor(cJSON *o, const mtensor *t, bool *oom) {
  double d[WBR_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) d[i] = (double)t->shape[i];
  cJSON *shape = cJSON_CreateDoubleArray(d, t->ndim);
  if (!shape || !cJSON_AddItemToObject(o, "shape", shape)) {
    cJSON_Delete(shape);
    *oom = true;
  }
  if (!cJSON_AddStringToObject(o, "dtype", wbr_dtype_name(t->dtype))) *oom = true;
}

/* A name a --hint can carry literally: no '=' (the hint cuts at the first), no blank (the target
 * ends at one), no glob character (it would match more than this tensor). */
static bool hintable(const char *name, bool is_src) {
  if (strpbrk(name, "*?[]{}") || (is_src && strchr(name, '='))) return false;
  return is_src || !strpbrk(name, " \t");
}

/* "--hint 'A=B[ transpose]'" for the shell, quoted so any name survives: ' becomes '\''. */
static char *shell_hint(const char *arg) {
  size_t n = strlen(arg), q = 0;
  for (const char *c = arg; *c; c++) q += *c == '\'';
  char *s = malloc(n + 3 * q + 12), *w = s;
  if (!s) return NULL;
  w += strlen(strcpy(w, "--hint '"));
  for (const char *c = arg; *c; c++) {
    if (*c == '\'') w += strlen(strcpy(w, "'\\''"));
    else *w++ = *c;
  }
  strcpy(w, "'");
  return s;
}

static const char *reason_of(const munres *un) {
  if (un->dtype) return "dtype";
  if (un->depth) return "depth";
  return un->ncand ? "ambiguous" : "no candidate";
}

/* A hint that settles un (the draft's "e.g. hint" line), into o as "hint" and "hint_arg" (the
 * --hint value alone, for a program), or null when no single hint settles it. It names the first
 * candidate no earlier entry's hint named (used: per source), so the hints taken together are
 * consistent; which candidate is right is still the user's call. */
static void add_hint(cJSON *o, const matcher *m, const munres *un, int64_t piece, bool *used, bool *oom) {
  int pick = 0;
  while (used && pick < un->ncand && used[un->cand[pick]]) pick++;
  if (pick == un->ncand) pick = 0;
  const char *s = un->ncand ? m->S.t[un->cand[pick]].name : NULL, *t = m->T.t[un->t].name;
  char *arg = NULL, *sh = NULL;
  if (s && !un->dtype && !un->param && !un->layout && !un->depth && piece < 0 && hintable(s, true) &&
      hintable(t, false)) {
    size_t n = strlen(s) + strlen(t) + 16;
    arg = malloc(n);
    if (arg) snprintf(arg, n, "%s=%s%s", s, t, un->square ? " transpose" : "");
    sh = arg ? shell_hint(arg) : NULL;
    if (!sh) *oom = true;
    else if (used) used[un->cand[pick]] = true;
  }
  if (!(sh ? cJSON_AddStringToObject(o, "hint", sh) : cJSON_AddNullToObject(o, "hint"))) *oom = true;
  if (!(arg ? cJSON_AddStringToObject(o, "hint_arg", arg) : cJSON_AddNullToObject(o, "hint_arg"))) *oom = true;
  free(arg);
  free(sh);
}

static cJSON *unresolved_entry(const matcher *m, const munres *un, bool *used, bool *oom) {
  cJSON *o = cJSON_CreateObject(), *cands = cJSON_CreateArray();
  if (!o || !cands || !cJSON_AddStringToObject(o, "target", m->T.t[un->t].name)) goto fail;
  add_tensor(o, &m->T.t[un->t], oom);
  if (!cJSON_AddStringToObject(o, "reason", reason_of(un)) || !cJSON_AddStringToObject(o, "why", un->why)) goto fail;
  int64_t piece;
  size_t real = m_fold_real(m, true, un->t, &piece);
  if (piece >= 0 && (!cJSON_AddNumberToObject(o, "piece", (double)piece) ||
                     !cJSON_AddStringToObject(o, "stacked", m->fold->t.rs->t[real].name)))
    goto fail;
  for (int c = 0; c < un->ncand; c++) {
    cJSON *e = cJSON_CreateObject();
    if (!e || !cJSON_AddItemToArray(cands, e)) {
      cJSON_Delete(e);
      goto fail;
    }
    if (!cJSON_AddStringToObject(e, "source", m->S.t[un->cand[c]].name)) goto fail;
    add_tensor(e, &m->S.t[un->cand[c]], oom);
  }
  if (!cJSON_AddItemToObject(o, "candidates", cands)) goto fail;
  cands = NULL;
  add_hint(o, m, un, piece, used, oom);
  return o;
fail:
  *oom = true;
  cJSON_Delete(cands);
  cJSON_Delete(o);
  return NULL;
}

static cJSON *review_entry(const matcher *m, const mpair *p, bool *oom) {
  cJSON *o = cJSON_CreateObject(), *srcs = cJSON_CreateArray();
  if (!o || !srcs || !cJSON_AddStringToObject(o, "target", m->T.t[p->t].name) ||
      !cJSON_AddStringToObject(o, "source", m->S.t[p->s[0]].name) || !cJSON_AddStringToObject(o, "why", p->why) ||
      !cJSON_AddNumberToObject(o, "rivals", p->rivals))
    goto fail;
  for (int k = 0; k < p->ns; k++) {
    cJSON *s = cJSON_CreateString(m->S.t[p->s[k]].name);
    if (!s || !cJSON_AddItemToArray(srcs, s)) {
      cJSON_Delete(s);
      goto fail;
    }
  }
  if (!cJSON_AddItemToObject(o, "sources", srcs)) goto fail;
  return o;
fail:
  *oom = true;
  cJSON_Delete(srcs);
  cJSON_Delete(o);
  return NULL;
}

void m_json_collect(mjson *j, const matcher *m) {
  if (j->oom) return;
  bool *used = calloc(m->S.n + 1, sizeof *used); /* NULL: every hint names the first candidate */
  for (size_t u = 0; u < m->nunres && !j->oom; u++) {
    cJSON *e = unresolved_entry(m, &m->unres[u], used, &j->oom);
    if (e && !cJSON_AddItemToArray(j->unresolved, e)) cJSON_Delete(e), j->oom = true;
  }
  free(used);
  for (size_t i = 0; i < m->npairs && !j->oom; i++) {
    if (!m_review_pair(&m->pairs[i])) continue;
    cJSON *e = review_entry(m, &m->pairs[i], &j->oom);
    if (e && !cJSON_AddItemToArray(j->review, e)) cJSON_Delete(e), j->oom = true;
  }
}

static bool add_count(cJSON *o, const char *key, size_t v) { return cJSON_AddNumberToObject(o, key, (double)v) != NULL; }

char *m_json_result(mjson *j, const wbr_match_result *r) {
  if (j->oom) return NULL;
  cJSON *o = cJSON_CreateObject();
  char *out = NULL;
  if (!o || !cJSON_AddBoolToObject(o, "complete", r->complete) || !add_count(o, "targets", r->ntargets) ||
      !add_count(o, "paired", r->npaired) || !add_count(o, "ambiguous", r->nambiguous) ||
      !add_count(o, "unmatched", r->nunmatched) || !add_count(o, "statements", r->nstmts) ||
      !add_count(o, "dtype", r->ndtype) || !add_count(o, "depth", r->ndepth) ||
      !add_count(o, "review_count", r->nreview))
    goto done;
  /* the arrays move into o: j keeps fresh empty ones */
  if (!cJSON_AddItemToObject(o, "unresolved", j->unresolved)) goto done;
  j->unresolved = NULL;
  if (!cJSON_AddItemToObject(o, "review", j->review)) goto done;
  j->review = NULL;
  if (!cJSON_AddStringToObject(o, "draft", r->draft ? r->draft : "")) goto done;
  out = cJSON_PrintUnformatted(o);
done:
  cJSON_Delete(o);
  return out;
}
