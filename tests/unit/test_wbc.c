/* test_wbc.c — the .wbc format and its verifying loader: programs built by hand survive
 * serialize -> load unchanged; every single-byte corruption and every truncation of a valid
 * file is rejected with one error and no crash; a table of hostile files with valid checksums
 * is rejected with exact messages; the opcode table in docs/bytecode.md matches opcodes.h. */
#include <dirent.h>
#include <stdlib.h>
#include <zlib.h>

#include "../../bytecode/program.h"
#include "harness.h"

/* A program using every opcode once, with regex and glob patterns, captures and lists. */
/* The sample program; with_layout_hint adds a hint_layout (an opcode newer than the byte offsets
 * the hostile-file messages below pin, so only the round trip of every opcode uses it). */
static wbr_program *sample_with(bool with_layout_hint) {
  wbr_program *p;
  if (wbr_program_new(&p) != 0) return NULL;
  wbr_program_set_source(p, "rules/sample.wbr", 0x0123456789abcdefull, 1);
  uint32_t g_bn = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "*.num_batches_tracked", 21);
  uint32_t g_ds = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "downsample_layers.0.*", 21);
  uint32_t r_st = (uint32_t)wbr_program_add_pattern(p, WBR_PK_REGEX, WBR_RX_CASELESS,
                                                    "^stages\\.(\\d+)\\.(?<blk>\\d+)\\.", 29);
  uint32_t g_gam = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "*.gamma", 7);
  uint32_t g_qkv = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "blocks.{i}.attn.qkv.weight", 26);
  uint32_t g_q = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "enc_{i}/query/kernel", 20);
  uint32_t g_k = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "enc_{i}/key/kernel", 18);
  uint32_t g_l = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "layers.w", 8);
  uint32_t g_all = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "*", 1);
  uint32_t g_red = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "reduce", 6);
  uint32_t g_c1 = (uint32_t)wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "conv1", 5);
  int64_t dims[] = {-1}, axes[] = {3, 2, 0, 1}, sizes[] = {48, 48, -1}, idx[] = {2},
          range[] = {0, 4}, eshape[] = {-1, 48};
  uint32_t i_dims = (uint32_t)wbr_program_add_ints(p, dims, 1);
  uint32_t i_axes = (uint32_t)wbr_program_add_ints(p, axes, 4);
  uint32_t i_sizes = (uint32_t)wbr_program_add_ints(p, sizes, 3);
  uint32_t i_idx = (uint32_t)wbr_program_add_ints(p, idx, 1);
  uint32_t i_rng = (uint32_t)wbr_program_add_ints(p, range, 2);
  uint32_t i_es = (uint32_t)wbr_program_add_ints(p, eshape, 2);
  uint32_t outs[3] = {(uint32_t)wbr_program_add_str(p, "blocks.{i}.q", 12),
                      (uint32_t)wbr_program_add_str(p, "blocks.{i}.k", 12),
                      (uint32_t)wbr_program_add_str(p, "blocks.{i}.v", 12)};
  uint32_t r_outs = (uint32_t)wbr_program_add_refs(p, outs, 3);
  uint32_t ins[2] = {g_q, g_k};
  uint32_t r_ins = (uint32_t)wbr_program_add_refs(p, ins, 2);
  uint32_t s_stem = (uint32_t)wbr_program_add_str(p, "stem.*", 6);
  uint32_t s_st = (uint32_t)wbr_program_add_str(p, "stages.$1.blocks.${blk}.", 24);
  uint32_t s_kv = (uint32_t)wbr_program_add_str(p, "blocks.{i}.kv", 13);
  uint32_t s_un = (uint32_t)wbr_program_add_str(p, "layers.{#}.w", 12);
  uint32_t s_sel = (uint32_t)wbr_program_add_str(p, "layers.first", 12);
  wbr_insn code[] = {
      {WBR_OP_DROP, 0, 0, g_bn, 0, 0},
      {WBR_OP_RENAME, 0, 0, g_ds, s_stem, 0},
      {WBR_OP_RENAME, WBR_INSN_OPTIONAL, 0, r_st, s_st, 0},
      {WBR_OP_RESHAPE, 0, 0, g_gam, i_dims, 0},
      {WBR_OP_TRANSPOSE, 0, 0, g_gam, 0, 0},
      {WBR_OP_PERMUTE, 0, 0, g_gam, i_axes, 0},
      {WBR_OP_SPLIT, 0, 0, g_qkv, r_outs, i_sizes},
      {WBR_OP_SPLIT, 0, 1, g_qkv, r_outs, WBR_NONE},
      {WBR_OP_CONCAT, 0, 0, r_ins, s_kv, 0},
      {WBR_OP_STACK, 0, -1, r_ins, s_kv, 0},
      {WBR_OP_UNSTACK, 0, 0, g_l, s_un, 0},
      {WBR_OP_SELECT, 0, 0, g_l, s_sel, i_idx},
      {WBR_OP_SLICE, 0, 0, g_l, s_sel, i_rng},
      {WBR_OP_CAST, 0, WBR_BF16, g_all, 0, 0},
      {WBR_OP_HINT, 0, 0, g_red, g_c1, 0},
      {WBR_OP_EXPECT_SHAPE, 0, 0, g_qkv, i_es, 0},
      {WBR_OP_EXPECT_DTYPE, 0, WBR_F32, g_all, 0, 0},
      {WBR_OP_EXPECT_COUNT, WBR_INSN_OPTIONAL, 0, g_all, 12, 0},
  };
  for (size_t i = 0; i < sizeof code / sizeof code[0]; i++)
    wbr_program_add_insn(p, code[i], (uint32_t)(i + 2), (uint32_t)(i % 3 + 1));
  if (with_layout_hint) {
    static const int64_t t2[] = {1, 0};
    uint32_t i_t2 = (uint32_t)wbr_program_add_ints(p, t2, 2);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_HINT_LAYOUT, 0, 0, g_red, g_c1, i_t2}, 40, 1);
    /* Format 2: a parameter n = 3 and a count of n * 4 (opcodes param and expect_count). */
    p->xrefs = true;
    uint32_t s_n = (uint32_t)wbr_program_add_str(p, "n", 1);
    uint32_t x3 = (uint32_t)wbr_program_add_xlit(p, 3);
    wbr_program_add_param(p, s_n, x3);
    uint32_t xn = (uint32_t)wbr_program_add_xnode(p, WBR_XOP_PARAM, 0, 0);
    uint32_t x4 = (uint32_t)wbr_program_add_xlit(p, 4);
    int64_t cnt = wbr_xref_make((uint32_t)wbr_program_add_xnode(p, WBR_XOP_MUL, xn, x4));
    uint32_t i_cnt = (uint32_t)wbr_program_add_ints(p, &cnt, 1);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_PARAM, 0, 0, 0, 0, 0}, 41, 1);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_EXPECT_COUNT_OF, 0, 0, g_all, i_cnt, 0}, 42, 1);
    /* rope, fuse by groups, unfuse blocked with sizes */
    static const int64_t heads[] = {4}, groups[] = {1, 2}, blocked[] = {0, 1, 48, 48, -1};
    uint32_t i_h = (uint32_t)wbr_program_add_ints(p, heads, 1), i_g = (uint32_t)wbr_program_add_ints(p, groups, 2),
             i_b = (uint32_t)wbr_program_add_ints(p, blocked, 5);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_ROPE, 0, 1, g_gam, i_h, 0}, 41, 1);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_FUSE, 0, 0, r_ins, s_kv, i_g}, 42, 1);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_UNFUSE, WBR_INSN_OPTIONAL, -1, g_qkv, r_outs, i_b}, 43, 1);
    /* the experts opcodes: stack/concat "enc_{i}/query/kernel" over i, split ... parts 2 */
    static const int64_t two[] = {2};
    uint32_t i_two = (uint32_t)wbr_program_add_ints(p, two, 1);
    uint32_t s_i = (uint32_t)wbr_program_add_str(p, "i", 1);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_STACK_OVER, WBR_INSN_TRANSPOSE, 0, g_q, s_sel, s_i}, 41, 1);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_CONCAT_OVER, 0, 1, g_q, s_sel, s_i}, 42, 1);
    wbr_program_add_insn(p, (wbr_insn){WBR_OP_SPLIT_PARTS, WBR_INSN_TRANSPOSE, 0, g_l, s_un, i_two}, 43, 1);
  }
  wbr_program_finish(p);
  return p;
}

