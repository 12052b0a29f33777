/* fmtopt.h — --from FORMAT, --target-format FORMAT and --to FORMAT (cli/fmtopt.c): the format of
 * SRC (or inspect's FILE), of TARGET and of the output by name, for files whose extension does
 * not say it. Parsed by one call from each command's argument loop; names are checked there. */
#ifndef WBR_CLI_FMTOPT_H
#define WBR_CLI_FMTOPT_H

typedef struct cli_formats {
  const char *from, *target, *to; /* NULL: by extension (values point into argv) */
} cli_formats;

/* Which of the options a command takes. */
enum { CLI_FMT_FROM = 1, CLI_FMT_TARGET = 2, CLI_FMT_TO = 4 };

/* If argv[*i] is one of the options in `which`, take it and its value (advancing *i) and
 * return 0, or a usage error's exit code (2, with the list of format names for a bad name);
 * -1 when it is none of them. */
int cli_formats_arg(cli_formats *f, const char *cmd, unsigned which, int argc, char **argv, int *i);

#endif
