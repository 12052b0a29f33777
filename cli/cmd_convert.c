/* cmd_convert.c — `wbr convert SRC -o OUT [--dtype bf16|f16|f32|f64]`: a format change or a cast
 * with no rule file, through the same plan and apply as `wbr apply` (an in-memory program named
 * "(no rules)"); and what RULES may be besides a file: `-` (read from stdin), or, given by
 * mistake, a checkpoint (swapped arguments, said so instead of "the rule file is too large");
 * and `wbr match` given a manifest as SRC and weights as TARGET (swapped too). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"

/* The name convert's program goes by in messages and in the plan; never a file. */
static const char CONVERT_RULES[] = "(no rules)";
static char *convert_text; /* its source, made by cmd_convert */

#define MAX_STDIN_RULES ((64u << 20) + 1) /* one more than the compiler takes: it says the limit */

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* What a weight file (not a rule file) at path is, by extension (or a directory); NULL when it
 * may be rules. A .wbr or .wbc is always rules. */
const char *cli_weights_kind(const char *path) {
  if (ends_with(path, ".wbr") || ends_with(path, ".wbc")) return NULL;
  static const struct {
    const char *ext, *kind;
  } exts[] = {{".safetensors", "a safetensors file"}, {".safetensors.index.json", "a sharded safetensors index"},
              {".bin.index.json", "a sharded PyTorch index"}, {".pt", "a PyTorch checkpoint"},
              {".pth", "a PyTorch checkpoint"}, {".bin", "a PyTorch checkpoint"}, {".ckpt", "a checkpoint"},
              {".npz", "a NumPy archive"}, {".npy", "a NumPy array"}, {".gguf", "a GGUF file"},
              {".json", "a JSON manifest"}};
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
    if (ends_with(path, exts[i].ext)) return exts[i].kind;
  /* by extension only: file reads belong to base/io.c (tests/layout), and reading a file's
   * first bytes here would be a second reader */
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return "a directory";
  return NULL;
}

/* RULES that is a weight file: the arguments are probably swapped. Returns WBR_EUSAGE. */
static int swapped(const char *path, const char *kind) {
  fprintf(stderr,
          "%s: error: this looks like %s, not a rule file; usage is RULES SRC\n"
          "  help: wbr apply RULES.wbr %s -o OUT (rules first); to convert without rules: wbr convert %s -o OUT\n",
          path, kind, path, path);
  return WBR_EUSAGE;
}

/* Rules from stdin, compiled under the name "<stdin>" (a pipe or a file: never a terminal wait
 * the user did not ask for; `-` is asked for). */
static int rules_stdin(wbr_program **out, wbr_ctx *ctx) {
  size_t cap = 0, len = 0;
  char *buf = NULL;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 4096;
      if (ncap > MAX_STDIN_RULES) ncap = MAX_STDIN_RULES;
      if (ncap == cap) break; /* at the limit: the compiler refuses it with the limit */
      char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        fputs("<stdin>: error: out of memory reading the rules\n", stderr);
        return WBR_ENOMEM;
      }
      buf = nb, cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, stdin);
    len += got;
    if (got == 0) break;
  }
  if (ferror(stdin)) {
    fprintf(stderr, "<stdin>: error: cannot read the rules: %s\n", strerror(errno));
    free(buf);
    return WBR_EIO;
  }
  int rc = wbr_program_compile(out, ctx, "<stdin>", buf ? buf : "", len);
  free(buf);
  return rc;
}

int cli_rules_special(wbr_program **out, wbr_ctx *ctx, const char *path) {
  if (path == CONVERT_RULES) return wbr_program_compile(out, ctx, CONVERT_RULES, convert_text, strlen(convert_text));
  if (strcmp(path, "-") == 0) return rules_stdin(out, ctx);
  const char *kind = cli_weights_kind(path);
  return kind ? swapped(path, kind) : 1;
}

