/* render.c — a plan as text (terminal), markdown (code review) or JSON (tools; format in
 * docs/plan.md). Each output's expression is written as its sources plus a list of operations
 * applied to them in order, the same vocabulary as the fixtures' truth.json, so a reviewer or a
 * script can replay it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

/* ---- linearising an expression: sources + ops applied to the list of them ---- */

typedef struct lin {
  const wbr_node *from[4096];
  size_t nfrom;
  const wbr_node *ops[256]; /* the nodes, in application order */
  size_t nops;
} lin;

/* The label of a node, or "". */
static const char *label(const wbr_node *nd) { return nd->label ? nd->label : ""; }

/* The statement a named layout chain starts (rope, fuse or unfuse by groups) at node nd, as the
 * rules say it with the values of this run ("rope heads 32 interleaved -> half"); false if nd
 * starts none. A fuse's chain is named at its end, the reshape after the concat. */
static bool layout_stmt(wbr_buf *b, const wbr_node *nd) {
  if (nd->kind != WBR_N_RESHAPE) return false;
  const char *l = label(nd);
  if (strncmp(l, "rope ", 5) == 0) {
    wbr_buf_printf(b, "rope heads %lld %s", (long long)nd->shape[0], l + 5);
    return true;
  }
  bool fuse = strcmp(l, "fuse groups") == 0, unfuse = strcmp(l, "unfuse groups") == 0;
  if (!fuse && !unfuse) return false;
  /* the groups: the cut axis of the input (fuse: of the concat's first input) */
  int64_t g = fuse ? nd->in[0]->in[0]->shape[nd->axis] : nd->shape[nd->axis];
  wbr_buf_printf(b, "%s", fuse ? "fuse" : "unfuse");
  if (nd->axis) wbr_buf_printf(b, " axis %d", nd->axis);
  wbr_buf_printf(b, " groups %lld", (long long)g);
  return true;
}

/* Description of one op without its resulting shape (for comparing chains). */
static void op_json(wbr_buf *b, const wbr_node *nd) {
  switch (nd->kind) {
  case WBR_N_SOURCE:
    break;
  case WBR_N_RESHAPE:
    wbr_buf_puts(b, "{\"op\": \"reshape\", \"shape\": [");
    for (int i = 0; i < nd->ndim; i++) wbr_buf_printf(b, "%s%lld", i ? ", " : "", (long long)nd->shape[i]);
    wbr_buf_puts(b, "]");
    wbr_buf st;
    wbr_buf_init(&st);
    if (layout_stmt(&st, nd) && st.p) {
      wbr_buf_puts(b, ", \"stmt\": ");
      wbr_buf_json_str(b, st.p);
    }
    if (st.oom) b->oom = true;
    wbr_buf_free(&st);
    wbr_buf_puts(b, "}");
    break;
  case WBR_N_PERMUTE:
    wbr_buf_puts(b, "{\"op\": \"permute\", \"axes\": [");
    for (int i = 0; i < nd->ndim; i++) wbr_buf_printf(b, "%s%d", i ? ", " : "", nd->perm[i]);
    wbr_buf_puts(b, "]}");
    break;
  case WBR_N_CAST:
    wbr_buf_printf(b, "{\"op\": \"cast\", \"dtype\": \"%s\"}", wbr_dtype_name(nd->dtype));
    break;
  case WBR_N_SLICE:
    if (nd->drop_axis)
      wbr_buf_printf(b, "{\"op\": \"index\", \"axis\": %d, \"index\": %lld}", nd->axis, (long long)nd->start);
    else if (nd->label && strcmp(nd->label, "split") == 0 && nd->parts)
      wbr_buf_printf(b, "{\"op\": \"split\", \"axis\": %d, \"sections\": %lld, \"index\": %lld}", nd->axis,
                     (long long)nd->parts, (long long)nd->part);
    else if (nd->label && strcmp(nd->label, "split") == 0) {
      wbr_buf_printf(b, "{\"op\": \"split\", \"axis\": %d, \"sizes\": [", nd->axis);
      /* Resolved sizes: the inferred -1 is replaced by its value. */
      const wbr_node *in = nd->in[0];
      int64_t known = 0;
      for (uint32_t i = 0; i < nd->nsizes; i++) known += nd->sizes[i] == -1 ? 0 : nd->sizes[i];
      for (uint32_t i = 0; i < nd->nsizes; i++)
        wbr_buf_printf(b, "%s%lld", i ? ", " : "",
                       (long long)(nd->sizes[i] == -1 ? in->shape[nd->axis] - known : nd->sizes[i]));
      wbr_buf_printf(b, "], \"index\": %lld}", (long long)nd->part);
    } else
      wbr_buf_printf(b, "{\"op\": \"slice\", \"axis\": %d, \"start\": %lld, \"end\": %lld}", nd->axis,
                     (long long)nd->start, (long long)(nd->start + nd->len));
    break;
  case WBR_N_CONCAT:
    wbr_buf_printf(b, "{\"op\": \"concat\", \"axis\": %d", nd->axis);
    if (nd->over) { /* stack/concat ... over NAME: the inputs are its parts 0, 1, ... in order */
      wbr_buf_puts(b, ", \"over\": ");
      wbr_buf_json_str(b, nd->over);
    }
    wbr_buf_putc(b, '}');
    break;
  }
}

