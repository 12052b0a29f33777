/* disasm.c — `wbr disasm`: a readable listing of a verified program, one row per instruction
 * in the manner of SQLite's EXPLAIN: address, opcode, flags, operands with pool entries shown
 * inline (patterns quoted as written, lists as [..]), source line:col, and a comment in words.
 * Operand printing follows the operand kinds of opcodes.h, so a new opcode needs no code here
 * beyond its comment. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"

/* Quote a pool string for display, as it was written in the .wbr: a glob or template keeps its
 * backslash escapes (\* \{ \} \\) in the pool and only its quotes were unescaped; a regex is
 * stored exactly as written between the slashes. Control characters cannot come from a .wbr but
 * may from a hand-made .wbc; they are shown as \xNN. */
static void put_quoted(wbr_buf *b, const char *s, char q) {
  wbr_buf_putc(b, q);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (q == '"' && *c == '"')
      wbr_buf_puts(b, "\\\"");
    else if (*c < 0x20 || *c == 0x7f)
      wbr_buf_printf(b, "\\x%02x", *c);
    else
      wbr_buf_putc(b, (char)*c);
  }
  wbr_buf_putc(b, q);
}

static void put_pattern(wbr_buf *b, const wbr_program *p, uint32_t i) {
  const wbr_pattern *pt = wbr_program_pattern(p, i);
  if (pt->kind == WBR_PK_REGEX) {
    put_quoted(b, wbr_program_str(p, pt->text), '/');
    char letters[8];
    wbr_pattern_letters(pt->flags, letters);
    wbr_buf_puts(b, letters);
  } else {
    put_quoted(b, wbr_program_str(p, pt->text), '"');
  }
}

static void put_pattern_kind(wbr_buf *b, const wbr_program *p, uint32_t i) {
  wbr_buf_puts(b, wbr_program_pattern(p, i)->kind == WBR_PK_REGEX ? "regex " : "glob ");
  put_pattern(b, p, i);
}

static void put_ints(wbr_buf *b, const wbr_program *p, uint32_t i) {
  uint32_t n;
  const int64_t *v = wbr_program_ints(p, i, &n);
  wbr_buf_putc(b, '[');
  for (uint32_t k = 0; k < n; k++) {
    if (k) wbr_buf_puts(b, ", ");
    wbr_xvalue_print(b, p, v[k]);
  }
  wbr_buf_putc(b, ']');
}

/* Value k of int list i: a literal, or the expression over parameters it refers to. */
static void put_int_at(wbr_buf *b, const wbr_program *p, uint32_t i, uint32_t k) {
  uint32_t n;
  wbr_xvalue_print(b, p, wbr_program_ints(p, i, &n)[k]);
}

/* Parameter i as declared: "n_heads = 32", or the bare name when it has no default. */
static void put_param(wbr_buf *b, const wbr_program *p, uint32_t i) {
  wbr_buf_puts(b, wbr_program_param_name(p, i));
  if (p->params[i].def == WBR_NONE) return;
  wbr_buf_puts(b, " = ");
  wbr_xnode_print(b, p, p->params[i].def);
}

/* Value k of int list i of rope, fuse or unfuse (a head or group count, a size). */
static void put_count(wbr_buf *b, const wbr_program *p, uint32_t i, uint32_t k) { put_int_at(b, p, i, k); }

/* fuse, unfuse: whether the layout operand says groups (else blocked). */
static bool by_groups(const wbr_program *p, uint32_t i) {
  uint32_t n;
  return wbr_program_ints(p, i, &n)[0] != 0;
}

/* fuse, unfuse: "blocked" or "groups G", and unfuse's sizes. */
static void put_layout(wbr_buf *b, const wbr_program *p, uint32_t i) {
  uint32_t n;
  wbr_program_ints(p, i, &n);
  wbr_buf_puts(b, by_groups(p, i) ? "groups " : "blocked");
  if (by_groups(p, i)) put_count(b, p, i, 1);
  if (n <= 2) return;
  wbr_buf_puts(b, " sizes [");
  for (uint32_t k = 2; k < n; k++) {
    if (k > 2) wbr_buf_puts(b, ", ");
    put_count(b, p, i, k);
  }
  wbr_buf_putc(b, ']');
}

