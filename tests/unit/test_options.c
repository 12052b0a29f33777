/* test_options.c — the versioned structs of weightbridge.h: each _INIT macro sets the version
 * the header describes; a struct of version 0 (not made with its _INIT) or of a version newer
 * than the library is refused with WBR_EUSAGE and a message naming the struct, before anything
 * is written; the writer takes durable and max_shard_bytes when it opens; the old
 * wbr_match_opts name still builds. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "weightbridge.h"

static const float vals[6] = {1, 2, 3, 4, 5, 6};

static wbr_tensorset *ab(wbr_ctx *ctx, const char *name, const float *data) {
  wbr_tensorset *ts = NULL;
  int64_t shape[2] = {2, 3};
  if (wbr_tensorset_new(&ts, ctx) == 0) wbr_tensorset_add(ts, name, WBR_F32, 2, shape, data);
  return ts;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

TEST(options_init_macros_set_the_version) {
  wbr_writer_options w = WBR_WRITER_OPTIONS_INIT;
  wbr_apply_options a = WBR_APPLY_OPTIONS_INIT;
  wbr_match_options m = WBR_MATCH_OPTIONS_INIT;
  wbr_match_result r = WBR_MATCH_RESULT_INIT;
  CHECK_INT(w.version, WBR_WRITER_OPTIONS_VERSION);
  CHECK(!w.durable && w.max_shard_bytes == 0);
  CHECK_INT(a.version, WBR_APPLY_OPTIONS_VERSION);
  CHECK_INT(a.output.version, WBR_WRITER_OPTIONS_VERSION);
  CHECK(a.progress == NULL && a.userdata == NULL);
  CHECK_INT(m.version, WBR_MATCH_OPTIONS_VERSION);
  CHECK(m.hints == NULL && m.nhints == 0 && !m.explain);
  CHECK_INT(r.version, WBR_MATCH_RESULT_VERSION);
  CHECK(r.draft == NULL && r.review == NULL);
  /* The version comes first, where every later version keeps it. */
  CHECK_INT(offsetof(wbr_apply_options, version), 0);
  CHECK_INT(offsetof(wbr_match_result, version), 0);
}

TEST(options_apply_refuses_unknown_versions) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *src = ab(ctx, "a", vals);
  wbr_program *p = NULL;
  wbr_plan *plan = NULL;
  static const char rules[] = "weightbridge 1\nrename \"a\" -> \"b\"\n";
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, sizeof rules - 1), 0);
  if (p) CHECK_INT(wbr_plan_new(&plan, ctx, p, src, NULL), 0);
  const char *out = test_path("o.safetensors");
  if (plan) {
    wbr_apply_options zero;
    memset(&zero, 0, sizeof zero);
    CHECK_INT(wbr_plan_apply(plan, ctx, out, NULL, &zero), WBR_EUSAGE);
    CHECK_STR(g.last, "wbr_plan_apply: the wbr_apply_options has version 0: it was not initialised with "
                      "WBR_APPLY_OPTIONS_INIT");
    wbr_apply_options o = WBR_APPLY_OPTIONS_INIT;
    o.version = WBR_APPLY_OPTIONS_VERSION + 1;
    CHECK_INT(wbr_plan_apply(plan, ctx, out, NULL, &o), WBR_EUSAGE);
    CHECK_CONTAINS(g.last, "has version 3, but this library");
    o.version = WBR_APPLY_OPTIONS_VERSION;
    o.output.version = 0;
    CHECK_INT(wbr_plan_apply(plan, ctx, out, NULL, &o), WBR_EUSAGE);
    CHECK_CONTAINS(g.last, "the wbr_writer_options has version 0");
    CHECK(!exists(out));
    /* Made with the macro, durable: written. NULL options too. */
    o = (wbr_apply_options)WBR_APPLY_OPTIONS_INIT;
    o.output.durable = true;
    CHECK_INT(wbr_plan_apply(plan, ctx, out, NULL, &o), 0);
    CHECK(exists(out));
    CHECK_INT(wbr_plan_apply(plan, ctx, test_path("n.safetensors"), NULL, NULL), 0);
  }
  wbr_plan_free(plan);
  wbr_program_free(p);
  wbr_tensorset_free(src);
  wbr_ctx_free(ctx);
}