static wbr_program *sample(void) { return sample_with(false); }

static bool program_equal(const wbr_program *a, const wbr_program *b) {
  if (a->ncode != b->ncode || a->nstrs != b->nstrs || a->npats != b->npats ||
      a->nints != b->nints || a->nrefs != b->nrefs || strcmp(a->source, b->source) != 0 ||
      a->source_hash != b->source_hash || a->lang_version != b->lang_version)
    return false;
  for (uint32_t i = 0; i < a->ncode; i++) {
    const wbr_insn *x = &a->code[i], *y = &b->code[i];
    if (x->op != y->op || x->flags != y->flags || x->x != y->x || x->a != y->a || x->b != y->b ||
        x->c != y->c || a->pos[i].line != b->pos[i].line || a->pos[i].col != b->pos[i].col)
      return false;
  }
  for (uint32_t i = 0; i < a->nstrs; i++)
    if (a->str_len[i] != b->str_len[i] || memcmp(a->strs[i], b->strs[i], a->str_len[i]) != 0)
      return false;
  for (uint32_t i = 0; i < a->npats; i++)
    if (a->pats[i].kind != b->pats[i].kind || a->pats[i].flags != b->pats[i].flags ||
        a->pats[i].text != b->pats[i].text)
      return false;
  for (uint32_t i = 0; i < a->nints; i++) {
    uint32_t na, nb;
    const int64_t *va = wbr_program_ints(a, i, &na), *vb = wbr_program_ints(b, i, &nb);
    if (na != nb || (na && memcmp(va, vb, na * sizeof *va) != 0)) return false;
  }
  for (uint32_t i = 0; i < a->nrefs; i++) {
    uint32_t na, nb;
    const uint32_t *va = wbr_program_refs(a, i, &na), *vb = wbr_program_refs(b, i, &nb);
    if (na != nb || (na && memcmp(va, vb, na * sizeof *va) != 0)) return false;
  }
  if (a->nparams != b->nparams || a->nxnodes != b->nxnodes || a->xrefs != b->xrefs) return false;
  for (uint32_t i = 0; i < a->nparams; i++)
    if (a->params[i].name != b->params[i].name || a->params[i].def != b->params[i].def) return false;
  for (uint32_t i = 0; i < a->nxnodes; i++)
    if (a->xnodes[i].op != b->xnodes[i].op || a->xnodes[i].a != b->xnodes[i].a || a->xnodes[i].b != b->xnodes[i].b)
      return false;
  return true;
}