/* One operand of kind k and value v, with its label ("axis 0", "-> \"x\""), appended to the
 * operands already in b. */
static void put_operand(wbr_buf *b, const wbr_program *p, wbr_opk k, uint32_t v) {
  if (k == WBR_OPK_NONE || (k == WBR_OPK_SIZES && v == WBR_NONE)) return;
  if (b->len && b->p[b->len - 1] != ' ') wbr_buf_putc(b, ' ');
  /* A second pattern (hint's) pairs with the first, as in the source: "a" = "b". */
  if (k == WBR_OPK_PAT && b->len) wbr_buf_puts(b, "= ");
  wbr_buf_puts(b, wbr_opk_label(k));
  uint32_t n;
  switch (k) {
  case WBR_OPK_PAT: put_pattern(b, p, v); break;
  case WBR_OPK_PATS: {
    const uint32_t *r = wbr_program_refs(p, v, &n);
    for (uint32_t i = 0; i < n; i++) {
      if (i) wbr_buf_puts(b, ", ");
      put_pattern(b, p, r[i]);
    }
    break;
  }
  case WBR_OPK_TPL:
  case WBR_OPK_TPLI: put_quoted(b, wbr_program_str(p, v), '"'); break;
  case WBR_OPK_TPLS: {
    const uint32_t *r = wbr_program_refs(p, v, &n);
    for (uint32_t i = 0; i < n; i++) {
      if (i) wbr_buf_puts(b, ", ");
      put_quoted(b, wbr_program_str(p, r[i]), '"');
    }
    break;
  }
  case WBR_OPK_SHAPE:
  case WBR_OPK_AXES:
  case WBR_OPK_SIZES:
  case WBR_OPK_EXPSHAPE: put_ints(b, p, v); break;
  case WBR_OPK_INDEX:
  case WBR_OPK_PARTS:
  case WBR_OPK_COUNTL: put_int_at(b, p, v, 0); break;
  case WBR_OPK_CAPTURE: wbr_buf_puts(b, wbr_program_str(p, v)); break;
  case WBR_OPK_RANGE:
    put_int_at(b, p, v, 0);
    wbr_buf_putc(b, ':');
    put_int_at(b, p, v, 1);
    break;
  case WBR_OPK_PARAM: put_param(b, p, v); break;
  case WBR_OPK_COUNT: wbr_buf_printf(b, "%u", v); break;
  case WBR_OPK_AXIS: wbr_buf_printf(b, "%d", (int)(int32_t)v); break;
  case WBR_OPK_DTYPE: wbr_buf_puts(b, wbr_dtype_name((wbr_dtype)(int32_t)v)); break;
  case WBR_OPK_ROPEDIR: wbr_buf_puts(b, v == 0 ? "interleaved -> half" : "half -> interleaved"); break;
  case WBR_OPK_HEADS: put_count(b, p, v, 0); break;
  case WBR_OPK_LAYOUT: put_layout(b, p, v); break;
  case WBR_OPK_NONE:
  case WBR_OPK_NKINDS: break;
  }
}

/* The comment of the experts opcodes: stack_over, concat_over, split_parts. */
static void put_experts_comment(wbr_buf *b, const wbr_program *p, const wbr_insn *in) {
  if (in->op == WBR_OP_SPLIT_PARTS) {
    wbr_buf_printf(b, "cut matches of ");
    put_pattern_kind(b, p, in->a);
    wbr_buf_printf(b, " along axis %d into ", in->x);
    put_int_at(b, p, in->c, 0);
    wbr_buf_puts(b, " equal parts, named ");
  } else {
    wbr_buf_printf(b, "%s the matches of ", in->op == WBR_OP_STACK_OVER ? "stack" : "concatenate");
    put_pattern_kind(b, p, in->a);
    wbr_buf_printf(b, " with the same other captures, in the order {%s} = 0, 1, ..., %s axis %d into ",
                   wbr_program_str(p, in->c), in->op == WBR_OP_STACK_OVER ? "on a new" : "along", in->x);
  }
  put_quoted(b, wbr_program_str(p, in->b), '"');
}

