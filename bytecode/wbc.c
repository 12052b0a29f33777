/* wbc.c — the .wbc bytecode file: serializing a program, saving it atomically, and loading it
 * back. The loader is the security boundary: a .wbc is untrusted, so every length, count,
 * offset and operand is checked (here for the structure, in wbr_program_verify for meaning)
 * before a program is handed out. Layout and limits: docs/bytecode.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/io.h"
#include "program.h"

#define WBC_HEADER 24
#define WBC_NSECT 7  /* format version 1; version 2 adds two (the parameters) */
#define WBC_NSECT_V2 9
#define WBC_SECT_ENTRY 12
#define WBC_TRAILER 4
#define WBC_MIN_SIZE (WBC_HEADER + WBC_NSECT * WBC_SECT_ENTRY + WBC_TRAILER)
#define WBC_MAX_FILE (256u << 20)
#define WBC_ORDER_MARK 0x04030201u

static const uint8_t wbc_magic[4] = {0x89, 'W', 'B', 'C'};
static const uint8_t wbc_sentinel[4] = {'\r', '\n', 0x1a, '\n'};

enum { SECT_META = 1, SECT_CODE, SECT_LINES, SECT_STRINGS, SECT_PATTERNS, SECT_INTS, SECT_REFS,
       SECT_PARAMS, SECT_EXPRS };
static const char *const sect_name[] = {"",        "meta",     "code", "lines", "strings",
                                        "patterns", "ints",   "refs", "params", "exprs"};

static const char *const help_recompile =
    "the file is corrupt or was not written by wbr: recompile it with `wbr compile`";

/* ---- writing ---- */

static void put_u8(wbr_buf *b, uint8_t v) { wbr_buf_put(b, &v, 1); }
static void put_u16(wbr_buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  wbr_buf_put(b, x, 2);
}
static void put_u32(wbr_buf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  wbr_buf_put(b, x, 4);
}
static void put_u64(wbr_buf *b, uint64_t v) {
  put_u32(b, (uint32_t)v);
  put_u32(b, (uint32_t)(v >> 32));
}
static void set_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static void write_section(wbr_buf *b, int id, const wbr_program *p) {
  switch (id) {
  case SECT_META: {
    size_t n = strlen(p->source);
    put_u32(b, p->lang_version);
    put_u64(b, p->source_hash);
    put_u32(b, (uint32_t)n);
    wbr_buf_put(b, p->source, n);
    break;
  }
  case SECT_CODE:
    put_u32(b, p->ncode);
    for (uint32_t i = 0; i < p->ncode; i++) {
      const wbr_insn *in = &p->code[i];
      put_u8(b, in->op);
      put_u8(b, in->flags);
      put_u16(b, (uint16_t)in->x);
      put_u32(b, in->a);
      put_u32(b, in->b);
      put_u32(b, in->c);
    }
    break;
  case SECT_LINES:
    put_u32(b, p->ncode);
    for (uint32_t i = 0; i < p->ncode; i++) {
      put_u32(b, p->pos[i].line);
      put_u32(b, p->pos[i].col);
    }
    break;
  case SECT_STRINGS:
    put_u32(b, p->nstrs);
    for (uint32_t i = 0; i < p->nstrs; i++) {
      put_u32(b, p->str_len[i]);
      wbr_buf_put(b, p->strs[i], p->str_len[i]);
    }
    break;
  case SECT_PATTERNS:
    put_u32(b, p->npats);
    for (uint32_t i = 0; i < p->npats; i++) {
      put_u8(b, p->pats[i].kind);
      put_u8(b, p->pats[i].flags);
      put_u16(b, 0);
      put_u32(b, p->pats[i].text);
    }
    break;
  case SECT_INTS:
    put_u32(b, p->nints);
    for (uint32_t i = 0; i < p->nints; i++) {
      uint32_t n;
      const int64_t *v = wbr_program_ints(p, i, &n);
      put_u32(b, n);
      for (uint32_t k = 0; k < n; k++) put_u64(b, (uint64_t)v[k]);
    }
    break;
  case SECT_REFS:
    put_u32(b, p->nrefs);
    for (uint32_t i = 0; i < p->nrefs; i++) {
      uint32_t n;
      const uint32_t *v = wbr_program_refs(p, i, &n);
      put_u32(b, n);
      for (uint32_t k = 0; k < n; k++) put_u32(b, v[k]);
    }
    break;
  case SECT_PARAMS:
    put_u32(b, p->nparams);
    for (uint32_t i = 0; i < p->nparams; i++) {
      put_u32(b, p->params[i].name);
      put_u32(b, p->params[i].def);
    }
    break;
  case SECT_EXPRS:
    put_u32(b, p->nxnodes);
    for (uint32_t i = 0; i < p->nxnodes; i++) {
      put_u32(b, p->xnodes[i].op); /* op, then 3 zero bytes */
      put_u32(b, p->xnodes[i].a);
      put_u32(b, p->xnodes[i].b);
    }
    break;
  default: break;
  }
}

