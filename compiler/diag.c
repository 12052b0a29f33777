/* diag.c — positioned diagnostics for .wbr source. Spans are byte offsets; line and column are
 * computed here, only when something is reported. Columns count bytes (a tab counts 1), the
 * way wbr_diag_format lines the caret up under the source line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"

void wbr_span_linecol(const wbr_ast_file *f, uint32_t off, int *line, int *col) {
  size_t end = f->src ? (off < f->len ? off : f->len) : 0;
  if (f->line_start && f->nlines) {
    /* The last line starting at or before end. */
    size_t lo = 0, hi = f->nlines;
    while (hi - lo > 1) {
      size_t mid = lo + (hi - lo) / 2;
      if (f->line_start[mid] <= end) lo = mid;
      else hi = mid;
    }
    *line = (int)lo + 1;
    *col = (int)(end - f->line_start[lo]) + 1;
    return;
  }
  int l = 1;
  size_t ls = 0;
  for (size_t i = 0; i < end; i++) {
    if (f->src[i] == '\n') {
      l++;
      ls = i + 1;
    }
  }
  *line = l;
  *col = (int)(end - ls) + 1;
}

int wbr_diag_at(wbr_ctx *ctx, const wbr_ast_file *f, wbr_severity sev, wbr_span span,
                const char *help, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = wbr_vdiag_at(ctx, f, sev, span, help, fmt, ap);
  va_end(ap);
  return rc;
}

int wbr_vdiag_at(wbr_ctx *ctx, const wbr_ast_file *f, wbr_severity sev, wbr_span span,
                 const char *help, const char *fmt, va_list ap) {
  wbr_diag d = {.severity = sev, .file = f ? f->name : NULL, .help = help};
  char *text = NULL;
  if (f && f->src) {
    uint32_t start = span.start <= f->len ? span.start : (uint32_t)f->len;
    wbr_span_linecol(f, start, &d.line, &d.col);
    size_t ls = start;
    while (ls > 0 && f->src[ls - 1] != '\n') ls--;
    size_t le = start;
    while (le < f->len && f->src[le] != '\n') le++;
    size_t tl = le;
    if (tl > ls && f->src[tl - 1] == '\r') tl--;
    /* The line is copied (NUL-terminated, NUL bytes shown as spaces) so the callback can print
     * it; it lives until wbr_report returns. */
    text = malloc(tl - ls + 1);
    if (text) {
      for (size_t i = ls; i < tl; i++) text[i - ls] = f->src[i] ? f->src[i] : ' ';
      text[tl - ls] = 0;
      d.source_line = text;
    }
    uint32_t end = span.end < le ? span.end : (uint32_t)le;
    d.span = end > start ? (int)(end - start) : 1;
  }
  int rc = wbr_vreport(ctx, WBR_ERULES, &d, fmt, ap);
  free(text);
  return rc;
}