/* The comment column: what the instruction does, in words. */
static void put_comment(wbr_buf *b, const wbr_program *p, const wbr_insn *in) {
  uint32_t n;
  switch ((wbr_opcode)in->op) {
  case WBR_OP_RENAME:
    if (wbr_program_pattern(p, in->a)->kind == WBR_PK_REGEX) {
      wbr_buf_puts(b, "in each name, replace the match of regex ");
      put_pattern(b, p, in->a);
      wbr_buf_puts(b, " with ");
    } else {
      wbr_buf_puts(b, "rename matches of glob ");
      put_pattern(b, p, in->a);
      wbr_buf_puts(b, " to ");
    }
    put_quoted(b, wbr_program_str(p, in->b), '"');
    break;
  case WBR_OP_DROP:
    wbr_buf_puts(b, "drop every tensor matching ");
    put_pattern_kind(b, p, in->a);
    break;
  case WBR_OP_RESHAPE:
    wbr_buf_puts(b, "reshape matches of ");
    put_pattern_kind(b, p, in->a);
    wbr_buf_puts(b, " to ");
    put_ints(b, p, in->b);
    break;
  case WBR_OP_TRANSPOSE:
    wbr_buf_puts(b, "swap the two axes of each 2-D match of ");
    put_pattern_kind(b, p, in->a);
    break;
  case WBR_OP_PERMUTE:
    wbr_buf_puts(b, "reorder the axes of matches of ");
    put_pattern_kind(b, p, in->a);
    wbr_buf_puts(b, " as ");
    put_ints(b, p, in->b);
    break;
  case WBR_OP_SPLIT:
    wbr_buf_puts(b, "split matches of ");
    put_pattern_kind(b, p, in->a);
    wbr_program_refs(p, in->b, &n);
    wbr_buf_printf(b, " along axis %d into %u ", in->x, n);
    if (in->c == WBR_NONE) {
      wbr_buf_puts(b, "equal parts");
    } else {
      wbr_buf_puts(b, "parts of sizes ");
      put_ints(b, p, in->c);
    }
    break;
  case WBR_OP_CONCAT:
  case WBR_OP_STACK: {
    const uint32_t *r = wbr_program_refs(p, in->a, &n);
    wbr_buf_printf(b, "%s one match of each of %u patterns (grouped by the captures of ",
                   in->op == WBR_OP_CONCAT ? "concatenate" : "stack", n);
    put_pattern(b, p, r[0]);
    wbr_buf_printf(b, ") %s axis %d into ", in->op == WBR_OP_CONCAT ? "along" : "on a new",
                   in->x);
    put_quoted(b, wbr_program_str(p, in->b), '"');
    break;
  }
  case WBR_OP_UNSTACK:
    wbr_buf_puts(b, "cut matches of ");
    put_pattern_kind(b, p, in->a);
    wbr_buf_printf(b, " along axis %d into one tensor per index, named ", in->x);
    put_quoted(b, wbr_program_str(p, in->b), '"');
    break;
  case WBR_OP_STACK_OVER:
  case WBR_OP_CONCAT_OVER:
  case WBR_OP_SPLIT_PARTS: put_experts_comment(b, p, in); break;
  case WBR_OP_SELECT:
    wbr_buf_puts(b, "take index ");
    put_int_at(b, p, in->c, 0);
    wbr_buf_printf(b, " of axis %d (dropping the axis) of each match of ", in->x);
    put_pattern_kind(b, p, in->a);
    wbr_buf_puts(b, " into ");
    put_quoted(b, wbr_program_str(p, in->b), '"');
    break;
  case WBR_OP_SLICE:
    wbr_buf_puts(b, "take indices ");
    put_int_at(b, p, in->c, 0);
    wbr_buf_puts(b, " to ");
    put_int_at(b, p, in->c, 1);
    wbr_buf_printf(b, " (exclusive) of axis %d of each match of ", in->x);
    put_pattern_kind(b, p, in->a);
    wbr_buf_puts(b, " into ");
    put_quoted(b, wbr_program_str(p, in->b), '"');
    break;
  case WBR_OP_CAST:
    wbr_buf_puts(b, "convert matches of ");
    put_pattern_kind(b, p, in->a);
    wbr_buf_printf(b, " to %s", wbr_dtype_name((wbr_dtype)in->x));
    break;
  case WBR_OP_HINT:
  case WBR_OP_HINT_LAYOUT:
    wbr_buf_puts(b, "for the matcher: ");
    put_pattern(b, p, in->a);
    wbr_buf_puts(b, " corresponds to ");
    put_pattern(b, p, in->b);
    if (in->op == WBR_OP_HINT_LAYOUT) {
      wbr_buf_puts(b, " with axes ");
      put_ints(b, p, in->c);
    }
    wbr_buf_puts(b, " (no effect on the mapping)");
    break;
  case WBR_OP_EXPECT_SHAPE:
    wbr_buf_puts(b, "fail unless every match of ");
    put_pattern_kind(b, p, in->a);
    wbr_buf_puts(b, " has shape ");
    put_ints(b, p, in->b);
    break;
  case WBR_OP_EXPECT_DTYPE:
    wbr_buf_puts(b, "fail unless every match of ");
    put_pattern_kind(b, p, in->a);
    wbr_buf_printf(b, " has dtype %s", wbr_dtype_name((wbr_dtype)in->x));
    break;
  case WBR_OP_EXPECT_COUNT:
    wbr_buf_printf(b, "fail unless exactly %u tensor%s match ", in->b, in->b == 1 ? "" : "s");
    put_pattern_kind(b, p, in->a);
    break;
  case WBR_OP_PARAM:
    wbr_buf_printf(b, "parameter %s: from --param %s=N or --config", wbr_program_param_name(p, in->a),
                   wbr_program_param_name(p, in->a));
    if (p->params[in->a].def == WBR_NONE) {
      wbr_buf_puts(b, " (no default: must be given)");
    } else {
      wbr_buf_puts(b, ", else ");
      wbr_xnode_print(b, p, p->params[in->a].def);
    }
    break;
  case WBR_OP_EXPECT_COUNT_OF:
    wbr_buf_puts(b, "fail unless exactly ");
    put_int_at(b, p, in->b, 0);
    wbr_buf_puts(b, " tensors match ");
    put_pattern_kind(b, p, in->a);
    break;
  case WBR_OP_ROPE:
    wbr_buf_puts(b, "move the rows of each match of ");
    put_pattern_kind(b, p, in->a);
    wbr_buf_puts(b, ", ");
    put_count(b, p, in->b, 0);
    wbr_buf_printf(b, " heads, from %s", in->x == 0 ? "interleaved rotary pairs to half-split ones"
                                                     : "half-split rotary pairs to interleaved ones");
    break;
  case WBR_OP_FUSE: {
    const uint32_t *r = wbr_program_refs(p, in->a, &n);
    wbr_buf_printf(b, "fuse one match of each of %u patterns (grouped by the captures of ", n);
    put_pattern(b, p, r[0]);
    wbr_buf_printf(b, ") along axis %d", in->x);
    if (by_groups(p, in->c)) {
      wbr_buf_puts(b, ", block by block in ");
      put_count(b, p, in->c, 1);
      wbr_buf_puts(b, " groups");
    }
    wbr_buf_puts(b, ", into ");
    put_quoted(b, wbr_program_str(p, in->b), '"');
    break;
  }
  case WBR_OP_UNFUSE: {
    uint32_t nl;
    wbr_program_ints(p, in->c, &nl);
    wbr_buf_puts(b, "cut matches of ");
    put_pattern_kind(b, p, in->a);
    wbr_program_refs(p, in->b, &n);
    wbr_buf_printf(b, " along axis %d into %u %s", in->x, n, nl > 2 ? "parts of the sizes given" : "equal parts");
    if (by_groups(p, in->c)) {
      wbr_buf_puts(b, ", block by block in ");
      put_count(b, p, in->c, 1);
      wbr_buf_puts(b, " groups");
    }
    break;
  }
  case WBR_OP_COUNT: break;
  }
  if (in->flags & WBR_INSN_TRANSPOSE) wbr_buf_puts(b, "; each part transposed");
  if (in->flags & WBR_INSN_OPTIONAL) wbr_buf_puts(b, "; may match nothing");
}

