/* opcodes.h — the bytecode's instruction set, defined once. WBR_OP_LIST builds the opcode enum,
 * the name table, the disassembler's operand printing and the verifier's operand checks; the
 * opcode table in docs/bytecode.md repeats the one-line comments (a unit test compares them).
 * One statement of a .wbr is exactly one instruction (see "Why one instruction" below).
 *
 * Instruction format: 16 bytes, fixed width, little-endian in a .wbc.
 *
 *    byte 0      1       2       4               8               12              16
 *        +------+-------+-------+---------------+---------------+---------------+
 *        |  op  | flags |   x   |       a       |       b       |       c       |
 *        +------+-------+-------+---------------+---------------+---------------+
 *          u8     u8      i16          u32             u32             u32
 *
 *   op     the opcode (WBR_OP_*).
 *   flags  bit 0 = WBR_INSN_OPTIONAL (matching nothing is allowed); bit 1 = WBR_INSN_TRANSPOSE
 *          (each part transposed; only the opcodes that cut or join parts); bits 2-7 must be 0.
 *   x      a small immediate: an axis (-8..7, negative counts from the last axis) or a dtype.
 *   a b c  pool indices (strings, patterns, int lists, ref lists) or a u32 immediate, typed by
 *          the opcode's signature below. An operand the opcode does not use must be 0; an
 *          optional pool operand that is absent is WBR_NONE (0xffffffff).
 *
 * Source positions (line, column of the statement) sit in a parallel line table, one entry per
 * instruction, as in Lua: the VM's dispatch loop touches only the compact instructions, and the
 * provenance of any instruction ("produced by rules.wbr:12") is one array lookup.
 *
 * Why one instruction per statement: a statement is the unit the VM matches, reports ("matched
 * nothing") and cites as provenance, and statements have no control flow between them. Variable
 * parts (several input patterns for concat, several output names for split) live in ref lists
 * (pool lists of pattern or string indices), so every instruction stays self-contained and the
 * VM never decodes a multi-instruction sequence.
 */
#ifndef WBR_OPCODES_H
#define WBR_OPCODES_H

#include <stdint.h>

/* Operand kinds: how an operand is read and what the verifier checks about it.
 * K(id, label shown by the disassembler before the value, int list: 1 if the operand names an
 *   int list, whose values may be references to expressions that the VM resolves, meaning) */
#define WBR_OPK_LIST(K)                                                                           \
  K(NONE, "", 0, "unused; must be 0")                                                              \
  K(PAT, "", 0, "pattern index: the tensors the statement acts on")                                \
  K(PATS, "", 0, "ref list of >= 2 pattern indices: one input tensor per pattern")                 \
  K(TPL, "-> ", 0, "string index: output name template (captures of the first pattern)")           \
  K(TPLI, "-> ", 0, "string index: output name template that must contain {#} (the index)")        \
  K(TPLS, "-> ", 0, "ref list of >= 1 string indices: one output name template per part")          \
  K(SHAPE, "", 1, "int list, <= WBR_MAX_DIMS values >= -1, at most one -1 (inferred)")             \
  K(AXES, "", 1, "int list: a permutation of 0..n-1, 1 <= n <= WBR_MAX_DIMS")                      \
  K(SIZES, "sizes ", 1, "int list or WBR_NONE: one size >= -1 per output (at most one -1)")        \
  K(INDEX, "index ", 1, "int list of 1 value: the index along the axis (negative from the end)")   \
  K(RANGE, "range ", 1, "int list of 2 values: start, end (exclusive); negative from the end")     \
  K(CAPTURE, "over ", 0, "string index: a named capture of pattern a; its values number the parts")\
  K(PARTS, "parts ", 1, "int list of 1 value >= 1: the number of equal parts")                     \
  K(EXPSHAPE, "shape ", 1, "int list, <= WBR_MAX_DIMS values >= -1 (-1 matches any size)")         \
  K(COUNT, "count ", 0, "u32 immediate: an expected number of tensors")                            \
  K(AXIS, "axis ", 0, "x immediate: an axis, -WBR_MAX_DIMS .. WBR_MAX_DIMS-1")                     \
  K(DTYPE, "", 0, "x immediate: a wbr_dtype")                                                      \
  K(PARAM, "", 0, "u32 immediate: the next entry of the parameter table (declared in table order)") \
  K(COUNTL, "count ", 1, "int list of 1 value >= 0: an expected number of tensors")                \
  K(ROPEDIR, "", 0, "x immediate: 0 interleaved -> half, 1 half -> interleaved")                   \
  K(HEADS, "heads ", 1, "int list of 1 value >= 1: the head count")                                \
  K(LAYOUT, "", 1, "int list: 0 (blocked) or 1 (groups), the group count G >= 1 (1 if blocked), then no size or one per output (at most one -1)")

typedef enum wbr_opk {
#define WBR_OPK_ENUM(id, label, ilist, doc) WBR_OPK_##id,
  WBR_OPK_LIST(WBR_OPK_ENUM)
#undef WBR_OPK_ENUM
      WBR_OPK_NKINDS
} wbr_opk;

/* The opcodes. OP(id, name, x, a, b, c, semantics)
 * Each statement acts on every tensor whose current name matches pattern a, in set order;
 * unless WBR_INSN_OPTIONAL is set, matching nothing is an error. */
