/* emit.c — checked AST -> bytecode. Each statement becomes exactly one instruction (opcodes.h
 * says why); patterns, templates and integer lists go to deduplicated pools. The result is run
 * through the same verifier as a loaded .wbc, so the compiler can never write a file that the
 * loader would reject. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "frontend.h"
#include "params.h"

typedef struct emitter {
  wbr_ctx *ctx;
  const wbr_ast_file *f;
  wbr_program *p;
} emitter;

static int oom_or_limit(emitter *e, wbr_span at, const char *what) {
  if (e->p->ncode >= WBR_MAX_INSNS || e->p->nstrs >= WBR_MAX_POOL || e->p->npats >= WBR_MAX_POOL ||
      e->p->nints >= WBR_MAX_POOL || e->p->nrefs >= WBR_MAX_POOL)
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, at, "split the rules into several files",
                       "too many %s for one program (the limit is %u)", what, WBR_MAX_POOL);
  return wbr_oom(e->ctx);
}

static int64_t emit_str(emitter *e, const char *text, wbr_span at) {
  size_t n = strlen(text);
  if (n > WBR_MAX_STR)
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, at, NULL,
                       "a name or pattern of %zu bytes is longer than the limit of %u bytes", n,
                       WBR_MAX_STR),
           -1;
  int64_t i = wbr_program_add_str(e->p, text, n);
  if (i < 0) oom_or_limit(e, at, "strings");
  return i;
}

static int64_t emit_pattern(emitter *e, const wbr_ast_pat *pt) {
  /* A glob's flags are ignored; a regex's are the bytecode's bits (a hand-built AST may hold
   * others). */
  uint8_t flags = pt->kind == WBR_PK_REGEX ? pt->flags : 0;
  if (flags & ~WBR_RX_ALL)
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, pt->span, "use the flags i, m, s, x or n",
                       "regex flag bits 0x%02x have no bytecode encoding", flags & ~WBR_RX_ALL),
           -1;
  size_t n = strlen(pt->text);
  if (n > WBR_MAX_STR)
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, pt->span, NULL,
                       "a pattern of %zu bytes is longer than the limit of %u bytes", n,
                       WBR_MAX_STR),
           -1;
  int64_t i = wbr_program_add_pattern(e->p, pt->kind, flags, pt->text, n);
  if (i < 0) oom_or_limit(e, pt->span, "patterns");
  return i;
}

static int64_t emit_ints(emitter *e, const int64_t *v, size_t n, wbr_span at) {
  if (n > WBR_MAX_LIST)
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, at, NULL,
                       "a list of %zu numbers is longer than the limit of %u", n, WBR_MAX_LIST),
           -1;
  int64_t i = wbr_program_add_ints(e->p, v, (uint32_t)n);
  if (i < 0) oom_or_limit(e, at, "integer lists");
  return i;
}

/* The int64 an int list stores for a size, count or index (compiler/params.c): the literal or
 * folded constant, or a reference to an expression over parameters. False after reporting. */
static bool emit_num(emitter *e, const wbr_ast_num *n, int64_t *out) {
  return wbr_emit_num(e->p, e->ctx, e->f, n, out) == 0;
}

/* An int list of nums (reshape dims, split sizes, expect shape). */
static int64_t emit_nums(emitter *e, const wbr_ast_ints *l, wbr_span at) {
  if (!l->e && !e->p->xrefs) return emit_ints(e, l->v, l->n, at);
  if (l->n > WBR_MAX_LIST) return emit_ints(e, l->v, l->n, at); /* reports the limit */
  int64_t v[WBR_MAX_LIST];
  for (size_t i = 0; i < l->n; i++) {
    wbr_ast_num num = wbr_ast_ints_num(l, i);
    if (!emit_num(e, &num, &v[i])) return -1;
  }
  return emit_ints(e, v, l->n, at);
}

