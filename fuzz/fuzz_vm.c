/* fuzz_vm.c — libFuzzer target for the VM: any bytes that load as a .wbc (so pass the verifier)
 * must plan over a tensor set without a crash, a hang or an out-of-bounds access, whatever the
 * operands and source positions say. The input is repaired like fuzz_wbc's (size field and
 * checksum) so mutations reach the verifier and the VM; what loads gets a fixed rule text
 * attached (so diagnostics quote lines at the fuzzed positions) and is planned over a small set
 * built in memory, alone and against itself as the target, then rendered. Every problem the VM
 * finds must be reported exactly once. Seeds: rule files compiled by tools/fuzz_seeds.sh. */
#include <stdlib.h>
#include <string.h>

#include "bytecode/program.h"
#include "fuzz_repair.h"
#include "weightbridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 64

/* Lines of every kind a position can land on: short, long, CRLF, tab, empty, after a NUL. */
static const char rules_text[] = "weightbridge 1\n\tdrop \"a\"\r\n\nrename \"x.{i}\" -> \"y.{i}\"  # c\n"
                                 "  split \"q\" axis 0 -> \"q1\", \"q2\"\n\0after a NUL\n";

/* Names most rules and seeds touch, with shapes that let reshape, split and stack do something. */
static const struct {
  const char *name;
  wbr_dtype dtype;
  int ndim;
  int64_t shape[4];
} fixed[] = {
    {"conv1.weight", WBR_F32, 4, {8, 3, 3, 3}},      {"bn1.weight", WBR_F32, 1, {8}},
    {"bn1.num_batches_tracked", WBR_I64, 0, {0}},   {"fc.weight", WBR_F16, 2, {10, 8}},
    {"blocks.0.attn.qkv.weight", WBR_F32, 2, {24, 8}}, {"layers.0.w", WBR_BF16, 2, {4, 6}},
    {"layers.1.w", WBR_BF16, 2, {4, 6}},             {"x", WBR_F32, 3, {2, 3, 4}},
};

/* A pool string made into a tensor name: captures and stars become "0", so globs and templates
 * of the program name tensors that exist. NULL for a string that looks like a regex. */
static char *name_of(const char *s) {
  if (strpbrk(s, "^$()[]\\|+?")) return NULL;
  size_t n = strlen(s);
  char *out = malloc(2 * n + 2), *o = out;
  if (!out) return NULL;
  for (const char *p = s; *p; p++) {
    if (*p == '*') *o++ = '0';
    else if (*p == '{') {
      const char *e = strchr(p, '}');
      if (!e) break;
      *o++ = '0';
      p = e;
    } else *o++ = *p;
  }
  *o = 0;
  if (!*out) {
    free(out);
    return NULL;
  }
  return out;
}

static wbr_tensorset *tensors_for(const wbr_program *p) {
  wbr_tensorset *ts;
  if (wbr_tensorset_new(&ts, NULL) != 0) return NULL;
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    (void)wbr_tensorset_add(ts, fixed[i].name, fixed[i].dtype, fixed[i].ndim, fixed[i].shape, NULL);
  for (uint32_t i = 0; i < p->nstrs && wbr_tensorset_count(ts) < MAX_NAMES; i++) {
    char *nm = name_of(wbr_program_str(p, i));
    if (nm && wbr_tensorset_find(ts, nm) < 0) {
      size_t k = i % (sizeof fixed / sizeof fixed[0]);
      (void)wbr_tensorset_add(ts, nm, fixed[k].dtype, fixed[k].ndim, fixed[k].shape, NULL);
    }
    free(nm);
  }
  return ts;
}

/* Plan prog over src (against target, which may be NULL) and render it in every format. With
 * `given`, every parameter gets a small value (1 to 4), so the expressions are evaluated too. */
static void plan_and_render(const wbr_program *prog, const wbr_tensorset *src, const wbr_tensorset *target,
                            bool given) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return;
  wbr_plan *plan = NULL;
  wbr_param_value vals[WBR_MAX_PARAMS];
  wbr_plan_options o = WBR_PLAN_OPTIONS_INIT;
  for (uint32_t i = 0; given && i < prog->nparams; i++)
    vals[i] = (wbr_param_value){wbr_program_param_name(prog, i), 1 + i % 4, WBR_PARAM_FLAG, NULL};
  o.params = vals;
  o.nparams = given ? prog->nparams : 0;
  int rc = wbr_plan_new_with(&plan, ctx, prog, src, target, &o);
  /* A plan with problems is still a plan; only binding parameters (a value missing, an inexact
   * division, a size below 0) refuses one, and says why. */
  bool has_params = prog->nparams || prog->nxnodes;
  if (rc != 0 && rc != WBR_ENOMEM && !(rc == WBR_ERULES && has_params && wbr_ctx_error_count(ctx) > 0)) abort();
  if (rc == 0) {
    if (wbr_ctx_error_count(ctx) != wbr_plan_problems(plan)) abort(); /* each problem reported once */
    for (int f = WBR_PLAN_TEXT; f <= WBR_PLAN_JSON; f++) wbr_free(wbr_plan_render(plan, (wbr_plan_format)f));
  }
  wbr_plan_free(plan);
  wbr_ctx_free(ctx);
}

static void try_plan(const uint8_t *data, size_t size) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return;
  wbr_program *p = NULL;
  if (wbr_program_load_bytes(&p, ctx, "fuzz.wbc", data, size) == 0) {
    /* the text is not the program's: claim it is, so fuzzed line:col meet a real text */
    p->source_hash = wbr_hash(rules_text, sizeof rules_text - 1);
    if (wbr_program_attach_source(p, rules_text, sizeof rules_text - 1) != 0) abort();
    wbr_tensorset *ts = tensors_for(p);
    if (ts) {
      plan_and_render(p, ts, NULL, false);
      plan_and_render(p, ts, ts, false);
      if (p->nparams) plan_and_render(p, ts, NULL, true);
    }
    wbr_tensorset_free(ts);
  }
  wbr_program_free(p);
  wbr_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  with_repair(data, size, try_plan);
  return 0;
}
