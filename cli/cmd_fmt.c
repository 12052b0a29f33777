/* cmd_fmt.c — `wbr fmt [-w|--check] RULES.wbr`: print a rule file in canonical form, rewrite it
 * in place (atomically, and only when it changes), or check that it is canonical. The file is
 * parsed and checked first: a file with errors is never rewritten. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_fmt(int argc, char **argv) {
  bool write = false, check = false;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (cli_is(argv[i], "-w", "--write")) write = true;
    else if (cli_is(argv[i], "--check", NULL)) check = true;
    else if (cli_is(argv[i], "-h", "--help")) {
      printf("usage: wbr fmt [-w | --check] RULES.wbr\n"
             "  prints RULES.wbr in canonical form; -w rewrites it in place, --check exits 1 if "
             "it is not canonical\n");
      return EXIT_OK;
    } else if (argv[i][0] == '-' && argv[i][1]) return cli_usage("fmt", "unknown option '%s'", argv[i]);
    else if (path) return cli_usage("fmt", "one rule file at a time");
    else path = argv[i];
  }
  if (!path) return cli_usage("fmt", "missing the rule file");
  if (write && check) return cli_usage("fmt", "-w and --check exclude each other");

  wbr_ctx *ctx = cli_ctx();
  size_t len = 0;
  char *src = cli_read_file(ctx, path, &len);
  if (!src) {
    wbr_ctx_free(ctx);
    return EXIT_INPUT;
  }
  char *out = NULL;
  int rc = wbr_rules_format(&out, ctx, path, src, len);
  int code = cli_exit(rc);
  if (rc == 0) {
    size_t olen = strlen(out);
    bool same = olen == len && memcmp(out, src, len) == 0;
    if (check) {
      if (!same) {
        fprintf(stderr, "%s: not in canonical form; run 'wbr fmt -w %s'\n", path, path);
        code = EXIT_INPUT;
      }
    } else if (write) {
      /* Through a symlink to its target, as editors do; the link stays a link. */
      if (!same) code = cli_write_atomic(ctx, path, out, olen, NULL);
    } else if (fwrite(out, 1, olen, stdout) != olen || fflush(stdout) != 0) {
      fprintf(stderr, "wbr fmt: error writing the output: %s\n", strerror(errno));
      code = EXIT_INPUT;
    }
  }
  wbr_free(out);
  wbr_ctx_free(ctx);
  wbr_free(src);
  return code;
}