/* A ref list of the patterns (templates when `tpl`) of pats[0..n). */
static int64_t emit_refs(emitter *e, const wbr_ast_pat *pats, size_t n, bool tpl, wbr_span at) {
  if (n > WBR_MAX_LIST)
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, at, NULL,
                       "%zu names in one statement is more than the limit of %u", n, WBR_MAX_LIST),
           -1;
  uint32_t v[WBR_MAX_LIST];
  for (size_t i = 0; i < n; i++) {
    int64_t r = tpl ? emit_str(e, pats[i].text, pats[i].span) : emit_pattern(e, &pats[i]);
    if (r < 0) return -1;
    v[i] = (uint32_t)r;
  }
  int64_t i = wbr_program_add_refs(e->p, v, (uint32_t)n);
  if (i < 0) oom_or_limit(e, at, "name lists");
  return i;
}

/* The span of a part of s, or of s itself when the part has none (an AST built by hand). */
static wbr_span part(const wbr_ast_stmt *s, wbr_span sp) { return sp.end > sp.start ? sp : s->span; }

static bool small_axis(emitter *e, const wbr_ast_stmt *s, int16_t *x) {
  if (s->axis < -WBR_MAX_DIMS || s->axis >= WBR_MAX_DIMS) {
    wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, part(s, s->axis_span), NULL,
                "axis %lld is out of range (tensors have at most %d axes)", (long long)s->axis,
                WBR_MAX_DIMS);
    return false;
  }
  *x = (int16_t)s->axis;
  return true;
}

/* The experts forms: stack/concat ... over NAME (stack_over, concat_over: c names the capture)
 * and split ... parts K (split_parts: c is the count). 0, or WBR_ERULES (reported). */
static int emit_experts(emitter *e, const wbr_ast_stmt *s, wbr_insn *in, int64_t *b, int64_t *c) {
  if (!small_axis(e, s, &in->x)) return WBR_ERULES;
  *b = emit_str(e, s->out[0].text, s->out[0].span);
  if (s->has_parts) {
    in->op = WBR_OP_SPLIT_PARTS;
    int64_t k;
    if (!emit_num(e, &s->parts, &k)) return WBR_ERULES;
    *c = emit_ints(e, &k, 1, part(s, s->parts.span));
  } else {
    in->op = s->kind == WBR_STMT_STACK ? WBR_OP_STACK_OVER : WBR_OP_CONCAT_OVER;
    *c = emit_str(e, s->over, part(s, s->over_span));
  }
  return 0;
}

/* fuse, unfuse: the LAYOUT int list, [0, 1] (blocked) or [1, G] (groups), then unfuse's sizes. */
static int64_t emit_layout(emitter *e, const wbr_ast_stmt *s) {
  if (s->ints.n > WBR_MAX_LIST - 2)
    return emit_ints(e, s->ints.v, WBR_MAX_LIST + 1, part(s, s->ints.span)); /* reports the limit */
  int64_t v[WBR_MAX_LIST];
  v[0] = s->blocked ? 0 : 1;
  v[1] = 1;
  if (!s->blocked && !emit_num(e, &s->groups, &v[1])) return -1;
  for (size_t i = 0; i < s->ints.n; i++) {
    wbr_ast_num num = wbr_ast_ints_num(&s->ints, i);
    if (!emit_num(e, &num, &v[2 + i])) return -1;
  }
  return emit_ints(e, v, 2 + s->ints.n, part(s, s->ints.span.end > s->ints.span.start ? s->ints.span : s->groups.span));
}

