/* program.h — the in-memory rule program (struct wbr_program): instructions, their source
 * positions and the typed pools they index, plus the accessors the VM uses, a builder for the
 * emitter and tests, and the verifier shared by the emitter and the .wbc loader. The syntax of
 * patterns and templates is pattern.h's. */
#ifndef WBR_PROGRAM_H
#define WBR_PROGRAM_H

#include "opcodes.h"
#include "params.h"
#include "pattern.h"
#include "base/text.h"
#include "base/util.h"

/* Pattern kinds (wbr_pattern.kind: pattern.h's WBR_PK_*) and regex flag bits (wbr_pattern.flags;
 * the AST holds the same bits). */
#define WBR_RX_CASELESS 0x01u  /* i */
#define WBR_RX_MULTILINE 0x02u /* m */
#define WBR_RX_DOTALL 0x04u    /* s */
#define WBR_RX_EXTENDED 0x08u  /* x */
#define WBR_RX_NOCAPTURE 0x10u /* n: plain (...) does not capture */
#define WBR_RX_ALL 0x1fu
#define WBR_RX_LETTERS "imsxn" /* bit i <-> letter i */

#define WBR_WBC_VERSION 1 /* the .wbc format version this runtime reads and writes */
#define WBR_WBC_VERSION_PARAMS 2 /* ... and the one for programs with parameters (params.h) */

/* Limits enforced by the builder and the loader (docs/bytecode.md, "Limits"). */
#define WBR_MAX_INSNS (1u << 20)
#define WBR_MAX_POOL (1u << 20)   /* entries per pool */
#define WBR_MAX_STR 65535u        /* bytes per string */
#define WBR_MAX_LIST 4096u        /* values per int list or ref list */
#define WBR_MAX_SOURCE_NAME 4096u /* bytes of the source file name */

typedef struct wbr_pattern {
  uint8_t kind;  /* WBR_PK_* */
  uint8_t flags; /* WBR_RX_* (0 for a glob) */
  uint32_t text; /* string index */
} wbr_pattern;

typedef struct wbr_pos {
  uint32_t line, col; /* 1-based */
} wbr_pos;

/* Where an instruction's statement is in the program's text: bytes [start, end). A program
 * compiled here has the statement's whole extent; a loaded .wbc records only where statements
 * start, so there end == start; WBR_NO_SPAN when the position is not in the text. */
typedef struct wbr_src_span {
  uint32_t start, end;
} wbr_src_span;
#define WBR_NO_SPAN UINT32_MAX

typedef struct wbr_list {
  uint32_t off, n; /* into the flat value array of its pool */
} wbr_list;

struct wbr_program_builder;

struct wbr_program {
  wbr_insn *code;
  wbr_pos *pos; /* one per instruction */
  uint32_t ncode, code_cap;

  char **strs; /* NUL-terminated, no NUL inside, valid UTF-8 */
  uint32_t *str_len;
  uint32_t nstrs, strs_cap;

  wbr_pattern *pats;
  uint32_t npats, pats_cap;

  wbr_list *ints; /* int lists: values in int_vals */
  int64_t *int_vals;
  uint32_t nints, ints_cap;
  size_t nint_vals, int_vals_cap;

  wbr_list *refs; /* ref lists: u32 pool indices in ref_vals */
  uint32_t *ref_vals;
  uint32_t nrefs, refs_cap;
  size_t nref_vals, ref_vals_cap;

  /* Parameters (format version 2 only; bytecode/params.h): the parameter table and the
   * expression pool that int-list values may refer to. Both empty in a version-1 program. */
  struct wbr_param_decl *params;
  uint32_t nparams, params_cap;
  struct wbr_xnode *xnodes;
  uint32_t nxnodes, xnodes_cap;
  bool xrefs; /* format 2: int-list values in the reference range are references (params.h) */

  char *source;         /* the .wbr file name it was compiled from ("" if unknown) */
  uint64_t source_hash; /* FNV-1a 64 of the .wbr text */
  uint32_t lang_version;

  struct wbr_program_builder *b; /* dedupe maps while building; NULL once finished or loaded */

  /* Every pattern compiled, kept by wbr_program_verify (which compiles them to check them) so
   * that runs do not compile them again; NULL until a verify succeeds. */
  struct wbr_namepat **np;
  uint32_t nnp;

  /* The rule text (owned, NUL-terminated) and one span per instruction in it; both NULL when
   * the text is not known (a .wbc nobody attached its .wbr to, a program built by hand). */
  char *text;
  size_t text_len;
  size_t text_end; /* up to its first NUL: what diagnostics quote */
  wbr_src_span *spans;
};