static bool chain_equal(const lin *a, size_t a0, size_t a1, const lin *b, size_t b0, size_t b1) {
  if (a1 - a0 != b1 - b0) return false;
  for (size_t i = 0; i < a1 - a0; i++) {
    wbr_buf x, y;
    wbr_buf_init(&x);
    wbr_buf_init(&y);
    op_json(&x, a->ops[a0 + i]);
    op_json(&y, b->ops[b0 + i]);
    bool eq = x.p && y.p && strcmp(x.p, y.p) == 0;
    wbr_buf_free(&x);
    wbr_buf_free(&y);
    if (!eq) return false;
  }
  return true;
}

/* Append nd's expression to l; false if it is not a list-of-sources + ops expression. */
static bool linearize(const wbr_node *nd, lin *l) {
  if (nd->kind == WBR_N_SOURCE) {
    if (l->nfrom == 4096) return false;
    l->from[l->nfrom++] = nd;
    return true;
  }
  if (nd->kind != WBR_N_CONCAT) {
    if (!linearize(nd->in[0], l) || l->nops == 256) return false;
    l->ops[l->nops++] = nd;
    return true;
  }
  /* concat: each input must be one source with the same chain of ops. */
  size_t ops0 = l->nops, chain = 0;
  /* On the heap: a chain of concats nests this deeply. */
  lin *part = malloc(sizeof *part);
  if (!part) return false;
  bool ok = true;
  for (size_t i = 0; i < nd->nin && ok; i++) {
    part->nfrom = part->nops = 0;
    ok = linearize(nd->in[i], part) && part->nfrom == 1;
    if (ok && i == 0) {
      chain = part->nops;
      ok = l->nops + chain < 256;
      if (ok) memcpy(l->ops + l->nops, part->ops, chain * sizeof *part->ops);
      l->nops += ok ? chain : 0;
    } else if (ok) {
      ok = chain_equal(l, ops0, ops0 + chain, part, 0, part->nops);
    }
    if (ok) ok = l->nfrom < 4096;
    if (ok) l->from[l->nfrom++] = part->from[0];
  }
  free(part);
  if (!ok) return false;
  if (l->nops == 256) return false;
  l->ops[l->nops++] = nd;
  return true;
}

/* A nested expression for what does not linearise. */
static void expr_json(wbr_buf *b, const wbr_plan *p, const wbr_node *nd) {
  if (nd->kind == WBR_N_SOURCE) {
    wbr_buf_puts(b, "{\"source\": ");
    wbr_buf_json_str(b, p->src->t[nd->src].name);
    wbr_buf_puts(b, "}");
    return;
  }
  wbr_buf op;
  wbr_buf_init(&op);
  op_json(&op, nd);
  if (op.len > 1) wbr_buf_put(b, op.p, op.len - 1); /* without the closing brace */
  wbr_buf_free(&op);
  wbr_buf_puts(b, ", \"inputs\": [");
  for (size_t i = 0; i < nd->nin; i++) {
    if (i) wbr_buf_puts(b, ", ");
    expr_json(b, p, nd->in[i]);
  }
  wbr_buf_puts(b, "]}");
}

