/* outopts.h — the options hub's layouts and outputs add to plan, check and apply (cli/outopts.c):
 * --allow-missing PATTERN (repeatable) and, where an output is written, --metadata KEY=VALUE
 * (repeatable). Parsed by one call from each command's argument loop. */
#ifndef WBR_CLI_OUTOPTS_H
#define WBR_CLI_OUTOPTS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cli_outopts {
  const char **allow; /* --allow-missing patterns (pointing into argv) */
  size_t nallow;
  const char **meta;  /* --metadata KEY=VALUE entries (pointing into argv) */
  size_t nmeta;
} cli_outopts;

/* If argv[*i] is one of these options (--metadata only when want_out), take it and its value
 * (advancing *i) and return 0, or a usage error's exit code; -1 when it is none of them. */
int cli_outopts_arg(cli_outopts *o, const char *cmd, bool want_out, int argc, char **argv, int *i);
void cli_outopts_free(cli_outopts *o);

#endif
