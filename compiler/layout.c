/* layout.c — the checker's part for the named layout statements rope, fuse and unfuse (issue 12):
 * what can be known about their counts and sizes without a tensor set. Their patterns, templates,
 * later inputs and outputs are checked by check.c as for concat and split; the run-time checks
 * (heads dividing the rows, an even head size, sizes adding up) are vm/layout.c's. */
#include <inttypes.h>
#include <stdio.h>

#include "frontend.h"
#include "params.h"

/* A head or group count: valid, and at least 1 when known. 1 known (*v), 0 symbolic, -1 reported. */
static int check_count(wbr_numcheck *nc, const wbr_ast_stmt *s, int64_t *v) {
  int r = wbr_check_num(nc, &s->groups, v);
  if (r != 1 || *v >= 1) return r;
  bool rope = s->kind == WBR_STMT_ROPE;
  wbr_diag_at(nc->ctx, nc->f, WBR_SEV_ERROR, s->groups.span,
              rope ? "the head count is the number of attention heads (kv heads for k under GQA)"
                   : "'groups G' cuts every input into G blocks; for one block write 'blocked'",
              "%s %" PRId64 " is not a positive count", rope ? "heads" : "groups", *v);
  nc->errors++;
  return -1;
}

/* unfuse ... groups G sizes [...]: every literal total size is cut into G blocks (expressions
 * are checked by the run; the sizes themselves are check.c's, as split's). */
static void check_sizes_groups(wbr_numcheck *nc, const wbr_ast_stmt *s, int64_t g) {
  for (size_t i = 0; i < s->ints.n; i++) {
    int64_t v = s->ints.v[i];
    if ((s->ints.e && s->ints.e[i]) || v <= 0 || v % g == 0) continue;
    char help[160];
    snprintf(help, sizeof help, "each size is a part's total along the axis, cut into %" PRId64
             " equal blocks: write a multiple of %" PRId64, g, g);
    wbr_diag_at(nc->ctx, nc->f, WBR_SEV_ERROR, s->ints.spans[i], help,
                "size %" PRId64 " cannot be cut into %" PRId64 " groups", v, g);
    nc->errors++;
  }
}

int wbr_check_layout(wbr_ctx *ctx, const wbr_ast_file *f, size_t at, const wbr_ast_stmt *s) {
  if (s->kind != WBR_STMT_ROPE && s->blocked) return 0;
  wbr_numcheck nc = {.ctx = ctx, .f = f, .at = at};
  int64_t g = 0;
  if (check_count(&nc, s, &g) == 1 && s->kind == WBR_STMT_UNFUSE && s->has_ints) check_sizes_groups(&nc, s, g);
  return nc.errors;
}