static void sources_list(const wbr_plan *p, const wbr_node *nd, const wbr_node **out, size_t *n, size_t cap) {
  if (nd->kind == WBR_N_SOURCE) {
    if (*n < cap) out[(*n)++] = nd;
    return;
  }
  for (size_t i = 0; i < nd->nin; i++) sources_list(p, nd->in[i], out, n, cap);
}

/* The source tensor of an output that is an opaque quantized tensor passed through, or NULL. */
static const wbr_tensor *quant_src(const wbr_plan *p, const wbr_value *v) {
  if (v->node->kind != WBR_N_SOURCE) return NULL;
  const wbr_tensor *t = &p->src->t[v->node->src];
  return t->opaque.type ? t : NULL;
}

/* The dtype column: the quantized type for quantized tensors. */
static const char *dtype_cell(const wbr_plan *p, const wbr_value *v) {
  const wbr_tensor *q = quant_src(p, v);
  return q ? q->opaque.type : wbr_dtype_name(v->node->dtype);
}

static void shape_json(wbr_buf *b, int ndim, const int64_t *shape) {
  wbr_buf_putc(b, '[');
  for (int i = 0; i < ndim; i++) wbr_buf_printf(b, "%s%lld", i ? ", " : "", (long long)shape[i]);
  wbr_buf_putc(b, ']');
}

static const char *rules_name(const wbr_plan *p) {
  const char *s = wbr_program_source(p->prog);
  return s && *s ? s : "rules";
}

/* ---- human-readable ops: "permute (3, 2, 0, 1) -> [48, 3, 8, 8]" ---- */

static void op_text(wbr_buf *b, const wbr_node *nd) {
  char sh[256];
  wbr_shape_str(sh, sizeof sh, nd->ndim, nd->shape);
  switch (nd->kind) {
  case WBR_N_SOURCE:
    return;
  case WBR_N_RESHAPE:
    /* a named layout chain: "rope heads 4 interleaved -> half: reshape [4, 4, 2, 32], ..." */
    if (layout_stmt(b, nd)) wbr_buf_printf(b, ": reshape %s", sh);
    else if (nd->label && strcmp(nd->label, "stack") != 0) wbr_buf_printf(b, "reshape %s", sh);
    else wbr_buf_printf(b, "reshape -> %s", sh);
    return;
  case WBR_N_PERMUTE:
    if (strcmp(label(nd), "rope") == 0) {
      wbr_buf_puts(b, "permute (");
      for (int i = 0; i < nd->ndim; i++) wbr_buf_printf(b, "%s%d", i ? ", " : "", nd->perm[i]);
      wbr_buf_puts(b, ")");
      return;
    }
    if (nd->label) {
      wbr_buf_printf(b, "transpose -> %s", sh);
      return;
    }
    wbr_buf_puts(b, "permute (");
    for (int i = 0; i < nd->ndim; i++) wbr_buf_printf(b, "%s%d", i ? ", " : "", nd->perm[i]);
    wbr_buf_printf(b, ") -> %s", sh);
    return;
  case WBR_N_CAST:
    wbr_buf_printf(b, "cast %s", wbr_dtype_name(nd->dtype));
    return;
  case WBR_N_SLICE:
    if (nd->drop_axis)
      wbr_buf_printf(b, "%s axis %d index %lld -> %s", nd->label ? nd->label : "select", nd->axis,
                     (long long)nd->start, sh);
    else if (nd->label && strcmp(nd->label, "split") == 0)
      wbr_buf_printf(b, "split axis %d part %lld -> %s", nd->axis, (long long)nd->part, sh);
    else
      wbr_buf_printf(b, "slice axis %d %lld:%lld -> %s", nd->axis, (long long)nd->start,
                     (long long)(nd->start + nd->len), sh);
    return;
  case WBR_N_CONCAT:
    if (nd->over)
      wbr_buf_printf(b, "%s over %s (%zu parts) axis %d -> %s", nd->label ? nd->label : "concat", nd->over, nd->nin,
                     nd->axis, sh);
    else
      wbr_buf_printf(b, "%s axis %d -> %s", nd->label ? nd->label : "concat", nd->axis, sh);
    return;
  }
}

