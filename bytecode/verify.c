/* verify.c — the verifier that both the emitter (as a self-check) and the .wbc loader (as the
 * security boundary) run over a program. Patterns and templates are checked by compiling them
 * with the runtime's matcher (pattern.c), so the verifier accepts exactly what the VM runs; the
 * compiled patterns stay on the program and every run of the VM uses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "pattern.h"
#include "program.h"

/* ---- verification ---- */

const char *wbr_check_str(const char *s, size_t len, char *err, size_t errn) {
  if (len > WBR_MAX_STR) {
    snprintf(err, errn, "string of %zu bytes exceeds the limit of %u", len, WBR_MAX_STR);
    return err;
  }
  const char *nul = memchr(s, 0, len);
  if (nul) {
    snprintf(err, errn, "NUL byte at offset %zu of a string", (size_t)(nul - s));
    return err;
  }
  size_t bad;
  if (!wbr_utf8_valid(s, len, &bad)) {
    snprintf(err, errn, "invalid UTF-8 at offset %zu of a string", bad);
    return err;
  }
  return NULL;
}

/* Compile pattern i with the runtime's own matcher (namepat.c): what passes here is exactly what
 * the VM can run. */
static int pattern_compile(const wbr_program *p, uint32_t i, wbr_namepat **out, char *err,
                           size_t errn) {
  const wbr_pattern *pt = &p->pats[i];
  char letters[8];
  wbr_pattern_letters(pt->flags, letters);
  wbr_namepat_error pe;
  const char *t = p->strs[pt->text];
  int rc = wbr_namepat_new(out, pt->kind == WBR_PK_REGEX ? WBR_PK_REGEX : WBR_PK_GLOB,
                           t, letters, &pe);
  if (rc == WBR_ENOMEM)
    snprintf(err, errn, "out of memory");
  else if (rc)
    snprintf(err, errn, "%s %c%.60s%c at offset %zu: %s",
             pt->kind == WBR_PK_REGEX ? "regex" : "glob", pt->kind == WBR_PK_REGEX ? '/' : '"', t,
             pt->kind == WBR_PK_REGEX ? '/' : '"', pe.offset, pe.msg);
  return rc;
}

/* A pattern's kind, text index and flags (wbr_check_pattern without compiling it). */
static const char *check_pattern_fields(const wbr_program *p, uint32_t i, char *err, size_t errn) {
  const wbr_pattern *pt = &p->pats[i];
  if (pt->kind != WBR_PK_GLOB && pt->kind != WBR_PK_REGEX) {
    snprintf(err, errn, "unknown pattern kind %u", pt->kind);
    return err;
  }
  if (pt->text >= p->nstrs) {
    snprintf(err, errn, "string index %u out of range (%u strings)", pt->text, p->nstrs);
    return err;
  }
  if (pt->kind == WBR_PK_GLOB && pt->flags) {
    snprintf(err, errn, "a glob has flags 0x%02x (flags are for regexes only)", pt->flags);
    return err;
  }
  if (pt->flags & ~WBR_RX_ALL) {
    snprintf(err, errn, "unknown regex flag bits 0x%02x", pt->flags & ~WBR_RX_ALL);
    return err;
  }
  return NULL;
}

const char *wbr_check_pattern(const wbr_program *p, uint32_t i, char *err, size_t errn) {
  if (check_pattern_fields(p, i, err, errn)) return err;
  wbr_namepat *np;
  if (pattern_compile(p, i, &np, err, errn)) return err;
  wbr_namepat_free(np);
  return NULL;
}

/* Template text t must compile against the statement's (first) input pattern np. */
static const char *check_template(const wbr_namepat *np, const char *t, bool want_index,
                                  char *err, size_t errn) {
  wbr_template *tp;
  wbr_namepat_error pe;
  int rc = wbr_template_new(&tp, np, t, want_index, &pe);
  if (rc == WBR_ENOMEM) {
    snprintf(err, errn, "out of memory");
    return err;
  }
  if (rc) {
    snprintf(err, errn, "template \"%.60s\" at offset %zu: %s", t, pe.offset, pe.msg);
    return err;
  }
  bool has_index = wbr_template_uses_index(tp);
  wbr_template_free(tp);
  if (want_index && !has_index) {
    snprintf(err, errn, "unstack template \"%.60s\" lacks {#} (the index)", t);
    return err;
  }
  return NULL;
}