/* Load bytes; returns the rc, and the one error message in msg (checks it was one). */
static int load(const void *bytes, size_t len, char *msg, size_t n) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_program *p = NULL;
  int rc = wbr_program_load_bytes(&p, ctx, "bad.wbc", bytes, len);
  snprintf(msg, n, "%s", wbr_ctx_last_error(ctx));
  if (rc != 0 && (p != NULL || wbr_ctx_error_count(ctx) != 1))
    snprintf(msg, n, "<%zu errors, program %p>", wbr_ctx_error_count(ctx), (void *)p);
  if (rc == 0 && wbr_ctx_error_count(ctx) != 0) snprintf(msg, n, "<loaded but reported>");
  wbr_program_free(p);
  wbr_ctx_free(ctx);
  return rc;
}

static uint8_t *serialize(const wbr_program *p, size_t *len) {
  void *b = NULL;
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  if (wbr_program_serialize(p, ctx, &b, len) != 0) b = NULL;
  wbr_ctx_free(ctx);
  return b;
}

TEST(wbc_roundtrip_every_opcode) {
  wbr_program *p = sample_with(true);
  CHECK(p != NULL);
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  CHECK_INT(wbr_program_verify(p, ctx, "sample", 0, NULL), 0);
  CHECK_STR(wbr_ctx_last_error(ctx), "");
  size_t len;
  uint8_t *b = serialize(p, &len);
  CHECK(b != NULL);
  wbr_program *q = NULL;
  CHECK_INT(wbr_program_load_bytes(&q, ctx, "x.wbc", b, len), 0);
  CHECK_STR(wbr_ctx_last_error(ctx), "");
  CHECK(q && program_equal(p, q));
  /* Serializing the loaded program gives the same bytes. */
  size_t len2;
  uint8_t *b2 = q ? serialize(q, &len2) : NULL;
  CHECK(b2 && len2 == len && memcmp(b, b2, len) == 0);
  /* Every opcode is in the sample. */
  bool seen[WBR_OP_COUNT] = {false};
  for (uint32_t i = 0; i < p->ncode; i++) seen[p->code[i].op] = true;
  for (int i = 0; i < WBR_OP_COUNT; i++) CHECK(seen[i]);
  /* The disassembly of both is the same text. */
  char *d1 = wbr_program_disasm(p), *d2 = q ? wbr_program_disasm(q) : NULL;
  CHECK(d1 && d2 && strcmp(d1, d2) == 0);
  free(d1);
  free(d2);
  free(b);
  free(b2);
  wbr_program_free(p);
  wbr_program_free(q);
  wbr_ctx_free(ctx);
}

TEST(wbc_header_bytes_are_as_documented) {
  wbr_program *p = sample();
  size_t len;
  uint8_t *b = serialize(p, &len);
  CHECK(b && len > 40);
  static const uint8_t head[] = {0x89, 'W', 'B', 'C', '\r', '\n', 0x1a, '\n', 1, 2, 3, 4, 1, 0, 7, 0};
  CHECK(memcmp(b, head, sizeof head) == 0);
  CHECK_INT(b[16] | b[17] << 8 | b[18] << 16 | (uint32_t)b[19] << 24, len);
  uint32_t crc = b[len - 4] | b[len - 3] << 8 | b[len - 2] << 16 | (uint32_t)b[len - 1] << 24;
  CHECK_INT(crc, crc32(0, b, (uInt)(len - 4)));
  free(b);
  wbr_program_free(p);
}

TEST(wbc_pools_are_deduplicated) {
  wbr_program *p;
  CHECK_INT(wbr_program_new(&p), 0);
  int64_t a = wbr_program_add_str(p, "x", 1), b = wbr_program_add_str(p, "x", 1);
  CHECK_INT(a, b);
  CHECK(wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "x", 1) ==
        wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "x", 1));
  CHECK(wbr_program_add_pattern(p, WBR_PK_GLOB, 0, "x", 1) !=
        wbr_program_add_pattern(p, WBR_PK_REGEX, 0, "x", 1));
  int64_t v1[] = {1, 2}, v2[] = {1, 2}, v3[] = {12};
  CHECK(wbr_program_add_ints(p, v1, 2) == wbr_program_add_ints(p, v2, 2));
  CHECK(wbr_program_add_ints(p, v1, 2) != wbr_program_add_ints(p, v3, 1));
  CHECK(wbr_program_add_ints(p, NULL, 0) == wbr_program_add_ints(p, NULL, 0));
  uint32_t r1[] = {0, 1}, r2[] = {1, 0};
  CHECK(wbr_program_add_refs(p, r1, 2) != wbr_program_add_refs(p, r2, 2));
  CHECK(wbr_program_add_refs(p, r1, 2) == wbr_program_add_refs(p, r1, 2));
  CHECK_INT(p->nstrs, 1);
  CHECK_INT(p->npats, 2);
  CHECK_INT(p->nints, 3);
  CHECK_INT(p->nrefs, 2);
  wbr_program_free(p);
}

