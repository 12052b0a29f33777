/* cmd_inspect.c — `wbr inspect FILE [--json]`: the tensors of a weight file or manifest, read
 * from the header only. --json prints a manifest usable as a target (`-t`); the table and the
 * manifest are rendered by the library (wbr_tensorset_render, wbr_tensorset_to_manifest). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fmtopt.h"

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool json = false;
  cli_formats fo = {0};
  for (int i = 1; i < argc; i++) {
    int prc = cli_formats_arg(&fo, "inspect", CLI_FMT_FROM, argc, argv, &i);
    if (prc > 0) return prc;
    if (prc == 0) continue;
    if (strcmp(argv[i], "--json") == 0)
      json = true;
    else if (argv[i][0] == '-' && argv[i][1])
      return cli_usage("inspect", "unknown option '%s'", argv[i]);
    else if (path)
      return cli_usage("inspect", "one FILE only (got '%s' and '%s')", path, argv[i]);
    else
      path = argv[i];
  }
  if (!path) return cli_usage("inspect", "FILE is missing");
  wbr_ctx *ctx = cli_ctx();
  wbr_tensorset *ts;
  int rc = wbr_tensorset_open_as(&ts, ctx, path, fo.from);
  if (rc == 0) {
    /* The library renders (and escapes what came from the file); the CLI prints. */
    char *s = json ? wbr_tensorset_to_manifest(ts) : wbr_tensorset_render(ts, path);
    if (s) fputs(s, stdout);
    else rc = WBR_ENOMEM, fprintf(stderr, "wbr inspect: %s: out of memory rendering the tensor list; free memory and run again\n", path);
    wbr_free(s);
  }
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
  if (fflush(stdout) != 0) {
    perror("wbr inspect: writing output");
    return EXIT_INPUT;
  }
  return cli_exit(rc);
}