typedef struct vstate {
  const wbr_program *p;
  wbr_namepat **np; /* every pattern, compiled */
  char err[512];
  uint32_t nparam_insns; /* param instructions seen so far */
} vstate;

/* Values of an int list that refer to expressions (bytecode/params.h): to a node of the pool,
 * and never where the value is structural (axes). */
static const char *check_xrefs(const wbr_program *p, wbr_opk k, const int64_t *iv, uint32_t n,
                               char *err, size_t errn) {
  for (uint32_t i = 0; i < n; i++) {
    if (!wbr_program_is_xref(p, iv[i])) continue;
    if (k == WBR_OPK_AXES) {
      snprintf(err, errn, "value %u refers to an expression: axes are literal", i);
      return err;
    }
    if (wbr_xref_node(iv[i]) >= p->nxnodes) {
      snprintf(err, errn, "value %u refers to expression node %u (the pool has %u)", i,
               wbr_xref_node(iv[i]), p->nxnodes);
      return err;
    }
  }
  return NULL;
}

/* fuse, unfuse: [0, 1] (blocked) or [1, G >= 1] (groups), then no size or one per output
 * (unfuse's; each >= 1, or one -1 for the rest). Values that are expressions are the run's to check. */
static const char *check_layout(const wbr_program *p, const int64_t *iv, uint32_t n, uint32_t nouts, char *err,
                                size_t errn) {
  if (n < 2 || (iv[0] != 0 && iv[0] != 1) || (iv[1] < 1 && !(iv[0] == 1 && wbr_program_is_xref(p, iv[1]))) ||
      (iv[0] == 0 && iv[1] != 1)) {
    snprintf(err, errn, "a layout is 0, 1 (blocked) or 1, G >= 1 (groups), then the sizes");
    return err;
  }
  if (n != 2 && n - 2 != nouts) {
    snprintf(err, errn, "%u sizes for %u outputs", n - 2, nouts);
    return err;
  }
  uint32_t infer = 0;
  for (uint32_t i = 2; i < n; i++) {
    if (wbr_program_is_xref(p, iv[i])) continue;
    if (iv[i] == 0 || iv[i] < -1 || (iv[i] == -1 && infer++)) {
      snprintf(err, errn, "size %lld at position %u: a size is >= 1, or one -1 for the rest", (long long)iv[i], i - 2);
      return err;
    }
  }
  return NULL;
}

