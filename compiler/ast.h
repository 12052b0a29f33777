/* ast.h — the syntax tree of a .wbr rule file. The parser builds it (grammar actions are single
 * builder calls), the checker validates it, the emitter turns it into bytecode, the formatter
 * prints it canonically, and the matcher builds one to print a draft. Every node carries the byte
 * span of the source it came from; line and column are computed only when a diagnostic is shown.
 * All nodes and strings of one file live in one arena, freed with wbr_ast_free. */
#ifndef WBR_AST_H
#define WBR_AST_H

#include "../base/util.h"
#include "../bytecode/program.h"
#include "statements.h"

/* Byte offsets [start, end) into the source text. */
typedef struct wbr_span {
  uint32_t start, end;
} wbr_span;

/* Statement kinds, once: compiler/statements.h. */
typedef enum wbr_stmt_kind {
#define WBR_STMT_ENUM(id, kw, syntax, doc) WBR_STMT_##id,
  WBR_STMT_LIST(WBR_STMT_ENUM)
#undef WBR_STMT_ENUM
      WBR_STMT_COUNT
} wbr_stmt_kind;

const char *wbr_stmt_keyword(wbr_stmt_kind k);

/* Pattern kinds are bytecode/pattern.h's: WBR_PK_GLOB "..." (whole-name match; '*' and {name}
 * captures), WBR_PK_REGEX /.../ (PCRE2, searched anywhere in the name; $1, ${name} references). */

/* A pattern (left side) or a template (right side). `text` is the content without the quotes
 * or slashes. For a quoted string (glob, template, hint) the only escape resolved is \" -> ";
 * the glob escapes stay as written, always two bytes: \* \{ \} \\ (so a '*' or '{' in text
 * not preceded by '\' is a wildcard or a capture). For a /regex/ the text is exactly what was
 * between the slashes (PCRE2 syntax; "\/" stands for '/'). Regex flags are the letters after
 * the closing slash ("i", "x"), held as the bytecode's WBR_RX_* bits; wbr_pattern_letters
 * spells them in the canonical order "ix" (see docs/language.md). */
typedef struct wbr_ast_pat {
  wbr_pattern_kind kind;
  char *text;
  uint8_t flags; /* regex only: WBR_RX_* bits (bytecode/program.h) */
  wbr_span span; /* including the quotes or slashes */
} wbr_ast_pat;

/* A size expression (docs/language.md, "Parameters"): integer literals, parameter names,
 * + - * / (exact) and parentheses. The parser makes one node per literal, name and operator;
 * parentheses leave no node (fmt prints the ones the tree needs). */
typedef enum wbr_expr_op {
  WBR_EXPR_LIT,  /* v */
  WBR_EXPR_NAME, /* name: a parameter */
  WBR_EXPR_ADD,  /* l + r */
  WBR_EXPR_SUB,  /* l - r */
  WBR_EXPR_MUL,  /* l * r */
  WBR_EXPR_DIV   /* l / r, exact: a remainder is an error */
} wbr_expr_op;

typedef struct wbr_ast_expr {
  wbr_expr_op op;
  int64_t v;                  /* LIT */
  const char *name;           /* NAME (arena) */
  struct wbr_ast_expr *l, *r; /* operators */
  wbr_span span;
} wbr_ast_expr;

/* A number where a size, count or index is written: the literal v when e is NULL, else the
 * expression e (which may be constant, e.g. 2 * 64). */
typedef struct wbr_ast_num {
  int64_t v;
  struct wbr_ast_expr *e;
  wbr_span span;
} wbr_ast_num;

/* A list of integers: reshape dims, permute axes, split sizes, expect shape. */
typedef struct wbr_ast_ints {
  int64_t *v;
  size_t n;
  wbr_span span;     /* the whole bracketed list */
  wbr_span *spans;   /* one per element, for diagnostics */
  wbr_ast_expr **e;  /* NULL (all literal), or one per element: NULL for the literal v[i]; only
                        the lists written with nums (reshape, split sizes, expect shape) */
} wbr_ast_ints;

/* Element i of a list as a num. */
static inline wbr_ast_num wbr_ast_ints_num(const wbr_ast_ints *l, size_t i) {
  return (wbr_ast_num){l->v[i], l->e ? l->e[i] : NULL, l->spans ? l->spans[i] : l->span};
}

/* What a hint says about the layout: nothing (the matcher finds it), or exactly this one. */
typedef enum wbr_hint_layout {
  WBR_HINT_ANY = 0,   /* hint "A" = "B" */
  WBR_HINT_TRANSPOSE, /* hint "A" = "B" transpose */
  WBR_HINT_PERMUTE    /* hint "A" = "B" permute (axes): the axes in ints */
} wbr_hint_layout;