static void ops_text(wbr_buf *b, const wbr_node *nd, bool *first);

/* fuse by groups, at its final reshape nd: the inputs' own ops, then "fuse groups 2: reshape
 * [2, 16, 32] | [2, 8, 32] | [2, 8, 32], concat axis 1, reshape [64, 32]". */
static void fuse_text(wbr_buf *b, const wbr_node *nd, bool *first) {
  const wbr_node *c = nd->in[0];
  for (size_t i = 0; i < c->nin; i++) ops_text(b, c->in[i]->in[0], first);
  wbr_buf_puts(b, *first ? "" : ", ");
  layout_stmt(b, nd);
  for (size_t i = 0; i < c->nin; i++) {
    char sh[256];
    wbr_shape_str(sh, sizeof sh, c->in[i]->ndim, c->in[i]->shape);
    wbr_buf_printf(b, "%s%s", i ? " | " : ": reshape ", sh);
  }
  char sh[256];
  wbr_shape_str(sh, sizeof sh, nd->ndim, nd->shape);
  wbr_buf_printf(b, ", concat axis %d, reshape %s", c->axis, sh);
  *first = false;
}

static void ops_text(wbr_buf *b, const wbr_node *nd, bool *first) {
  if (nd->kind == WBR_N_SOURCE) return;
  if (nd->kind == WBR_N_RESHAPE && strcmp(label(nd), "fuse groups") == 0) {
    fuse_text(b, nd, first);
    return;
  }
  if (nd->kind == WBR_N_CONCAT) {
    /* the parts' own ops, if any, are shown once when they agree */
    lin *l = calloc(1, sizeof *l);
    if (l && linearize(nd, l)) {
      for (size_t i = 0; i < l->nops; i++) {
        if (l->ops[i]->kind == WBR_N_RESHAPE && l->ops[i]->label && strcmp(l->ops[i]->label, "stack") == 0) continue;
        wbr_buf_puts(b, *first ? "" : ", ");
        op_text(b, l->ops[i]);
        *first = false;
      }
      free(l);
      return;
    }
    free(l);
    for (size_t i = 0; i < nd->nin; i++) ops_text(b, nd->in[i], first);
  } else {
    ops_text(b, nd->in[0], first);
  }
  wbr_buf_puts(b, *first ? "" : ", ");
  op_text(b, nd);
  *first = false;
}

/* Tensor names come from checkpoints and the rules' name from a .wbc, which may be hostile:
 * control characters are shown as \xNN (the library's one escaping, as in messages) so they
 * cannot drive the terminal; in Markdown a '|' would also end the table cell. */
static void put_text(wbr_buf *b, const char *s, bool md) {
  if (!md) {
    wbr_buf_put_clean(b, s ? s : "", false);
    return;
  }
  wbr_buf c;
  wbr_buf_init(&c);
  wbr_buf_put_clean(&c, s ? s : "", false);
  for (size_t i = 0; i < c.len; i++) {
    if (c.p[i] == '|') wbr_buf_putc(b, '\\');
    wbr_buf_putc(b, c.p[i]);
  }
  if (c.oom) b->oom = true;
  wbr_buf_free(&c);
}

static char *cell_from(const wbr_plan *p, const wbr_value *v) {
  const wbr_node *srcs[64];
  size_t n = 0;
  sources_list(p, v->node, srcs, &n, 64);
  wbr_buf b;
  wbr_buf_init(&b);
  for (size_t i = 0; i < n; i++) {
    const wbr_tensor *t = &p->src->t[srcs[i]->src];
    char sh[256];
    wbr_shape_str(sh, sizeof sh, t->ndim, t->shape);
    wbr_buf_puts(&b, i ? " + " : "");
    put_text(&b, t->name, false);
    wbr_buf_printf(&b, " %s", sh);
  }
  return wbr_buf_take(&b);
}

static char *cell_ops(const wbr_value *v) {
  wbr_buf b;
  wbr_buf_init(&b);
  bool first = true;
  ops_text(&b, v->node, &first);
  if (first) wbr_buf_puts(&b, "rename");
  return wbr_buf_take(&b);
}