static const char *check_int_list(const vstate *v, wbr_opk k, uint32_t idx, uint32_t nouts,
                                  char *err, size_t errn) {
  const wbr_program *p = v->p;
  if (idx >= p->nints) {
    snprintf(err, errn, "int list index %u out of range (%u int lists)", idx, p->nints);
    return err;
  }
  uint32_t n;
  const int64_t *iv = wbr_program_ints(p, idx, &n);
  if (check_xrefs(p, k, iv, n, err, errn)) return err;
  switch (k) {
  case WBR_OPK_SHAPE:
  case WBR_OPK_EXPSHAPE:
  case WBR_OPK_SIZES: {
    if (k != WBR_OPK_SIZES && n > WBR_MAX_DIMS) {
      snprintf(err, errn, "shape has %u dimensions (at most %d)", n, WBR_MAX_DIMS);
      return err;
    }
    if (k == WBR_OPK_SIZES && n != nouts) {
      snprintf(err, errn, "%u sizes for %u outputs", n, nouts);
      return err;
    }
    uint32_t infer = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (wbr_program_is_xref(p, iv[i])) continue; /* bound at run time, checked there */
      if (iv[i] < -1) {
        snprintf(err, errn, "value %lld at position %u is negative", (long long)iv[i], i);
        return err;
      }
      infer += iv[i] == -1;
    }
    if (k != WBR_OPK_EXPSHAPE && infer > 1) {
      snprintf(err, errn, "%u values are -1 (at most one can be inferred)", infer);
      return err;
    }
    return NULL;
  }
  case WBR_OPK_AXES: {
    if (n < 1 || n > WBR_MAX_DIMS) {
      snprintf(err, errn, "%u axes (1 to %d)", n, WBR_MAX_DIMS);
      return err;
    }
    bool seen[WBR_MAX_DIMS] = {false};
    for (uint32_t i = 0; i < n; i++) {
      if (iv[i] < 0 || iv[i] >= (int64_t)n || seen[iv[i]]) {
        snprintf(err, errn, "axes are not a permutation of 0..%u (value %lld at position %u)",
                 n - 1, (long long)iv[i], i);
        return err;
      }
      seen[iv[i]] = true;
    }
    return NULL;
  }
  case WBR_OPK_PARTS:
    if (n != 1) {
      snprintf(err, errn, "a part count needs 1 value, the list has %u", n);
      return err;
    }
    if (!wbr_program_is_xref(p, iv[0]) && iv[0] < 1) {
      snprintf(err, errn, "part count %lld is below 1", (long long)iv[0]);
      return err;
    }
    return NULL;
  case WBR_OPK_INDEX:
  case WBR_OPK_RANGE:
    if (n != (k == WBR_OPK_INDEX ? 1u : 2u)) {
      snprintf(err, errn, "%s needs %u value%s, the list has %u",
               k == WBR_OPK_INDEX ? "an index" : "a range", k == WBR_OPK_INDEX ? 1u : 2u,
               k == WBR_OPK_INDEX ? "" : "s", n);
      return err;
    }
    return NULL;
  case WBR_OPK_COUNTL:
    if (n != 1 || (!wbr_program_is_xref(p, iv[0]) && iv[0] < 0)) {
      snprintf(err, errn, "a count is one value >= 0 (the list has %u)", n);
      return err;
    }
    return NULL;
  case WBR_OPK_HEADS:
    if (n != 1) {
      snprintf(err, errn, "a head count is 1 value, the list has %u", n);
      return err;
    }
    if (iv[0] < 1 && !wbr_program_is_xref(p, iv[0])) {
      snprintf(err, errn, "head count %lld (at least 1)", (long long)iv[0]);
      return err;
    }
    return NULL;
  case WBR_OPK_LAYOUT: return check_layout(p, iv, n, nouts, err, errn);
  case WBR_OPK_ROPEDIR:
  case WBR_OPK_NONE:
  case WBR_OPK_PAT:
  case WBR_OPK_PATS:
  case WBR_OPK_TPL:
  case WBR_OPK_TPLI:
  case WBR_OPK_TPLS:
  case WBR_OPK_CAPTURE:
  case WBR_OPK_COUNT:
  case WBR_OPK_AXIS:
  case WBR_OPK_DTYPE:
  case WBR_OPK_PARAM:
  case WBR_OPK_NKINDS:
    break;
  }
  return NULL;
}

/* concat, stack: the VM matches only the first pattern of the list; the text of each later one
 * is a template of the first's captures (whatever its kind and flags) naming one input, so it
 * must compile as exactly that. */
static const char *check_later_inputs(const vstate *vs, const uint32_t *r, uint32_t n, char *err,
                                      size_t errn) {
  const wbr_program *p = vs->p;
  for (uint32_t i = 1; i < n; i++) {
    char sub[300];
    if (check_template(vs->np[r[0]], p->strs[p->pats[r[i]].text], false, sub, sizeof sub)) {
      snprintf(err, errn, "input %u: %.300s", i + 1, sub);
      return err;
    }
  }
  return NULL;
}

/* stack_over, concat_over: string v names a capture of the input pattern ci, the one whose
 * values number the parts. */
