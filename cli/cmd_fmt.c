/* cmd_fmt.c — `wbr fmt`: placeholder until the compiler lands (issue 3). */
#include "cli.h"

int cmd_fmt(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage("fmt", "not available yet in this build");
}