static char *cell_rules(const wbr_plan *p, const wbr_value *v) {
  wbr_buf b;
  wbr_buf_init(&b);
  for (size_t i = 0; i < v->ninsns; i++)
    wbr_buf_printf(&b, "%s%u", i ? "," : ":", wbr_program_pos(p->prog, v->insns[i]).line);
  char *lines = wbr_buf_take(&b);
  wbr_buf_init(&b);
  put_text(&b, v->ninsns ? rules_name(p) : "(unchanged)", false);
  wbr_buf_puts(&b, lines ? lines : "");
  free(lines);
  return wbr_buf_take(&b);
}

/* " text" or " `code`"; a code span holding backticks needs a longer fence (CommonMark). */
static void md_text(wbr_buf *b, const char *s, bool code) {
  bool tick = code && s && strchr(s, '`');
  wbr_buf_puts(b, !code ? " " : tick ? " `` " : " `");
  put_text(b, s, true);
  wbr_buf_puts(b, !code ? "" : tick ? " ``" : "`");
}

static void md_cell(wbr_buf *b, const char *s, bool code) {
  md_text(b, s, code);
  wbr_buf_puts(b, " |");
}

/* The parameters as bound, first thing a reader sees: "params: n_heads = 32 (--param), ...". */
static void params_text(wbr_buf *b, const wbr_plan *p, bool md) {
  if (!p->nparams) return;
  wbr_buf_puts(b, md ? "Parameters: " : "params: ");
  for (size_t i = 0; i < p->nparams; i++)
    wbr_buf_printf(b, md ? "%s`%s` = %lld (%s)" : "%s%s = %lld (%s)", i ? ", " : "", p->params[i].name,
                   (long long)p->params[i].value, p->params[i].from);
  wbr_buf_puts(b, md ? ".\n\n" : "\n");
}

/* "params": [{"name", "value", "from"}], only for a program that has parameters. */
static void params_json(wbr_buf *b, const wbr_plan *p) {
  if (!p->nparams) return;
  wbr_buf_puts(b, ",\n  \"params\": [");
  for (size_t i = 0; i < p->nparams; i++) {
    wbr_buf_puts(b, i ? ", {\"name\": " : "{\"name\": ");
    wbr_buf_json_str(b, p->params[i].name);
    wbr_buf_printf(b, ", \"value\": %lld, \"from\": ", (long long)p->params[i].value);
    wbr_buf_json_str(b, p->params[i].from);
    wbr_buf_putc(b, '}');
  }
  wbr_buf_putc(b, ']');
}