int wbr_program_serialize(const wbr_program *p, wbr_ctx *ctx, void **out, size_t *len) {
  if (!p || !out || !len)
    return wbr_fail(ctx, WBR_EUSAGE, NULL, NULL, "wbr_program_serialize: NULL argument");
  *out = NULL;
  *len = 0;
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_put(&b, wbc_magic, 4);
  wbr_buf_put(&b, wbc_sentinel, 4);
  put_u32(&b, WBC_ORDER_MARK);
  /* Without parameters, exactly the version-1 file (bytecode/params.h). */
  uint16_t version = wbr_program_format(p);
  int nsect = version >= 2 ? WBC_NSECT_V2 : WBC_NSECT;
  put_u16(&b, version);
  put_u16(&b, (uint16_t)nsect);
  put_u32(&b, 0); /* total size, patched below */
  put_u32(&b, 0); /* reserved */
  size_t table = b.len;
  for (int i = 0; i < nsect * WBC_SECT_ENTRY; i++) put_u8(&b, 0);
  for (int id = 1; id <= nsect; id++) {
    size_t start = b.len;
    write_section(&b, id, p);
    if (b.oom) break;
    uint8_t *e = (uint8_t *)b.p + table + (size_t)(id - 1) * WBC_SECT_ENTRY;
    set_u32(e, (uint32_t)id);
    set_u32(e + 4, (uint32_t)start);
    set_u32(e + 8, (uint32_t)(b.len - start));
  }
  if (b.oom) {
    wbr_buf_free(&b);
    return wbr_oom(ctx);
  }
  if (b.len + WBC_TRAILER > WBC_MAX_FILE) {
    wbr_buf_free(&b);
    return wbr_fail(ctx, WBR_ERULES, p->source, "split the rules into several files",
                    "the program is too large for a .wbc (%zu bytes, limit %u)", b.len,
                    WBC_MAX_FILE);
  }
  set_u32((uint8_t *)b.p + 16, (uint32_t)(b.len + WBC_TRAILER));
  put_u32(&b, (uint32_t)crc32(0L, (const Bytef *)b.p, (uInt)b.len));
  if (b.oom) {
    wbr_buf_free(&b);
    return wbr_oom(ctx);
  }
  *len = b.len;
  *out = wbr_buf_take(&b);
  return 0;
}

int wbr_program_save(const wbr_program *p, wbr_ctx *ctx, const char *path) {
  if (!p || !path) return wbr_fail(ctx, WBR_EUSAGE, NULL, NULL, "wbr_program_save: NULL argument");
  void *bytes;
  size_t len;
  int rc = wbr_program_serialize(p, ctx, &bytes, &len);
  if (rc) return rc;
  /* The one atomic output (base/io.c); the rule file itself is never replaced. */
  wbr_file_ids ids = {0};
  const char *src = wbr_program_source(p);
  if (src && *src && wbr_file_ids_add_path(&ids, src) != 0) rc = wbr_oom(ctx);
  if (rc == 0) rc = wbr_io_write_atomic(ctx, path, bytes, len, &ids, true);
  wbr_file_ids_free(&ids);
  wbr_free(bytes);
  return rc;
}

/* ---- loading ---- */

typedef struct loader {
  wbr_ctx *ctx;
  const char *name;
  const uint8_t *d;
  size_t pos, end; /* cursor and end of the current section */
  int sect;
} loader;

static int bad(loader *l, size_t off, const char *fmt, ...) WBR_PRINTF(3, 4);
static int bad(loader *l, size_t off, const char *fmt, ...) {
  char at[48];
  snprintf(at, sizeof at, "byte %zu: ", off);
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = l->name, .message = at, .help = help_recompile};
  va_list ap;
  va_start(ap, fmt);
  int rc = wbr_vreport(l->ctx, WBR_EBYTECODE, &d, fmt, ap);
  va_end(ap);
  return rc;
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

