/* library.c — the rules library for `wbr match` (docs/matcher.md, "The rules library"): which
 * directories hold it (--library DIR, else the directories of WBR_RULES_PATH, else the installed
 * share dir), and which of its rule files map SRC onto TARGET exactly (compiled, planned against
 * both with the --param/--config values, no problem: what `wbr check` says), proposed on stderr
 * before the draft's summary. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef WBR_RULES_DIR
#define WBR_RULES_DIR "/usr/local/share/weightbridge/rules"
#endif

static void quiet(void *ud, const wbr_diag *d) {
  (void)ud;
  (void)d;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Does the rule file at path map src onto tgt exactly, with the parameter values given (as a
 * config's: a name the file does not declare is no error)? Its own errors are not ours to print. */
static bool maps(const char *path, const wbr_tensorset *src, const wbr_tensorset *tgt, const wbr_plan_options *po) {
  wbr_ctx *q = NULL;
  if (wbr_ctx_new(&q, quiet, NULL)) return false;
  wbr_program *prog = NULL;
  wbr_plan *plan = NULL;
  bool ok = wbr_program_compile_file(&prog, q, path) == 0 && wbr_plan_new_with(&plan, q, prog, src, tgt, po) == 0 &&
            wbr_plan_problems(plan) == 0;
  wbr_plan_free(plan);
  wbr_program_free(prog);
  wbr_ctx_free(q);
  return ok;
}

/* The *.wbr files of one directory that map src onto tgt, in name order, each a line on err. */
static size_t propose_dir(const char *dir, const wbr_tensorset *src, const wbr_tensorset *tgt, const char *const *labels,
                          const wbr_plan_options *po, const char *flags) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  char **names = NULL;
  size_t n = 0, cap = 0, found = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".wbr") != 0 || e->d_name[0] == '.') continue;
    if (n == cap) {
      char **nv = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
      if (!nv) break;
      names = nv;
    }
    if (!(names[n] = malloc(strlen(dir) + len + 2))) break;
    sprintf(names[n++], "%s/%s", dir, e->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    if (maps(names[i], src, tgt, po)) {
      cli_note("library: %s maps %s onto %s (checked: it compiles and plans with no problem); "
                      "use it: wbr apply %s %s -t %s -o OUT%s\n",
              names[i], labels[0], labels[1], names[i], labels[0], labels[1], flags);
      found++;
    }
    free(names[i]);
  }
  free(names);
  return found;
}

/* The values as the user gave them, for the `use it:` line: --param NAME=V ... --config FILE. */
static char *flags_text(const wbr_param_value *params, size_t nparams, const char *config) {
  size_t cap = 1 + (config ? strlen(config) + 10 : 0), len = 0;
  for (size_t i = 0; i < nparams; i++) cap += params[i].origin == WBR_PARAM_FLAG ? strlen(params[i].name) + 32 : 0;
  char *b = malloc(cap);
  if (!b) return NULL;
  b[0] = 0;
  for (size_t i = 0; i < nparams; i++)
    if (params[i].origin == WBR_PARAM_FLAG)
      len += (size_t)snprintf(b + len, cap - len, " --param %s=%lld", params[i].name, (long long)params[i].value);
  if (config) snprintf(b + len, cap - len, " --config %s", config);
  return b;
}

size_t cli_library_propose(const char *dir, const wbr_tensorset *src, const wbr_tensorset *tgt, const char *const *labels,
                           const wbr_param_value *params, size_t nparams, const char *config) {
  wbr_param_value *asc = calloc(nparams + 1, sizeof *asc);
  char *flags = flags_text(params, nparams, config);
  if (!asc || !flags) {
    free(asc);
    free(flags);
    return 0;
  }
  for (size_t i = 0; i < nparams; i++) asc[i] = params[i], asc[i].origin = WBR_PARAM_CONFIG;
  wbr_plan_options po = WBR_PLAN_OPTIONS_INIT;
  po.params = asc;
  po.nparams = nparams;
  const char *path = getenv("WBR_RULES_PATH");
  size_t found = 0;
  if (dir) found = propose_dir(dir, src, tgt, labels, &po, flags);
  else if (!path || !*path) found = propose_dir(WBR_RULES_DIR, src, tgt, labels, &po, flags);
  else {
    char *copy = strdup(path), *save = NULL;
    for (char *p = copy ? strtok_r(copy, ":", &save) : NULL; p; p = strtok_r(NULL, ":", &save))
      found += propose_dir(p, src, tgt, labels, &po, flags);
    free(copy);
  }
  free(asc);
  free(flags);
  return found;
}
