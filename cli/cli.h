/* cli.h — what the wbr subcommands share: a context that prints diagnostics to stderr, the
 * exit codes of the command-line contract, and small argument helpers. Subcommands use only the
 * public API (include/weightbridge.h). */
#ifndef WBR_CLI_H
#define WBR_CLI_H

#include <stdbool.h>
#include <stdint.h>
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
  char *config_own;     /* config when it is SRC/config.json (cli_params_source) */
  wbr_param_value *cfg; /* the config's entries, as the library returned them */
} cli_params;
/* If argv[*i] is --param or --config, take it and its value (advancing *i) and return 0, or a
 * usage error's exit code; -1 when it is neither. */
int cli_params_arg(cli_params *cp, const char *cmd, int argc, char **argv, int *i);
/* Without --config, a source that is a model directory with a config.json gives it (--param
 * still wins over its values). Returns an exit code. */
int cli_params_source(cli_params *cp, const char *src);
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
/* match: SRC a manifest (no data) and TARGET with data: swapped; says so, WBR_EUSAGE; else 0. */
int cli_match_swapped(const wbr_tensorset *src, const wbr_tensorset *tgt, const char *const *labels);

/* help.c: -q (-1), normal (0), -v (1), set from the arguments by cli_strip_verbosity (which
 * removes -q/--quiet/-v/--verbose from argv and returns the new argc). Under -q the context
 * prints errors only and cli_note prints nothing. */
extern int cli_verbosity;
int cli_strip_verbosity(int argc, char **argv);
/* An informational line on stderr ("wrote ...", summaries, progress), silenced by -q. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print CMD's help on stdout and return 0, or -1 when CMD's own parser prints it. */
int cli_help(const char *cmd);
/* The name of names within two edits of word (one for a short word), or NULL. */
const char *cli_closest(const char *word, const char *const *names, size_t n);
/* Called with every diagnostic the CLI's contexts report, before printing (check --json). */
typedef void (*cli_diag_tap_fn)(void *ud, const wbr_diag *d);
extern cli_diag_tap_fn cli_diag_tap;
extern void *cli_diag_tap_ud;
/* checkjson.c: check --json. begin taps the diagnostics; end prints the JSON of the plan (none
 * when plan is NULL: the error was reported) and returns an exit code (1 when out of memory). */
void cli_check_json_begin(void);
int cli_check_json_end(const char *rules, const char *src, const char *target, const wbr_plan *plan);
/* -v: the plan's table on stderr. */
void cli_show_plan(const wbr_plan *plan);
/* Before apply writes: the table under -v; for --dry-run the verdict (exit 1 with problems, as
 * check) and nothing written. Returns an exit code. */
int cli_apply_preview(const wbr_plan *plan, const char *out, bool dry_run);
/* Under -v ", X MiB in S s (R MiB/s)" since t0; "" otherwise (a static buffer). */
struct timespec;
const char *cli_took(const struct timespec *t0, uint64_t bytes);

#endif