static const char *check_capture(const wbr_program *p, uint32_t v, const wbr_namepat *ci, char *err,
                                 size_t errn) {
  if (v >= p->nstrs) {
    snprintf(err, errn, "string index %u out of range (%u strings)", v, p->nstrs);
    return err;
  }
  if (!ci || wbr_namepat_group_of(ci, p->strs[v], p->str_len[v]) == 0) {
    snprintf(err, errn, "the pattern has no capture named '%.60s'", p->strs[v]);
    return err;
  }
  return NULL;
}

/* WBR_INSN_TRANSPOSE only on the opcodes that cut or join parts. */
static bool transpose_allowed(unsigned op) {
  return op == WBR_OP_STACK_OVER || op == WBR_OP_CONCAT_OVER || op == WBR_OP_SPLIT_PARTS || op == WBR_OP_UNSTACK;
}

/* Check one operand value v of kind k; ci describes the input pattern for templates. */
static const char *check_operand(vstate *vs, wbr_opk k, uint32_t v, const wbr_namepat *ci,
                                 uint32_t nouts, char *err, size_t errn) {
  const wbr_program *p = vs->p;
  switch (k) {
  case WBR_OPK_NONE:
    if (v != 0) {
      snprintf(err, errn, "unused operand is %u (must be 0)", v);
      return err;
    }
    return NULL;
  case WBR_OPK_PAT:
    if (v >= p->npats) {
      snprintf(err, errn, "pattern index %u out of range (%u patterns)", v, p->npats);
      return err;
    }
    return NULL;
  case WBR_OPK_PATS: {
    if (v >= p->nrefs) {
      snprintf(err, errn, "ref list index %u out of range (%u ref lists)", v, p->nrefs);
      return err;
    }
    uint32_t n;
    const uint32_t *r = wbr_program_refs(p, v, &n);
    if (n < 2) {
      snprintf(err, errn, "the input pattern list has %u entr%s (at least 2 are needed)", n,
               n == 1 ? "y" : "ies");
      return err;
    }
    for (uint32_t i = 0; i < n; i++)
      if (r[i] >= p->npats) {
        snprintf(err, errn, "pattern index %u (entry %u of ref list %u) out of range (%u patterns)",
                 r[i], i, v, p->npats);
        return err;
      }
    return check_later_inputs(vs, r, n, err, errn);
  }
  case WBR_OPK_TPL:
  case WBR_OPK_TPLI:
    if (v >= p->nstrs) {
      snprintf(err, errn, "string index %u out of range (%u strings)", v, p->nstrs);
      return err;
    }
    return check_template(ci, p->strs[v], k == WBR_OPK_TPLI, err, errn);
  case WBR_OPK_TPLS: {
    if (v >= p->nrefs) {
      snprintf(err, errn, "ref list index %u out of range (%u ref lists)", v, p->nrefs);
      return err;
    }
    uint32_t n;
    const uint32_t *r = wbr_program_refs(p, v, &n);
    if (n < 1) {
      snprintf(err, errn, "output template list is empty");
      return err;
    }
    for (uint32_t i = 0; i < n; i++) {
      if (r[i] >= p->nstrs) {
        snprintf(err, errn, "string index %u (entry %u of ref list %u) out of range (%u strings)",
                 r[i], i, v, p->nstrs);
        return err;
      }
      if (check_template(ci, p->strs[r[i]], false, err, errn)) return err;
    }
    return NULL;
  }
  case WBR_OPK_SIZES:
    if (v == WBR_NONE) return NULL;
    return check_int_list(vs, k, v, nouts, err, errn);
  case WBR_OPK_CAPTURE: return check_capture(p, v, ci, err, errn);
  case WBR_OPK_PARTS:
  case WBR_OPK_SHAPE:
  case WBR_OPK_AXES:
  case WBR_OPK_INDEX:
  case WBR_OPK_RANGE:
  case WBR_OPK_EXPSHAPE:
  case WBR_OPK_COUNTL:
  case WBR_OPK_HEADS:
  case WBR_OPK_LAYOUT:
    return check_int_list(vs, k, v, nouts, err, errn);
  case WBR_OPK_ROPEDIR:
    if (v != 0 && v != 1) {
      snprintf(err, errn, "rope direction %d (0 or 1)", (int)(int32_t)v);
      return err;
    }
    return NULL;
  case WBR_OPK_COUNT:
    return NULL;
  case WBR_OPK_PARAM:
    /* Declarations follow the table: the k-th param instruction declares entry k. */
    if (v != vs->nparam_insns || v >= p->nparams) {
      snprintf(err, errn, "declares parameter %u, expected %u (the table has %u)", v,
               vs->nparam_insns, p->nparams);
      return err;
    }
    vs->nparam_insns++;
    return NULL;
  case WBR_OPK_AXIS: {
    int32_t x = (int32_t)v;
    if (x < -WBR_MAX_DIMS || x >= WBR_MAX_DIMS) {
      snprintf(err, errn, "axis %d out of range (%d to %d)", x, -WBR_MAX_DIMS, WBR_MAX_DIMS - 1);
      return err;
    }
    return NULL;
  }
  case WBR_OPK_DTYPE: {
    int32_t x = (int32_t)v;
    if (x < 0 || x >= WBR_DTYPE_COUNT) {
      snprintf(err, errn, "dtype %d out of range (0 to %d)", x, WBR_DTYPE_COUNT - 1);
      return err;
    }
    return NULL;
  }
  case WBR_OPK_NKINDS:
    break;
  }
  snprintf(err, errn, "bad operand kind");
  return err;
}

