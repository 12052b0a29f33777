/* test_errors.c — the four input error codes through the public API: a bad weight file is
 * WBR_EFORMAT, bad rules WBR_ERULES, a bad .wbc WBR_EBYTECODE and rules that do not map the
 * source onto the target WBR_EMAPPING, each distinct, each with its one message; and the
 * deprecated WBR_EINPUT still compiles (with a warning) and keeps its old value. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "weightbridge.h"

static const char good_rules[] = "weightbridge 1\nrename \"a\" -> \"b\"\n";

static wbr_tensorset *one(wbr_ctx *ctx, const char *name, int64_t d0, int64_t d1, const float *data) {
  wbr_tensorset *ts = NULL;
  int64_t shape[2] = {d0, d1};
  if (wbr_tensorset_new(&ts, ctx) == 0) wbr_tensorset_add(ts, name, WBR_F32, 2, shape, data);
  return ts;
}

TEST(errors_input_codes_are_distinct) {
  const int codes[] = {WBR_EFORMAT, WBR_ERULES, WBR_EBYTECODE, WBR_EMAPPING,
                       WBR_EIO,     WBR_ENOMEM, WBR_EUSAGE,    WBR_EINTERNAL};
  size_t n = sizeof codes / sizeof *codes;
  for (size_t i = 0; i < n; i++) {
    CHECK(codes[i] < 0);
    CHECK(WBR_IS_INPUT_ERROR(codes[i]) == (i < 4));
    for (size_t j = 0; j < i; j++) CHECK(codes[i] != codes[j]);
  }
  CHECK(!WBR_IS_INPUT_ERROR(WBR_OK));
}

TEST(errors_bad_weight_file_is_eformat) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = NULL;
  static const char junk[] = "\x08\0\0\0\0\0\0\0{\"a\":1}";
  CHECK_INT(wbr_tensorset_open_memory(&ts, ctx, "m.safetensors", junk, sizeof junk - 1), WBR_EFORMAT);
  CHECK_INT(g.n, 1);
  /* A directory named as a weight file is a bad file too, not an OS failure. */
  const char *dir = test_path("d.safetensors");
  CHECK_INT(mkdir(dir, 0700), 0);
  CHECK_INT(wbr_tensorset_open(&ts, ctx, dir), WBR_EFORMAT);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), "not a regular file");
  wbr_ctx_free(ctx);
}

TEST(errors_bad_rules_are_erules) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_program *p = NULL;
  static const char syntax[] = "weightbridge 1\nrenme \"a\" -> \"b\"\n";
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", syntax, sizeof syntax - 1), WBR_ERULES);
  static const char check[] = "weightbridge 1\npermute \"a\" (0, 0)\n";
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", check, sizeof check - 1), WBR_ERULES);
  char *out = NULL;
  CHECK_INT(wbr_rules_format(&out, ctx, "r.wbr", syntax, sizeof syntax - 1), WBR_ERULES);
  CHECK(out == NULL);
  /* The rule file's own path: a directory is bad rules, as a bad .wbr would be. */
  CHECK_INT(wbr_program_compile_file(&p, ctx, test_tmpdir()), WBR_ERULES);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), "the rule file is a directory");
  CHECK(p == NULL);
  wbr_ctx_free(ctx);
}

TEST(errors_bad_bytecode_is_ebytecode) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_program *p = NULL, *q = NULL;
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", good_rules, sizeof good_rules - 1), 0);
  void *bytes = NULL;
  size_t len = 0;
  if (p) CHECK_INT(wbr_program_serialize(p, ctx, &bytes, &len), 0);
  if (bytes) {
    ((unsigned char *)bytes)[len / 2] ^= 1;
    CHECK_INT(wbr_program_load_bytes(&q, ctx, "r.wbc", bytes, len), WBR_EBYTECODE);
    CHECK_CONTAINS(wbr_ctx_last_error(ctx), "checksum mismatch");
  }
  /* Source text given as bytecode, and a directory given as a .wbc. */
  CHECK_INT(wbr_program_load_bytes(&q, ctx, "r.wbc", good_rules, sizeof good_rules - 1), WBR_EBYTECODE);
  CHECK_INT(wbr_program_load(&q, ctx, test_tmpdir()), WBR_EBYTECODE);
  CHECK(q == NULL);
  wbr_free(bytes);
  wbr_program_free(p);
  wbr_ctx_free(ctx);
}

TEST(errors_wrong_mapping_is_emapping) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  static const float data[6] = {1, 2, 3, 4, 5, 6};
  /* The rules are valid, but give "b" the shape [2, 3] where the target wants [3, 2]. */
  wbr_tensorset *src = one(ctx, "a", 2, 3, data), *tgt = one(ctx, "b", 3, 2, NULL);
  wbr_program *p = NULL;
  wbr_plan *plan = NULL;
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", good_rules, sizeof good_rules - 1), 0);
  if (p) CHECK_INT(wbr_plan_new(&plan, ctx, p, src, tgt), 0);
  if (plan) {
    CHECK_INT(wbr_plan_problems(plan), 1);
    const char *out = test_path("out.safetensors");
    CHECK_INT(wbr_plan_apply(plan, ctx, out, NULL, NULL), WBR_EMAPPING);
    CHECK_CONTAINS(wbr_ctx_last_error(ctx), "not writing: the plan has 1 problem");
    struct stat st;
    CHECK(stat(out, &st) != 0);
  }
  wbr_plan_free(plan);
  wbr_program_free(p);
  wbr_tensorset_free(src);
  wbr_tensorset_free(tgt);
  wbr_ctx_free(ctx);
}

/* The matcher's inputs: a malformed hint is bad rules; --update rules that do not run over the
 * source do not map it. */
TEST(errors_match_hint_and_update) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *src = one(ctx, "a", 2, 3, NULL), *tgt = one(ctx, "b", 2, 3, NULL);
  wbr_match_result r = WBR_MATCH_RESULT_INIT;
  const char *hints[] = {"a=b permute (0"};
  wbr_match_options o = WBR_MATCH_OPTIONS_INIT;
  o.hints = hints;
  o.nhints = 1;
  CHECK_INT(wbr_match_run(&r, ctx, src, tgt, &o), WBR_ERULES);
  wbr_match_result_free(&r);
  static const char upd[] = "weightbridge 1\ndrop \"nothing.here\"\n";
  wbr_match_options u = WBR_MATCH_OPTIONS_INIT;
  u.update_name = "u.wbr";
  u.update_src = upd;
  u.update_len = sizeof upd - 1;
  CHECK_INT(wbr_match_run(&r, ctx, src, tgt, &u), WBR_EMAPPING);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), "the rules given to --update do not run over the source");
  wbr_match_result_free(&r);
  wbr_tensorset_free(src);
  wbr_tensorset_free(tgt);
  wbr_ctx_free(ctx);
}

/* Old callers still build: WBR_EINPUT is WBR_EFORMAT's value, and using it warns. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TEST(errors_einput_alias_kept) {
  CHECK_INT(WBR_EINPUT, WBR_EFORMAT);
  CHECK_INT(WBR_EINPUT, -1);
}
#pragma GCC diagnostic pop
