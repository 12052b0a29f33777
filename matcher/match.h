/* match.h — the matcher's entry point (`wbr match`): pair every target tensor with its source(s),
 * generalise the pairs into a short rule file, prove the rules with the planner, and return the
 * draft text, the evidence and the verdict. Not (yet) part of the public API: the CLI includes it
 * directly. See docs/matcher.md for how it decides. */
#ifndef WBR_MATCH_H
#define WBR_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "../include/weightbridge.h"

typedef struct wbr_match_opts {
  const char *src_label;        /* how the draft names the source (file path), or NULL */
  const char *target_label;     /* how it names the target, or NULL */
  const char *const *hints;     /* "A=B" strings from --hint (globs allowed), may be NULL */
  size_t nhints;
  const char *update_name;      /* --update: file name of existing rules, or NULL */
  const char *update_src;       /* ... and its text */
  size_t update_len;
  bool explain;                 /* fill result->explain */
} wbr_match_opts;

typedef struct wbr_match_result {
  char *draft;          /* the rule file, canonical (wbr fmt) form */
  char *explain;        /* evidence per pairing (only with opts.explain), or NULL */
  bool complete;        /* every target paired, nothing ambiguous, draft proven */
  size_t ntargets;      /* target tensors */
  size_t npaired;       /* targets with a decided source */
  size_t nambiguous;    /* targets left undecided between several candidates */
  size_t nunmatched;    /* targets with no candidate at all */
  size_t nstmts;        /* statements in the draft (without kept --update statements) */
} wbr_match_result;

/* Run the matcher. Returns 0 when a draft was produced (complete or not: see result->complete),
 * WBR_EINPUT for bad input (a malformed hint or --update file; reported through ctx), WBR_ENOMEM.
 * The draft is proven: when result->complete is true, compiling and planning it maps src onto
 * target exactly, each target from the sources the matcher paired it with. */
int wbr_match_run(wbr_match_result *result, wbr_ctx *ctx, const wbr_tensorset *src,
                  const wbr_tensorset *target, const wbr_match_opts *opts);
void wbr_match_result_free(wbr_match_result *result);

#endif
