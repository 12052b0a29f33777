/* help.c — what the command line says about itself: each subcommand's --help (the ones whose
 * parser has none; fmt, match and convert print their own), `wbr help CMD`, "did you mean" for a
 * misspelt subcommand (the rule language's edit distance), and the -q/-v levels every subcommand
 * takes, with the diagnostics filter and the note printer that obey them. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/text.h" /* wbr_edit_distance: one edit distance in the project */
#include "cli.h"

int cli_verbosity;

static const char HELP_COMMON[] =
    "  -q, --quiet     print only errors and the output asked for (no notes, warnings, progress,\n"
    "                  'wrote'/'ok' lines)\n"
    "  -v, --verbose   say more (see each command); -h, --help: this text\n";

#define HELP_FROM                                                                                 \
  "  --from FORMAT   read SRC as FORMAT whatever its extension: safetensors, pytorch, lightning,\n" \
  "                  gguf, npz, npy, manifest, sharded-safetensors, sharded-pytorch (also pt,\n"     \
  "                  torch, bin, ckpt, json, ...)\n"
#define HELP_TARGET_FORMAT "  --target-format FORMAT  read TARGET as FORMAT\n"

static const struct {
  const char *cmd, *text;
} HELP[] = {
    {"inspect",
     "usage: wbr inspect FILE [--json] [--from FORMAT]\n"
     "  lists the tensors of a weight file or manifest (name, dtype, shape, bytes) from its header;\n"
     "  FILE may be a model directory (config.json and model.safetensors, an index, pytorch_model.bin)\n"
     "  --json          print a manifest of them instead, usable as a target (-t)\n"
     "  --from FORMAT   read FILE as FORMAT whatever its extension: safetensors, pytorch, lightning,\n"
     "                  gguf, npz, npy, manifest, sharded-safetensors, sharded-pytorch (also pt,\n"
     "                  torch, bin, ckpt, json, ...)\n"},
    {"plan",
     "usage: wbr plan RULES SRC [-t TARGET] [--format text|md|json] [--allow-missing PATTERN]...\n"
     "                [--param NAME=INT]... [--config FILE] [--from FORMAT] [--target-format FORMAT]\n"
     "  the mapping table: each output tensor, where it comes from, its operations; reads no data.\n"
     "  Exit 1 when the plan has problems (each reported on stderr)\n"
     "  RULES           a .wbr or .wbc; '-' reads the rules from stdin\n"
     "  -t TARGET       compare with TARGET (a weight file or a JSON manifest)\n"
     "  --format F      text (default), md or json\n"
     "  --allow-missing PATTERN  target tensors (a glob) left to the model's own initialisation:\n"
     "                  listed as 'missing (allowed)', not a problem (repeatable)\n"
     "  --param N=INT   the value of a parameter (repeatable); --config FILE: from a config.json\n"
     "                  (without --config: SRC/config.json when SRC is a model directory)\n"
     HELP_FROM HELP_TARGET_FORMAT},
    {"check",
     "usage: wbr check RULES SRC -t TARGET [--json] [--allow-missing PATTERN]... [--param NAME=INT]...\n"
     "                 [--config FILE] [--from FORMAT] [--target-format FORMAT]\n"
     "  exit 0 iff RULES map SRC onto TARGET exactly (names, shapes, dtypes); 1 with each problem\n"
     "  RULES           a .wbr or .wbc; '-' reads the rules from stdin\n"
     "  --json          print the verdict as JSON on stdout: counts and every problem with its\n"
     "                  kind, tensor and help\n"
     "  --allow-missing PATTERN  target tensors (a glob) the rules may leave unproduced (repeatable)\n"
     "  -v              also print the mapping table on stderr\n"
     HELP_FROM HELP_TARGET_FORMAT},
    {"apply",
     "usage: wbr apply RULES SRC [-t TARGET] -o OUT [--dry-run] [--sync] [--max-shard-size SIZE]\n"
     "                 [--threads N] [--allow-missing PATTERN]... [--metadata KEY=VALUE]...\n"
     "                 [--copy FILE]... [--param NAME=INT]... [--config FILE] [--from FORMAT]\n"
     "                 [--target-format FORMAT] [--to FORMAT]\n"
     "  converts SRC by RULES into OUT (format by OUT's extension), written atomically; never onto\n"
     "  an input. No rule file: wbr convert SRC -o OUT\n"
     "  SRC and TARGET may be model directories (config.json + model.safetensors, an index, or\n"
     "  pytorch_model.bin); SRC's config.json gives the parameters unless --config or --param do\n"
     "  RULES           a .wbr or .wbc; '-' reads the rules from stdin\n"
     "  -t TARGET       check the result against TARGET before writing\n"
     "  --dry-run       plan and check only; write nothing (exit as check would)\n"
     "  --sync          make OUT durable (fsync) before reporting success\n"
     "  -o DIR/         a model directory, as save_pretrained writes it: model.safetensors, or\n"
     "                  model.safetensors.index.json and model-0000K-of-0000N.safetensors shards\n"
     "  --max-shard-size SIZE  shard size of a NAME.safetensors.index.json or DIR/ output (5GB, 500MB)\n"
     "  --copy FILE     copy FILE into the output directory (repeatable): a bare name is SRC's own\n"
     "                  file when SRC is a directory (--copy config.json), else a path\n"
     "  --threads N     threads that transform tensors (default: the CPUs); same bytes for any N\n"
     "  --allow-missing PATTERN  with -t: target tensors (a glob) left to the model's own\n"
     "                  initialisation; everything else is written (repeatable)\n"
     "  --metadata K=V  a metadata entry of the output (repeatable; wins over the source's and\n"
     "                  the target's; safetensors outputs get format=pt unless one is given)\n"
     "  -v              also print the mapping table before writing, and bytes and time after\n"
     HELP_FROM HELP_TARGET_FORMAT
     "  --to FORMAT     write OUT as FORMAT whatever its extension (safetensors, pytorch, gguf, npz,\n"
     "                  npy, manifest, sharded-safetensors)\n"},
    {"compile",
     "usage: wbr compile RULES.wbr [-o RULES.wbc]\n"
     "  checks the rules (every error as file:line:col) and, with -o, writes the bytecode\n"},
    {"disasm",
     "usage: wbr disasm RULES.wbc|RULES.wbr\n"
     "  a readable listing of the bytecode (a .wbr is compiled first)\n"},
};
#define NHELP (sizeof HELP / sizeof HELP[0])