/* Fill in one instruction for statement s; returns 0 or a negative error (already reported). */
static int emit_stmt(emitter *e, const wbr_ast_stmt *s, wbr_insn *in) {
  int64_t a = -1, b = 0, c = 0;
  if (s->kind == WBR_STMT_PARAM) { /* the parameter table's entry, and its declaration */
    int64_t k = -1;
    if (wbr_emit_param(e->p, e->ctx, e->f, s, &k)) return WBR_ERULES;
    in->op = WBR_OP_PARAM;
    in->a = (uint32_t)k;
    return 0;
  }
  /* Every statement needs its inputs; a missing one is a parser bug, not a user error. */
  if (!s->in || s->nin == 0 || !s->in[0].text)
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, s->span, NULL,
                       "internal error: statement without a pattern");
  if (((s->kind != WBR_STMT_CONCAT && s->kind != WBR_STMT_STACK && s->kind != WBR_STMT_FUSE) || s->over) &&
      (a = emit_pattern(e, &s->in[0])) < 0)
    return WBR_ERULES;
  bool need_out = s->kind == WBR_STMT_RENAME || s->kind == WBR_STMT_SPLIT ||
                  s->kind == WBR_STMT_CONCAT || s->kind == WBR_STMT_STACK ||
                  s->kind == WBR_STMT_UNSTACK || s->kind == WBR_STMT_SELECT ||
                  s->kind == WBR_STMT_SLICE || s->kind == WBR_STMT_FUSE || s->kind == WBR_STMT_UNFUSE;
  if (need_out && (!s->out || s->nout == 0))
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, s->span, NULL,
                       "internal error: statement without an output name");
  switch (s->kind) {
  case WBR_STMT_RENAME:
    in->op = WBR_OP_RENAME;
    b = emit_str(e, s->out[0].text, s->out[0].span);
    break;
  case WBR_STMT_DROP: in->op = WBR_OP_DROP; break;
  case WBR_STMT_RESHAPE:
    in->op = WBR_OP_RESHAPE;
    b = emit_nums(e, &s->ints, part(s, s->ints.span));
    break;
  case WBR_STMT_TRANSPOSE: in->op = WBR_OP_TRANSPOSE; break;
  case WBR_STMT_PERMUTE:
    in->op = WBR_OP_PERMUTE;
    b = emit_ints(e, s->ints.v, s->ints.n, part(s, s->ints.span));
    break;
  case WBR_STMT_SPLIT:
    if (s->has_parts) {
      if (emit_experts(e, s, in, &b, &c)) return WBR_ERULES;
      break;
    }
    in->op = WBR_OP_SPLIT;
    if (!small_axis(e, s, &in->x)) return WBR_ERULES;
    b = emit_refs(e, s->out, s->nout, true, s->span);
    c = s->has_ints ? emit_nums(e, &s->ints, part(s, s->ints.span)) : (int64_t)WBR_NONE;
    break;
  case WBR_STMT_CONCAT:
  case WBR_STMT_STACK:
    if (s->over) {
      if (emit_experts(e, s, in, &b, &c)) return WBR_ERULES;
      break;
    }
    in->op = s->kind == WBR_STMT_CONCAT ? WBR_OP_CONCAT : WBR_OP_STACK;
    if (!small_axis(e, s, &in->x)) return WBR_ERULES;
    a = emit_refs(e, s->in, s->nin, false, s->span);
    b = emit_str(e, s->out[0].text, s->out[0].span);
    break;
  case WBR_STMT_UNSTACK:
    in->op = WBR_OP_UNSTACK;
    if (!small_axis(e, s, &in->x)) return WBR_ERULES;
    b = emit_str(e, s->out[0].text, s->out[0].span);
    break;
  case WBR_STMT_SELECT:
  case WBR_STMT_SLICE: {
    in->op = s->kind == WBR_STMT_SELECT ? WBR_OP_SELECT : WBR_OP_SLICE;
    if (!small_axis(e, s, &in->x)) return WBR_ERULES;
    b = emit_str(e, s->out[0].text, s->out[0].span);
    int64_t r[2] = {s->index, s->end};
    if (!emit_num(e, &(wbr_ast_num){s->index, s->index_e, part(s, s->index_span)}, &r[0]) ||
        !emit_num(e, &(wbr_ast_num){s->end, s->end_e, part(s, s->index_span)}, &r[1]))
      return WBR_ERULES;
    c = emit_ints(e, r, s->kind == WBR_STMT_SELECT ? 1 : 2, part(s, s->index_span));
    break;
  }
  case WBR_STMT_CAST:
    in->op = WBR_OP_CAST;
    in->x = (int16_t)s->dtype;
    break;
  case WBR_STMT_HINT:
    in->op = WBR_OP_HINT;
    if (s->nin < 2)
      return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, s->span, NULL,
                         "internal error: hint without two names");
    b = emit_pattern(e, &s->in[1]);
    if (s->hint_layout == WBR_HINT_TRANSPOSE) {
      static const int64_t t2[2] = {1, 0};
      in->op = WBR_OP_HINT_LAYOUT;
      c = emit_ints(e, t2, 2, s->span);
    } else if (s->hint_layout == WBR_HINT_PERMUTE) {
      in->op = WBR_OP_HINT_LAYOUT;
      c = emit_ints(e, s->ints.v, s->ints.n, part(s, s->ints.span));
    }
    break;
  case WBR_STMT_EXPECT:
    switch (s->expect) {
    case WBR_EXPECT_SHAPE:
      in->op = WBR_OP_EXPECT_SHAPE;
      b = emit_nums(e, &s->ints, part(s, s->ints.span));
      break;
    case WBR_EXPECT_DTYPE:
      in->op = WBR_OP_EXPECT_DTYPE;
      in->x = (int16_t)s->dtype;
      break;
    case WBR_EXPECT_COUNT: {
      in->op = WBR_OP_EXPECT_COUNT;
      int64_t n = 0;
      if (!emit_num(e, &(wbr_ast_num){s->count, s->count_e, part(s, s->count_span)}, &n))
        return WBR_ERULES;
      if (!(e->p->xrefs && wbr_xref_is(n)) && (n < 0 || n > UINT32_MAX))
        return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, part(s, s->count_span), NULL,
                           "count %lld is out of range (0 to %u)", (long long)n, UINT32_MAX);
      b = n;
      if (e->p->xrefs && wbr_xref_is(n)) { /* given by parameters: the count is an int list */
        in->op = WBR_OP_EXPECT_COUNT_OF;
        b = emit_ints(e, &n, 1, part(s, s->count_span));
      }
      break;
    }
    }
    break;
  case WBR_STMT_ROPE: {
    in->op = WBR_OP_ROPE;
    in->x = (int16_t)s->rope;
    int64_t h = 0;
    if (!emit_num(e, &s->groups, &h)) return WBR_ERULES;
    b = emit_ints(e, &h, 1, part(s, s->groups.span));
    break;
  }
  case WBR_STMT_FUSE:
  case WBR_STMT_UNFUSE:
    in->op = s->kind == WBR_STMT_FUSE ? WBR_OP_FUSE : WBR_OP_UNFUSE;
    if (!small_axis(e, s, &in->x)) return WBR_ERULES;
    if (s->kind == WBR_STMT_FUSE) {
      a = emit_refs(e, s->in, s->nin, false, s->span);
      b = emit_str(e, s->out[0].text, s->out[0].span);
    } else {
      b = emit_refs(e, s->out, s->nout, true, s->span);
    }
    c = emit_layout(e, s);
    break;
  case WBR_STMT_PARAM:
  case WBR_STMT_COUNT:
    return wbr_diag_at(e->ctx, e->f, WBR_SEV_ERROR, s->span, NULL,
                       "internal error: unknown statement kind");
  }
  if (a < 0 || b < 0 || c < 0) return WBR_ERULES;
  in->flags = (uint8_t)((s->optional ? WBR_INSN_OPTIONAL : 0) | (s->transpose ? WBR_INSN_TRANSPOSE : 0));
  in->a = (uint32_t)a;
  in->b = (uint32_t)b;
  in->c = (uint32_t)c;
  return 0;
}