/* rope: which convention the rows are in and which they go to (docs/language.md, "rope"). */
typedef enum wbr_rope_dir {
  WBR_ROPE_TO_HALF = 0,       /* interleaved -> half: pairs (2j, 2j+1) become (j, j + d/2) */
  WBR_ROPE_TO_INTERLEAVED = 1 /* half -> interleaved: the inverse */
} wbr_rope_dir;

typedef enum wbr_expect_kind {
  WBR_EXPECT_SHAPE, /* expect PAT shape [d, ...]   (-1 matches any size) */
  WBR_EXPECT_DTYPE, /* expect PAT dtype f32 */
  WBR_EXPECT_COUNT  /* expect PAT count N */
} wbr_expect_kind;

/* A comment kept for the formatter: its text from '#' to the end of the line. */
typedef struct wbr_ast_comment {
  char *text;
  wbr_span span;
  bool blank_before; /* a blank line directly above it (ignored for a statement's first lead) */
} wbr_ast_comment;

typedef struct wbr_ast_stmt {
  wbr_stmt_kind kind;
  bool optional;        /* 'optional' prefix: matching nothing is not an error */
  wbr_span span;        /* the whole statement */
  wbr_span kw_span;     /* the keyword */

  wbr_ast_pat *in;      /* input patterns: 1, or several for concat/stack; hint: 2 globs */
  size_t nin;
  wbr_ast_pat *out;     /* output templates: rename 1, split n, concat/stack/select/slice 1 */
  size_t nout;

  wbr_ast_ints ints;    /* reshape dims, permute axes (also a hint's), split sizes, expect shape */
  bool has_ints;

  int64_t axis;         /* split, concat, stack, unstack, select, slice */
  bool has_axis;
  wbr_span axis_span;

  int64_t index;        /* select: index; slice: start */
  int64_t end;          /* slice: end (exclusive) */
  wbr_span index_span;
  wbr_ast_expr *index_e, *end_e; /* written as expressions (NULL: the literals above) */
  wbr_span end_span;    /* slice: the end alone (index_span covers start:end) */

  wbr_dtype dtype;      /* cast; expect dtype */
  wbr_span dtype_span;

  wbr_expect_kind expect;
  wbr_hint_layout hint_layout; /* hint: the layout it asserts (WBR_HINT_ANY: none) */
  int64_t count;        /* expect count */
  wbr_span count_span;
  wbr_ast_expr *count_e; /* expect count written as an expression (NULL: the literal count) */

  /* The experts forms (docs/language.md "Experts"): stack/concat PATTERN over NAME, split ...
   * parts N, and 'transpose' of each part (those two and unstack ... transpose). */
  const char *over;     /* the capture whose values number the parts, or NULL */
  wbr_span over_span;
  wbr_ast_num parts;    /* split ... parts N */
  bool has_parts;
  bool transpose;       /* each part transposed: before the join, after the cut */
  char *name;           /* param: the parameter's name */
  wbr_span name_span;
  wbr_ast_num def;      /* param: the default, when has_def */
  bool has_def;
  wbr_ast_num groups;   /* rope: the head count; fuse, unfuse with 'groups': the group count */
  bool blocked;         /* fuse, unfuse: 'blocked' (groups is unused) */
  wbr_rope_dir rope;    /* rope: the direction */

  wbr_ast_comment *lead; /* comment lines directly above the statement */
  size_t nlead;
  wbr_ast_comment *trail; /* comment on the same line, after the statement, or NULL */
  bool blank_before;      /* a blank line separated it from what came before */
  bool blank_after_lead;  /* a blank line between its lead comments and the statement line */
} wbr_ast_stmt;

typedef struct wbr_ast_file {
  const char *name;     /* file name for diagnostics */
  const char *src;      /* the source text (owned by the arena copy) */
  size_t len;
  uint32_t *line_start; /* byte offset of each line's first byte (arena), so that line and
                         * column are a binary search, not a scan; NULL if not built */
  size_t nlines;
  int version;          /* from the 'weightbridge N' header; 0 if missing */
  wbr_span version_span;
  wbr_ast_comment *version_trail; /* comment on the header line, or NULL */
  bool version_blank_before;      /* a blank line between the head comments and the header */
  wbr_ast_comment *head; /* comments before the header */
  size_t nhead;
  wbr_ast_stmt *stmts;
  size_t nstmts;
  wbr_ast_comment *tail; /* comments after the last statement */
  size_t ntail;
  void *arena;          /* owns every node and string above */
} wbr_ast_file;

void wbr_ast_free(wbr_ast_file *f);

#endif