TEST(wbc_every_byte_flip_is_rejected) {
  wbr_program *p = sample();
  size_t len;
  uint8_t *b = serialize(p, &len);
  CHECK(b != NULL);
  uint8_t *c = malloc(len);
  char msg[1024];
  size_t bad = 0;
  for (size_t i = 0; i < len && b; i++) {
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t m = 0; m < sizeof masks; m++) {
      memcpy(c, b, len);
      c[i] ^= masks[m];
      int rc = load(c, len, msg, sizeof msg);
      if (rc != WBR_EBYTECODE || msg[0] == 0 || msg[0] == '<') {
        if (bad++ < 5) test_failed(__FILE__, __LINE__, "flip 0x%02x at byte %zu: rc %d, '%s'", masks[m], i, rc, msg);
      }
    }
  }
  free(c);
  free(b);
  wbr_program_free(p);
}

TEST(wbc_every_truncation_and_extension_is_rejected) {
  wbr_program *p = sample();
  size_t len;
  uint8_t *b = serialize(p, &len);
  char msg[1024];
  size_t bad = 0;
  for (size_t n = 0; n < len && b; n++) {
    /* A fresh heap copy of exactly n bytes, so ASan sees any read past the end. */
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, b, n);
    int rc = load(c, n, msg, sizeof msg);
    if ((rc != WBR_EBYTECODE || msg[0] == 0 || msg[0] == '<') && bad++ < 5)
      test_failed(__FILE__, __LINE__, "truncated to %zu: rc %d, '%s'", n, rc, msg);
    free(c);
  }
  uint8_t *c = malloc(len + 1);
  memcpy(c, b, len);
  c[len] = 0;
  CHECK_INT(load(c, len + 1, msg, sizeof msg), WBR_EBYTECODE);
  CHECK_STR(msg, "byte 16: the header gives a size of 1185 bytes but the file has 1186 (trailing bytes)");
  CHECK_INT(load(b, 100, msg, sizeof msg), WBR_EBYTECODE);
  CHECK_STR(msg, "byte 100: the file is truncated (100 bytes; a .wbc has at least 112)");
  CHECK_INT(load(b, 500, msg, sizeof msg), WBR_EBYTECODE);
  CHECK_STR(msg, "byte 16: the header gives a size of 1185 bytes but the file has 500 (truncated)");
  CHECK_INT(load("PK\3\4", 4, msg, sizeof msg), WBR_EBYTECODE);
  CHECK_STR(msg, "not a .wbc bytecode file (it does not start with \\x89WBC)");
  free(c);
  free(b);
  wbr_program_free(p);
}

/* ---- hostile files with valid checksums ---- */

static uint32_t rd32(const uint8_t *b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }
static void wr32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)(v >> 16);
  b[3] = (uint8_t)(v >> 24);
}
static void fix_crc(uint8_t *b, size_t len) { wr32(b + len - 4, (uint32_t)crc32(0, b, (uInt)(len - 4))); }
/* Byte offset of section id (1-based) from the section table. */
static uint32_t sect(const uint8_t *b, int id) { return rd32(b + 24 + 12 * (id - 1) + 4); }

typedef struct hostile {
  const char *id;
  void (*mutate_prog)(wbr_program *p);          /* change the program before serializing */
  void (*mutate_bytes)(uint8_t *b, size_t len); /* or patch the bytes (crc fixed after) */
  const char *want;
} hostile;

