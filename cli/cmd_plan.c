/* cmd_plan.c — `wbr plan`, `wbr check` and `wbr apply`: load the rules (.wbr compiled in memory,
 * or a .wbc), open the source and target, build the plan, then print it, judge it, or run it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fmtopt.h"
#include "outopts.h"

typedef struct job {
  const char *cmd;
  const char *rules, *src, *target, *out;
  wbr_plan_format format;
  bool sync;
  bool json, dry_run; /* check --json, apply --dry-run */
  uint64_t max_shard;
  unsigned threads;  /* --threads N: kernel threads for apply; 0 = the CPUs */
  wbr_ctx *ctx;
  wbr_program *prog;
  wbr_tensorset *src_set, *target_set;
  wbr_plan *plan;
  cli_params params; /* --param, --config */
  cli_outopts oo;    /* --allow-missing, --metadata (cli/outopts.c) */
  cli_formats fo;    /* --from, --target-format, --to (cli/fmtopt.c) */
  const char **copy; /* --copy FILE, as given (pointing into argv), then as resolved */
  char **copy_own;   /* the resolved paths this job made */
  size_t ncopy;
  char *config_note; /* SRC/config.json, not copied into a directory output: said after writing */
} job;

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

#define MAX_QUOTED_SOURCE (16u << 20) /* a bigger .wbr is not read just to quote its lines */

/* A .wbc holds no text: give it the .wbr it names, so that errors quote their lines. The name
 * is untrusted (it comes from the file): only a regular file named *.wbr is read, without
 * blocking (not a FIFO, /dev/stdin or a device), silently, and the library keeps it only if its
 * hash is the one the program records; anything else just means no source lines are shown. */
static void attach_named_source(wbr_program *p) {
  const char *path = wbr_program_source_name(p);
  struct stat st;
  if (!ends_with(path, ".wbr") || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
      (uint64_t)st.st_size > MAX_QUOTED_SOURCE)
    return;
  char *text = NULL;
  size_t len = 0;
  if (wbr_read_file(NULL, path, &text, &len) != 0) return;
  if (len <= MAX_QUOTED_SOURCE) (void)wbr_program_attach_source(p, text, len);
  wbr_free(text);
}

int cli_load_rules(wbr_program **out, wbr_ctx *ctx, const char *path) {
  int special = cli_rules_special(out, ctx, path); /* -, convert's program, a swapped checkpoint */
  if (special != 1) return special;
  if (!ends_with(path, ".wbc")) return wbr_program_compile_file(out, ctx, path);
  int rc = wbr_program_load(out, ctx, path);
  if (rc == 0) attach_named_source(*out);
  return rc;
}

/* "5GB" (10^9, as Hugging Face), "2GiB" (2^30), "500MB", "100KB", or bytes. */
static int parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || errno || *s == '-') return -1;
  static const struct {
    const char *unit;
    uint64_t mul;
  } units[] = {{"", 1}, {"B", 1}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
               {"KiB", 1024}, {"MiB", 1048576}, {"GiB", 1073741824}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(end, units[i].unit) == 0) {
      if (v == 0 || v > UINT64_MAX / units[i].mul) return -1;
      *out = v * units[i].mul;
      return 0;
    }
  }
  return -1;
}

