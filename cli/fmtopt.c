/* fmtopt.c — parsing --from, --target-format and --to. A name is checked as it is parsed
 * (wbr_format_check reports an unknown one with the list of names), so a misspelt format is a
 * usage error before any file is opened; the library opens and writes by the name. */
#include <string.h>

#include "cli.h"
#include "fmtopt.h"

int cli_formats_arg(cli_formats *f, const char *cmd, unsigned which, int argc, char **argv, int *i) {
  const char *a = argv[*i], **slot = NULL;
  if ((which & CLI_FMT_FROM) && strcmp(a, "--from") == 0) slot = &f->from;
  else if ((which & CLI_FMT_TARGET) && strcmp(a, "--target-format") == 0) slot = &f->target;
  else if ((which & CLI_FMT_TO) && strcmp(a, "--to") == 0) slot = &f->to;
  if (!slot) return -1;
  if (*i + 1 >= argc) return cli_usage(cmd, "%s needs a format name (safetensors, pytorch, gguf, npz, ...)", a);
  if (*slot) return cli_usage(cmd, "%s given twice", a);
  const char *v = argv[++*i];
  wbr_ctx *ctx = cli_ctx();
  int rc = wbr_format_check(ctx, v);
  wbr_ctx_free(ctx);
  if (rc) return cli_usage(cmd, "%s: '%s' is not a format name (the list is above)", a, v);
  *slot = v;
  return 0;
}
