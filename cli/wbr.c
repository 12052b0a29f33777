/* wbr.c — the command line: dispatch to subcommands, shared helpers. The contract (names,
 * arguments, exit codes) is fixed by docs and outside scripts; see README.md. */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct command {
  const char *name;
  int (*fn)(int, char **);
  const char *usage;
  const char *about;
} commands[] = {
    {"inspect", cmd_inspect, "wbr inspect FILE [--json] [--from FORMAT]", "list tensors: name, dtype, shape, bytes"},
    {"compile", cmd_compile, "wbr compile RULES.wbr [-o RULES.wbc]", "check and compile rules to bytecode"},
    {"disasm", cmd_disasm, "wbr disasm RULES.wbc|RULES.wbr", "readable bytecode listing"},
    {"fmt", cmd_fmt, "wbr fmt [-w] RULES.wbr", "canonical formatting of a rule file"},
    {"plan", cmd_plan, "wbr plan RULES SRC [-t TARGET] [--format text|md|json] [--allow-missing PATTERN]... [--param NAME=INT]... [--config FILE] [--from FORMAT] [--target-format FORMAT]", "mapping table; no tensor data read"},
    {"check", cmd_check, "wbr check RULES SRC -t TARGET [--json] [--allow-missing PATTERN]... [--param NAME=INT]... [--config FILE] [--from FORMAT] [--target-format FORMAT]", "exit 0 iff RULES map SRC onto TARGET exactly"},
    {"apply", cmd_apply, "wbr apply RULES SRC [-t TARGET] -o OUT [--dry-run] [--sync] [--max-shard-size SIZE] [--copy FILE]... [--threads N] [--allow-missing PATTERN]... [--metadata KEY=VALUE]... [--param NAME=INT]... [--config FILE] [--from FORMAT] [--target-format FORMAT] [--to FORMAT]", "convert; OUT is written atomically"},
    {"match", cmd_match, "wbr match SRC TARGET [-o DRAFT.wbr] [--hint A=B]... [--update RULES.wbr] [--explain] [--json] [--param NAME=INT]... [--config FILE] [--from FORMAT] [--target-format FORMAT]",
     "draft rules mapping SRC onto TARGET"},
    {"convert", cmd_convert, "wbr convert SRC -o OUT [--dtype bf16|f16|f32|f64] [-t TARGET] [--max-shard-size SIZE] [--copy FILE]... [--sync] [--from FORMAT] [--to FORMAT]",
     "format change or cast with no rule file (the plan and checks of apply)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

cli_diag_tap_fn cli_diag_tap;
void *cli_diag_tap_ud;

static void diag_to_stderr(void *ud, const wbr_diag *d) {
  (void)ud;
  if (cli_diag_tap) cli_diag_tap(cli_diag_tap_ud, d);
  if (cli_verbosity < 0 && d->severity != WBR_SEV_ERROR) return; /* -q: errors only */
  char *s = wbr_diag_format(d);
  if (s) fputs(s, stderr);
  else fprintf(stderr, "error: %s\n", d->message);
  wbr_free(s);
}

wbr_ctx *cli_ctx(void) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, diag_to_stderr, NULL) != 0) {
    fputs("wbr: out of memory\n", stderr);
    exit(EXIT_INPUT);
  }
  return ctx;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "wbr %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, cmd) == 0) fprintf(stderr, "usage: %s\n", commands[i].usage);
  return EXIT_USAGE;
}

int cli_exit(int rc) {
  if (rc == 0) return EXIT_OK;
  return rc == WBR_EUSAGE ? EXIT_USAGE : EXIT_INPUT;
}

bool cli_is(const char *arg, const char *a, const char *b) {
  return (a && strcmp(arg, a) == 0) || (b && strcmp(arg, b) == 0);
}

char *cli_read_file(wbr_ctx *ctx, const char *path, size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  if (wbr_read_file(ctx, path, &buf, &n) != 0) return NULL;
  if (len) *len = n;
  return buf;
}

int cli_write_atomic(wbr_ctx *ctx, const char *path, const char *text, size_t len,
                     const wbr_protect *protect) {
  return cli_exit(wbr_write_file(ctx, path, text, len, protect));
}

/* A signal that ends wbr mid-write must not leave a hidden temporary (where the filesystem has
 * no O_TMPFILE it has a name): remove them, then die of the signal as we would have. */
static void on_fatal_signal(int sig) {
  wbr_remove_temporaries();
  signal(sig, SIG_DFL);
  raise(sig);
}

void cli_handle_signals(void) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction old, sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sigs[i], &sa, NULL);
  }
}

static void usage_all(FILE *to) {
  fprintf(to, "wbr %s — map model weights between implementations with reviewable rules\n\nusage:\n",
          wbr_version());
  for (size_t i = 0; i < NCOMMANDS; i++) fprintf(to, "  %s\n      %s\n", commands[i].usage, commands[i].about);
  fprintf(to, "\nevery command takes -h/--help, -q/--quiet and -v/--verbose; `wbr help CMD` is CMD --help\n");
  fprintf(to, "\nexit codes: 0 success, 1 bad input/rules/mapping, 2 usage, 3 incomplete draft (match)\n");
}

static const struct command *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(name, commands[i].name) == 0) return &commands[i];
  return NULL;
}

/* `wbr NAME ...` for a NAME that is no command: say the closest one. */
static int unknown_command(const char *name, const char *what) {
  const char *names[NCOMMANDS + 1];
  for (size_t i = 0; i < NCOMMANDS; i++) names[i] = commands[i].name;
  names[NCOMMANDS] = "help";
  const char *near = cli_closest(name, names, NCOMMANDS + 1);
  if (near) fprintf(stderr, "wbr: unknown %s '%s'; did you mean '%s'?\n", what, name, near);
  else fprintf(stderr, "wbr: unknown %s '%s'\n", what, name);
  usage_all(stderr);
  return EXIT_USAGE;
}

/* CMD's help: the table above for those whose parser has none, else CMD --help. */
static int command_help(const struct command *c) {
  int rc = cli_help(c->name);
  if (rc >= 0) return rc;
  char *av[] = {(char *)c->name, "--help", NULL};
  return c->fn(2, av);
}

static bool asks_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (cli_is(argv[i], "-h", "--help")) return true;
  return false;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage_all(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "help") == 0 && argc > 2) {
    const struct command *c = find_command(argv[2]);
    return c ? command_help(c) : unknown_command(argv[2], "command");
  }
  if (cli_is(argv[1], "-h", "--help") || strcmp(argv[1], "help") == 0) {
    usage_all(stdout);
    return EXIT_OK;
  }
  if (cli_is(argv[1], "--version", "-V")) {
    printf("wbr %s\n", wbr_version());
    return EXIT_OK;
  }
  cli_handle_signals();
  const struct command *c = find_command(argv[1]);
  if (!c) return unknown_command(argv[1], "command");
  int n = cli_strip_verbosity(argc - 1, argv + 1);
  if (asks_help(n, argv + 1)) return command_help(c);
  return c->fn(n, argv + 1);
}
