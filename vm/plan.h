/* plan.h — the result of running a program symbolically over a tensor set: for every output
 * tensor, the expression that builds it from source tensors (a small tree of nodes), its shape
 * and dtype after each step, and the instructions that touched it. `plan`, `check` and `apply`
 * all start from this; no tensor data is read to build it. */
#ifndef WBR_PLAN_H
#define WBR_PLAN_H

#include "base/arena.h"
#include "bytecode/program.h"
#include "base/tensorset.h"

/* Limits of one run (docs/language.md, "Limits"): a split or unstack cuts one tensor into at
 * most WBR_MAX_PARTS tensors, and the working set never holds more than WBR_MAX_TENSORS (the
 * source included), so a small input cannot make a plan of unbounded size. */
#define WBR_MAX_PARTS 65536u
#define WBR_MAX_TENSORS 1000000u

typedef enum wbr_node_kind {
  WBR_N_SOURCE,  /* a source tensor */
  WBR_N_RESHAPE, /* same bytes, new shape */
  WBR_N_PERMUTE, /* perm[] (transpose is (1, 0)) */
  WBR_N_CAST,    /* to dtype */
  WBR_N_SLICE,   /* [start, start+len) along axis; drop_axis for select/unstack */
  WBR_N_CONCAT,  /* inputs joined along axis (stack: inputs are reshaped to add the axis) */
} wbr_node_kind;

typedef struct wbr_node wbr_node;
struct wbr_node {
  wbr_node_kind kind;
  wbr_dtype dtype;
  int ndim;
  int64_t shape[WBR_MAX_DIMS];
  uint32_t insn;        /* instruction that made it; UINT32_MAX for a source */
  size_t src;           /* WBR_N_SOURCE: index in the source set */
  int perm[WBR_MAX_DIMS];
  int axis;
  int64_t start, len;   /* WBR_N_SLICE */
  bool drop_axis;       /* WBR_N_SLICE from select/unstack: the axis disappears */
  /* How the statement described it, for plans that read like the rules: "split" with
   * sections/index, "select", "unstack", "slice", "stack", "transpose". */
  const char *label;
  int64_t parts;        /* split: number of parts (equal) or 0 */
  const int64_t *sizes; /* split by sizes (into the program's pool), or NULL */
  uint32_t nsizes;
  int64_t part;         /* split/unstack: which part */
  const char *over;     /* stack/concat ... over NAME: the capture that numbered the inputs */
  wbr_node **in;        /* inputs (1 for unary nodes, n for concat) */
  size_t nin;
};

/* The statements that touched a value, newest first, shared between values (a persistent list:
 * touching a value costs one node, whatever its history). */
typedef struct wbr_hist {
  uint32_t pc;
  const struct wbr_hist *prev;
} wbr_hist;

/* One tensor of the working set / the output. */
typedef struct wbr_value {
  char *name;
  size_t len;           /* strlen(name), kept: names are matched against every statement */
  wbr_node *node;
  const wbr_hist *hist; /* while the program runs */
  uint32_t *insns;      /* outputs: instructions that touched it, in order (renames included) */
  size_t ninsns;
} wbr_value;

/* A parameter as bound for this plan: its value and where the value came from ("--param",
 * "config num_attention_heads", "default"). */
typedef struct wbr_plan_param {
  const char *name;
  int64_t value;
  const char *from;
} wbr_plan_param;

struct wbr_plan {
  wbr_ctx *ctx;
  const wbr_program *prog;
  const wbr_tensorset *src;
  const wbr_tensorset *target;   /* NULL if none */
  wbr_value *out;                /* outputs, in target order when a target was given */
  size_t nout;
  size_t *dropped;               /* source indices removed by drop */
  size_t ndropped;
  size_t problems;               /* mapping errors reported */
  wbr_plan_param *params;        /* the program's parameters as bound (vm/params.c), in order */
  size_t nparams;
  const wbr_tensor **allowed;    /* target tensors left unproduced by --allow-missing (vm/allow.c) */
  size_t nallowed;
  wbr_arena arena;               /* owns nodes, names, insn lists */
};

#endif
