/* checkjson.c — `wbr check --json`: the verdict as one JSON object on stdout for CI and
 * notebooks: the counts, and every problem the plan reported with its kind (missing, extra,
 * shape, dtype, quantization, rule, other), the tensor it names, the message and the help. The
 * problems are the diagnostics the plan reports (tapped as they go to stderr). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct tap {
  cJSON *problems, *notes;
  bool oom;
} tap;

static tap the_tap;

/* The name inside the first '...' after `prefix` in msg, or NULL. */
static char *quoted_after(const char *msg, const char *prefix) {
  const char *p = strstr(msg, prefix);
  if (!p) return NULL;
  p += strlen(prefix);
  const char *e = strstr(p, "' ");
  if (!e) e = strrchr(p, '\'');
  if (!e || e < p) return NULL;
  char *s = malloc((size_t)(e - p) + 1);
  if (s) memcpy(s, p, (size_t)(e - p)), s[e - p] = 0;
  return s;
}

/* The kind of a plan problem, from the wording the planner uses (docs/plan.md). */
static const char *kind_of(const wbr_diag *d) {
  const char *m = d->message, *h = d->help ? d->help : "";
  if (strstr(m, "is not produced by the rules")) return "missing";
  if (strstr(m, "is not in the target")) return "extra";
  if (strstr(m, "but the target's is")) return "quantization";
  if (strstr(m, "but the target wants")) return strncmp(h, "add a cast", 10) == 0 ? "dtype" : "shape";
  if (d->file && d->line > 0) return "rule";
  return "other";
}

static void add_str(cJSON *o, const char *k, const char *v, bool *oom) {
  if (!(v ? cJSON_AddStringToObject(o, k, v) : cJSON_AddNullToObject(o, k))) *oom = true;
}

static void on_diag(void *ud, const wbr_diag *d) {
  tap *t = ud;
  if (t->oom) return;
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddItemToArray(d->severity == WBR_SEV_ERROR ? t->problems : t->notes, o)) {
    cJSON_Delete(o);
    t->oom = true;
    return;
  }
  const char *kind = d->severity == WBR_SEV_ERROR ? kind_of(d) : NULL;
  char *name = NULL;
  if (kind && strcmp(kind, "missing") == 0) name = quoted_after(d->message, "target tensor '");
  else if (kind && strcmp(kind, "rule") != 0 && strcmp(kind, "other") != 0) name = quoted_after(d->message, "tensor '");
  if (kind) add_str(o, "kind", kind, &t->oom);
  if (kind) add_str(o, "tensor", name, &t->oom);
  free(name);
  add_str(o, "message", d->message, &t->oom);
  add_str(o, "help", d->help, &t->oom);
  add_str(o, "file", d->file, &t->oom);
  if (d->file && d->line > 0 && (!cJSON_AddNumberToObject(o, "line", d->line) || !cJSON_AddNumberToObject(o, "col", d->col)))
    t->oom = true;
}

void cli_check_json_begin(void) {
  the_tap.problems = cJSON_CreateArray();
  the_tap.notes = cJSON_CreateArray();
  the_tap.oom = !the_tap.problems || !the_tap.notes;
  cli_diag_tap = on_diag;
  cli_diag_tap_ud = &the_tap;
}

int cli_check_json_end(const char *rules, const char *src, const char *target, const wbr_plan *plan) {
  cli_diag_tap = NULL;
  cJSON *o = plan ? cJSON_CreateObject() : NULL;
  int code = EXIT_OK;
  if (plan) {
    bool *oom = &the_tap.oom;
    size_t np = wbr_plan_problems(plan);
    if (!o || !cJSON_AddBoolToObject(o, "ok", np == 0)) *oom = true;
    add_str(o, "rules", rules, oom);
    add_str(o, "src", src, oom);
    add_str(o, "target", target, oom);
    if (!cJSON_AddNumberToObject(o, "tensors", (double)wbr_plan_count(plan)) ||
        !cJSON_AddNumberToObject(o, "problems", (double)np) ||
        !cJSON_AddNumberToObject(o, "listed", (double)cJSON_GetArraySize(the_tap.problems)))
      *oom = true;
    if (!*oom && cJSON_AddItemToObject(o, "list", the_tap.problems)) the_tap.problems = NULL;
    if (!*oom && cJSON_AddItemToObject(o, "notes", the_tap.notes)) the_tap.notes = NULL;
    char *s = *oom || the_tap.problems || the_tap.notes ? NULL : cJSON_PrintUnformatted(o);
    if (s) printf("%s\n", s);
    else fputs("wbr check: out of memory writing the JSON\n", stderr), code = EXIT_INPUT;
    free(s);
  }
  cJSON_Delete(o);
  cJSON_Delete(the_tap.problems);
  cJSON_Delete(the_tap.notes);
  memset(&the_tap, 0, sizeof the_tap);
  return code;
}
