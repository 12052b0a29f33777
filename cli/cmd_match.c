/* cmd_match.c — `wbr match`: placeholder until the matcher lands (issue 5). */
#include "cli.h"

int cmd_match(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_usage("match", "not available yet in this build");
}
