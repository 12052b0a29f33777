/* test_vm.c — the VM has no size limit of its own on a statement's lists (issue 11). It used to
 * cut into stack arrays of 4096 entries: a split into more parts silently left the tensor uncut
 * (no error, exit 0), and a concat of more inputs read past the array. Only the loaders' list
 * limit (WBR_MAX_LIST, also 4096) kept that from happening, so these tests hand the VM longer
 * lists built directly in the program's pools, and also pin the limit as users meet it. */
#include <stdlib.h>

#include "harness.h"
#include "vm/plan.h"
#include "weightbridge.h"

#define LONG 5000u /* more entries than WBR_MAX_LIST */

/* A ref list of n > WBR_MAX_LIST entries: two lists the builder accepts, laid out one after the
 * other in the pool, joined into the first (as a raised WBR_MAX_LIST would let a loader make). */
static uint32_t long_refs(wbr_program *p, const uint32_t *v, uint32_t n) {
  int64_t r = wbr_program_add_refs(p, v, WBR_MAX_LIST);
  int64_t r2 = wbr_program_add_refs(p, v + WBR_MAX_LIST, n - WBR_MAX_LIST);
  CHECK(r >= 0 && r2 == r + 1);
  CHECK_INT(p->refs[r2].off, p->refs[r].off + WBR_MAX_LIST);
  p->refs[r].n = n;
  return (uint32_t)r;
}

static uint32_t glob(wbr_program *p, const char *text) {
  int64_t i = wbr_program_add_pattern(p, WBR_PK_GLOB, 0, text, strlen(text));
  CHECK(i >= 0);
  return (uint32_t)i;
}

/* A set of one F32 vector of n elements (no data: planning reads none). */
static wbr_tensorset *one_vector(const char *name, int64_t n) {
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, NULL);
  CHECK_INT(wbr_tensorset_add(ts, name, WBR_F32, 1, &n, NULL), 0);
  return ts;
}

/* Plan the one-instruction program `in` over src with no target: it must report nothing. */
static wbr_plan *run(wbr_program *prog, wbr_insn in, wbr_tensorset *src) {
  CHECK(wbr_program_add_insn(prog, in, 1, 1) == 0);
  wbr_program_finish(prog);
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_plan *plan = NULL;
  CHECK_INT(wbr_plan_new(&plan, ctx, prog, src, NULL), 0);
  CHECK_INT(g.n, 0);
  CHECK_INT(wbr_plan_problems(plan), 0);
  wbr_ctx_free(ctx);
  return plan;
}

TEST(vm_split_into_more_parts_than_4096) {
  wbr_tensorset *ts = one_vector("t", LONG);
  wbr_program *p;
  CHECK_INT(wbr_program_new(&p), 0);
  uint32_t *names = malloc(LONG * sizeof *names);
  for (uint32_t k = 0; k < LONG; k++) {
    char nm[16];
    snprintf(nm, sizeof nm, "part.%u", k);
    names[k] = (uint32_t)wbr_program_add_str(p, nm, strlen(nm));
  }
  wbr_insn in = {.op = WBR_OP_SPLIT, .x = 0, .a = glob(p, "t"), .b = long_refs(p, names, LONG), .c = WBR_NONE};
  wbr_plan *plan = run(p, in, ts);
  /* main: 1 output, 't' uncut, and no error */
  CHECK_INT(wbr_plan_count(plan), LONG);
  if (plan && plan->nout == LONG) {
    CHECK_STR(plan->out[0].name, "part.0");
    CHECK_STR(plan->out[LONG - 1].name, "part.4999");
    CHECK_INT(plan->out[LONG - 1].node->kind, WBR_N_SLICE);
    CHECK_INT(plan->out[LONG - 1].node->start, LONG - 1);
    CHECK_INT(plan->out[LONG - 1].node->shape[0], 1);
  }
  wbr_plan_free(plan);
  wbr_program_free(p);
  wbr_tensorset_free(ts);
  free(names);
}

TEST(vm_concat_of_more_inputs_than_4096) {
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, NULL);
  wbr_program *p;
  CHECK_INT(wbr_program_new(&p), 0);
  uint32_t *pats = malloc(LONG * sizeof *pats);
  int64_t shape[1] = {1};
  for (uint32_t k = 0; k < LONG; k++) {
    char nm[16];
    snprintf(nm, sizeof nm, "in.%u", k);
    CHECK_INT(wbr_tensorset_add(ts, nm, WBR_F32, 1, shape, NULL), 0);
    pats[k] = glob(p, nm);
  }
  int64_t out = wbr_program_add_str(p, "joined", 6);
  wbr_insn in = {.op = WBR_OP_CONCAT, .x = 0, .a = long_refs(p, pats, LONG), .b = (uint32_t)out};
  wbr_plan *plan = run(p, in, ts);
  CHECK_INT(wbr_plan_count(plan), 1);
  if (plan && plan->nout == 1) {
    const wbr_node *c = plan->out[0].node;
    CHECK_STR(plan->out[0].name, "joined");
    CHECK_INT(c->kind, WBR_N_CONCAT);
    CHECK_INT(c->nin, LONG);
    CHECK_INT(c->shape[0], LONG);
    CHECK_INT(c->in[LONG - 1]->src, LONG - 1); /* the last input is the last tensor */
  }
  wbr_plan_free(plan);
  wbr_program_free(p);
  wbr_tensorset_free(ts);
  free(pats);
}

/* The limit users meet is the language's: a statement of 4096 names compiles and runs, 4097 is
 * refused at compile time with one clear error. */