static void m_opcode(wbr_program *p) { p->code[1].op = 200; }
static void m_flags(wbr_program *p) { p->code[0].flags = 0x0e; }
static void m_transpose_flag(wbr_program *p) { p->code[0].flags = WBR_INSN_TRANSPOSE; }
/* The unstack of "layers.w" made a stack_over whose capture is no capture of it. */
static void m_over_capture(wbr_program *p) {
  p->code[10].op = WBR_OP_STACK_OVER;
  p->code[10].b = p->code[10].c = p->code[11].b;
}
/* ... and a split_parts into -1 parts (the reshape's [-1]). */
static void m_parts(wbr_program *p) {
  p->code[10].op = WBR_OP_SPLIT_PARTS;
  p->code[10].c = p->code[3].b;
}
static void m_pat_index(wbr_program *p) { p->code[0].a = 99; }
static void m_str_index(wbr_program *p) { p->code[1].b = 1000; }
static void m_int_index(wbr_program *p) { p->code[3].b = 77; }
static void m_ref_index(wbr_program *p) { p->code[8].a = 5; }
static void m_unused(wbr_program *p) { p->code[0].c = 3; }
static void m_unused_x(wbr_program *p) { p->code[0].x = 2; }
static void m_dtype(wbr_program *p) { p->code[13].x = 15; }
static void m_axis(wbr_program *p) { p->code[6].x = 8; }
static void m_axis_neg(wbr_program *p) { p->code[6].x = -9; }
static void m_bad_regex(wbr_program *p) {
  free(p->strs[p->pats[2].text]);
  p->strs[p->pats[2].text] = wbr_strdup("^stages\\.(\\d+");
  p->str_len[p->pats[2].text] = 13;
}
static void m_missing_group(wbr_program *p) {
  free(p->strs[p->code[2].b]);
  p->strs[p->code[2].b] = wbr_strdup("stages.$3.");
  p->str_len[p->code[2].b] = 10;
}
static void m_missing_name(wbr_program *p) { p->code[1].b = p->code[2].b; /* $1 on a glob */ }
static void m_missing_capture(wbr_program *p) {
  free(p->strs[p->code[8].b]);
  p->strs[p->code[8].b] = wbr_strdup("blocks.{j}.kv");
}
static void m_index_in_rename(wbr_program *p) { p->code[1].b = p->code[10].b; }
static void m_unstack_no_index(wbr_program *p) { p->code[10].b = p->code[11].b; }
static void m_pattern_kind(wbr_program *p) { p->pats[0].kind = 2; }
static void m_glob_flags(wbr_program *p) { p->pats[0].flags = WBR_RX_CASELESS; }
static void m_regex_flags(wbr_program *p) { p->pats[2].flags = 0x40; }
static void m_bad_glob(wbr_program *p) {
  free(p->strs[p->pats[4].text]);
  p->strs[p->pats[4].text] = wbr_strdup("blocks.{i.attn");
  p->str_len[p->pats[4].text] = 14;
}
static void m_nul(wbr_program *p) { p->strs[p->code[1].b][2] = 0; }
static void m_utf8(wbr_program *p) { p->strs[p->code[1].b][2] = (char)0xc0; }
static void m_line0(wbr_program *p) { p->pos[4].line = 0; }
static void m_two_infer(wbr_program *p) {
  p->code[3].b = p->code[6].c; /* [48, 48, -1] */
  p->int_vals[p->ints[p->code[6].c].off] = -1;
}
static void m_not_perm(wbr_program *p) { p->int_vals[p->ints[p->code[5].b].off + 1] = 3; }
static void m_neg_dim(wbr_program *p) { p->int_vals[p->ints[p->code[15].b].off + 1] = -2; }
static void m_sizes_count(wbr_program *p) { p->code[6].c = p->code[5].b; }
static void m_range_len(wbr_program *p) { p->code[12].c = p->code[11].c; }
static void m_one_input(wbr_program *p) { p->refs[p->code[8].a].n = 1; }
static void m_ref_entry(wbr_program *p) { p->ref_vals[p->refs[p->code[8].a].off + 1] = 400; }
static void m_too_many_dims(wbr_program *p) {
  static int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  p->b = NULL;
  p->code[3].b = (uint32_t)wbr_program_add_ints(p, nine, 9);
}
static void m_hint_template(wbr_program *p) { p->code[14].b = p->code[1].b; }
/* rope, fuse, unfuse in the places of transpose, concat and split, with bad operands */
static void m_rope_dir(wbr_program *p) { p->code[4] = (wbr_insn){WBR_OP_ROPE, 0, 2, p->code[4].a, p->code[11].c, 0}; }
static void m_rope_heads(wbr_program *p) { p->code[4] = (wbr_insn){WBR_OP_ROPE, 0, 0, p->code[4].a, p->code[12].c, 0}; }
static void m_rope_heads0(wbr_program *p) {
  static const int64_t zero[1] = {0};
  p->b = NULL;
  p->code[4] = (wbr_insn){WBR_OP_ROPE, 0, 0, p->code[4].a, (uint32_t)wbr_program_add_ints(p, zero, 1), 0};
}
static void m_fuse_blocked_groups(wbr_program *p) { /* [0, 4]: blocked with 4 groups */
  p->code[8] = (wbr_insn){WBR_OP_FUSE, 0, 0, p->code[8].a, p->code[8].b, p->code[12].c};
}
static void m_unfuse_sizes(wbr_program *p) {
  static const int64_t two[4] = {1, 2, 48, 48}; /* groups 2, two sizes for three outputs */
  p->b = NULL;
  p->code[6] = (wbr_insn){WBR_OP_UNFUSE, 0, 0, p->code[6].a, p->code[6].b, (uint32_t)wbr_program_add_ints(p, two, 4)};
}
static void m_unfuse_size0(wbr_program *p) {
  static const int64_t z[5] = {1, 2, 48, 0, -1};
  p->b = NULL;
  p->code[6] = (wbr_insn){WBR_OP_UNFUSE, 0, 0, p->code[6].a, p->code[6].b, (uint32_t)wbr_program_add_ints(p, z, 5)};
}

