/* codes.c — an engine embedding only the runtime tells its failures apart by code: a bad weight
 * file is WBR_EFORMAT, a bad .wbc WBR_EBYTECODE, and a .wbc whose rules do not map the source
 * onto the target WBR_EMAPPING (apply writes nothing). Built by tests/embed/run.sh against
 * libweightbridge-runtime.a only; prints one "ok NAME" or "bad NAME: got RC" line per case.
 * Also compiled as C++ there: the header and its _INIT macros must stay valid C++. */
#include <stdio.h>
#include <sys/stat.h>

#include "weightbridge.h"

static int failures;

static void expect(const char *name, int got, int want) {
  if (got == want) {
    printf("ok %s\n", name);
  } else {
    printf("bad %s: got %d, wanted %d\n", name, got, want);
    failures++;
  }
}

static wbr_tensorset *one(wbr_ctx *ctx, const char *name, int64_t d0, int64_t d1, const float *data) {
  wbr_tensorset *ts = NULL;
  int64_t shape[2] = {d0, d1};
  if (wbr_tensorset_new(&ts, ctx) == 0 && wbr_tensorset_add(ts, name, WBR_F32, 2, shape, data) != 0) {
    wbr_tensorset_free(ts);
    ts = NULL;
  }
  return ts;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fputs("usage: codes RULES.wbc OUT.safetensors (RULES: rename \"a\" -> \"b\")\n", stderr);
    return 2;
  }
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return 1;
  wbr_tensorset *junk = NULL;
  static const char bad[] = "\x08\0\0\0\0\0\0\0{\"a\":1}";
  expect("bad-file", wbr_tensorset_open_memory(&junk, ctx, "m.safetensors", bad, sizeof bad - 1), WBR_EFORMAT);
  wbr_program *none = NULL;
  expect("bad-wbc", wbr_program_load_bytes(&none, ctx, "x.wbc", bad, sizeof bad - 1), WBR_EBYTECODE);
  wbr_program *p = NULL;
  int rc = wbr_program_load(&p, ctx, argv[1]);
  expect("good-wbc", rc, 0);
  static const float data[6] = {1, 2, 3, 4, 5, 6};
  wbr_tensorset *src = one(ctx, "a", 2, 3, data), *tgt = one(ctx, "b", 3, 2, NULL);
  wbr_plan *plan = NULL;
  if (rc == 0 && src && tgt) rc = wbr_plan_new(&plan, ctx, p, src, tgt);
  if (rc == 0 && plan) {
    wbr_apply_options o = WBR_APPLY_OPTIONS_INIT;
    o.output.durable = true;
    expect("wrong-mapping", wbr_plan_apply(plan, ctx, argv[2], NULL, &o), WBR_EMAPPING);
    struct stat st;
    expect("wrote-nothing", stat(argv[2], &st), -1);
  } else {
    expect("plan", rc, 0);
  }
  wbr_plan_free(plan);
  wbr_tensorset_free(src);
  wbr_tensorset_free(tgt);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
  return failures ? 1 : 0;
}
