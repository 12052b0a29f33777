/* vm.h — internal to the VM: the run's state, shared by the driver (vm.c: working set, name
 * index, history, diagnostics, target comparison) and the statements (stmt.c: one function per
 * opcode). Nothing outside those two files includes it. */
#ifndef WBR_VM_H
#define WBR_VM_H

#include "bytecode/pattern.h"
#include "plan.h"

/* The state of one run. */
typedef struct vm {
  wbr_plan *plan;
  wbr_ctx *ctx;
  const wbr_program *prog;
  wbr_value *cur;         /* the working set, in order */
  size_t ncur, capcur;
  wbr_map index;          /* name -> position in cur (rebuilt after each statement) */
  bool oom;
  /* Scratch reused by every statement, grown to what it needs (no fixed limit of its own). */
  wbr_value *spare;       /* the next working set is built here */
  size_t capspare;
  size_t *idx;            /* positions in cur of the statement's matches */
  size_t capidx;
  wbr_value *outs;        /* the statement's outputs, in order */
  size_t *out_at;         /* for each output, the position in cur it replaces */
  size_t capouts;         /* of both */
  bool *consumed;         /* cur positions a statement used up (dropped, cut, joined) */
  size_t capconsumed;
  int64_t *sizes;         /* split: the sizes of the parts of one tensor */
  size_t capsizes;
  long *parts;            /* concat, stack: the cur position of each input of one group */
  size_t capparts;
  uint64_t match_budget;  /* steps left for costly pattern matches (bytecode/pattern.h) */
  wbr_namepat_state *mstate; /* every match of the run writes here (the patterns are the program's) */
  bool stop;              /* a limit was hit: the rest of the program does not run */
  uint32_t pc;            /* the statement running */
  const int64_t *ints;    /* the program's int-list values with parameters bound (plan arena),
                             or NULL: the program's own (it has no parameters) */
  struct vm_allow *allow; /* --allow-missing patterns while the run lasts (vm/allow.c), or NULL */
} vm;

/* One statement while it runs: its instruction, its first input pattern compiled, its matches
 * (positions in vm.idx) and the templates its handler compiled. */
typedef struct stmt {
  const wbr_insn *in;
  uint32_t pc;
  uint32_t pat;             /* pattern index of the first input pattern */
  const wbr_namepat *p;     /* it, compiled: the program's (or own, for an unverified program) */
  wbr_namepat *own;
  size_t n;                 /* matches */
  size_t nouts;             /* outputs in vm.outs */
  size_t cast_floats;       /* cast: tensors converted (or reported), so not "only integers" */
  wbr_template *tpl;        /* the output template (rename, unstack, select, slice, concat, stack) */
  wbr_template **tv;        /* split: one template per part */
  uint32_t nt;
  wbr_template **inputs;    /* concat, stack: the names of inputs 2..n, from the first's match */
  uint32_t ninputs;
} stmt;

/* ---- the driver's services (vm.c) ---- */

/* Arena memory of the plan (zeroed); NULL and v->oom when out of memory. */
void *vm_alloc(vm *v, size_t n);
/* Report a problem with statement pc (file:line:col, and the source line when the program has
 * its text). */
void vm_stmt_error(vm *v, uint32_t pc, const char *help, const char *fmt, ...) WBR_PRINTF(4, 5);
/* Record that instruction pc touched val. */
void vm_touch(vm *v, wbr_value *val, uint32_t pc);
/* Add the statements that touched `from` to `to`'s history, in program order. */
void vm_merge_insns(vm *v, wbr_value *to, const wbr_value *from);
/* A node of kind k made by pc, with like's dtype and shape (if like), and room for nin inputs. */
wbr_node *vm_node_new(vm *v, wbr_node_kind k, const wbr_node *like, uint32_t pc, size_t nin);
/* Int list i of the program with its parameters bound (vm/params.c): the values a statement
 * reads. Every int-list operand is read through it, never wbr_program_ints. */
const int64_t *vm_ints(const vm *v, uint32_t i, uint32_t *n);
/* Position of name in the working set, or -1. */
long vm_find(const vm *v, const char *name);
/* True (reported, and the run stops) if a statement would grow the working set to n tensors,
 * past WBR_MAX_TENSORS. */
bool vm_too_many(vm *v, uint64_t n);
/* The statement's (first) input pattern in s->p, and its matches (s->n, in v->idx). False if it
 * could not run (reported, or out of memory). */
bool vm_match(vm *v, stmt *s, uint32_t pat_index);

/* More of the statements' shared steps (stmt.c), for experts.c: begin (after matching: false
 * if nothing to act on), match_cut_begin (also refuses a cut into too many tensors), each_match
 * (values needed), the quantized type of a source node or NULL, and the template (with {#})
 * and its expansion for part `index`. */
