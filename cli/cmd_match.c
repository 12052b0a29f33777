/* cmd_match.c — `wbr match SRC TARGET [-o DRAFT.wbr] [--hint 'A=B [LAYOUT]']... [--update RULES.wbr]
 * [--explain] [--json] [--library DIR]`: draft a rule file mapping SRC onto TARGET. The draft goes to -o
 * (written atomically) or stdout; --json prints the verdict as JSON on stdout instead (the draft is in
 * it, and goes to -o only); --explain prints the evidence of every pairing to stderr. Exit 0 for a
 * complete, proven draft; 3 when it is incomplete or ambiguous (the draft says where); 1 bad
 * input; 2 usage. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fmtopt.h"

int cmd_match(int argc, char **argv) {
  const char *pos[2] = {0}, *out = NULL, *update = NULL, *library = NULL;
  int npos = 0;
  bool explain = false, json = false;
  char layouts[2][32] = {"", ""};
  const char **hints = calloc((size_t)argc + 1, sizeof *hints);
  size_t nhints = 0;
  if (!hints) {
    fputs("wbr match: out of memory\n", stderr);
    return EXIT_INPUT;
  }
  int code = EXIT_OK, prc;
  cli_params params = {0};
  cli_formats fo = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((prc = cli_params_arg(&params, "match", argc, argv, &i)) >= 0 ||
        (prc = cli_formats_arg(&fo, "match", CLI_FMT_FROM | CLI_FMT_TARGET, argc, argv, &i)) >= 0) {
      if (prc) {
        code = prc;
        goto done;
      }
    } else if (cli_is(a, "-o", "--output") || cli_is(a, "--hint", NULL) || cli_is(a, "--update", NULL) ||
               cli_is(a, "--library", NULL)) {
      if (i + 1 >= argc) {
        code = cli_usage("match", "%s needs a value", a);
        goto done;
      }
      const char *v = argv[++i];
      if (a[1] == 'o' || !strcmp(a, "--output")) out = v;
      else if (!strcmp(a, "--update")) update = v;
      else if (!strcmp(a, "--library")) library = v;
      else if (!strchr(v, '=') || v[0] == '=' || !strchr(v, '=')[1]) {
        code = cli_usage("match", "--hint wants SOURCE=TARGET (got '%s')", v);
        goto done;
      } else hints[nhints++] = v;
    } else if (!strcmp(a, "--explain")) {
      explain = true;
    } else if (!strcmp(a, "--layouts")) { /* SRC_CONV:TARGET_CONV; an empty side: from its names */
      const char *v = i + 1 < argc ? argv[++i] : "", *colon = strchr(v, ':');
      if (!colon || (size_t)(colon - v) >= sizeof layouts[0] || strlen(colon + 1) >= sizeof layouts[1]) {
        code = cli_usage("match", "--layouts wants SRC:TARGET, each pytorch, flax, haiku or tensorflow (got '%s')", v);
        goto done;
      }
      memcpy(layouts[0], v, (size_t)(colon - v));
      layouts[0][colon - v] = 0;
      strcpy(layouts[1], colon + 1);
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (cli_is(a, "-h", "--help")) {
      printf("usage: wbr match SRC TARGET [-o DRAFT.wbr] [--hint 'A=B [LAYOUT]']... [--update RULES.wbr] [--explain]\n"
             "                 [--json] [--library DIR]\n"
             "  drafts rules mapping SRC onto TARGET; exit 0 complete, 3 incomplete or ambiguous\n"
             "  --hint A=B      pin source A to target B (globs with matching {captures} allowed);\n"
             "                  'A=B transpose' or 'A=B permute (3, 2, 0, 1)' also fixes the layout\n"
             "  --update RULES  keep RULES and draft only what they leave unmapped\n"
             "  --explain       print the evidence for each pairing to stderr\n"
             "  --layouts S:T   layout conventions the names do not show (pytorch, flax, haiku,\n"
             "                  tensorflow), e.g. haiku:pytorch: every 2-D+ `w` of SRC is [in, out]\n"
             "  --json          print the verdict as JSON on stdout (counts, unresolved targets with\n"
             "                  candidates and a --hint, review, draft); the draft goes only to -o\n"
             "  --library DIR   propose the rule files of DIR that map SRC onto TARGET (default:\n"
             "                  WBR_RULES_PATH's directories, else the installed rules library)\n"
             "  --param N=INT   the value of a parameter (repeatable)\n"
             "  --config FILE   parameter values from a model config (config.json)\n"
             "  --from FORMAT   read SRC as FORMAT whatever its extension (safetensors, pytorch, lightning,\n"
             "                  gguf, npz, npy, manifest, sharded-safetensors, sharded-pytorch)\n"
             "  --target-format FORMAT  read TARGET as FORMAT\n");
      goto done;
    } else if (a[0] == '-' && a[1]) {
      code = cli_usage("match", "unknown option '%s'", a);
      goto done;
    } else if (npos < 2) {
      pos[npos++] = a;
    } else {
      code = cli_usage("match", "too many arguments ('%s')", a);
      goto done;
    }
  }
  if (npos < 2) {
    code = cli_usage("match", npos ? "TARGET is missing" : "SRC and TARGET are missing");
    goto done;
  }
  wbr_ctx *ctx = cli_ctx();
  code = cli_params_source(&params, pos[0]);
  if (code == 0) code = cli_params_load(&params, ctx);
  if (code) {
    wbr_ctx_free(ctx);
    goto done;
  }
  wbr_tensorset *src = NULL, *tgt = NULL;
  char *upd = NULL;
  size_t upd_len = 0;
  int rc = wbr_tensorset_open_as(&src, ctx, pos[0], fo.from);
  if (!rc) rc = wbr_tensorset_open_as(&tgt, ctx, pos[1], fo.target);
  if (!rc) rc = cli_match_swapped(src, tgt, pos);
  if (!rc && update) {
    upd = cli_read_file(ctx, update, &upd_len);
    if (!upd) rc = WBR_ERULES;
  }
  wbr_match_result res = WBR_MATCH_RESULT_INIT;
  if (!rc) {
    wbr_match_options o = WBR_MATCH_OPTIONS_INIT;
    o.src_label = pos[0];
    o.target_label = pos[1];
    o.hints = hints;
    o.nhints = nhints;
    o.update_name = update;
    o.update_src = upd;
    o.update_len = upd_len;
    o.explain = explain || cli_verbosity > 0; /* -v: the evidence too */
    o.params = params.v;
    o.nparams = params.n;
    o.src_layout = layouts[0][0] ? layouts[0] : NULL;
    o.target_layout = layouts[1][0] ? layouts[1] : NULL;
    rc = wbr_match_run(&res, ctx, src, tgt, &o);
  }
  if (rc) {
    code = cli_exit(rc);
  } else {
    if (res.explain) fputs(res.explain, stderr);
    /* Never onto SRC or TARGET (however spelled: links, FILE#KEY, shards); onto the --update
     * file it is allowed: that file was read whole and the draft keeps what it said. */
    const wbr_tensorset *inputs[] = {src, tgt, NULL};
    wbr_protect protect = {.sets = inputs};
    if (out) code = cli_write_atomic(ctx, out, res.draft, strlen(res.draft), &protect);
    const char *shown = json ? res.json : out ? NULL : res.draft;
    if (code == EXIT_OK && shown && (fputs(shown, stdout) < 0 || (json && putchar('\n') == EOF) || fflush(stdout) != 0)) {
      fprintf(stderr, "wbr match: error writing the %s: %s\n", json ? "JSON" : "draft", strerror(errno));
      code = EXIT_INPUT;
    }
    if (code == EXIT_OK && !update) cli_library_propose(library, src, tgt, pos, params.v, params.n, params.config);
    if (code == EXIT_OK) {
      cli_note("%s: %zu of %zu targets paired, %zu statements%s\n", out ? out : "draft", res.npaired,
              res.ntargets, res.nstmts,
              res.complete ? ", proven" : "");
      if (res.review) cli_note("%s", res.review);
      if (!res.complete) {
        fprintf(stderr, "draft incomplete: %zu ambiguous, %zu without a candidate; see the UNRESOLVED comments%s\n",
                res.nambiguous, res.nunmatched, res.nambiguous + res.nunmatched ? "" : " (the draft did not pass its proof)");
        code = EXIT_INCOMPLETE;
      }
    }
  }
  wbr_match_result_free(&res);
  wbr_free(upd);
  wbr_tensorset_free(tgt);
  wbr_tensorset_free(src);
  wbr_ctx_free(ctx);
done:
  cli_params_free(&params);
  free(hints);
  return code;
}