int cli_match_swapped(const wbr_tensorset *src, const wbr_tensorset *tgt, const char *const *labels) {
  if (wbr_tensorset_has_data(src) || !wbr_tensorset_has_data(tgt)) return 0;
  fprintf(stderr,
          "%s: error: SRC is a manifest (no tensor data) but TARGET %s holds weights: the arguments look swapped; "
          "usage is wbr match SRC TARGET\n"
          "  help: wbr match %s %s (the weights you have first); rules drafted from a manifest could never be applied\n",
          labels[0], labels[1], labels[1], labels[0]);
  return WBR_EUSAGE;
}

int cli_src_missing(const char *cmd, const char *rules) {
  const char *kind = cli_weights_kind(rules);
  if (kind && strcmp(cmd, "apply") == 0)
    return cli_usage(cmd, "SRC is missing; '%s' looks like %s: did you mean `wbr convert %s -o OUT` (no rules)?", rules,
                     kind, rules);
  if (kind) return cli_usage(cmd, "SRC is missing ('%s' looks like %s; usage is RULES SRC)", rules, kind);
  return cli_usage(cmd, "SRC is missing");
}

/* --dtype as people write it -> the rule language's name. */
static const char *dtype_arg(const char *v) {
  static const struct {
    const char *spelling, *name;
  } t[] = {{"bf16", "bf16"}, {"bfloat16", "bf16"}, {"f16", "f16"}, {"fp16", "f16"}, {"float16", "f16"},
           {"half", "f16"},  {"f32", "f32"},       {"fp32", "f32"}, {"float32", "f32"}, {"float", "f32"},
           {"f64", "f64"},   {"fp64", "f64"},      {"float64", "f64"}, {"double", "f64"}};
  const char *s = strncmp(v, "torch.", 6) == 0 ? v + 6 : v;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcasecmp(s, t[i].spelling) == 0) return t[i].name;
  return NULL;
}

/* Options of apply that take a value, so that SRC is found among convert's arguments. */
static bool takes_value(const char *a) {
  static const char *const opts[] = {"-o", "--output", "-t", "--target", "--max-shard-size", "--param", "--config",
                                     "--threads", "--metadata", "--from", "--to", "--target-format", "--allow-missing", "--copy", "--dtype"};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (strcmp(a, opts[i]) == 0) return true;
  return false;
}

static bool is_floating(const wbr_tensor_info *ti) {
  return !ti->quantized && (ti->dtype == WBR_F64 || ti->dtype == WBR_F32 || ti->dtype == WBR_F16 || ti->dtype == WBR_BF16);
}

/* `cast "NAME" dtype` with NAME's quotes, backslashes and glob characters escaped. */
static void cast_one(FILE *f, const char *name, const char *dtype) {
  fputs("cast \"", f);
  for (const char *c = name; *c; c++) {
    if (strchr("\"\\*{}", *c)) fputc('\\', f);
    fputc(*c, f);
  }
  fprintf(f, "\" %s\n", dtype);
}

/* convert's program for SRC: `cast "*" D` (the language keeps integer and bool tensors), one
 * cast per floating tensor when SRC also holds quantized ones (a cast must not match those), no
 * cast when nothing is floating (a cast that matches none is an error). When SRC cannot be opened
 * the plain cast: apply then reports SRC. Caller frees; NULL when out of memory. */