int cli_help(const char *cmd) {
  for (size_t i = 0; i < NHELP; i++)
    if (strcmp(HELP[i].cmd, cmd) == 0) {
      fputs(HELP[i].text, stdout);
      fputs(HELP_COMMON, stdout);
      return EXIT_OK;
    }
  return -1;
}

const char *cli_closest(const char *word, const char *const *names, size_t n) {
  const char *best = NULL;
  size_t bestd = SIZE_MAX, len = strlen(word);
  for (size_t i = 0; i < n; i++) {
    size_t d = wbr_edit_distance(word, len, names[i], strlen(names[i]), WBR_EDIT_TRANSPOSE);
    if (d < bestd) bestd = d, best = names[i];
  }
  /* close: two edits, or one for a word of three letters or fewer */
  return best && bestd <= (len <= 3 ? 1u : 2u) ? best : NULL;
}

int cli_strip_verbosity(int argc, char **argv) {
  int n = 1;
  for (int i = 1; i < argc; i++) {
    if (cli_is(argv[i], "-q", "--quiet")) cli_verbosity = -1;
    else if (cli_is(argv[i], "-v", "--verbose")) cli_verbosity = 1;
    else argv[n++] = argv[i];
  }
  argv[n] = NULL;
  return n;
}

void cli_note(const char *fmt, ...) {
  if (cli_verbosity < 0) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}

void cli_show_plan(const wbr_plan *plan) {
  char *s = wbr_plan_render(plan, WBR_PLAN_TEXT);
  if (s) fputs(s, stderr);
  wbr_free(s);
}

int cli_apply_preview(const wbr_plan *plan, const char *out, bool dry_run) {
  if (cli_verbosity > 0) cli_show_plan(plan);
  if (!dry_run) return EXIT_OK;
  size_t np = wbr_plan_problems(plan);
  if (np) {
    fprintf(stderr, "dry run: the plan has %zu problem%s; nothing written\n", np, np == 1 ? "" : "s");
    return EXIT_INPUT;
  }
  cli_note("dry run: the plan has no problems (%zu tensors); nothing written%s%s\n", wbr_plan_count(plan),
           out ? ", not even " : "", out ? out : "");
  return EXIT_OK;
}

const char *cli_took(const struct timespec *t0, uint64_t bytes) {
  static char buf[96];
  if (cli_verbosity <= 0) return "";
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double s = (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
  double mib = (double)bytes / (1024.0 * 1024.0);
  snprintf(buf, sizeof buf, ", %.1f MiB in %.2f s (%.0f MiB/s)", mib, s, s > 0 ? mib / s : 0.0);
  return buf;
}