/* Take n bytes of the current section, or report that it ends early. */
static const uint8_t *take(loader *l, size_t n, const char *what) {
  if (l->end - l->pos < n) {
    bad(l, l->pos, "section %s ends in the middle of %s (%zu bytes left, %zu needed)",
        sect_name[l->sect], what, l->end - l->pos, n);
    return NULL;
  }
  const uint8_t *p = l->d + l->pos;
  l->pos += n;
  return p;
}

/* Read a count of entries of at least `min` bytes each, bounded by `limit` and by the bytes
 * left in the section, so a forged count cannot make us allocate much. */
static int take_count(loader *l, uint32_t *n, uint32_t limit, size_t min, const char *what) {
  size_t at = l->pos;
  const uint8_t *p = take(l, 4, "a count");
  if (!p) return WBR_EBYTECODE;
  *n = get_u32(p);
  if (*n > limit) return bad(l, at, "%u %s exceed the limit of %u", *n, what, limit);
  if ((uint64_t)*n * min > l->end - l->pos)
    return bad(l, at, "%u %s cannot fit in the %zu bytes left of section %s", *n, what,
               l->end - l->pos, sect_name[l->sect]);
  return 0;
}

static void *alloc_n(size_t n, size_t sz) { return calloc(n ? n : 1, sz); }

static int load_meta(loader *l, wbr_program *p) {
  const uint8_t *h = take(l, 16, "the metadata");
  if (!h) return WBR_EBYTECODE;
  p->lang_version = get_u32(h);
  p->source_hash = get_u64(h + 4);
  uint32_t n = get_u32(h + 12);
  if (p->lang_version != 1)
    return bad(l, l->pos - 16, "language version %u is not supported (this wbr knows 1)",
               p->lang_version);
  if (n > WBR_MAX_SOURCE_NAME)
    return bad(l, l->pos - 4, "source name of %u bytes exceeds the limit of %u", n,
               WBR_MAX_SOURCE_NAME);
  size_t at = l->pos;
  const uint8_t *s = take(l, n, "the source name");
  if (!s) return WBR_EBYTECODE;
  char err[200];
  if (wbr_check_str((const char *)s, n, err, sizeof err))
    return bad(l, at, "source name: %s", err);
  char *name = wbr_strndup((const char *)s, n);
  if (!name) return wbr_oom(l->ctx);
  free(p->source);
  p->source = name;
  return 0;
}

static int load_code(loader *l, wbr_program *p) {
  uint32_t n;
  int rc = take_count(l, &n, WBR_MAX_INSNS, WBR_INSN_SIZE, "instructions");
  if (rc) return rc;
  p->code = alloc_n(n, sizeof *p->code);
  p->pos = alloc_n(n, sizeof *p->pos);
  if (!p->code || !p->pos) return wbr_oom(l->ctx);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *b = take(l, WBR_INSN_SIZE, "an instruction");
    if (!b) return WBR_EBYTECODE;
    if (!wbr_opinfo_get(b[0]))
      return bad(l, l->pos - WBR_INSN_SIZE, "instruction %u: unknown opcode %u", i, b[0]);
    p->code[i] = (wbr_insn){.op = b[0], .flags = b[1], .x = (int16_t)get_u16(b + 2),
                            .a = get_u32(b + 4), .b = get_u32(b + 8), .c = get_u32(b + 12)};
  }
  p->ncode = p->code_cap = n;
  return 0;
}

static int load_lines(loader *l, wbr_program *p) {
  size_t at = l->pos;
  uint32_t n;
  int rc = take_count(l, &n, WBR_MAX_INSNS, 8, "line entries");
  if (rc) return rc;
  if (n != p->ncode)
    return bad(l, at, "line table has %u entries for %u instructions", n, p->ncode);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *b = take(l, 8, "a line entry");
    if (!b) return WBR_EBYTECODE;
    p->pos[i] = (wbr_pos){get_u32(b), get_u32(b + 4)};
    if (p->pos[i].line == 0 || p->pos[i].col == 0)
      return bad(l, l->pos - 8, "instruction %u: source position %u:%u (lines and columns start at 1)",
                 i, p->pos[i].line, p->pos[i].col);
  }
  return 0;
}