/* Targets --allow-missing left unproduced: JSON entries, or text/md lines "missing (allowed)". */
static void allowed_json(wbr_buf *b, const wbr_plan *p) {
  if (!p->nallowed) return;
  wbr_buf_puts(b, ",\n  \"missing_allowed\": [");
  for (size_t i = 0; i < p->nallowed; i++) {
    const wbr_tensor *t = p->allowed[i];
    wbr_buf_puts(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
    wbr_buf_json_str(b, t->name);
    wbr_buf_puts(b, ", \"shape\": ");
    shape_json(b, t->ndim, t->shape);
    wbr_buf_printf(b, ", \"dtype\": \"%s\"}", wbr_dtype_name(t->dtype));
  }
  wbr_buf_puts(b, "\n  ]");
}

static void allowed_text(wbr_buf *b, const wbr_plan *p, bool md) {
  if (md && p->nallowed) wbr_buf_puts(b, "\nMissing (allowed), left to the model's initialisation:\n");
  for (size_t i = 0; i < p->nallowed; i++) {
    const wbr_tensor *t = p->allowed[i];
    char sh[256];
    wbr_shape_str(sh, sizeof sh, t->ndim, t->shape);
    wbr_buf_puts(b, md ? "-" : "missing (allowed): ");
    if (md) md_text(b, t->name, true);
    else put_text(b, t->name, false);
    wbr_buf_printf(b, " %s %s\n", sh, wbr_dtype_name(t->dtype));
  }
}

/* ", 2 missing (allowed)" for the summary line, when there are any. */
static void allowed_count(wbr_buf *b, const wbr_plan *p) {
  if (p->nallowed) wbr_buf_printf(b, ", %zu missing (allowed)", p->nallowed);
}

static void render_json(const wbr_plan *p, wbr_buf *b) {
  wbr_buf_puts(b, "{\n  \"plan_version\": 1,\n  \"rules\": ");
  wbr_buf_json_str(b, rules_name(p));
  wbr_buf_printf(b, ",\n  \"rules_hash\": \"%016llx\",\n  \"problems\": %zu",
                 (unsigned long long)wbr_program_hash(p->prog), p->problems);
  params_json(b, p);
  wbr_buf_puts(b, ",\n  \"tensors\": [");
  for (size_t i = 0; i < p->nout; i++) {
    const wbr_value *v = &p->out[i];
    wbr_buf_puts(b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
    wbr_buf_json_str(b, v->name);
    wbr_buf_puts(b, ", \"shape\": ");
    shape_json(b, v->node->ndim, v->node->shape);
    wbr_buf_printf(b, ", \"dtype\": \"%s\", ", wbr_dtype_name(v->node->dtype));
    const wbr_tensor *q = quant_src(p, v);
    if (q) {
      /* Opaque quantized blocks: shape and dtype above are its bytes. */
      wbr_buf_printf(b, "\"quantized\": \"%s\", \"quant_shape\": ", q->opaque.type);
      shape_json(b, q->opaque.ndim, q->opaque.shape);
      wbr_buf_puts(b, ", ");
    }
    wbr_buf_puts(b, "\"from\": [");
    lin *l = calloc(1, sizeof *l);
    bool linear = l && linearize(v->node, l);
    const wbr_node *srcs[4096];
    size_t n = 0;
    sources_list(p, v->node, srcs, &n, 4096);
    for (size_t k = 0; k < n; k++) {
      if (k) wbr_buf_puts(b, ", ");
      wbr_buf_json_str(b, p->src->t[srcs[k]->src].name);
    }
    wbr_buf_puts(b, "], ");
    if (linear) {
      wbr_buf_puts(b, "\"ops\": [");
      for (size_t k = 0; k < l->nops; k++) {
        if (k) wbr_buf_puts(b, ", ");
        op_json(b, l->ops[k]);
      }
      wbr_buf_puts(b, "]");
    } else {
      wbr_buf_puts(b, "\"expr\": ");
      expr_json(b, p, v->node);
    }
    free(l);
    wbr_buf_puts(b, ", \"rules\": [");
    for (size_t k = 0; k < v->ninsns; k++) {
      wbr_pos pos = wbr_program_pos(p->prog, v->insns[k]);
      wbr_buf_printf(b, "%s{\"line\": %u, \"col\": %u}", k ? ", " : "", pos.line, pos.col);
    }
    wbr_buf_puts(b, "]}");
  }
  wbr_buf_puts(b, p->nout ? "\n  ],\n  \"dropped\": [" : "],\n  \"dropped\": [");
  for (size_t i = 0; i < p->ndropped; i++) {
    if (i) wbr_buf_puts(b, ", ");
    wbr_buf_json_str(b, p->src->t[p->dropped[i]].name);
  }
  wbr_buf_putc(b, ']');
  allowed_json(b, p);
  wbr_buf_puts(b, "\n}\n");
}

/* One table cell as printf's "%-*s  " writes it (NULL as ""): the text, spaces up to width
 * bytes, two spaces; 10,000 rows of printf were a tenth of `wbr plan`. */
static void put_padded(wbr_buf *b, const char *s, int width) {
  static const char spaces[] = "                                                                ";
  size_t n = s ? strlen(s) : 0;
  wbr_buf_put(b, s ? s : "", n);
  size_t pad = width > 0 && (size_t)width > n ? (size_t)width - n : 0;
  for (; pad > 64; pad -= 64) wbr_buf_put(b, spaces, 64);
  wbr_buf_put(b, spaces, pad);
  wbr_buf_put(b, spaces, 2);
}

char *wbr_plan_render(const wbr_plan *p, wbr_plan_format format) {
  if (!p) return NULL;
  wbr_buf b;
  wbr_buf_init(&b);
  if (format == WBR_PLAN_JSON) {
    render_json(p, &b);
    return wbr_buf_take(&b);
  }
  size_t n = p->nout;
  char **cells = calloc(n * 5 + 1, sizeof *cells);
  if (!cells) return NULL;
  size_t w[5] = {6, 5, 5, 4, 3};
  for (size_t i = 0; i < n; i++) {
    const wbr_value *v = &p->out[i];
    char sh[256];
    const wbr_tensor *q = quant_src(p, v);
    if (q) wbr_shape_str(sh, sizeof sh, q->opaque.ndim, q->opaque.shape);
    else wbr_shape_str(sh, sizeof sh, v->node->ndim, v->node->shape);
    cells[4 * i] = wbr_strdup(sh);
    cells[4 * i + 1] = cell_from(p, v);
    cells[4 * i + 2] = cell_ops(v);
    cells[4 * i + 3] = cell_rules(p, v);
    wbr_buf nb;
    wbr_buf_init(&nb);
    put_text(&nb, v->name, false);
    cells[4 * n + i] = wbr_buf_take(&nb);
    size_t l = cells[4 * n + i] ? strlen(cells[4 * n + i]) : 0;
    if (l > w[0]) w[0] = l;
    for (int k = 0; k < 4; k++) {
      size_t lk = cells[4 * i + k] ? strlen(cells[4 * i + k]) : 0;
      if (lk > w[k + 1]) w[k + 1] = lk;
    }
  }
  if (format == WBR_PLAN_MD) {
    wbr_buf_puts(&b, "**Plan** of");
    md_text(&b, rules_name(p), true);
    wbr_buf_printf(&b, ": %zu tensors, %zu dropped", n, p->ndropped);
    allowed_count(&b, p);
    wbr_buf_printf(&b, ", %zu problem%s.\n\n", p->problems, p->problems == 1 ? "" : "s");
    params_text(&b, p, true);
    wbr_buf_puts(&b, "| target | shape | dtype | from | ops | rule |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
      wbr_buf_puts(&b, "|");
      md_cell(&b, p->out[i].name, true);
      md_cell(&b, cells[4 * i], false);
      md_cell(&b, dtype_cell(p, &p->out[i]), false);
      md_cell(&b, cells[4 * i + 1], true);
      md_cell(&b, cells[4 * i + 2], false);
      md_cell(&b, cells[4 * i + 3], false);
      wbr_buf_putc(&b, '\n');
    }
    if (p->ndropped) {
      wbr_buf_puts(&b, "\nDropped:");
      for (size_t i = 0; i < p->ndropped; i++) {
        wbr_buf_puts(&b, i ? "," : "");
        md_text(&b, p->src->t[p->dropped[i]].name, true);
      }
      wbr_buf_putc(&b, '\n');
    }
    allowed_text(&b, p, true);
  } else {
    int W0 = (int)(w[0] > 60 ? 60 : w[0]), W1 = (int)w[1], W3 = (int)(w[2] > 60 ? 60 : w[2]), W4 = (int)(w[3] > 60 ? 60 : w[3]);
    params_text(&b, p, false);
    wbr_buf_printf(&b, "%-*s  %-*s  %-7s  %-*s  %-*s  %s\n", W0, "target", W1, "shape", "dtype", W3, "from", W4, "ops", "rule");
    for (size_t i = 0; i < n; i++) { /* the header's format, without printf per row */
      put_padded(&b, cells[4 * n + i], W0);
      put_padded(&b, cells[4 * i], W1);
      put_padded(&b, dtype_cell(p, &p->out[i]), 7);
      put_padded(&b, cells[4 * i + 1], W3);
      put_padded(&b, cells[4 * i + 2], W4);
      wbr_buf_puts(&b, cells[4 * i + 3] ? cells[4 * i + 3] : "");
      wbr_buf_putc(&b, '\n');
    }
    for (size_t i = 0; i < p->ndropped; i++) {
      wbr_buf_puts(&b, "dropped: ");
      put_text(&b, p->src->t[p->dropped[i]].name, false);
      wbr_buf_putc(&b, '\n');
    }
    allowed_text(&b, p, false);
    wbr_buf_printf(&b, "%zu tensors, %zu dropped", n, p->ndropped);
    allowed_count(&b, p);
    wbr_buf_printf(&b, ", %zu problem%s\n", p->problems, p->problems == 1 ? "" : "s");
  }
  for (size_t i = 0; i < n * 5; i++) free(cells[i]);
  free(cells);
  return wbr_buf_take(&b);
}