static void b_version(uint8_t *b, size_t len) { (void)len, b[12] = 3; }
static void b_sentinel(uint8_t *b, size_t len) { (void)len, b[5] = '\r'; }
static void b_order(uint8_t *b, size_t len) { (void)len, wr32(b + 8, 0x01020304); }
static void b_nsect(uint8_t *b, size_t len) { (void)len, b[14] = 8; }
static void b_reserved(uint8_t *b, size_t len) { (void)len, b[20] = 1; }
static void b_sect_id(uint8_t *b, size_t len) { (void)len, wr32(b + 24 + 12, 5); }
static void b_sect_gap(uint8_t *b, size_t len) { (void)len, wr32(b + 24 + 12 + 4, sect(b, 2) + 4); }
static void b_sect_size(uint8_t *b, size_t len) { (void)len, wr32(b + 24 + 12 * 6 + 8, 0x7fffffff); }
static void b_huge_code(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 2), 0xffffffff); }
static void b_code_fits(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 2), 1000); }
static void b_lines_count(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 3), 17); }
static void b_huge_strings(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 4), 0x00100001); }
static void b_str_len(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 4) + 4, 0x10000); }
static void b_str_overrun(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 4) + 4, 0xff00); }
static void b_pat_reserved(uint8_t *b, size_t len) { (void)len, b[sect(b, 5) + 4 + 2] = 1; }
static void b_list_len(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 6) + 4, 5000); }
static void b_lang(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 1), 2); }
static void b_name_len(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 1) + 12, 5000); }
static void b_opcode(uint8_t *b, size_t len) { (void)len, b[sect(b, 2) + 4 + 16 * 3] = 250; }
static void b_refs_left(uint8_t *b, size_t len) { (void)len, wr32(b + sect(b, 7), 1); }