static int load_strings(loader *l, wbr_program *p) {
  uint32_t n;
  int rc = take_count(l, &n, WBR_MAX_POOL, 4, "strings");
  if (rc) return rc;
  p->strs = alloc_n(n, sizeof *p->strs);
  p->str_len = alloc_n(n, sizeof *p->str_len);
  if (!p->strs || !p->str_len) return wbr_oom(l->ctx);
  for (uint32_t i = 0; i < n; i++) {
    size_t at = l->pos;
    const uint8_t *b = take(l, 4, "a string length");
    if (!b) return WBR_EBYTECODE;
    uint32_t len = get_u32(b);
    if (len > WBR_MAX_STR)
      return bad(l, at, "string %u: length %u exceeds the limit of %u", i, len, WBR_MAX_STR);
    const uint8_t *s = take(l, len, "a string");
    if (!s) return WBR_EBYTECODE;
    char err[200];
    if (wbr_check_str((const char *)s, len, err, sizeof err))
      return bad(l, at + 4, "string %u: %s", i, err);
    p->strs[i] = wbr_strndup((const char *)s, len);
    if (!p->strs[i]) return wbr_oom(l->ctx);
    p->str_len[i] = len;
    p->nstrs = i + 1;
  }
  p->strs_cap = n;
  return 0;
}

static int load_patterns(loader *l, wbr_program *p) {
  uint32_t n;
  int rc = take_count(l, &n, WBR_MAX_POOL, 8, "patterns");
  if (rc) return rc;
  p->pats = alloc_n(n, sizeof *p->pats);
  if (!p->pats) return wbr_oom(l->ctx);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *b = take(l, 8, "a pattern");
    if (!b) return WBR_EBYTECODE;
    if (get_u16(b + 2) != 0)
      return bad(l, l->pos - 6, "pattern %u: reserved bytes are not 0", i);
    p->pats[i] = (wbr_pattern){.kind = b[0], .flags = b[1], .text = get_u32(b + 4)};
    p->npats = i + 1;
    char err[400];
    if (wbr_check_pattern(p, i, err, sizeof err)) return bad(l, l->pos - 8, "pattern %u: %s", i, err);
  }
  p->pats_cap = n;
  return 0;
}

/* Int lists and ref lists share a layout: count, then per list a length and its values. */
static int load_lists(loader *l, wbr_program *p, bool ints) {
  size_t vsz = ints ? 8 : 4;
  uint32_t n;
  int rc = take_count(l, &n, WBR_MAX_POOL, 4, ints ? "int lists" : "ref lists");
  if (rc) return rc;
  /* Every value needs vsz bytes of the section, which bounds the total we allocate. */
  size_t maxvals = (l->end - l->pos) / vsz;
  wbr_list *lists = alloc_n(n, sizeof *lists);
  void *vals = alloc_n(maxvals, vsz);
  if (ints) {
    p->ints = lists;
    p->int_vals = vals;
  } else {
    p->refs = lists;
    p->ref_vals = vals;
  }
  if (!lists || !vals) return wbr_oom(l->ctx);
  size_t nv = 0;
  for (uint32_t i = 0; i < n; i++) {
    size_t at = l->pos;
    const uint8_t *b = take(l, 4, "a list length");
    if (!b) return WBR_EBYTECODE;
    uint32_t len = get_u32(b);
    if (len > WBR_MAX_LIST)
      return bad(l, at, "%s list %u: %u values exceed the limit of %u", ints ? "int" : "ref", i,
                 len, WBR_MAX_LIST);
    const uint8_t *v = take(l, (size_t)len * vsz, "a list");
    if (!v) return WBR_EBYTECODE;
    lists[i] = (wbr_list){.off = (uint32_t)nv, .n = len};
    for (uint32_t k = 0; k < len; k++, nv++) {
      if (ints)
        p->int_vals[nv] = (int64_t)get_u64(v + 8 * k);
      else
        p->ref_vals[nv] = get_u32(v + 4 * k);
    }
  }
  if (ints) {
    p->nints = p->ints_cap = n;
    p->nint_vals = p->int_vals_cap = nv;
  } else {
    p->nrefs = p->refs_cap = n;
    p->nref_vals = p->ref_vals_cap = nv;
  }
  return 0;
}

/* Version 2: the parameter table (name, default node per entry) and the expression pool (op,
 * three zero bytes, a, b per node). Their meaning is checked by the verifier. */
