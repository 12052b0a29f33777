/* cmd_compile.c — `wbr compile RULES.wbr [-o RULES.wbc]`: check and compile a rule file to
 * bytecode. Diagnostics go to stderr as file:line:col; the .wbc is written atomically and only
 * when the rules compiled cleanly. Exit 0, 1 (bad rules, unwritable output) or 2 (usage). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* True if both paths name one existing file (or are spelled the same). */
static bool same_file(const char *a, const char *b) {
  if (strcmp(a, b) == 0) return true;
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cmd_compile(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is(a, "-h", "--help")) {
      printf("usage: wbr compile RULES.wbr [-o RULES.wbc]\n");
      return EXIT_OK;
    }
    if (cli_is(a, "-o", "--output")) {
      if (i + 1 >= argc) return cli_usage("compile", "%s needs a file name", a);
      if (out) return cli_usage("compile", "%s given twice", a);
      out = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      return cli_usage("compile", "unknown option '%s'", a);
    } else if (!in) {
      in = a;
    } else {
      return cli_usage("compile", "too many arguments ('%s'): give one rule file", a);
    }
  }
  if (!in) return cli_usage("compile", "RULES.wbr is missing");
  if (!has_suffix(in, ".wbr") || strlen(in) == 4)
    return cli_usage("compile", "'%s' is not a .wbr rule file", in);
  char *def = NULL;
  if (!out) {
    size_t n = strlen(in);
    def = malloc(n + 1);
    if (!def) {
      fputs("wbr compile: out of memory\n", stderr);
      return EXIT_INPUT;
    }
    memcpy(def, in, n - 4);
    memcpy(def + n - 4, ".wbc", 5);
    out = def;
  }
  if (has_suffix(out, ".wbr") || same_file(in, out)) {
    int rc = cli_usage("compile", "the output '%s' would overwrite a rule file; write a .wbc", out);
    free(def);
    return rc;
  }
  /* Bytecode goes only to .wbc names, so a slip of the keyboard never replaces a weight file. */
  if (!has_suffix(out, ".wbc") || strlen(out) == 4 || out[strlen(out) - 5] == '/') {
    int rc = cli_usage("compile", "the output '%s' is not a .wbc file: name it NAME.wbc", out);
    free(def);
    return rc;
  }
  wbr_ctx *ctx = cli_ctx();
  wbr_program *p = NULL;
  int rc = wbr_program_compile_file(&p, ctx, in);
  if (rc == 0) rc = wbr_program_save(p, ctx, out);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
  free(def);
  return cli_exit(rc);
}