static char *split_rules(uint32_t parts) {
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_puts(&b, "weightbridge 1\nsplit \"t\" axis 0 ->");
  for (uint32_t k = 0; k < parts; k++) wbr_buf_printf(&b, "%s \"p%u\"", k ? "," : "", k);
  wbr_buf_puts(&b, "\n");
  return wbr_buf_take(&b);
}

TEST(vm_split_at_the_list_limit) {
  wbr_tensorset *ts = one_vector("t", WBR_MAX_LIST);
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  char *rules = split_rules(WBR_MAX_LIST);
  wbr_program *p = NULL;
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, strlen(rules)), 0);
  wbr_plan *plan = NULL;
  if (p) CHECK_INT(wbr_plan_new(&plan, ctx, p, ts, NULL), 0);
  CHECK_INT(wbr_plan_count(plan), WBR_MAX_LIST);
  CHECK_INT(g.n, 0);
  free(rules);
  wbr_plan_free(plan);
  wbr_program_free(p);
  rules = split_rules(WBR_MAX_LIST + 1);
  p = NULL;
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, strlen(rules)), WBR_ERULES);
  CHECK_INT(g.n, 1);
  CHECK_CONTAINS(g.last, "4097 names in one statement is more than the limit of 4096");
  free(rules);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
  wbr_tensorset_free(ts);
}

/* Patterns are compiled once per program (issue 11): the verifier, run by the compiler and by
 * the .wbc loader, keeps what it compiled, and every plan of the program matches with those
 * (each run with its own match state and budget, so one run cannot spend the next one's). */
static void check_compiled(const wbr_program *p) {
  CHECK(p->npats == 3 && p->nnp == p->npats);
  for (uint32_t i = 0; i < p->nnp; i++) CHECK(wbr_program_namepat(p, i) != NULL);
}

TEST(vm_patterns_compiled_once_per_program) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  static const char rules[] = "weightbridge 1\nrename \"a.{i}\" -> \"b.{i}\"\noptional drop /^(a+)+$/\n"
                              "expect \"b.*\" count 400\n";
  wbr_program *p = NULL, *q = NULL;
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, sizeof rules - 1), 0);
  if (!p) return;
  check_compiled(p);
  void *bytes = NULL;
  size_t len = 0;
  CHECK_INT(wbr_program_serialize(p, ctx, &bytes, &len), 0);
  CHECK_INT(wbr_program_load_bytes(&q, ctx, "r.wbc", bytes, len), 0);
  wbr_free(bytes);
  if (q) check_compiled(q);
  /* 400 names on which the regex is costly: the run's budget is spent part way through. */
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, NULL);
  int64_t shape[1] = {1};
  for (int k = 0; k < 400; k++) {
    char nm[40];
    snprintf(nm, sizeof nm, "a.%d", k);
    CHECK_INT(wbr_tensorset_add(ts, nm, WBR_F32, 1, shape, NULL), 0);
    snprintf(nm, sizeof nm, "aaaaaaaaaaaaaaaaaac.%d", k);
    CHECK_INT(wbr_tensorset_add(ts, nm, WBR_F32, 1, shape, NULL), 0);
  }
  const struct wbr_namepat *first = wbr_program_namepat(p, 0);
  char msg[3][1024];
  for (int run = 0; run < 3; run++) {
    wbr_plan *plan = NULL;
    g.n = 0;
    CHECK_INT(wbr_plan_new(&plan, ctx, run == 2 && q ? q : p, ts, NULL), 0);
    CHECK_INT(wbr_plan_problems(plan), 1);
    CHECK_INT(wbr_plan_count(plan), 800);
    CHECK_INT(g.n, 1);
    snprintf(msg[run], sizeof msg[run], "%s", g.last);
    wbr_plan_free(plan);
  }
  CHECK_CONTAINS(msg[0], "this run's budget of 100000000 steps for costly matches is spent");
  CHECK_STR(msg[1], msg[0]); /* the second run of p had a budget of its own */
  CHECK_STR(msg[2], msg[0]);
  CHECK(wbr_program_namepat(p, 0) == first); /* planning compiled nothing new */
  wbr_tensorset_free(ts);
  wbr_program_free(q);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
}

/* A concat whose joined axis would pass INT64_MAX is one error at the statement, and the inputs
 * stay as they were: 1100 empty tensors of 2^53 rows each (the largest dim a manifest holds). */
TEST(vm_concat_joined_axis_past_int64) {
  enum { N = 1100 };
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, NULL);
  int64_t shape[2] = {(int64_t)1 << 53, 0};
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_puts(&b, "weightbridge 1\nconcat ");
  for (int k = 0; k < N; k++) {
    char nm[16];
    snprintf(nm, sizeof nm, "t.%d", k);
    CHECK_INT(wbr_tensorset_add(ts, nm, WBR_F32, 2, shape, NULL), 0);
    wbr_buf_printf(&b, "%s\"%s\"", k ? ", " : "", nm);
  }
  wbr_buf_puts(&b, " axis 0 -> \"joined\"\n");
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_program *p = NULL;
  wbr_plan *plan = NULL;
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", b.p, b.len), 0);
  if (p) CHECK_INT(wbr_plan_new(&plan, ctx, p, ts, NULL), 0);
  CHECK_INT(g.n, 1);
  CHECK_CONTAINS(g.last, "cannot concat 't.0' [9007199254740992, 0]: the joined axis would be longer than 9223372036854775807");
  CHECK_INT(wbr_plan_count(plan), N);
  wbr_buf_free(&b);
  wbr_plan_free(plan);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
  wbr_tensorset_free(ts);
}