typedef bool vm_each_fn(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m);
bool vm_begin(vm *v, stmt *s);
bool vm_match_cut_begin(vm *v, stmt *s, uint32_t nparts);
bool vm_each_match(vm *v, stmt *s, vm_each_fn *one);
const char *vm_quantized(const vm *v, const wbr_node *nd);
int vm_template_index(vm *v, const wbr_namepat *p, uint32_t str, wbr_template **out);
char *vm_expand_index(vm *v, const wbr_template *t, const char *name, const wbr_match *m, long index, size_t *len);

/* ---- the statements (stmt.c) ---- */

/* Run statement s on the working set. True if its outputs (v->outs, s->nouts) and the positions
 * it consumed (v->consumed) make the next working set; false if the working set stays as it is
 * (nothing matched, an expectation, or a failure midway: reported, or out of memory). */
bool vm_stmt_run(vm *v, stmt *s);
/* Bind the program's parameters (values from opts, else defaults) and resolve its int lists
 * into v->ints, before the first statement runs. 0, or WBR_ERULES (reported) or WBR_ENOMEM. */
int vm_params_bind(vm *v, const wbr_plan_options *opts);

/* --allow-missing (vm/allow.c): compile opts' patterns (0, or WBR_EUSAGE for a bad one, reported,
 * or WBR_ENOMEM); whether target tensor tt, not produced, is allowed (then it is listed in the
 * plan); at the end, warn about patterns that match no target tensor, and free them. */
int vm_allow_begin(vm *v, const wbr_plan_options *opts);
bool vm_allow_take(vm *v, const wbr_tensor *tt);
void vm_allow_end(vm *v);

/* Statements defined outside stmt.c (their files), in the dispatch table all the same. */
bool op_PARAM(vm *v, stmt *s); /* vm/params.c */
/* Free what the statement compiled. */
void vm_stmt_free(stmt *s);

/* The steps every statement shares (stmt.c), for the statements written in other files: emit
 * val at working-set position pos; the statement's axis for val (-1: reported); whether nd is
 * too big to make (reported); a name from template t for a match (an arena string, or NULL);
 * compile the template of string str; a reshape, permute or slice node (NULL: reported, or out
 * of memory). */
bool vm_emit(vm *v, stmt *s, size_t pos, wbr_value val);
int vm_axis(vm *v, const stmt *s, const wbr_value *val, int ndim, char sh[256]);
bool vm_too_big(vm *v, const wbr_node *nd, const char *name);
char *vm_expand(vm *v, const wbr_template *t, const char *name, const wbr_match *m, size_t *len);
int vm_template(vm *v, const wbr_namepat *p, uint32_t str, wbr_template **out);
wbr_node *vm_reshape(vm *v, wbr_node *in, const int64_t *dims, int n, const char *name);
wbr_node *vm_permute(vm *v, wbr_node *in, const int *perm, int n, const char *name);
wbr_node *vm_slice(vm *v, wbr_node *in, int axis, int64_t start, int64_t len, const char *label);

/* ---- rope, fuse, unfuse (layout.c) ---- */

/* rope on one matched tensor (stmt.c's per-tensor step). */
bool vm_rope_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m);
/* Whether a fuse joins its inputs by groups (else it is a concat). */
bool vm_fuse_by_groups(const vm *v, const stmt *s);
/* The fused node of one group whose inputs (v->parts) concat node c joins: each input cut into
 * the groups, c joins them on the axis after `axis`, *res is c reshaped back. 1, 0 after
 * reporting, -1 when out of memory. */
int vm_fuse_groups(vm *v, stmt *s, wbr_node *c, const wbr_value *val, int axis, const char *sh, wbr_node **res);
/* unfuse: compile the output templates (false: reported, or out of memory); then each tensor. */
bool vm_unfuse(vm *v, stmt *s);
bool vm_unfuse_one(vm *v, stmt *s, size_t i, wbr_value val, const wbr_match *m);

/* ---- the experts statements (experts.c) ---- */

bool op_STACK_OVER(vm *v, stmt *s);
bool op_CONCAT_OVER(vm *v, stmt *s);
bool op_SPLIT_PARTS(vm *v, stmt *s);
/* A statement with WBR_INSN_TRANSPOSE: true if val's parts (of part_ndim axes) are 2-D, else
 * false after reporting it. */
bool vm_parts_2d(vm *v, const stmt *s, const wbr_value *val, int part_ndim);
/* The transpose of a 2-D part (a permute node labelled "transpose"), or NULL (out of memory). */
wbr_node *vm_transpose_part(vm *v, wbr_node *part);

#endif
