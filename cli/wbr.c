/* wbr.c — the command line: dispatch to subcommands, shared helpers. The contract (names,
 * arguments, exit codes) is fixed by docs and outside scripts; see README.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const struct command {
  const char *name;
  int (*fn)(int, char **);
  const char *usage;
  const char *about;
} commands[] = {
    {"inspect", cmd_inspect, "wbr inspect FILE [--json]", "list tensors: name, dtype, shape, bytes"},
    {"compile", cmd_compile, "wbr compile RULES.wbr [-o RULES.wbc]", "check and compile rules to bytecode"},
    {"disasm", cmd_disasm, "wbr disasm RULES.wbc|RULES.wbr", "readable bytecode listing"},
    {"fmt", cmd_fmt, "wbr fmt [-w] RULES.wbr", "canonical formatting of a rule file"},
    {"plan", cmd_plan, "wbr plan RULES SRC [-t TARGET] [--format text|md|json]", "mapping table; no tensor data read"},
    {"check", cmd_check, "wbr check RULES SRC -t TARGET", "exit 0 iff RULES map SRC onto TARGET exactly"},
    {"apply", cmd_apply, "wbr apply RULES SRC [-t TARGET] -o OUT [--sync] [--max-shard-size SIZE]", "convert; OUT is written atomically"},
    {"match", cmd_match, "wbr match SRC TARGET [-o DRAFT.wbr] [--hint A=B]... [--update RULES.wbr] [--explain]",
     "draft rules mapping SRC onto TARGET"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void diag_to_stderr(void *ud, const wbr_diag *d) {
  (void)ud;
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

char *cli_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: error: cannot open: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (ferror(f)) {
      fprintf(stderr, "%s: error: read failed: %s\n", path, strerror(errno));
      free(buf);
      buf = NULL;
      break;
    }
    if (feof(f)) break;
    char *nb = cap < (SIZE_MAX >> 2) ? realloc(buf, cap * 2) : NULL;
    if (!nb) {
      free(buf);
      buf = NULL;
      fprintf(stderr, "%s: error: out of memory reading the file\n", path);
      break;
    }
    buf = nb;
    cap *= 2;
  }
  fclose(f);
  if (buf) {
    buf[n] = 0;
    if (len) *len = n;
  }
  return buf;
}

int cli_write_atomic(const char *path, const char *text, size_t len) {
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (!tmp) {
    fprintf(stderr, "%s: error: out of memory\n", path);
    return EXIT_INPUT;
  }
  snprintf(tmp, n, "%s.wbr-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fprintf(stderr, "%s: error: cannot create a temporary file: %s\n", path, strerror(errno));
    free(tmp);
    return EXIT_INPUT;
  }
  struct stat st;
  (void)fchmod(fd, stat(path, &st) == 0 ? st.st_mode & 07777 : 0644);
  FILE *f = fdopen(fd, "wb");
  bool ok = f && fwrite(text, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (f) ok = (fclose(f) == 0) && ok;
  else close(fd);
  if (!ok || rename(tmp, path) != 0) {
    if (ok) e = errno;
    fprintf(stderr, "%s: error: cannot write: %s\n", path, strerror(e));
    unlink(tmp);
    free(tmp);
    return EXIT_INPUT;
  }
  free(tmp);
  return EXIT_OK;
}

static void usage_all(FILE *to) {
  fprintf(to, "wbr %s — map model weights between implementations with reviewable rules\n\nusage:\n",
          wbr_version());
  for (size_t i = 0; i < NCOMMANDS; i++) fprintf(to, "  %s\n      %s\n", commands[i].usage, commands[i].about);
  fprintf(to, "\nexit codes: 0 success, 1 bad input/rules/mapping, 2 usage, 3 incomplete draft (match)\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage_all(stderr);
    return EXIT_USAGE;
  }
  if (cli_is(argv[1], "-h", "--help") || strcmp(argv[1], "help") == 0) {
    usage_all(stdout);
    return EXIT_OK;
  }
  if (cli_is(argv[1], "--version", "-V")) {
    printf("wbr %s\n", wbr_version());
    return EXIT_OK;
  }
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "wbr: unknown command '%s'\n", argv[1]);
  usage_all(stderr);
  return EXIT_USAGE;
}
