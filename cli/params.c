/* params.c — `--param NAME=INT` (repeatable) and `--config FILE`, shared by plan, check, apply
 * and match: parsed here, read through the library (wbr_config_params), and handed on as one
 * list of parameter values in which --param entries come first. A source that is a model
 * directory gives its config.json when no --config is given. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static bool name_ok(const char *s, size_t n) {
  if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return false;
  return true;
}

/* --param NAME=INT: one entry (the name points into argv). */
static int add_flag(cli_params *cp, const char *cmd, const char *v) {
  const char *eq = strchr(v, '=');
  char *end = NULL;
  errno = 0;
  long long x = eq ? strtoll(eq + 1, &end, 10) : 0;
  if (!eq || !name_ok(v, (size_t)(eq - v)) || end == eq + 1 || *end || errno)
    return cli_usage(cmd, "--param wants NAME=INT, a lowercase name and an integer, e.g. --param n_heads=32 (got '%s')", v);
  size_t n = (size_t)(eq - v);
  for (size_t i = 0; i < cp->n; i++)
    if (strlen(cp->v[i].name) == n && strncmp(cp->v[i].name, v, n) == 0)
      return cli_usage(cmd, "--param %.*s given twice", (int)n, v);
  char *name = malloc(n + 1);
  wbr_param_value *nv = realloc(cp->v, (cp->n + 1) * sizeof *nv);
  if (!name || !nv) {
    free(name);
    if (nv) cp->v = nv;
    fputs("wbr: out of memory\n", stderr);
    return EXIT_INPUT;
  }
  memcpy(name, v, n);
  name[n] = 0;
  cp->v = nv;
  cp->v[cp->n++] = (wbr_param_value){.name = name, .value = x, .origin = WBR_PARAM_FLAG, .key = NULL};
  cp->nflags = cp->n;
  return 0;
}

int cli_params_arg(cli_params *cp, const char *cmd, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--param") != 0 && strcmp(a, "--config") != 0) return -1;
  if (*i + 1 >= argc) return cli_usage(cmd, "%s needs a value", a);
  const char *v = argv[++*i];
  if (strcmp(a, "--param") == 0) return add_flag(cp, cmd, v);
  if (cp->config) return cli_usage(cmd, "--config given twice");
  cp->config = v;
  return 0;
}

int cli_params_source(cli_params *cp, const char *src) {
  struct stat st;
  if (cp->config || stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
  size_t n = strlen(src);
  while (n > 1 && src[n - 1] == '/') n--;
  char *p = malloc(n + sizeof "/config.json");
  if (!p) {
    fputs("wbr: out of memory\n", stderr);
    return EXIT_INPUT;
  }
  memcpy(p, src, n);
  memcpy(p + n, "/config.json", sizeof "/config.json");
  if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
    free(p);
    return 0;
  }
  cp->config = cp->config_own = p;
  if (cli_verbosity > 0) cli_note("parameters from %s (give --config FILE or --param NAME=INT to override)\n", p);
  return 0;
}

int cli_params_load(cli_params *cp, wbr_ctx *ctx) {
  if (!cp->config) return 0;
  wbr_param_value *cfg = NULL;
  size_t n = 0;
  int rc = wbr_config_params(ctx, cp->config, &cfg, &n);
  if (rc) return cli_exit(rc);
  wbr_param_value *all = realloc(cp->v, (cp->n + n + 1) * sizeof *all);
  if (!all) {
    wbr_free(cfg);
    fputs("wbr: out of memory\n", stderr);
    return EXIT_INPUT;
  }
  cp->v = all;
  memcpy(all + cp->n, cfg, n * sizeof *all); /* the strings stay in cfg */
  cp->n += n;
  cp->cfg = cfg;
  return 0;
}

void cli_params_free(cli_params *cp) {
  for (size_t i = 0; i < cp->nflags; i++) free((char *)cp->v[i].name);
  free(cp->v);
  wbr_free(cp->cfg);
  free(cp->config_own);
  memset(cp, 0, sizeof *cp);
}