/* ---- accessors (the VM's view; indices must have been verified) ---- */
static inline uint32_t wbr_program_ninsns(const wbr_program *p) { return p->ncode; }
static inline const wbr_insn *wbr_program_insn(const wbr_program *p, uint32_t i) {
  return &p->code[i];
}
static inline wbr_pos wbr_program_pos(const wbr_program *p, uint32_t i) { return p->pos[i]; }
static inline const char *wbr_program_str(const wbr_program *p, uint32_t i) { return p->strs[i]; }
static inline const wbr_pattern *wbr_program_pattern(const wbr_program *p, uint32_t i) {
  return &p->pats[i];
}
static inline const int64_t *wbr_program_ints(const wbr_program *p, uint32_t i, uint32_t *n) {
  *n = p->ints[i].n;
  return p->int_vals + p->ints[i].off;
}
static inline const uint32_t *wbr_program_refs(const wbr_program *p, uint32_t i, uint32_t *n) {
  *n = p->refs[i].n;
  return p->ref_vals + p->refs[i].off;
}
/* Whether int-list value v of p refers to an expression (only in a format-2 program: in a
 * version-1 file every value is a literal, whatever it is). */
static inline bool wbr_program_is_xref(const wbr_program *p, int64_t v) {
  return p->xrefs && wbr_xref_is(v);
}
/* Pattern i as verified and compiled, or NULL (the program was not verified, or i is new). */
static inline const struct wbr_namepat *wbr_program_namepat(const wbr_program *p, uint32_t i) {
  return i < p->nnp ? p->np[i] : NULL;
}
static inline const char *wbr_program_source(const wbr_program *p) { return p->source; }
static inline uint64_t wbr_program_hash(const wbr_program *p) { return p->source_hash; }

/* The flag letters of a pattern's flag bits, in canonical order ("ix"), NUL-terminated. */
void wbr_pattern_letters(uint8_t flags, char out[8]);

/* ---- building (emitter, tests) ---- */
int wbr_program_new(wbr_program **out);
/* Each add returns the pool index (deduplicated), or -1 when out of memory or over a limit. */
int64_t wbr_program_add_str(wbr_program *p, const char *s, size_t len);
int64_t wbr_program_add_pattern(wbr_program *p, uint8_t kind, uint8_t flags, const char *text,
                                size_t len);
int64_t wbr_program_add_ints(wbr_program *p, const int64_t *v, uint32_t n);
int64_t wbr_program_add_refs(wbr_program *p, const uint32_t *v, uint32_t n);
/* Append an instruction; returns its address or -1. */
int64_t wbr_program_add_insn(wbr_program *p, wbr_insn in, uint32_t line, uint32_t col);
int wbr_program_set_source(wbr_program *p, const char *name, uint64_t hash, uint32_t lang);
/* Drop the dedupe maps (the loader and the emitter call it when done). */
void wbr_program_finish(wbr_program *p);

/* Make a copy of text[0, len) the program's own, with one span per instruction (source.c; the
 * emitter calls it). 0, WBR_ENOMEM, or WBR_ERULES for a text of 4 GiB or more. */
int wbr_program_set_text(wbr_program *p, const char *text, size_t len, const wbr_src_span *spans);
/* The line of instruction i's statement (a copy, caller frees) and in *caret how many bytes of
 * it to underline from its column (the statement's first word), or NULL when p has no text or
 * the position is not in it (diagnostics then show no source line). */
char *wbr_program_quote(const wbr_program *p, uint32_t i, int *caret);

/* Free the compiled patterns a verify kept on p (verify.c compiles them again). */
void wbr_program_drop_patterns(wbr_program *p);

/* ---- verification ---- */
/* Check every pool entry and every operand of every instruction, and keep the compiled
 * patterns on p (wbr_program_namepat). Reports one error about
 * `file` and returns WBR_EBYTECODE on the first problem. `code_base` is the byte offset of the
 * first instruction in the .wbc (0 when not loaded from a file), used to give instruction
 * offsets in messages. A bad pool entry is reported at the first instruction that uses it
 * (its address and line:col). If bad_addr is not NULL it is set to the address of the
 * instruction that failed or uses the entry that failed, or -1 (nothing failed, or an entry no
 * instruction uses did). */
int wbr_program_verify(wbr_program *p, wbr_ctx *ctx, const char *file, size_t code_base,
                       int64_t *bad_addr);
/* Pool-entry checks shared with the loader: NULL if fine, else a message written to err. */
const char *wbr_check_str(const char *s, size_t len, char *err, size_t errn);
const char *wbr_check_pattern(const wbr_program *p, uint32_t i, char *err, size_t errn);

#endif