/* The program keeps the text and each statement's span, for diagnostics at run time. */
static int keep_text(emitter *e) {
  const wbr_ast_file *f = e->f;
  wbr_src_span *spans = malloc((f->nstmts ? f->nstmts : 1) * sizeof *spans);
  if (!spans) return wbr_oom(e->ctx);
  for (size_t i = 0; i < f->nstmts; i++) spans[i] = (wbr_src_span){f->stmts[i].span.start, f->stmts[i].span.end};
  int rc = wbr_program_set_text(e->p, f->src ? f->src : "", f->src ? f->len : 0, spans);
  free(spans);
  if (rc == WBR_ENOMEM) return wbr_oom(e->ctx);
  return rc ? wbr_fail(e->ctx, WBR_ERULES, f->name, "split the rules into several files",
                       "a rule file of 4 GiB or more cannot be compiled")
            : 0;
}

int wbr_emit(wbr_program **out, wbr_ctx *ctx, const wbr_ast_file *f) {
  *out = NULL;
  emitter e = {.ctx = ctx, .f = f};
  if (wbr_program_new(&e.p) != 0) return wbr_oom(ctx);
  const char *name = f->name ? f->name : "";
  /* A name too long to record, or not UTF-8 (the .wbc holds UTF-8), is left out: not worth failing. */
  if (strlen(name) > WBR_MAX_SOURCE_NAME || !wbr_utf8_valid(name, strlen(name), NULL)) name = "";
  if (wbr_program_set_source(e.p, name, wbr_hash(f->src ? f->src : "", f->src ? f->len : 0),
                             f->version > 0 ? (uint32_t)f->version : 1) != 0) {
    wbr_program_free(e.p);
    return wbr_oom(ctx);
  }
  int rc = 0;
  /* With parameters the program is format 2, where int lists may refer to expressions. */
  for (size_t i = 0; i < f->nstmts; i++) e.p->xrefs = e.p->xrefs || f->stmts[i].kind == WBR_STMT_PARAM;
  for (size_t i = 0; i < f->nstmts; i++) {
    const wbr_ast_stmt *s = &f->stmts[i];
    wbr_insn in = {0};
    int r = emit_stmt(&e, s, &in);
    if (r) {
      rc = r < 0 ? r : WBR_ERULES;
      continue; /* report every statement that cannot be emitted */
    }
    int line, col;
    wbr_span_linecol(f, s->span.start, &line, &col);
    if (wbr_program_add_insn(e.p, in, (uint32_t)line, (uint32_t)col) < 0) {
      rc = oom_or_limit(&e, s->span, "statements");
      break;
    }
  }
  wbr_program_finish(e.p);
  if (rc == 0) rc = keep_text(&e);
  if (rc == 0) {
    /* Verify silently, then report a failure at its statement: it means the checker accepted
     * something the bytecode cannot express, which is a bug in weightbridge. */
    wbr_ctx *quiet;
    if (wbr_ctx_new(&quiet, NULL, NULL) != 0) {
      rc = wbr_oom(ctx);
    } else {
      int64_t bad = -1;
      if (wbr_program_verify(e.p, quiet, name, 0, &bad) != 0) {
        static const char *const help = "this is a bug in weightbridge: please report it with the rule file";
        if (bad >= 0 && (size_t)bad < f->nstmts)
          wbr_diag_at(ctx, f, WBR_SEV_ERROR, f->stmts[bad].span, help,
                      "internal error: the statement compiles to invalid bytecode: %s",
                      wbr_ctx_last_error(quiet));
        else /* nothing to point at (the source name): no made-up 1:1 */
          wbr_fail(ctx, WBR_EINTERNAL, f->name, help, "internal error: the rules compile to invalid bytecode: %s",
                   wbr_ctx_last_error(quiet));
        rc = WBR_EINTERNAL;
      }
      wbr_ctx_free(quiet);
    }
  }
  if (rc) {
    wbr_program_free(e.p);
    return rc;
  }
  *out = e.p;
  return 0;
}