#define WBR_OP_LIST(OP)                                                                           \
  OP(RENAME, "rename", NONE, PAT, TPL, NONE,                                                      \
     "rename each tensor matching a to template b (a regex replaces only the matched part)")      \
  OP(DROP, "drop", NONE, PAT, NONE, NONE, "remove each tensor matching a")                         \
  OP(RESHAPE, "reshape", NONE, PAT, SHAPE, NONE,                                                  \
     "reshape each tensor matching a to shape b (one -1 is inferred)")                            \
  OP(TRANSPOSE, "transpose", NONE, PAT, NONE, NONE,                                               \
     "swap the two axes of each 2-D tensor matching a")                                           \
  OP(PERMUTE, "permute", NONE, PAT, AXES, NONE,                                                   \
     "reorder the axes of each tensor matching a: output axis i is input axis b[i]")              \
  OP(SPLIT, "split", AXIS, PAT, TPLS, SIZES,                                                      \
     "cut each tensor matching a along axis x into parts named by b (equal, or sizes c)")         \
  OP(CONCAT, "concat", AXIS, PATS, TPL, NONE,                                                     \
     "join one tensor per pattern of a, grouped by the first's captures, along axis x, into b")   \
  OP(STACK, "stack", AXIS, PATS, TPL, NONE,                                                       \
     "join one tensor per pattern of a, grouped by the first's captures, on new axis x, into b")  \
  OP(UNSTACK, "unstack", AXIS, PAT, TPLI, NONE,                                                   \
     "cut each tensor matching a along axis x into one tensor per index, named by b")             \
  OP(SELECT, "select", AXIS, PAT, TPL, INDEX,                                                     \
     "take index c along axis x (the axis disappears) of each tensor matching a, into b")         \
  OP(SLICE, "slice", AXIS, PAT, TPL, RANGE,                                                       \
     "take the range c along axis x (the axis stays) of each tensor matching a, into b")          \
  OP(CAST, "cast", DTYPE, PAT, NONE, NONE, "convert each tensor matching a to dtype x")           \
  OP(HINT, "hint", NONE, PAT, PAT, NONE,                                                          \
     "tell the matcher that names matching a correspond to names matching b; no effect here")     \
  OP(EXPECT_SHAPE, "expect_shape", NONE, PAT, EXPSHAPE, NONE,                                     \
     "fail unless every tensor matching a has shape b (-1 matches any size)")                     \
  OP(EXPECT_DTYPE, "expect_dtype", DTYPE, PAT, NONE, NONE,                                        \
     "fail unless every tensor matching a has dtype x")                                           \
  OP(EXPECT_COUNT, "expect_count", NONE, PAT, COUNT, NONE,                                        \
     "fail unless exactly b tensors match a")                                                     \
  OP(HINT_LAYOUT, "hint_layout", NONE, PAT, PAT, AXES,                                            \
     "a hint that also fixes the layout: output axis i is axis c[i] of a's tensor; no effect here") \
  OP(PARAM, "param", NONE, PARAM, NONE, NONE,                                                     \
     "declare parameter a (name and default in the parameter table); no effect when running")    \
  OP(EXPECT_COUNT_OF, "expect_count", NONE, PAT, COUNTL, NONE,                                 \
     "fail unless exactly b[0] tensors match a (a count given by parameters)")                     \
  OP(ROPE, "rope", ROPEDIR, PAT, HEADS, NONE,                                                     \
     "move the rows of each tensor matching a, b heads, between the rotary conventions (x)")      \
  OP(FUSE, "fuse", AXIS, PATS, TPL, LAYOUT,                                                       \
     "join one tensor per pattern of a along axis x into b, whole or block by block (c)")         \
  OP(UNFUSE, "unfuse", AXIS, PAT, TPLS, LAYOUT,                                                   \
     "cut each tensor matching a along axis x into parts named by b, whole or block by block (c)") \
  OP(STACK_OVER, "stack_over", AXIS, PAT, TPL, CAPTURE,                                           \
     "join the matches of a, grouped by their other captures, on new axis x in the order of c")   \
  OP(CONCAT_OVER, "concat_over", AXIS, PAT, TPL, CAPTURE,                                         \
     "join the matches of a, grouped by their other captures, along axis x in the order of c")    \
  OP(SPLIT_PARTS, "split_parts", AXIS, PAT, TPLI, PARTS,                                          \
     "cut each tensor matching a along axis x into c equal parts, named by b with {#} the part")

typedef enum wbr_opcode {
#define WBR_OP_ENUM(id, name, x, a, b, c, doc) WBR_OP_##id,
  WBR_OP_LIST(WBR_OP_ENUM)
#undef WBR_OP_ENUM
      WBR_OP_COUNT
} wbr_opcode;

#define WBR_INSN_OPTIONAL 0x01u /* flags: the statement may match nothing */
/* flags: each part is transposed (2-D parts only): before the join (stack_over, concat_over),
 * after the cut (split_parts, unstack); no other opcode may set it */
#define WBR_INSN_TRANSPOSE 0x02u
#define WBR_INSN_FLAGS_ALL 0x03u
#define WBR_NONE 0xffffffffu    /* an absent optional operand */
#define WBR_INSN_SIZE 16        /* bytes per instruction in a .wbc */

/* One instruction in memory (same fields as on disk; the file is read byte-wise, not cast). */
typedef struct wbr_insn {
  uint8_t op;
  uint8_t flags;
  int16_t x;
  uint32_t a, b, c;
} wbr_insn;

/* The signature of one opcode, from WBR_OP_LIST. */
typedef struct wbr_opinfo {
  const char *name;
  wbr_opk x, a, b, c;
  const char *doc;
} wbr_opinfo;

/* Signature of op, or NULL if op is not a valid opcode. */
const wbr_opinfo *wbr_opinfo_get(unsigned op);
const char *wbr_opk_label(wbr_opk k);
const char *wbr_opk_doc(wbr_opk k);
const char *wbr_opk_name(wbr_opk k);

#endif
