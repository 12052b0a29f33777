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

/* Three F32 [2] tensors a, b, c over vals. */
static wbr_tensorset *abc(wbr_ctx *ctx) {
  wbr_tensorset *ts = NULL;
  int64_t shape[1] = {2};
  const char *names[] = {"a", "b", "c"};
  if (wbr_tensorset_new(&ts, ctx) == 0)
    for (int i = 0; i < 3; i++) wbr_tensorset_add(ts, names[i], WBR_F32, 1, shape, vals + 2 * i);
  return ts;
}

/* Write ts (its bytes are the first ones of vals) to path with the options: 0 or the error. */
static int write_set(wbr_ctx *ctx, const char *path, const wbr_tensorset *ts, const wbr_writer_options *o) {
  wbr_writer *w = NULL;
  int rc = wbr_writer_open(&w, ctx, path, ts, NULL, o);
  size_t n = 0;
  wbr_tensor_info ti;
  for (size_t i = 0; i < wbr_tensorset_count(ts); i++)
    if (wbr_tensorset_get(ts, i, &ti) == 0) n += (size_t)ti.nbytes;
  if (rc == 0) rc = wbr_writer_write(w, vals, n);
  if (rc == 0) rc = wbr_writer_commit(w);
  wbr_writer_free(w);
  return rc;
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
  CHECK(!w.durable && w.max_shard_bytes == 0 && w.format == NULL);
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
    CHECK_CONTAINS(g.last, "has version 4, but this library");
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
  wbr_tensorset *ts = abc(ctx);
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.max_shard_bytes = 8; /* one tensor per shard */
  o.durable = true;
  const char *out = test_path("m.safetensors.index.json");
  CHECK_INT(write_set(ctx, out, ts, &o), 0);
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

/* A program built against the header of wbr_apply_options version 2 (wbr_writer_options version
 * 1 inside, without `format`) lays the struct out as below: the library reads it that way, so
 * its max_shard_bytes, progress and metadata are the ones it set. */
typedef struct old_writer_options {
  unsigned version;
  bool durable;
  uint64_t max_shard_bytes;
} old_writer_options;
typedef struct old_apply_options {
  unsigned version;
  old_writer_options output;
  wbr_progress_fn progress;
  void *userdata;
  unsigned threads;
  const char *const *metadata;
  size_t nmetadata;
} old_apply_options;

static void count_progress(void *ud, size_t done, size_t total, uint64_t b, uint64_t tb) {
  (void)done, (void)total, (void)b, (void)tb;
  ++*(int *)ud;
}

TEST(options_apply_reads_version_2_layout) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *src = abc(ctx);
  wbr_program *p = NULL;
  wbr_plan *plan = NULL;
  static const char rules[] = "weightbridge 1\n";
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, sizeof rules - 1), 0);
  if (p) CHECK_INT(wbr_plan_new(&plan, ctx, p, src, NULL), 0);
  const char *meta[] = {"license=mit"};
  int calls = 0;
  old_apply_options o = {2, {1, false, 8}, count_progress, &calls, 1, meta, 1};
  const char *out = test_path("old.safetensors.index.json");
  if (plan) CHECK_INT(wbr_plan_apply(plan, ctx, out, NULL, (const wbr_apply_options *)(const void *)&o), 0);
  CHECK(exists(test_path("old-00003-of-00003.safetensors"))); /* max_shard_bytes 8: one per shard */
  CHECK_INT(calls, 3);
  wbr_tensorset *back = NULL;
  CHECK_INT(wbr_tensorset_open(&back, ctx, out), 0);
  const char *k, *v;
  bool found = false;
  for (size_t i = 0; back && i < wbr_tensorset_meta_count(back); i++)
    if (wbr_tensorset_meta_get(back, i, &k, &v) == 0 && strcmp(k, "license") == 0) found = strcmp(v, "mit") == 0;
  CHECK(found);
  /* Its writer options must still have a version. */
  o.output.version = 0;
  if (plan) CHECK_INT(wbr_plan_apply(plan, ctx, test_path("o2.safetensors"), NULL, (const wbr_apply_options *)(const void *)&o),
                      WBR_EUSAGE);
  CHECK(!exists(test_path("o2.safetensors")));
  wbr_tensorset_free(back);
  wbr_plan_free(plan);
  wbr_program_free(p);
  wbr_tensorset_free(src);
  wbr_ctx_free(ctx);
}

/* wbr_writer_options version 2: the output's format by name, whatever the path says; an unknown
 * name is refused with the list; a read-only format is refused; version 1 ignores the field. */
TEST(options_writer_format_by_name) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = ab(ctx, "a", vals);
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.format = "PyTorch";
  const char *out = test_path("weights.data");
  CHECK_INT(write_set(ctx, out, ts, &o), 0);
  wbr_tensorset *back = NULL;
  CHECK_INT(wbr_tensorset_open(&back, ctx, out), WBR_EFORMAT); /* no extension */
  CHECK_CONTAINS(g.last, "unknown file type (by extension)");
  CHECK_INT(wbr_tensorset_open_as(&back, ctx, out, "pt"), 0);
  CHECK_STR(wbr_tensorset_format(back), "pytorch");
  CHECK_INT(wbr_tensorset_count(back), 1);
  wbr_tensorset_free(back);
  o.format = "safetensor";
  wbr_writer *w = (wbr_writer *)1;
  CHECK_INT(wbr_writer_open(&w, ctx, test_path("x.safetensors"), ts, NULL, &o), WBR_EUSAGE);
  CHECK(w == NULL);
  CHECK_CONTAINS(g.last, "unknown output format 'safetensor'");
  o.format = "lightning";
  CHECK_INT(wbr_writer_open(&w, ctx, test_path("x.ckpt"), ts, NULL, &o), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "reads lightning files but does not write them");
  CHECK(!exists(test_path("x.ckpt")) && !exists(test_path("x.safetensors")));
  o.version = 1; /* format is a version-2 field: by extension */
  CHECK_INT(write_set(ctx, test_path("y.npy"), ts, &o), 0);
  CHECK_INT(wbr_tensorset_open(&back, ctx, test_path("y.npy")), 0);
  CHECK_STR(wbr_tensorset_format(back), "npy");
  wbr_tensorset_free(back);
  back = NULL;
  CHECK_INT(wbr_format_check(ctx, "sharded_PyTorch"), 0);
  CHECK_INT(wbr_format_check(ctx, ".ckpt"), 0);
  CHECK_INT(wbr_format_check(ctx, "torch"), 0);
  CHECK_INT(wbr_format_check(ctx, "tensorflow"), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "unknown file format 'tensorflow'");
  CHECK_INT(wbr_tensorset_open_as(&back, ctx, out, "nope"), WBR_EUSAGE);
  CHECK(back == NULL);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}
