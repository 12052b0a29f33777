/* cmd_disasm.c — `wbr disasm`: placeholder until the compiler lands (issue 3). */
#include "cli.h"

int cmd_disasm(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage("disasm", "not available yet in this build");
}
