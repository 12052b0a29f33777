/* verify.c — the verifier that both the emitter (as a self-check) and the .wbc loader (as the
 * security boundary) run over a program. Patterns and templates are checked by compiling them
 * with the runtime's matcher (pattern.c), so the verifier accepts exactly what the VM runs; the
 * compiled patterns stay on the program and every run of the VM uses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "program.h"

/* ---- verification ---- */

size_t wbr_utf8_check(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    unsigned c = u[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    bool ok = n && i + n <= len;
    for (size_t k = 1; ok && k < n; k++) ok = (u[i + k] & 0xc0) == 0x80;
    if (ok && n == 3) { /* no overlongs, no surrogates */
      if (c == 0xe0 && u[i + 1] < 0xa0) ok = false;
      if (c == 0xed && u[i + 1] >= 0xa0) ok = false;
    }
    if (ok && n == 4) { /* no overlongs, nothing above U+10FFFF */
      if (c == 0xf0 && u[i + 1] < 0x90) ok = false;
      if (c == 0xf4 && u[i + 1] >= 0x90) ok = false;
    }
    if (!ok) return i;
    i += n;
  }
  return len;
}

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
  size_t bad = wbr_utf8_check(s, len);
  if (bad < len) {
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
} vstate;

static const char *check_int_list(const vstate *v, wbr_opk k, uint32_t idx, uint32_t nouts,
                                  char *err, size_t errn) {
  const wbr_program *p = v->p;
  if (idx >= p->nints) {
    snprintf(err, errn, "int list index %u out of range (%u int lists)", idx, p->nints);
    return err;
  }
  uint32_t n;
  const int64_t *iv = wbr_program_ints(p, idx, &n);
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
  case WBR_OPK_INDEX:
  case WBR_OPK_RANGE:
    if (n != (k == WBR_OPK_INDEX ? 1u : 2u)) {
      snprintf(err, errn, "%s needs %u value%s, the list has %u",
               k == WBR_OPK_INDEX ? "an index" : "a range", k == WBR_OPK_INDEX ? 1u : 2u,
               k == WBR_OPK_INDEX ? "" : "s", n);
      return err;
    }
    return NULL;
  case WBR_OPK_NONE:
  case WBR_OPK_PAT:
  case WBR_OPK_PATS:
  case WBR_OPK_TPL:
  case WBR_OPK_TPLI:
  case WBR_OPK_TPLS:
  case WBR_OPK_COUNT:
  case WBR_OPK_AXIS:
  case WBR_OPK_DTYPE:
  case WBR_OPK_NKINDS:
    break;
  }
  return NULL;
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
    return NULL;
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
  case WBR_OPK_SHAPE:
  case WBR_OPK_AXES:
  case WBR_OPK_INDEX:
  case WBR_OPK_RANGE:
  case WBR_OPK_EXPSHAPE:
    return check_int_list(vs, k, v, nouts, err, errn);
  case WBR_OPK_COUNT:
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

int wbr_program_verify(wbr_program *p, wbr_ctx *ctx, const char *file, size_t code_base,
                       int64_t *bad_addr) {
  static const char *const help =
      "the file is corrupt or was not written by wbr: recompile it with `wbr compile`";
  vstate vs = {.p = p};
  int rc = 0;
  if (bad_addr) *bad_addr = -1;
  char err[512];
  if (wbr_check_str(p->source, strlen(p->source), err, sizeof err))
    return wbr_fail(ctx, WBR_EINPUT, file, help, "source name: %s", err);
  for (uint32_t i = 0; i < p->nstrs; i++)
    if (wbr_check_str(p->strs[i], p->str_len[i], err, sizeof err))
      return wbr_fail(ctx, WBR_EINPUT, file, help, "string %u: %s", i, err);
  vs.np = calloc(p->npats ? p->npats : 1, sizeof *vs.np);
  if (!vs.np) return wbr_oom(ctx);
  for (uint32_t i = 0; i < p->npats && rc == 0; i++) {
    if (check_pattern_fields(p, i, err, sizeof err) ||
        pattern_compile(p, i, &vs.np[i], err, sizeof err))
      rc = wbr_fail(ctx, WBR_EINPUT, file, help, "pattern %u: %s", i, err);
  }
  for (uint32_t i = 0; i < p->nints && rc == 0; i++)
    if (p->ints[i].n > WBR_MAX_LIST || p->ints[i].off > p->nint_vals ||
        p->nint_vals - p->ints[i].off < p->ints[i].n)
      rc = wbr_fail(ctx, WBR_EINPUT, file, help, "int list %u: bad extent", i);
  for (uint32_t i = 0; i < p->nrefs && rc == 0; i++)
    if (p->refs[i].n > WBR_MAX_LIST || p->refs[i].off > p->nref_vals ||
        p->nref_vals - p->refs[i].off < p->refs[i].n)
      rc = wbr_fail(ctx, WBR_EINPUT, file, help, "ref list %u: bad extent", i);
  for (uint32_t i = 0; i < p->ncode && rc == 0; i++) {
    if (check_insn(&vs, i, err, sizeof err)) {
      const wbr_opinfo *oi = wbr_opinfo_get(p->code[i].op);
      if (bad_addr) *bad_addr = i;
      char where[96];
      if (code_base)
        snprintf(where, sizeof where, " at byte %zu", code_base + (size_t)i * WBR_INSN_SIZE);
      else
        where[0] = 0;
      rc = wbr_fail(ctx, WBR_EINPUT, file, help, "instruction %u%s%s%s%s: %s", i, where,
                    oi ? " (" : "", oi ? oi->name : "", oi ? ")" : "", err);
    }
  }
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
