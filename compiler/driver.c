/* driver.c — the parser driver: runs the flex scanner and the bison parser over one source
 * text, then attaches the comments the lexer saw to statements so the formatter can keep them.
 * It sits above everything the generated code calls back (parse.c, build.c), so the front end
 * has no call cycle. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "parser.h"
/* flex's header names the bison types without the api.prefix */
#define YYSTYPE WBR_YYSTYPE
#define YYLTYPE WBR_YYLTYPE
#include "lexer.h"

/* ---- comments ------------------------------------------------------------------------------ */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/* The line before the one holding off is blank (only spaces). */
static bool blank_before(const wbr_ast_file *f, uint32_t off) {
  uint32_t ls = wbr_parse_line_start(f, off);
  if (ls == 0) return false;
  uint32_t p = ls - 1; /* the '\n' ending the previous line */
  while (p > 0 && f->src[p - 1] != '\n') {
    if (!is_space(f->src[p - 1])) return false;
    p--;
  }
  return true;
}

static bool own_line(const wbr_ast_file *f, uint32_t off) {
  for (uint32_t p = wbr_parse_line_start(f, off); p < off; p++)
    if (!is_space(f->src[p])) return false;
  return true;
}

static bool same_line(const wbr_ast_file *f, uint32_t a, uint32_t b) {
  for (uint32_t p = a; p < b && p < f->len; p++)
    if (f->src[p] == '\n') return false;
  return true;
}

enum { DEST_HEAD, DEST_VTRAIL, DEST_LEAD, DEST_MID, DEST_TRAIL, DEST_TAIL };

static void attach_comments(wbr_parser *ps) {
  wbr_ast_file *f = ps->f;
  size_t nc = ps->ncomments, ns = f->nstmts;
  if (nc == 0) {
    for (size_t i = 0; i < ns; i++) f->stmts[i].blank_before = blank_before(f, f->stmts[i].span.start);
    return;
  }
  int *dest = calloc(nc, sizeof *dest);
  size_t *target = calloc(nc, sizeof *target);
  size_t *nlead = calloc(ns + 1, sizeof *nlead), *nmid = calloc(ns + 1, sizeof *nmid);
  if (!dest || !target || !nlead || !nmid) {
    ps->oom = true;
    goto done;
  }
  size_t si = 0;
  for (size_t i = 0; i < nc; i++) {
    uint32_t cs = ps->comments[i].span.start;
    while (si < ns && f->stmts[si].span.start < cs) si++;
    bool own = own_line(f, cs);
    if (ps->header_seen && cs < f->version_span.start) {
      dest[i] = DEST_HEAD;
    } else if (si > 0 && cs < f->stmts[si - 1].span.end) {
      dest[i] = DEST_MID;
      target[i] = si - 1;
      nmid[si - 1]++;
    } else if (!own && si > 0 && same_line(f, f->stmts[si - 1].span.end, cs) &&
               !f->stmts[si - 1].trail) {
      dest[i] = DEST_TRAIL;
      target[i] = si - 1;
      f->stmts[si - 1].trail = (wbr_ast_comment *)1; /* placeholder, set below */
    } else if (!own && ps->header_seen && !f->version_trail &&
               same_line(f, f->version_span.end, cs) && cs >= f->version_span.end) {
      dest[i] = DEST_VTRAIL;
      f->version_trail = (wbr_ast_comment *)1;
    } else if (si < ns) {
      dest[i] = DEST_LEAD;
      target[i] = si;
      nlead[si]++;
    } else {
      dest[i] = DEST_TAIL;
    }
  }
  /* Allocate, then fill in source order (leads before mid-statement comments). */
  size_t nhead = 0, ntail = 0;
  for (size_t i = 0; i < nc; i++) {
    nhead += dest[i] == DEST_HEAD;
    ntail += dest[i] == DEST_TAIL;
  }
  f->head = nhead ? wbr_ast_alloc(f, nhead * sizeof *f->head) : NULL;
  f->tail = ntail ? wbr_ast_alloc(f, ntail * sizeof *f->tail) : NULL;
  if (f->version_trail) f->version_trail = wbr_ast_alloc(f, sizeof *f->version_trail);
  for (size_t s = 0; s < ns; s++) {
    wbr_ast_stmt *st = &f->stmts[s];
    size_t nl = nlead[s] + nmid[s];
    st->lead = nl ? wbr_ast_alloc(f, nl * sizeof *st->lead) : NULL;
    if (st->trail) st->trail = wbr_ast_alloc(f, sizeof *st->trail);
    if ((nl && !st->lead) || (st->trail == NULL && 0)) ps->oom = true;
    /* The group starts at its first lead comment written above it. */
    uint32_t first = st->span.start;
    for (size_t i = 0; i < nc; i++)
      if (dest[i] == DEST_LEAD && target[i] == s) {
        first = ps->comments[i].span.start;
        break;
      }
    st->blank_before = blank_before(f, first);
    st->blank_after_lead = nlead[s] > 0 && blank_before(f, st->span.start);
  }
  if ((nhead && !f->head) || (ntail && !f->tail)) ps->oom = true;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < nc; i++) {
      wbr_span sp = ps->comments[i].span;
      size_t n = sp.end - sp.start;
      while (n > 1 && is_space(f->src[sp.start + n - 1])) n--;
      wbr_ast_comment c = {.span = sp, .blank_before = blank_before(f, sp.start)};
      c.text = wbr_ast_alloc(f, n + 1);
      if (!c.text) {
        ps->oom = true;
        continue;
      }
      memcpy(c.text, f->src + sp.start, n);
      wbr_ast_stmt *st = ns ? &f->stmts[target[i] < ns ? target[i] : 0] : NULL;
      if (st && pass == 0 && dest[i] == DEST_LEAD && st->lead) st->lead[st->nlead++] = c;
      if (st && pass == 1 && dest[i] == DEST_MID && st->lead) st->lead[st->nlead++] = c;
      if (st && pass == 0 && dest[i] == DEST_TRAIL && st->trail) *st->trail = c;
      if (pass == 0 && dest[i] == DEST_HEAD && f->head) f->head[f->nhead++] = c;
      if (pass == 0 && dest[i] == DEST_TAIL && f->tail) f->tail[f->ntail++] = c;
      if (pass == 0 && dest[i] == DEST_VTRAIL && f->version_trail) *f->version_trail = c;
    }
  }
  for (size_t s = 0; s < ns; s++)
    if (f->stmts[s].nlead) f->stmts[s].lead[0].blank_before = false;
  if (f->nhead) f->head[0].blank_before = false;
  f->version_blank_before = f->nhead > 0 && blank_before(f, f->version_span.start);