static int load_params(loader *l, wbr_program *p) {
  uint32_t n;
  int rc = take_count(l, &n, WBR_MAX_PARAMS, 8, "parameters");
  if (rc) return rc;
  p->params = alloc_n(n, sizeof *p->params);
  if (!p->params) return wbr_oom(l->ctx);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *b = take(l, 8, "a parameter");
    if (!b) return WBR_EBYTECODE;
    p->params[i] = (wbr_param_decl){get_u32(b), get_u32(b + 4)};
  }
  p->nparams = p->params_cap = n;
  p->xrefs = true; /* a version-2 file */
  return 0;
}

static int load_exprs(loader *l, wbr_program *p) {
  uint32_t n;
  int rc = take_count(l, &n, WBR_XREF_LIMIT, 12, "expression nodes");
  if (rc) return rc;
  p->xnodes = alloc_n(n, sizeof *p->xnodes);
  if (!p->xnodes) return wbr_oom(l->ctx);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *b = take(l, 12, "an expression node");
    if (!b) return WBR_EBYTECODE;
    if (get_u32(b) > 0xff)
      return bad(l, l->pos - 12, "expression node %u: reserved bytes are not 0", i);
    p->xnodes[i] = (wbr_xnode){b[0], get_u32(b + 4), get_u32(b + 8)};
  }
  p->nxnodes = p->xnodes_cap = n;
  return 0;
}

