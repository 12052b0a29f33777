/* cmd_compile.c — `wbr compile`: placeholder until the compiler lands (issue 3). */
#include "cli.h"

int cmd_compile(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage("compile", "not available yet in this build");
}