static const hostile hostiles[] = {
    {"opcode", m_opcode, NULL,
     "byte 160: instruction 1: unknown opcode 200"},
    {"opcode_bytes", NULL, b_opcode,
     "byte 192: instruction 3: unknown opcode 250"},
    {"flags", m_flags, NULL,
     "instruction 0 at byte 144 (drop): unknown flag bits 0x0c"},
    {"transpose_flag", m_transpose_flag, NULL,
     "instruction 0 at byte 144 (drop): the transpose flag (0x02) is set on an opcode that takes no parts"},
    {"over_capture", m_over_capture, NULL,
     "instruction 10 at byte 304 (stack_over): operand c: the pattern has no capture named 'layers.first'"},
    {"parts_below_1", m_parts, NULL,
     "instruction 10 at byte 304 (split_parts): operand c: part count -1 is below 1"},
    {"pattern_index", m_pat_index, NULL,
     "instruction 0 at byte 144 (drop): operand a: pattern index 99 out of range (11 patterns)"},
    {"string_index", m_str_index, NULL,
     "instruction 1 at byte 160 (rename): operand b: string index 1000 out of range (19 strings)"},
    {"int_index", m_int_index, NULL,
     "instruction 3 at byte 192 (reshape): operand b: int list index 77 out of range (6 int lists)"},
    {"ref_index", m_ref_index, NULL,
     "instruction 8 at byte 272 (concat): operand a: ref list index 5 out of range (2 ref lists)"},
    {"unused_operand", m_unused, NULL,
     "instruction 0 at byte 144 (drop): operand c: unused operand is 3 (must be 0)"},
    {"unused_x", m_unused_x, NULL,
     "instruction 0 at byte 144 (drop): unused operand x is 2 (must be 0)"},
    {"dtype", m_dtype, NULL,
     "instruction 13 at byte 352 (cast): operand x: dtype 15 out of range (0 to 14)"},
    {"axis", m_axis, NULL,
     "instruction 6 at byte 240 (split): operand x: axis 8 out of range (-8 to 7)"},
    {"axis_negative", m_axis_neg, NULL,
     "instruction 6 at byte 240 (split): operand x: axis -9 out of range (-8 to 7)"},
    {"bad_regex", m_bad_regex, NULL,
     "byte 929: pattern 2: regex /^stages\\.(\\d+/ at offset 13: invalid regex: missing closing parenthesis"},
    {"missing_group", m_missing_group, NULL,
     "instruction 2 at byte 176 (rename): operand b: template \"stages.$3.\" at offset 7: '$3' refers to group 3, but the regex has 2 groups"},
    {"group_on_glob", m_missing_name, NULL,
     "instruction 1 at byte 160 (rename): operand b: template \"stages.$1.blocks.${blk}.\" at offset 7: '$1' in the template of a glob pattern"},
    {"missing_capture", m_missing_capture, NULL,
     "instruction 8 at byte 272 (concat): operand b: template \"blocks.{j}.kv\" at offset 7: capture '{j}' is not bound by the pattern"},
    {"index_in_rename", m_index_in_rename, NULL,
     "instruction 1 at byte 160 (rename): operand b: template \"layers.{#}.w\" at offset 7: '{#}' (the index of 'unstack') is not allowed in this template"},
    {"unstack_without_index", m_unstack_no_index, NULL,
     "instruction 10 at byte 304 (unstack): operand b: unstack template \"layers.first\" lacks {#} (the index)"},
    {"pattern_kind", m_pattern_kind, NULL,
     "byte 929: pattern 0: unknown pattern kind 2"},
    {"glob_flags", m_glob_flags, NULL,
     "byte 929: pattern 0: a glob has flags 0x01 (flags are for regexes only)"},
    {"regex_flags", m_regex_flags, NULL,
     "byte 945: pattern 2: unknown regex flag bits 0x40"},
    {"bad_glob", m_bad_glob, NULL,
     "byte 949: pattern 4: glob \"blocks.{i.attn\" at offset 7: unclosed '{' in a glob"},
    {"nul_in_string", m_nul, NULL,
     "byte 842: string 14: NUL byte at offset 2 of a string"},
    {"bad_utf8", m_utf8, NULL,
     "byte 842: string 14: invalid UTF-8 at offset 2 of a string"},
    {"line_zero", m_line0, NULL,
     "byte 468: instruction 4: source position 0:2 (lines and columns start at 1)"},
    {"two_inferred_dims", m_two_infer, NULL,
     "instruction 3 at byte 192 (reshape): operand b: 2 values are -1 (at most one can be inferred)"},
    {"not_a_permutation", m_not_perm, NULL,
     "instruction 5 at byte 224 (permute): operand b: axes are not a permutation of 0..3 (value 3 at position 1)"},
    {"negative_dim", m_neg_dim, NULL,
     "instruction 15 at byte 384 (expect_shape): operand b: value -2 at position 1 is negative"},
    {"sizes_count", m_sizes_count, NULL,
     "instruction 6 at byte 240 (split): operand c: 4 sizes for 3 outputs"},
    {"range_length", m_range_len, NULL,
     "instruction 12 at byte 336 (slice): operand c: a range needs 2 values, the list has 1"},
    {"one_input", m_one_input, NULL,
     "instruction 8 at byte 272 (concat): operand a: the input pattern list has 1 entry (at least 2 are needed)"},
    {"ref_entry", m_ref_entry, NULL,
     "instruction 8 at byte 272 (concat): operand a: pattern index 400 (entry 1 of ref list 1) out of range (11 patterns)"},
    {"too_many_dims", m_too_many_dims, NULL,
     "instruction 3 at byte 192 (reshape): operand b: shape has 9 dimensions (at most 8)"},
    {"hint_second_pattern", m_hint_template, NULL,
     "instruction 14 at byte 368 (hint): operand b: pattern index 14 out of range (11 patterns)"},
    {"rope_direction", m_rope_dir, NULL,
     "instruction 4 at byte 208 (rope): operand x: rope direction 2 (0 or 1)"},
    {"rope_heads_list", m_rope_heads, NULL,
     "instruction 4 at byte 208 (rope): operand b: a head count is 1 value, the list has 2"},
    {"rope_heads_zero", m_rope_heads0, NULL,
     "instruction 4 at byte 208 (rope): operand b: head count 0 (at least 1)"},
    {"fuse_blocked_groups", m_fuse_blocked_groups, NULL,
     "instruction 8 at byte 272 (fuse): operand c: a layout is 0, 1 (blocked) or 1, G >= 1 (groups), then the sizes"},
    {"unfuse_sizes_count", m_unfuse_sizes, NULL,
     "instruction 6 at byte 240 (unfuse): operand c: 2 sizes for 3 outputs"},
    {"unfuse_size_zero", m_unfuse_size0, NULL,
     "instruction 6 at byte 240 (unfuse): operand c: size 0 at position 1: a size is >= 1, or one -1 for the rest"},
    {"version", NULL, b_version,
     "byte 12: bytecode format version 3 is not supported (this wbr reads versions 1 and 2)"},
    {"sentinel", NULL, b_sentinel,
     "byte 4: the header's sentinel bytes are damaged: the file went through a text-mode transfer (line endings converted)"},
    {"byte_order", NULL, b_order,
     "byte 8: byte-order mark is 0x01020304, expected 0x04030201: the file was byte-swapped or damaged"},
    {"section_count", NULL, b_nsect,
     "byte 14: 8 sections (format version 1 has 7)"},
    {"reserved", NULL, b_reserved,
     "byte 20: reserved header field is not 0"},
    {"section_id", NULL, b_sect_id,
     "byte 36: section table entry 1 has id 5 (expected 2, code)"},
    {"section_gap", NULL, b_sect_gap,
     "byte 40: section code starts at byte 144 (expected 140: sections follow each other)"},
    {"section_size", NULL, b_sect_size,
     "byte 104: section refs of 2147483647 bytes runs past the end of the file"},
    {"huge_instruction_count", NULL, b_huge_code,
     "byte 140: 4294967295 instructions exceed the limit of 1048576"},
    {"instruction_count_past_end", NULL, b_code_fits,
     "byte 140: 1000 instructions cannot fit in the 288 bytes left of section code"},
    {"line_count", NULL, b_lines_count,
     "byte 432: line table has 17 entries for 18 instructions"},
    {"huge_string_count", NULL, b_huge_strings,
     "byte 580: 1048577 strings exceed the limit of 1048576"},
    {"string_too_long", NULL, b_str_len,
     "byte 584: string 0: length 65536 exceeds the limit of 65535"},
    {"string_past_section", NULL, b_str_overrun,
     "byte 588: section strings ends in the middle of a string (337 bytes left, 65280 needed)"},
    {"pattern_reserved", NULL, b_pat_reserved,
     "byte 931: pattern 0: reserved bytes are not 0"},
    {"list_too_long", NULL, b_list_len,
     "byte 1021: int list 0: 5000 values exceed the limit of 4096"},
    {"language_version", NULL, b_lang,
     "byte 108: language version 2 is not supported (this wbr knows 1)"},
    {"source_name_length", NULL, b_name_len,
     "byte 120: source name of 5000 bytes exceeds the limit of 4096"},
    {"refs_unused_bytes", NULL, b_refs_left,
     "byte 1169: section refs has 12 unused bytes at its end"},
};

