/* cmd_disasm.c — `wbr disasm RULES.wbc|RULES.wbr`: print the bytecode listing of a .wbc, or of a
 * .wbr compiled in memory (the two give the same listing). Exit 0, 1 (bad or corrupt rules) or
 * 2 (usage). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_disasm(int argc, char **argv) {
  const char *in = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is(a, "-h", "--help")) {
      printf("usage: wbr disasm RULES.wbc|RULES.wbr\n");
      return EXIT_OK;
    }
    if (a[0] == '-' && a[1]) return cli_usage("disasm", "unknown option '%s'", a);
    if (in) return cli_usage("disasm", "too many arguments ('%s'): give one rule file", a);
    in = a;
  }
  if (!in) return cli_usage("disasm", "RULES.wbc or RULES.wbr is missing");
  wbr_ctx *ctx = cli_ctx();
  wbr_program *p = NULL;
  int rc = cli_load_rules(&p, ctx, in);
  int code = cli_exit(rc);
  if (rc == 0) {
    char *text = wbr_program_disasm(p);
    if (!text) {
      fprintf(stderr, "wbr disasm: %s: out of memory rendering the listing; free memory and run again\n", in);
      code = EXIT_INPUT;
    } else {
      fputs(text, stdout);
      wbr_free(text);
      if (fflush(stdout) != 0) {
        perror("wbr disasm: writing output");
        code = EXIT_INPUT;
      }
    }
  }
  wbr_program_free(p);
  wbr_ctx_free(ctx);
  return code;
}