static char *convert_program(const char *src, const char *from, const char *dtype) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  fputs("weightbridge 1\n", f);
  wbr_ctx *q = NULL;
  wbr_tensorset *ts = NULL;
  if (dtype && (wbr_ctx_new(&q, NULL, NULL) != 0 || wbr_tensorset_open_as(&ts, q, src, from) != 0)) {
    fprintf(f, "cast \"*\" %s\n", dtype);
    dtype = NULL;
  }
  size_t nfloat = 0, nquant = 0, n = wbr_tensorset_count(ts);
  wbr_tensor_info ti;
  for (size_t i = 0; dtype && i < n; i++)
    if (wbr_tensorset_get(ts, i, &ti) == 0) nfloat += is_floating(&ti), nquant += ti.quantized != NULL;
  if (dtype && nfloat && !nquant) fprintf(f, "cast \"*\" %s\n", dtype);
  for (size_t i = 0; dtype && nfloat && nquant && i < n; i++)
    if (wbr_tensorset_get(ts, i, &ti) == 0 && is_floating(&ti)) cast_one(f, ti.name, dtype);
  if (dtype && !nfloat) fprintf(stderr, "wbr convert: %s has no floating-point tensor to cast: copied as it is\n", src);
  else if (dtype && nquant) fprintf(stderr, "wbr convert: %zu quantized tensor%s kept as %s\n", nquant, nquant == 1 ? "" : "s",
                                     nquant == 1 ? "it is" : "they are");
  wbr_tensorset_free(ts);
  wbr_ctx_free(q);
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

static int convert_help(void) {
  printf("usage: wbr convert SRC -o OUT [--dtype bf16|f16|f32|f64] [-t TARGET] [--max-shard-size SIZE] [--copy FILE]... [--sync]\n"
         "                   [--from FORMAT] [--to FORMAT]\n"
         "  a plain conversion (the format follows OUT's extension) or cast, with no rule file: the\n"
         "  same plan, checks and atomic write as `wbr apply` (messages name the rules \"(no rules)\")\n"
         "  --dtype D     cast every floating-point tensor to D (bf16, f16, f32, f64; bfloat16, float16,\n"
         "                half, fp16, float32, torch.float32 ... also accepted); integer, bool and\n"
         "                quantized tensors keep their dtype\n"
         "  -t TARGET     check the result against TARGET (a manifest or weight file) before writing\n"
         "  --from FORMAT read SRC as FORMAT, --to FORMAT write OUT as FORMAT, whatever their\n"
         "                extensions (safetensors, pytorch, lightning, gguf, npz, npy, ...)\n"
         "  SRC may be a model directory; -o DIR/ writes one (model.safetensors, or an index and shards)\n"
         "  --copy FILE   copy FILE into the output directory (repeatable; a bare name is SRC's own file)\n"
         "  other options as for `wbr apply` (--max-shard-size, --sync, --param, --config, ...)\n");
  return EXIT_OK;
}

int cmd_convert(int argc, char **argv) {
  const char *dtype = NULL, *src = NULL, *from = NULL;
  char **av = calloc((size_t)argc + 2, sizeof *av);
  if (!av) {
    fputs("wbr convert: out of memory\n", stderr);
    return EXIT_INPUT;
  }
  int n = 0, code;
  av[n++] = argv[0];
  av[n++] = (char *)CONVERT_RULES;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is(a, "-h", "--help")) {
      free(av);
      return convert_help();
    }
    if (strcmp(a, "--dtype") == 0) {
      if (i + 1 >= argc || !(dtype = dtype_arg(argv[i + 1]))) {
        code = cli_usage("convert", i + 1 >= argc ? "--dtype needs a value" : "--dtype must be bf16, f16, f32 or f64 (got '%s')",
                         i + 1 < argc ? argv[i + 1] : "");
        free(av);
        return code;
      }
      i++;
      continue;
    }
    if (strcmp(a, "--from") == 0 && i + 1 < argc) from = argv[i + 1]; /* apply checks it */
    if (!src && (a[0] != '-' || !a[1]) && !(i > 1 && takes_value(argv[i - 1]))) src = a;
    av[n++] = argv[i];
  }
  if (!src) {
    free(av);
    return cli_usage("convert", "SRC is missing");
  }
  if (!(convert_text = convert_program(src, from, dtype))) {
    free(av);
    fputs("wbr convert: out of memory\n", stderr);
    return EXIT_INPUT;
  }
  code = cmd_apply(n, av);
  free(convert_text);
  convert_text = NULL;
  free(av);
  return code;
}