int wbr_program_load_bytes(wbr_program **out, wbr_ctx *ctx, const char *name, const void *bytes,
                           size_t len) {
  if (!out) return wbr_fail(ctx, WBR_EUSAGE, name, NULL, "wbr_program_load_bytes: NULL argument");
  *out = NULL;
  if (!name) name = "<memory>";
  if (!bytes && len) return wbr_fail(ctx, WBR_EUSAGE, name, NULL, "wbr_program_load_bytes: NULL bytes");
  loader l = {.ctx = ctx, .name = name, .d = bytes, .end = len};
  const uint8_t *d = bytes;
  if (len < 4 || memcmp(d, wbc_magic, 4) != 0) {
    if (len < 4 && (len == 0 || memcmp(d, wbc_magic, len) == 0))
      return bad(&l, len, "the file is truncated (%zu bytes; a .wbc has at least %d)", len,
                 WBC_MIN_SIZE);
    return wbr_fail(ctx, WBR_EBYTECODE, name, "give a .wbc written by `wbr compile`, or the .wbr itself",
                    "not a .wbc bytecode file (it does not start with \\x89WBC)");
  }
  if (len >= 8 && memcmp(d + 4, wbc_sentinel, 4) != 0)
    return bad(&l, 4, "the header's sentinel bytes are damaged: the file went through a text-mode "
                      "transfer (line endings converted)");
  if (len < WBC_MIN_SIZE)
    return bad(&l, len, "the file is truncated (%zu bytes; a .wbc has at least %d)", len,
               WBC_MIN_SIZE);
  if (get_u32(d + 8) != WBC_ORDER_MARK)
    return bad(&l, 8, "byte-order mark is 0x%08x, expected 0x%08x: the file was byte-swapped or damaged",
               get_u32(d + 8), WBC_ORDER_MARK);
  uint16_t version = get_u16(d + 12);
  if (version != WBR_WBC_VERSION && version != WBR_WBC_VERSION_PARAMS)
    return wbr_fail(ctx, WBR_EBYTECODE, name, "recompile the .wbr with this wbr: `wbr compile RULES.wbr`",
                    "byte 12: bytecode format version %u is not supported (this wbr reads versions %d and %d)",
                    version, WBR_WBC_VERSION, WBR_WBC_VERSION_PARAMS);
  int nsect = version == WBR_WBC_VERSION_PARAMS ? WBC_NSECT_V2 : WBC_NSECT;
  if (len < (size_t)(WBC_HEADER + nsect * WBC_SECT_ENTRY + WBC_TRAILER))
    return bad(&l, len, "the file is truncated (%zu bytes; a version-%u .wbc has at least %d)", len,
               version, WBC_HEADER + nsect * WBC_SECT_ENTRY + WBC_TRAILER);
  uint32_t size = get_u32(d + 16);
  if (size != len)
    return bad(&l, 16, "the header gives a size of %u bytes but the file has %zu (%s)", size, len,
               size > len ? "truncated" : "trailing bytes");
  uint32_t stored = get_u32(d + len - 4);
  uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)d, (uInt)(len - 4));
  if (stored != crc)
    return bad(&l, len - 4, "checksum mismatch (stored 0x%08x, computed 0x%08x): the file is corrupt",
               stored, crc);
  if (get_u16(d + 14) != nsect)
    return bad(&l, 14, "%u sections (format version %u has %d)", get_u16(d + 14), version, nsect);
  if (get_u32(d + 20) != 0) return bad(&l, 20, "reserved header field is not 0");

  wbr_program *p = calloc(1, sizeof *p);
  if (!p || !(p->source = wbr_strdup(""))) {
    free(p);
    return wbr_oom(ctx);
  }
  int rc = 0;
  size_t cursor = WBC_HEADER + (size_t)nsect * WBC_SECT_ENTRY, code_base = 0;
  for (int id = 1; id <= nsect && rc == 0; id++) {
    const uint8_t *e = d + WBC_HEADER + (size_t)(id - 1) * WBC_SECT_ENTRY;
    size_t at = (size_t)(e - d);
    uint32_t sid = get_u32(e), off = get_u32(e + 4), sz = get_u32(e + 8);
    if (sid != (uint32_t)id) {
      rc = bad(&l, at, "section table entry %d has id %u (expected %d, %s)", id - 1, sid, id,
               sect_name[id]);
      break;
    }
    if (off != cursor) {
      rc = bad(&l, at + 4, "section %s starts at byte %u (expected %zu: sections follow each other)",
               sect_name[id], off, cursor);
      break;
    }
    if (sz > len - WBC_TRAILER - cursor) {
      rc = bad(&l, at + 8, "section %s of %u bytes runs past the end of the file", sect_name[id], sz);
      break;
    }
    l.pos = cursor;
    l.end = cursor + sz;
    l.sect = id;
    switch (id) {
    case SECT_META: rc = load_meta(&l, p); break;
    case SECT_CODE:
      code_base = cursor + 4;
      rc = load_code(&l, p);
      break;
    case SECT_LINES: rc = load_lines(&l, p); break;
    case SECT_STRINGS: rc = load_strings(&l, p); break;
    case SECT_PATTERNS: rc = load_patterns(&l, p); break;
    case SECT_INTS: rc = load_lists(&l, p, true); break;
    case SECT_REFS: rc = load_lists(&l, p, false); break;
    case SECT_PARAMS: rc = load_params(&l, p); break;
    case SECT_EXPRS: rc = load_exprs(&l, p); break;
    default: break;
    }
    if (rc == 0 && l.pos != l.end)
      rc = bad(&l, l.pos, "section %s has %zu unused bytes at its end", sect_name[id], l.end - l.pos);
    cursor += sz;
  }
  if (rc == 0 && cursor != len - WBC_TRAILER)
    rc = bad(&l, cursor, "%zu bytes between the last section and the checksum",
             len - WBC_TRAILER - cursor);
  if (rc == 0) rc = wbr_program_verify(p, ctx, name, code_base, NULL);
  if (rc) {
    wbr_program_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int wbr_program_load(wbr_program **out, wbr_ctx *ctx, const char *path) {
  if (!out || !path) return wbr_fail(ctx, WBR_EUSAGE, path, NULL, "wbr_program_load: NULL argument");
  *out = NULL;
  /* Opened without blocking and refused unless regular: a FIFO or a device must not hang. */
  struct stat st;
  int fd = wbr_io_open_read(NULL, path, NULL, &st);
  if (fd == WBR_EFORMAT)
    return wbr_fail(ctx, WBR_EBYTECODE, path, "give the path of a .wbc file", "not a regular file");
  if (fd < 0) return wbr_fail_errno(ctx, path, "cannot open");
  if ((uint64_t)st.st_size > WBC_MAX_FILE) {
    close(fd);
    return wbr_fail(ctx, WBR_EBYTECODE, path, help_recompile,
                    "file of %lld bytes exceeds the .wbc size limit of %u bytes",
                    (long long)st.st_size, WBC_MAX_FILE);
  }
  char *buf;
  size_t got;
  int rc = wbr_io_read_fd(ctx, fd, (size_t)st.st_size, path, NULL, WBC_MAX_FILE, &buf, &got);
  if (rc) return rc;
  rc = wbr_program_load_bytes(out, ctx, path, (const uint8_t *)buf, got);
  free(buf);
  return rc;
}