static const char *check_insn(vstate *vs, uint32_t addr, char *err, size_t errn) {
  const wbr_program *p = vs->p;
  const wbr_insn *in = &p->code[addr];
  const wbr_opinfo *oi = wbr_opinfo_get(in->op);
  if (!oi) {
    snprintf(err, errn, "unknown opcode %u", in->op);
    return err;
  }
  if (in->flags & ~WBR_INSN_FLAGS_ALL) {
    snprintf(err, errn, "unknown flag bits 0x%02x", in->flags & ~WBR_INSN_FLAGS_ALL);
    return err;
  }
  if ((in->flags & WBR_INSN_TRANSPOSE) && !transpose_allowed(in->op)) {
    snprintf(err, errn, "the transpose flag (0x02) is set on an opcode that takes no parts");
    return err;
  }
  wbr_pos ps = p->pos[addr];
  if (ps.line == 0 || ps.col == 0) {
    snprintf(err, errn, "source position %u:%u (lines and columns start at 1)", ps.line, ps.col);
    return err;
  }
  /* Operand a first: the templates in b and the sizes in c are checked against it. */
  static const char *const slot[] = {"x", "a", "b", "c"};
  wbr_opk kinds[4] = {oi->x, oi->a, oi->b, oi->c};
  uint32_t vals[4] = {(uint32_t)(int32_t)in->x, in->a, in->b, in->c};
  char sub[400];
  const wbr_namepat *ci = NULL;
  uint32_t nouts = 0;
  for (int s = 0; s < 4; s++) {
    if (s == 0 && kinds[0] == WBR_OPK_NONE && in->x != 0) {
      snprintf(err, errn, "unused operand x is %d (must be 0)", in->x);
      return err;
    }
    if (check_operand(vs, kinds[s], vals[s], ci, nouts, sub, sizeof sub)) {
      snprintf(err, errn, "operand %s: %s", slot[s], sub);
      return err;
    }
    /* The first pattern binds the captures templates may use (hint's second one binds none). */
    if (!ci && kinds[s] == WBR_OPK_PAT) ci = vs->np[vals[s]];
    if (!ci && kinds[s] == WBR_OPK_PATS) {
      uint32_t n;
      ci = vs->np[wbr_program_refs(p, vals[s], &n)[0]];
    }
    if (kinds[s] == WBR_OPK_TPLS) wbr_program_refs(p, vals[s], &nouts);
  }
  return NULL;
}

/* ---- which instruction uses a pool entry (to place a pool failure) ---- */

