/* allow.c — wbr_plan_options.allow_missing (`--allow-missing PATTERN`): target tensors the rules
 * may leave unproduced because the model initialises them itself (a new head of another class
 * count, new tokens). Such a target is no problem: the plan lists it as "missing (allowed)" and
 * apply writes everything else. A pattern that matches no target tensor at all is probably a
 * typo: it is a warning, with the closest target name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "vm.h"

struct vm_allow {
  wbr_namepat **pat;
  const char *const *text;
  size_t n;
  bool *hit; /* pattern i matched some target tensor */
};

static void warn(vm *v, const char *help, const char *fmt, ...) WBR_PRINTF(3, 4);
static void warn(vm *v, const char *help, const char *fmt, ...) {
  wbr_diag d = {.severity = WBR_SEV_WARNING, .help = help};
  va_list ap;
  va_start(ap, fmt);
  wbr_vreport(v->ctx, 0, &d, fmt, ap);
  va_end(ap);
}

static void allow_free(struct vm_allow *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) wbr_namepat_free(a->pat[i]);
  free(a->pat);
  free(a->hit);
  free(a);
}

int vm_allow_begin(vm *v, const wbr_plan_options *opts) {
  if (!opts || opts->version < 2 || opts->nallow_missing == 0) return 0;
  if (!opts->allow_missing) return WBR_EUSAGE;
  if (!v->plan->target) {
    warn(v, "give the target with -t: without one nothing is missing", "--allow-missing has no effect without a target");
    return 0;
  }
  struct vm_allow *a = calloc(1, sizeof *a);
  size_t n = opts->nallow_missing;
  if (a) a->pat = calloc(n, sizeof *a->pat);
  if (a) a->hit = calloc(n, sizeof *a->hit);
  if (!a || !a->pat || !a->hit) {
    allow_free(a);
    return WBR_ENOMEM;
  }
  a->text = opts->allow_missing;
  for (size_t i = 0; i < n; i++, a->n++) {
    wbr_namepat_error err;
    const char *t = opts->allow_missing[i];
    int rc = t ? wbr_namepat_new(&a->pat[i], WBR_PK_GLOB, t, "", &err) : WBR_EUSAGE;
    if (rc == WBR_ENOMEM) {
      allow_free(a);
      return rc;
    }
    if (rc) {
      rc = wbr_fail(v->ctx, WBR_EUSAGE, NULL, t ? err.help : NULL, "--allow-missing pattern '%s': %s",
                    t ? t : "(null)", t ? err.msg : "a NULL pattern");
      allow_free(a);
      return rc;
    }
  }
  v->allow = a;
  return 0;
}

static bool matches(const wbr_namepat *p, const char *name) {
  wbr_match m;
  wbr_namepat_error err;
  return wbr_namepat_match(p, name, strlen(name), &m, &err) == 1;
}

bool vm_allow_take(vm *v, const wbr_tensor *tt) {
  struct vm_allow *a = v->allow;
  if (!a) return false;
  bool ok = false;
  for (size_t i = 0; i < a->n && !ok; i++)
    if (matches(a->pat[i], tt->name)) ok = a->hit[i] = true;
  if (!ok) return false;
  wbr_plan *p = v->plan;
  if (!p->allowed) {
    p->allowed = vm_alloc(v, p->target->n * sizeof *p->allowed);
    if (!p->allowed) return false;
  }
  p->allowed[p->nallowed++] = tt;
  return true;
}

/* What pattern i probably meant: the closest target name when it is a plain name; else the
 * pattern with its literal text before the first wildcard replaced by the closest start of a
 * target name ("haed.*" -> "head.*"). False when nothing is close. */
static bool closest(const wbr_tensorset *tg, const wbr_namepat *p, const char *t, char *out, size_t n) {
  size_t pl = 0;
  const char *lit = wbr_namepat_literal(p), *pre = lit ? lit : wbr_namepat_prefix(p, &pl);
  if (lit) pl = strlen(lit);
  bool tail_ok = lit || strncmp(t, pre, pl) == 0; /* the raw text starts with the prefix as is */
  size_t bestd = pl / 2 > 3 ? pl / 2 : 3;
  const char *best = NULL;
  for (size_t i = 0; pl && tail_ok && i < tg->n; i++) {
    size_t nl = strlen(tg->t[i].name), cut = lit || nl < pl ? nl : pl;
    size_t d = wbr_edit_distance(pre, pl, tg->t[i].name, cut, WBR_EDIT_TRANSPOSE);
    if (d < bestd || (d == bestd && !best)) bestd = d, best = tg->t[i].name;
  }
  if (!best) return false;
  size_t cut = lit || strlen(best) < pl ? strlen(best) : pl;
  snprintf(out, n, "%.*s%s", (int)cut, best, lit ? "" : t + pl);
  return true;
}

void vm_allow_end(vm *v) {
  struct vm_allow *a = v->allow;
  if (!a) return;
  const wbr_tensorset *tg = v->plan->target;
  for (size_t i = 0; i < a->n; i++) {
    for (size_t k = 0; k < tg->n && !a->hit[i]; k++) a->hit[i] = matches(a->pat[i], tg->t[k].name);
    if (a->hit[i]) continue;
    char near[512], help[600];
    if (closest(tg, a->pat[i], a->text[i], near, sizeof near)) snprintf(help, sizeof help, "did you mean '%s'?", near);
    else snprintf(help, sizeof help, "check the pattern against the target's names (wbr inspect TARGET)");
    warn(v, help, "--allow-missing pattern '%s' matches no target tensor", a->text[i]);
  }
  allow_free(a);
  v->allow = NULL;
}
