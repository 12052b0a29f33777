/* outopts.c — parsing --allow-missing PATTERN and --metadata KEY=VALUE for plan, check and apply.
 * The values stay in argv; the lists are handed to the library as wbr_plan_options.allow_missing
 * and wbr_apply_options.metadata, which check the patterns and apply the entries. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "outopts.h"

static int push(const char ***list, size_t *n, const char *v) {
  const char **nl = realloc(*list, (*n + 1) * sizeof *nl);
  if (!nl) {
    fputs("wbr: out of memory\n", stderr);
    return EXIT_INPUT;
  }
  nl[(*n)++] = v;
  *list = nl;
  return 0;
}

int cli_outopts_arg(cli_outopts *o, const char *cmd, bool want_out, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  bool allow = strcmp(a, "--allow-missing") == 0, meta = want_out && strcmp(a, "--metadata") == 0;
  if (!allow && !meta) return -1;
  if (*i + 1 >= argc) return cli_usage(cmd, "%s needs a value", a);
  const char *v = argv[++*i];
  if (allow) {
    if (!*v) return cli_usage(cmd, "--allow-missing wants a pattern of target names, e.g. --allow-missing 'head.*'");
    return push(&o->allow, &o->nallow, v);
  }
  const char *eq = strchr(v, '=');
  if (!eq || eq == v)
    return cli_usage(cmd, "--metadata wants KEY=VALUE, e.g. --metadata format=pt (got '%s')", v);
  return push(&o->meta, &o->nmeta, v);
}

void cli_outopts_free(cli_outopts *o) {
  free(o->allow);
  free(o->meta);
  memset(o, 0, sizeof *o);
}