typedef enum { POOL_STR, POOL_PAT, POOL_INTS, POOL_REFS } pool_kind;

/* The values of ref list i, or NULL (with *n = 0) when its index or extent is bad. */
static const uint32_t *refs_or_null(const wbr_program *p, uint32_t i, uint32_t *n) {
  *n = 0;
  if (i >= p->nrefs || p->refs[i].off > p->nref_vals || p->nref_vals - p->refs[i].off < p->refs[i].n)
    return NULL;
  *n = p->refs[i].n;
  return p->ref_vals + p->refs[i].off;
}

/* Whether pattern index v is entry idx of pool pk, or its text is. */
static bool pattern_uses(const wbr_program *p, uint32_t v, pool_kind pk, uint32_t idx) {
  if (v >= p->npats) return false;
  return (pk == POOL_PAT && v == idx) || (pk == POOL_STR && p->pats[v].text == idx);
}

/* Whether operand value v of kind k uses entry idx of pool pk, directly or through a ref list or
 * a pattern's text. Nothing is verified yet: an index out of range uses nothing. */
static bool operand_uses(const wbr_program *p, wbr_opk k, uint32_t v, pool_kind pk, uint32_t idx) {
  uint32_t n;
  const uint32_t *r;
  switch (k) {
  case WBR_OPK_PAT: return pattern_uses(p, v, pk, idx);
  case WBR_OPK_PATS:
  case WBR_OPK_TPLS:
    if (pk == POOL_REFS && v == idx) return true;
    r = refs_or_null(p, v, &n);
    for (uint32_t i = 0; i < n; i++)
      if (k == WBR_OPK_PATS ? pattern_uses(p, r[i], pk, idx) : pk == POOL_STR && r[i] == idx) return true;
    return false;
  case WBR_OPK_TPL:
  case WBR_OPK_TPLI:
  case WBR_OPK_CAPTURE: return pk == POOL_STR && v == idx;
  case WBR_OPK_PARTS:
  case WBR_OPK_SIZES:
  case WBR_OPK_SHAPE:
  case WBR_OPK_AXES:
  case WBR_OPK_INDEX:
  case WBR_OPK_RANGE:
  case WBR_OPK_COUNTL:
  case WBR_OPK_EXPSHAPE:
  case WBR_OPK_HEADS:
  case WBR_OPK_LAYOUT: return pk == POOL_INTS && v == idx;
  case WBR_OPK_ROPEDIR:
  case WBR_OPK_PARAM:
  case WBR_OPK_NONE:
  case WBR_OPK_COUNT:
  case WBR_OPK_AXIS:
  case WBR_OPK_DTYPE:
  case WBR_OPK_NKINDS: break;
  }
  return false;
}

/* The address of the first instruction that uses entry idx of pool pk, or -1. */
static int64_t first_user(const wbr_program *p, pool_kind pk, uint32_t idx) {
  for (uint32_t i = 0; i < p->ncode; i++) {
    const wbr_insn *in = &p->code[i];
    const wbr_opinfo *oi = wbr_opinfo_get(in->op);
    if (oi && (operand_uses(p, oi->a, in->a, pk, idx) || operand_uses(p, oi->b, in->b, pk, idx) ||
               operand_uses(p, oi->c, in->c, pk, idx)))
      return i;
  }
  return -1;
}

/* Report a bad pool entry ("pattern 2: ...") at the first instruction that uses it, with that
 * instruction's source position, so that the emitter can point at its statement. */
static int pool_fail(const wbr_program *p, wbr_ctx *ctx, const char *file, size_t code_base,
                     int64_t *bad_addr, pool_kind pk, uint32_t idx, const char *what,
                     const char *err) {
  static const char *const help =
      "the file is corrupt or was not written by wbr: recompile it with `wbr compile`";
  int64_t at = first_user(p, pk, idx);
  if (at < 0) return wbr_fail(ctx, WBR_EBYTECODE, file, help, "%s %u: %s", what, idx, err);
  if (bad_addr) *bad_addr = at;
  char where[96] = "";
  if (code_base) snprintf(where, sizeof where, " at byte %zu", code_base + (size_t)at * WBR_INSN_SIZE);
  const wbr_opinfo *oi = wbr_opinfo_get(p->code[at].op);
  return wbr_fail(ctx, WBR_EBYTECODE, file, help, "instruction %u%s (%s), line %u:%u: %s %u: %s",
                  (unsigned)at, where, oi->name, p->pos[at].line, p->pos[at].col, what, idx, err);
}