static const char *plural(uint32_t n) { return n == 1 ? "" : "s"; }

char *wbr_program_disasm(const wbr_program *p) {
  if (!p) return NULL;
  uint32_t n = wbr_program_ninsns(p);
  char **ops = calloc(n ? n : 1, sizeof *ops);
  if (!ops) return NULL;
  wbr_buf b;
  wbr_buf_init(&b);
  /* Operands first, to size the column. */
  size_t wops = 8, wpos = 8;
  for (uint32_t i = 0; i < n; i++) {
    const wbr_insn *in = wbr_program_insn(p, i);
    const wbr_opinfo *oi = wbr_opinfo_get(in->op);
    wbr_buf o;
    wbr_buf_init(&o);
    /* In the order of the source: pattern, axis, sizes/index/range, then the outputs (a hint's
     * axes come last, as its layout does). */
    bool c_last = in->op == WBR_OP_HINT_LAYOUT, x_last = in->op == WBR_OP_ROPE;
    put_operand(&o, p, oi->a, in->a);
    if (!x_last) put_operand(&o, p, oi->x, (uint32_t)(int32_t)in->x);
    if (!c_last) put_operand(&o, p, oi->c, in->c);
    if (in->flags & WBR_INSN_TRANSPOSE) wbr_buf_puts(&o, " transpose");
    put_operand(&o, p, oi->b, in->b);
    if (c_last) put_operand(&o, p, oi->c, in->c);
    if (x_last) put_operand(&o, p, oi->x, (uint32_t)(int32_t)in->x);
    if (o.oom) b.oom = true;
    ops[i] = wbr_buf_take(&o);
    if (ops[i] && strlen(ops[i]) > wops) wops = strlen(ops[i]);
    char pos[32];
    wbr_pos ps = wbr_program_pos(p, i);
    size_t l = (size_t)snprintf(pos, sizeof pos, "%u:%u", ps.line, ps.col);
    if (l > wpos) wpos = l;
  }
  if (wops > 56) wops = 56;

  wbr_buf_printf(&b, "; weightbridge bytecode, format %u, language %u\n", wbr_program_format(p),
                 p->lang_version);
  wbr_buf_puts(&b, "; source ");
  put_quoted(&b, wbr_program_source(p), '"');
  wbr_buf_printf(&b, ", hash %016" PRIx64 "\n", wbr_program_hash(p));
  wbr_buf_printf(&b, "; %u instruction%s; pools: %u string%s, %u pattern%s, %u int list%s, %u ref list%s\n",
                 n, plural(n), p->nstrs, plural(p->nstrs), p->npats, plural(p->npats), p->nints,
                 plural(p->nints), p->nrefs, plural(p->nrefs));
  if (wbr_program_format(p) >= 2) {
    wbr_buf_printf(&b, "; %u parameter%s, %u expression node%s", p->nparams, plural(p->nparams),
                   p->nxnodes, plural(p->nxnodes));
    for (uint32_t i = 0; i < p->nparams; i++) {
      wbr_buf_puts(&b, i ? ", " : ": ");
      put_param(&b, p, i);
    }
    wbr_buf_putc(&b, '\n');
  }
  wbr_buf_printf(&b, "%-4s  %-*s  %-12s  %-3s  %-*s  ; %s\n", "addr", (int)wpos, "line:col",
                 "opcode", "opt", (int)wops, "operands", "comment");
  for (uint32_t i = 0; i < n; i++) {
    const wbr_insn *in = wbr_program_insn(p, i);
    const wbr_opinfo *oi = wbr_opinfo_get(in->op);
    char pos[32];
    wbr_pos ps = wbr_program_pos(p, i);
    snprintf(pos, sizeof pos, "%u:%u", ps.line, ps.col);
    wbr_buf_printf(&b, "%-4u  %-*s  %-12s  %-3s  %-*s  ; ", i, (int)wpos, pos, oi->name,
                   in->flags & WBR_INSN_OPTIONAL ? "opt" : "", (int)wops, ops[i] ? ops[i] : "");
    put_comment(&b, p, in);
    wbr_buf_putc(&b, '\n');
  }
  for (uint32_t i = 0; i < n; i++) free(ops[i]);
  free(ops);
  return wbr_buf_take(&b);
}