done:
  free(dest);
  free(target);
  free(nlead);
  free(nmid);
}

/* ---- driver -------------------------------------------------------------------------------- */

/* The start of every line, once: diagnostics and the emitter's line table then cost a binary
 * search per position instead of a scan from the top (which made compiling O(N^2)). */
static int line_table(wbr_ast_file *f) {
  size_t n = 1;
  for (size_t i = 0; i < f->len; i++) n += f->src[i] == '\n';
  f->line_start = wbr_ast_alloc(f, n * sizeof *f->line_start);
  if (!f->line_start) return -1;
  f->line_start[0] = 0;
  f->nlines = 1;
  for (size_t i = 0; i < f->len; i++)
    if (f->src[i] == '\n') f->line_start[f->nlines++] = (uint32_t)(i + 1);
  return 0;
}

int wbr_parse_partial(wbr_ast_file **out, wbr_ctx *ctx, const char *name, const char *src,
                      size_t len) {
  *out = NULL;
  if (len > (size_t)INT_MAX / 2)
    return wbr_fail(ctx, WBR_ERULES, name, "split the rules into smaller files",
                    "rule file too large (%zu bytes)", len);
  wbr_ast_file *f = wbr_ast_new(name);
  char *copy = f ? wbr_ast_alloc(f, len + 1) : NULL;
  if (!copy) {
    wbr_ast_free(f);
    return wbr_oom(ctx);
  }
  if (len) memcpy(copy, src, len);
  f->src = copy;
  f->len = len;
  f->version = 0;
  if (line_table(f) != 0) {
    wbr_ast_free(f);
    return wbr_oom(ctx);
  }

  wbr_parser ps = {.ctx = ctx, .f = f, .err_line = -1};
  yyscan_t scanner;
  if (wbr_yylex_init_extra(&ps, &scanner) != 0) {
    wbr_ast_free(f);
    return wbr_oom(ctx);
  }
  YY_BUFFER_STATE buf = wbr_yy_scan_bytes(copy, (int)len, scanner);
  int prc = buf ? wbr_yyparse(&ps, scanner) : 2;
  if (buf) wbr_yy_delete_buffer(buf, scanner);
  wbr_yylex_destroy(scanner);
  if (prc == 2) ps.oom = true;
  if (!ps.any_tok) wbr_parse_missing_header(&ps);
  if (!ps.oom) attach_comments(&ps);
  free(ps.comments);
  if (ps.oom) {
    wbr_ast_free(f);
    return wbr_oom(ctx);
  }
  if (f->version == 0) f->version = 1;
  *out = f;
  return ps.nerrors || prc ? WBR_ERULES : 0;
}

int wbr_parse(wbr_ast_file **out, wbr_ctx *ctx, const char *name, const char *src, size_t len) {
  int rc = wbr_parse_partial(out, ctx, name, src, len);
  if (rc != 0) {
    wbr_ast_free(*out);
    *out = NULL;
  }
  return rc;
}
