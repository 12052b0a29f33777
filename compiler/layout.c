/* layout.c — the checker's part for the named layout statements rope, fuse and unfuse (issue 12):
 * what can be known about their counts and sizes without a tensor set. Their patterns, templates,
 * later inputs and outputs are checked by check.c as for concat and split; the run-time checks
 * (heads dividing the rows, an even head size, sizes adding up) are vm/layout.c's. */
#include <inttypes.h>
#include <stdio.h>

#include "frontend.h"

/* A head or group count: at least 1. */
static int check_count(wbr_ctx *ctx, const wbr_ast_file *f, const wbr_ast_stmt *s) {
  if (s->groups >= 1) return 0;
  bool rope = s->kind == WBR_STMT_ROPE;
  wbr_diag_at(ctx, f, WBR_SEV_ERROR, s->groups_span,
              rope ? "the head count is the number of attention heads (kv heads for k under GQA)"
                   : "'groups G' cuts every input into G blocks; for one block write 'blocked'",
              "%s %" PRId64 " is not a positive count", rope ? "heads" : "groups", s->groups);
  return 1;
}

/* unfuse ... groups G sizes [...]: every total size is cut into G blocks. */
static int check_sizes_groups(wbr_ctx *ctx, const wbr_ast_file *f, const wbr_ast_stmt *s) {
  int errors = 0;
  for (size_t i = 0; i < s->ints.n; i++) {
    int64_t v = s->ints.v[i];
    if (v <= 0 || v % s->groups == 0) continue; /* -1 and bad sizes: checked by the run, by check.c */
    char help[160];
    snprintf(help, sizeof help, "each size is a part's total along the axis, cut into %" PRId64
             " equal blocks: write a multiple of %" PRId64, s->groups, s->groups);
    wbr_diag_at(ctx, f, WBR_SEV_ERROR, s->ints.spans[i], help,
                "size %" PRId64 " cannot be cut into %" PRId64 " groups", v, s->groups);
    errors++;
  }
  return errors;
}

int wbr_check_layout(wbr_ctx *ctx, const wbr_ast_file *f, const wbr_ast_stmt *s) {
  if (s->kind != WBR_STMT_ROPE && s->blocked) return 0;
  int errors = check_count(ctx, f, s);
  if (!errors && s->kind == WBR_STMT_UNFUSE && s->has_ints) errors += check_sizes_groups(ctx, f, s);
  return errors;
}