int wbr_program_verify(wbr_program *p, wbr_ctx *ctx, const char *file, size_t code_base,
                       int64_t *bad_addr) {
  static const char *const help =
      "the file is corrupt or was not written by wbr: recompile it with `wbr compile`";
  vstate vs = {.p = p};
  int rc = 0;
  if (bad_addr) *bad_addr = -1;
  char err[512];
  if (wbr_check_str(p->source, strlen(p->source), err, sizeof err))
    return wbr_fail(ctx, WBR_EBYTECODE, file, help, "source name: %s", err);
  for (uint32_t i = 0; i < p->nstrs; i++)
    if (wbr_check_str(p->strs[i], p->str_len[i], err, sizeof err))
      return pool_fail(p, ctx, file, code_base, bad_addr, POOL_STR, i, "string", err);
  vs.np = calloc(p->npats ? p->npats : 1, sizeof *vs.np);
  if (!vs.np) return wbr_oom(ctx);
  for (uint32_t i = 0; i < p->npats && rc == 0; i++) {
    if (check_pattern_fields(p, i, err, sizeof err) ||
        pattern_compile(p, i, &vs.np[i], err, sizeof err))
      rc = pool_fail(p, ctx, file, code_base, bad_addr, POOL_PAT, i, "pattern", err);
  }
  for (uint32_t i = 0; i < p->nints && rc == 0; i++)
    if (p->ints[i].n > WBR_MAX_LIST || p->ints[i].off > p->nint_vals ||
        p->nint_vals - p->ints[i].off < p->ints[i].n)
      rc = pool_fail(p, ctx, file, code_base, bad_addr, POOL_INTS, i, "int list", "bad extent");
  for (uint32_t i = 0; i < p->nrefs && rc == 0; i++)
    if (p->refs[i].n > WBR_MAX_LIST || p->refs[i].off > p->nref_vals ||
        p->nref_vals - p->refs[i].off < p->refs[i].n)
      rc = pool_fail(p, ctx, file, code_base, bad_addr, POOL_REFS, i, "ref list", "bad extent");
  if (rc == 0 && wbr_params_verify(p, err, sizeof err))
    rc = wbr_fail(ctx, WBR_EBYTECODE, file, help, "parameters: %s", err);
  for (uint32_t i = 0; i < p->ncode && rc == 0; i++) {
    if (check_insn(&vs, i, err, sizeof err)) {
      const wbr_opinfo *oi = wbr_opinfo_get(p->code[i].op);
      if (bad_addr) *bad_addr = i;
      char where[96];
      if (code_base)
        snprintf(where, sizeof where, " at byte %zu", code_base + (size_t)i * WBR_INSN_SIZE);
      else
        where[0] = 0;
      rc = wbr_fail(ctx, WBR_EBYTECODE, file, help, "instruction %u%s%s%s%s: %s", i, where,
                    oi ? " (" : "", oi ? oi->name : "", oi ? ")" : "", err);
    }
  }
  if (rc == 0 && vs.nparam_insns != p->nparams)
    rc = wbr_fail(ctx, WBR_EBYTECODE, file, help,
                  "the parameter table has %u entries, but %u param instructions declare them",
                  p->nparams, vs.nparam_insns);
  wbr_program_drop_patterns(p);
  if (rc == 0) {
    p->np = vs.np;
    p->nnp = p->npats;
    return 0;
  }
  for (uint32_t i = 0; i < p->npats; i++) wbr_namepat_free(vs.np[i]);
  free(vs.np);
  return rc;
}