TEST(wbc_hostile_files_rejected_with_exact_messages) {
  for (size_t i = 0; i < sizeof hostiles / sizeof hostiles[0]; i++) {
    const hostile *h = &hostiles[i];
    wbr_program *p = sample();
    if (h->mutate_prog) h->mutate_prog(p);
    size_t len;
    uint8_t *b = serialize(p, &len);
    if (!b) {
      test_failed(__FILE__, __LINE__, "%s: serialize failed", h->id);
      wbr_program_free(p);
      continue;
    }
    if (h->mutate_bytes) {
      h->mutate_bytes(b, len);
      fix_crc(b, len);
    }
    char msg[1024];
    int rc = load(b, len, msg, sizeof msg);
    if (rc != WBR_EBYTECODE || strcmp(msg, h->want) != 0)
      test_failed(__FILE__, __LINE__, "%s: rc %d, message\n      got:  %s\n      want: %s", h->id, rc,
                  msg, h->want);
    free(b);
    wbr_program_free(p);
  }
}

TEST(wbc_save_is_atomic_and_loads_back) {
  char path[512], path2[512];
  snprintf(path, sizeof path, "%s/rules.wbc", test_tmpdir());
  wbr_program *p = sample();
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  CHECK_INT(wbr_program_save(p, ctx, path), 0);
  CHECK_INT(wbr_program_save(p, ctx, path), 0); /* replacing an existing file */
  wbr_program *q = NULL;
  CHECK_INT(wbr_program_load(&q, ctx, path), 0);
  CHECK(q && program_equal(p, q));
  /* Only the one file: no temporary left behind. */
  DIR *d = opendir(test_tmpdir());
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
  if (d) closedir(d);
  CHECK_INT(n, 1);
  /* A directory that does not exist: an error, nothing written. */
  snprintf(path2, sizeof path2, "%s/no/such/dir/x.wbc", test_tmpdir());
  CHECK_INT(wbr_program_save(p, ctx, path2), WBR_EIO);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), "does not exist");
  wbr_program *r = NULL;
  CHECK_INT(wbr_program_load(&r, ctx, path2), WBR_EIO);
  CHECK(r == NULL);
  CHECK_STR(wbr_ctx_last_error(ctx), "cannot open: No such file or directory");
  CHECK_INT(wbr_program_load(&r, ctx, test_tmpdir()), WBR_EBYTECODE);
  CHECK_STR(wbr_ctx_last_error(ctx), "not a regular file");
  wbr_program_free(p);
  wbr_program_free(q);
  wbr_ctx_free(ctx);
}

TEST(wbc_docs_opcode_table_matches_opcodes_h) {
  FILE *f = fopen("docs/bytecode.md", "rb");
  CHECK(f != NULL);
  if (!f) return;
  static char doc[1 << 17];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[n] = 0;
  for (unsigned op = 0; op < WBR_OP_COUNT; op++) {
    const wbr_opinfo *oi = wbr_opinfo_get(op);
    char row[512];
    snprintf(row, sizeof row, "| %u | `%s` | %s | %s | %s | %s | %s |", op, oi->name,
             wbr_opk_name(oi->x), wbr_opk_name(oi->a), wbr_opk_name(oi->b), wbr_opk_name(oi->c),
             oi->doc);
    if (!strstr(doc, row)) test_failed(__FILE__, __LINE__, "docs/bytecode.md lacks the row\n      %s", row);
  }
  for (int k = 0; k < WBR_OPK_NKINDS; k++) {
    char row[512];
    snprintf(row, sizeof row, "| `%s` | %s |", wbr_opk_name((wbr_opk)k), wbr_opk_doc((wbr_opk)k));
    if (!strstr(doc, row)) test_failed(__FILE__, __LINE__, "docs/bytecode.md lacks the row\n      %s", row);
  }
}

/* The int-list column of WBR_OPK_LIST says which operands the VM resolves (parameters): it must
 * mark exactly the kinds whose operand is an int list, as their meanings say. */
TEST(opk_int_list_column_matches_meanings) {
  for (int k = 0; k < WBR_OPK_NKINDS; k++) {
    const char *doc = wbr_opk_doc((wbr_opk)k);
    bool says = strncmp(doc, "int list", 8) == 0;
    if (says != wbr_opk_is_int_list((wbr_opk)k))
      test_failed(__FILE__, __LINE__, "operand kind %s: meaning \"%.30s\", int-list column %d",
                  wbr_opk_name((wbr_opk)k), doc, wbr_opk_is_int_list((wbr_opk)k));
  }
}