static int parse_args(job *j, int argc, char **argv, bool want_format, bool want_out) {
  const char *pos[2] = {0};
  int npos = 0, prc;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_is(a, "-t", "--target") || (want_out && cli_is(a, "-o", "--output")) ||
        (want_format && strcmp(a, "--format") == 0)) {
      if (i + 1 >= argc) return cli_usage(j->cmd, "%s needs a value", a);
      const char *val = argv[++i];
      bool is_t = a[1] == 't' || strcmp(a, "--target") == 0, is_o = a[1] == 'o' || strcmp(a, "--output") == 0;
      if ((is_t && j->target) || (is_o && j->out)) return cli_usage(j->cmd, "%s given twice", a);
      if (is_t) j->target = val;
      else if (is_o) j->out = val;
      else if (strcmp(val, "text") == 0) j->format = WBR_PLAN_TEXT;
      else if (strcmp(val, "md") == 0) j->format = WBR_PLAN_MD;
      else if (strcmp(val, "json") == 0) j->format = WBR_PLAN_JSON;
      else return cli_usage(j->cmd, "--format must be text, md or json (got '%s')", val);
    } else if (want_out && strcmp(a, "--threads") == 0) {
      char *end;
      errno = 0;
      long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
      if (i + 1 >= argc) return cli_usage(j->cmd, "%s needs a value", a);
      if (errno || end == argv[i + 1] || *end || n < 1 || n > 1024)
        return cli_usage(j->cmd, "--threads takes a number of threads from 1 to 1024 (got '%s'; default: the CPUs)", argv[i + 1]);
      j->threads = (unsigned)n;
      i++;
    } else if (want_out && strcmp(a, "--sync") == 0) {
      j->sync = true;
    } else if ((want_out && strcmp(a, "--dry-run") == 0) || (strcmp(j->cmd, "check") == 0 && strcmp(a, "--json") == 0)) {
      if (a[2] == 'd') j->dry_run = true;
      else j->json = true;
    } else if (want_out && strcmp(a, "--max-shard-size") == 0) {
      if (i + 1 >= argc) return cli_usage(j->cmd, "%s needs a value", a);
      if (parse_size(argv[++i], &j->max_shard) != 0)
        return cli_usage(j->cmd, "--max-shard-size takes a size like 5GB, 500MB, 2GiB or a byte count (got '%s')", argv[i]);
    } else if (want_out && strcmp(a, "--copy") == 0) {
      if (i + 1 >= argc || !argv[i + 1][0]) return cli_usage(j->cmd, "--copy needs a file (e.g. --copy config.json)");
      const char **nc = realloc(j->copy, (j->ncopy + 1) * sizeof *nc);
      char **no = realloc(j->copy_own, (j->ncopy + 1) * sizeof *no);
      if (nc) j->copy = nc;
      if (no) j->copy_own = no;
      if (!nc || !no) return cli_usage(j->cmd, "out of memory");
      j->copy_own[j->ncopy] = NULL;
      j->copy[j->ncopy++] = argv[++i];
    } else if ((prc = cli_params_arg(&j->params, j->cmd, argc, argv, &i)) >= 0) {
      if (prc) return prc;
    } else if ((prc = cli_outopts_arg(&j->oo, j->cmd, want_out, argc, argv, &i)) >= 0) {
      if (prc) return prc;
    } else if ((prc = cli_formats_arg(&j->fo, j->cmd, CLI_FMT_FROM | CLI_FMT_TARGET | (want_out ? CLI_FMT_TO : 0u),
                                      argc, argv, &i)) >= 0) {
      if (prc) return prc;
    } else if (a[0] == '-' && a[1]) {
      return cli_usage(j->cmd, "unknown option '%s'", a);
    } else if (npos < 2) {
      pos[npos++] = a;
    } else {
      return cli_usage(j->cmd, "too many arguments ('%s')", a);
    }
  }
  if (npos < 1) return cli_usage(j->cmd, "RULES is missing");
  if (npos < 2) return cli_src_missing(j->cmd, pos[0]);
  j->rules = pos[0];
  j->src = pos[1];
  return 0;
}