TEST(options_writer_refuses_unknown_versions) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = ab(ctx, "a", vals);
  wbr_writer_options o;
  memset(&o, 0, sizeof o);
  wbr_writer *w = (wbr_writer *)1;
  const char *out = test_path("w.safetensors");
  CHECK_INT(wbr_writer_open(&w, ctx, out, ts, NULL, &o), WBR_EUSAGE);
  CHECK(w == NULL);
  CHECK_CONTAINS(g.last, "wbr_writer_open: the wbr_writer_options has version 0");
  o.version = 7;
  CHECK_INT(wbr_writer_open(&w, ctx, out, ts, NULL, &o), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "has version 7, but this library (" WBR_VERSION ") knows versions 1 to 2");
  CHECK(!exists(out));
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* One writer-options struct at open: max_shard_bytes shards, durable commits; the old setters
 * and their order no longer exist. */
TEST(options_writer_takes_shard_size_at_open) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = NULL;
  wbr_tensorset_new(&ts, ctx);
  int64_t shape[1] = {2};
  const char *names[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) wbr_tensorset_add(ts, names[i], WBR_F32, 1, shape, vals + 2 * i);
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.max_shard_bytes = 8; /* one tensor per shard */
  o.durable = true;
  wbr_writer *w = NULL;
  const char *out = test_path("m.safetensors.index.json");
  CHECK_INT(wbr_writer_open(&w, ctx, out, ts, NULL, &o), 0);
  if (w) {
    CHECK_INT(wbr_writer_write(w, vals, sizeof vals), 0);
    CHECK_INT(wbr_writer_commit(w), 0);
  }
  wbr_writer_free(w);
  CHECK(exists(test_path("m-00003-of-00003.safetensors")));
  wbr_tensorset *back = NULL;
  CHECK_INT(wbr_tensorset_open(&back, ctx, out), 0);
  CHECK_INT(wbr_tensorset_count(back), 3);
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(options_match_refuses_unknown_versions) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *s = ab(ctx, "x.weight", NULL), *t = ab(ctx, "y.weight", NULL);
  wbr_match_result r;
  memset(&r, 0, sizeof r);
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "wbr_match_run: the wbr_match_result has version 0");
  r = (wbr_match_result)WBR_MATCH_RESULT_INIT;
  wbr_match_options o;
  memset(&o, 0, sizeof o);
  CHECK_INT(wbr_match_run(&r, ctx, s, t, &o), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "the wbr_match_options has version 0: it was not initialised with WBR_MATCH_OPTIONS_INIT");
  o = (wbr_match_options)WBR_MATCH_OPTIONS_INIT;
  o.explain = true;
  CHECK_INT(wbr_match_run(&r, ctx, s, t, &o), 0);
  CHECK(r.complete);
  CHECK(r.explain != NULL);
  /* Freed, a result keeps its version and can be passed again. */
  wbr_match_result_free(&r);
  CHECK_INT(r.version, WBR_MATCH_RESULT_VERSION);
  CHECK(r.draft == NULL);
  CHECK_INT(wbr_match_run(&r, ctx, s, t, NULL), 0);
  CHECK_CONTAINS(r.draft, "rename \"x.*\" -> \"y.*\"");
  wbr_match_result_free(&r);
  wbr_tensorset_free(s);
  wbr_tensorset_free(t);
  wbr_ctx_free(ctx);
}

/* Old callers still build: wbr_match_opts is wbr_match_options (and using it warns). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TEST(options_old_match_opts_name_kept) {
  wbr_match_opts old = WBR_MATCH_OPTIONS_INIT;
  wbr_match_options *now = &old;
  CHECK_INT(now->version, WBR_MATCH_OPTIONS_VERSION);
  CHECK_INT(sizeof old, sizeof(wbr_match_options));
}
#pragma GCC diagnostic pop
