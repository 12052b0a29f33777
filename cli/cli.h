/* cli.h — what the wbr subcommands share: a context that prints diagnostics to stderr, the
 * exit codes of the command-line contract, and small argument helpers. Subcommands use only the
 * public API (include/weightbridge.h). */
#ifndef WBR_CLI_H
#define WBR_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "weightbridge.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_INCOMPLETE = 3 };

/* A context whose diagnostics go to stderr in the documented format. Exits 1 if out of memory. */
wbr_ctx *cli_ctx(void);
/* Print "wbr CMD: message" and the command's usage line to stderr; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Exit code for a library return value: 0 -> 0, usage -> 2, anything else -> 1. */
int cli_exit(int rc);
/* True if arg is exactly one of the given option spellings. */
bool cli_is(const char *arg, const char *a, const char *b);
/* Write text to path through the library's one output writer (wbr_write_file: atomic, devices
 * written in place, symlinks written through, never onto a protected input; may be NULL).
 * Reports through ctx; returns an exit code (2 when path is an input). */
int cli_write_atomic(wbr_ctx *ctx, const char *path, const char *text, size_t len,
                     const wbr_protect *protect);
/* Read a whole regular file into a NUL-terminated buffer (caller frees with wbr_free); reports
 * through ctx and returns NULL (a FIFO or a device is refused, never waited on). */
char *cli_read_file(wbr_ctx *ctx, const char *path, size_t *len);
/* Install SIGINT/SIGTERM/SIGHUP handlers that remove the library's named temporary files and
 * re-raise the signal (a signal ignored at start stays ignored). */
void cli_handle_signals(void);

/* Subcommands: argv[0] is the subcommand name. */
int cmd_inspect(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_fmt(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_match(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* --param NAME=INT (repeatable) and --config FILE (cli/params.c). v: the --param values, then
 * (after cli_params_load) the config's, in precedence order. */
typedef struct cli_params {
  wbr_param_value *v;
  size_t n, nflags;
  const char *config;
  wbr_param_value *cfg; /* the config's entries, as the library returned them */
} cli_params;
/* If argv[*i] is --param or --config, take it and its value (advancing *i) and return 0, or a
 * usage error's exit code; -1 when it is neither. */
int cli_params_arg(cli_params *cp, const char *cmd, int argc, char **argv, int *i);
/* Read --config (if given) and append its values; returns an exit code. */
int cli_params_load(cli_params *cp, wbr_ctx *ctx);
void cli_params_free(cli_params *cp);

/* library.c: print a `library:` line on stderr for each rule file of the rules library (dir, or
 * WBR_RULES_PATH's directories, or the installed share dir) that maps src onto tgt exactly with
 * the parameter values given; labels are how SRC and TARGET are named. Returns how many. */
size_t cli_library_propose(const char *dir, const wbr_tensorset *src, const wbr_tensorset *tgt,
                           const char *const *labels, const wbr_param_value *params, size_t nparams,
                           const char *config);

/* Load rules: a .wbc is loaded and verified, anything else is compiled as .wbr source. */
int cli_load_rules(wbr_program **out, wbr_ctx *ctx, const char *path);

/* cmd_convert.c: RULES that is not a plain file: `-` (stdin), convert's in-memory program, or a
 * weight file given as RULES (swapped arguments: says so, WBR_EUSAGE). 1 when path is none of
 * these (load it as a file). */
int cli_rules_special(wbr_program **out, wbr_ctx *ctx, const char *path);
/* What kind of weight file path looks like ("a PyTorch checkpoint"), or NULL (may be rules). */
const char *cli_weights_kind(const char *path);
/* The usage error for a missing SRC; says `wbr convert` when RULES looks like a weight file. */
int cli_src_missing(const char *cmd, const char *rules);

#endif