/* Load everything and build the plan; returns an exit code (0 when the plan exists). */
static int prepare(job *j) {
  j->ctx = cli_ctx();
  int code = cli_params_source(&j->params, j->src);
  if (code == 0) code = cli_params_load(&j->params, j->ctx);
  if (code) return code;
  int rc = cli_load_rules(&j->prog, j->ctx, j->rules);
  if (rc == 0) rc = wbr_tensorset_open_as(&j->src_set, j->ctx, j->src, j->fo.from);
  if (rc == 0 && j->target) rc = wbr_tensorset_open_as(&j->target_set, j->ctx, j->target, j->fo.target);
  wbr_plan_options po = WBR_PLAN_OPTIONS_INIT;
  po.params = j->params.v;
  po.nparams = j->params.n;
  po.allow_missing = j->oo.allow;
  po.nallow_missing = j->oo.nallow;
  if (rc == 0) rc = wbr_plan_new_with(&j->plan, j->ctx, j->prog, j->src_set, j->target_set, &po);
  return cli_exit(rc);
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* SRC/NAME, SRC's trailing slashes dropped (caller frees); NULL when out of memory. */
static char *in_dir(const char *dir, const char *name) {
  size_t n = strlen(dir), m = strlen(name);
  while (n > 1 && dir[n - 1] == '/') n--;
  char *p = malloc(n + m + 2);
  if (p) snprintf(p, n + m + 2, "%.*s/%s", (int)n, dir, name);
  return p;
}

/* --copy NAME without a '/' is SRC's own file when SRC is a model directory; any other spelling
 * is a path as given. Under a directory output, a config.json of SRC's not copied gets a note:
 * it describes the source, which need not be what the rules made. Returns an exit code. */
static int resolve_copies(job *j) {
  bool src_dir = is_dir(j->src);
  bool config_copied = false;
  for (size_t i = 0; i < j->ncopy; i++) {
    if (!src_dir || strchr(j->copy[i], '/')) continue;
    config_copied |= strcmp(j->copy[i], "config.json") == 0;
    if (!(j->copy_own[i] = in_dir(j->src, j->copy[i]))) {
      fputs("wbr: out of memory\n", stderr);
      return EXIT_INPUT;
    }
    j->copy[i] = j->copy_own[i];
  }
  size_t n = j->out ? strlen(j->out) : 0;
  char *cfg = src_dir && !config_copied && n && (j->out[n - 1] == '/' || is_dir(j->out)) ? in_dir(j->src, "config.json") : NULL;
  struct stat st;
  if (cfg && stat(cfg, &st) == 0 && S_ISREG(st.st_mode)) j->config_note = cfg;
  else free(cfg);
  return 0;
}

static int finish(job *j, int code) {
  for (size_t i = 0; i < j->ncopy; i++) free(j->copy_own[i]);
  free(j->copy_own);
  free(j->copy);
  free(j->config_note);
  wbr_plan_free(j->plan);
  wbr_tensorset_free(j->target_set);
  wbr_tensorset_free(j->src_set);
  wbr_program_free(j->prog);
  wbr_ctx_free(j->ctx);
  cli_params_free(&j->params);
  cli_outopts_free(&j->oo);
  if (fflush(stdout) != 0) {
    perror("wbr: writing output");
    return EXIT_INPUT;
  }
  return code;
}

int cmd_plan(int argc, char **argv) {
  job j = {.cmd = "plan", .format = WBR_PLAN_TEXT};
  int rc = parse_args(&j, argc, argv, true, false);
  if (rc) return finish(&j, rc);
  rc = prepare(&j);
  if (rc == 0) {
    char *s = wbr_plan_render(j.plan, j.format);
    if (!s) {
      fprintf(stderr, "wbr plan: %s: out of memory rendering the plan; free memory and run again\n", j.rules);
      rc = cli_exit(WBR_ENOMEM);
    } else {
      fputs(s, stdout);
    }
    wbr_free(s);
    if (rc == 0 && wbr_plan_problems(j.plan)) rc = EXIT_INPUT;
  }
  return finish(&j, rc);
}

int cmd_check(int argc, char **argv) {
  job j = {.cmd = "check"};
  int rc = parse_args(&j, argc, argv, false, false);
  if (rc) return finish(&j, rc);
  if (!j.target) return finish(&j, cli_usage("check", "-t TARGET is required: check compares the result with it"));
  if (j.json) cli_check_json_begin();
  rc = prepare(&j);
  if (j.json) {
    int jrc = cli_check_json_end(j.rules, j.src, j.target, rc == 0 ? j.plan : NULL);
    if (jrc) return finish(&j, jrc);
  }
  if (rc == 0) {
    size_t p = wbr_plan_problems(j.plan);
    if (cli_verbosity > 0) cli_show_plan(j.plan);
    if (p) {
      size_t shown = wbr_ctx_error_count(j.ctx); /* past 20 of a kind, a note counts the rest */
      char more[96] = "";
      if (shown < p) snprintf(more, sizeof more, " (%zu shown, %zu more counted above)", shown, p - shown);
      fprintf(stderr, "check failed: %zu problem%s%s; %s does not map %s onto %s exactly\n", p, p == 1 ? "" : "s", more,
              j.rules, j.src, j.target);
      rc = EXIT_INPUT;
    } else {
      if (!j.json && cli_verbosity >= 0)
        printf("ok: %s maps %s onto %s exactly (%zu tensors)\n", j.rules, j.src, j.target, wbr_plan_count(j.plan));
    }
  }
  return finish(&j, rc);
}

typedef struct progress {
  struct timespec t0;
  bool tty;
  uint64_t bytes; /* written so far (-v reports it) */
} progress;

static void show_progress(void *ud, size_t done, size_t total, uint64_t bytes, uint64_t total_bytes) {
  progress *p = ud;
  p->bytes = bytes;
  if (!p->tty || cli_verbosity < 0) return;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double s = (double)(now.tv_sec - p->t0.tv_sec) + (double)(now.tv_nsec - p->t0.tv_nsec) / 1e9;
  double mib = (double)bytes / (1024.0 * 1024.0);
  fprintf(stderr, "\r%zu/%zu tensors, %.1f/%.1f MiB, %.0f MiB/s   ", done, total, mib,
          (double)total_bytes / (1024.0 * 1024.0), s > 0 ? mib / s : 0.0);
  if (done == total) fputc('\n', stderr);
}

int cmd_apply(int argc, char **argv) {
  job j = {.cmd = argv[0]}; /* "apply", or "convert" (cmd_convert.c) */
  int rc = parse_args(&j, argc, argv, false, true);
  if (rc) return finish(&j, rc);
  if (!j.out && !j.dry_run) return finish(&j, cli_usage(j.cmd, "-o OUT is required (or --dry-run)"));
  rc = prepare(&j);
  if (rc == 0 && (j.dry_run || cli_verbosity > 0)) rc = cli_apply_preview(j.plan, j.out, j.dry_run);
  if (rc == 0 && !j.dry_run) {
    /* The library protects every file the source and target sets read; the rule file too. */
    const char *protect[] = {j.rules, NULL};
    progress p = {.tty = isatty(2)};
    clock_gettime(CLOCK_MONOTONIC, &p.t0);
    wbr_apply_options opts = WBR_APPLY_OPTIONS_INIT;
    opts.output.durable = j.sync;
    opts.output.max_shard_bytes = j.max_shard;
    opts.output.format = j.fo.to;
    opts.threads = j.threads;
    opts.progress = show_progress;
    opts.userdata = &p;
    opts.metadata = j.oo.meta;
    opts.nmetadata = j.oo.nmeta;
    rc = resolve_copies(&j);
    opts.output.copy_files = j.copy;
    opts.output.ncopy_files = j.ncopy;
    if (rc == 0) rc = cli_exit(wbr_plan_apply(j.plan, j.ctx, j.out, protect, &opts));
    if (rc == 0) cli_note("wrote %s: %zu tensors%s\n", j.out, wbr_plan_count(j.plan), cli_took(&p.t0, p.bytes));
    if (rc == 0 && j.config_note)
      cli_note("note: %s was not copied into %s; add --copy config.json if it describes the converted model\n",
               j.config_note, j.out);
  }
  return finish(&j, rc);
}
