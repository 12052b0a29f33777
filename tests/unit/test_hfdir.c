/* test_hfdir.c — model directories through the public API only: wbr_tensorset_write to "DIR/"
 * lays the weights out as save_pretrained does (one model.safetensors, or an index and shards
 * past max_shard_bytes) and wbr_tensorset_open(DIR) reads them back; copy_files are published
 * with the weights; a version-1 writer-options struct (no copy fields) still writes a directory;
 * copy_files with a file output is refused before anything is written. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "weightbridge.h"

static const float vals[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static wbr_tensorset *three(wbr_ctx *ctx) {
  wbr_tensorset *ts = NULL;
  int64_t shape[1] = {8};
  if (wbr_tensorset_new(&ts, ctx) != 0) return NULL;
  wbr_tensorset_add(ts, "a", WBR_F32, 1, shape, vals);
  wbr_tensorset_add(ts, "b", WBR_F32, 1, shape, vals);
  wbr_tensorset_add(ts, "c", WBR_F32, 1, shape, vals);
  return ts;
}

/* Write ts to dir through the streaming writer with opts. */
static int write_dir(wbr_ctx *ctx, const char *dir, const wbr_tensorset *ts, const wbr_writer_options *o) {
  wbr_writer *w;
  int rc = wbr_writer_open(&w, ctx, dir, ts, NULL, o);
  for (size_t i = 0; rc == 0 && i < wbr_tensorset_count(ts); i++) rc = wbr_writer_write(w, vals, sizeof vals);
  if (rc == 0) rc = wbr_writer_commit(w);
  wbr_writer_free(w);
  return rc;
}

TEST(hfdir_single_and_sharded_round_trip) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = three(ctx), *back = NULL;
  char dir[512];
  snprintf(dir, sizeof dir, "%s/", test_path("one"));
  CHECK_INT(wbr_tensorset_write(ts, ctx, dir), 0);
  CHECK(exists(test_path("one/model.safetensors")));
  CHECK(!exists(test_path("one/model.safetensors.index.json")));
  CHECK_INT(wbr_tensorset_open(&back, ctx, test_path("one")), 0);
  CHECK_STR(wbr_tensorset_format(back), "Hugging Face directory (model.safetensors)");
  CHECK_INT(wbr_tensorset_count(back), 3);
  float got[8] = {0};
  if (back) CHECK_INT(wbr_tensorset_read(back, ctx, 2, got), 0);
  CHECK(memcmp(got, vals, sizeof vals) == 0);
  wbr_tensorset_free(back);

  /* 64 bytes per shard: two tensors of 32 fit, the third starts shard 2; the single file of the
   * first save is removed as stale. */
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.max_shard_bytes = 64;
  CHECK_INT(write_dir(ctx, dir, ts, &o), 0);
  CHECK(!exists(test_path("one/model.safetensors")));
  CHECK(exists(test_path("one/model.safetensors.index.json")));
  CHECK(exists(test_path("one/model-00001-of-00002.safetensors")));
  CHECK(exists(test_path("one/model-00002-of-00002.safetensors")));
  back = NULL;
  CHECK_INT(wbr_tensorset_open(&back, ctx, test_path("one")), 0);
  CHECK_STR(wbr_tensorset_format(back), "Hugging Face directory (model.safetensors.index.json)");
  CHECK_INT(wbr_tensorset_count(back), 3);
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(hfdir_copy_files_and_old_option_structs) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = three(ctx);
  const char *cfg = test_path("config.json");
  CHECK_INT(wbr_write_file(ctx, cfg, "{\"n\": 1}\n", 9, NULL), 0);
  const char *copies[] = {cfg};
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.copy_files = copies;
  o.ncopy_files = 1;
  char dir[512];
  snprintf(dir, sizeof dir, "%s/", test_path("cp"));
  CHECK_INT(write_dir(ctx, dir, ts, &o), 0);
  char *text = NULL;
  size_t len = 0;
  CHECK_INT(wbr_read_file(ctx, test_path("cp/config.json"), &text, &len), 0);
  CHECK(len == 9 && text && memcmp(text, "{\"n\": 1}\n", 9) == 0);
  wbr_free(text);

  /* A file output cannot take copies: refused, nothing written. */
  const char *file = test_path("f.safetensors");
  CHECK_INT(write_dir(ctx, file, ts, &o), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "need a directory output");
  CHECK(!exists(file));

  /* A version-1 struct has no copy fields: they are not read (garbage here), the directory is
   * written all the same. */
  o.version = 1;
  o.ncopy_files = 12345;
  o.copy_files = (const char *const *)(void *)1;
  snprintf(dir, sizeof dir, "%s/", test_path("v1"));
  CHECK_INT(write_dir(ctx, dir, ts, &o), 0);
  CHECK(exists(test_path("v1/model.safetensors")));
  CHECK(!exists(test_path("v1/config.json")));

  /* A missing file to copy: nothing is written, and the directory made for it is gone. */
  const char *missing[] = {test_path("nothere.json")};
  o = (wbr_writer_options)WBR_WRITER_OPTIONS_INIT;
  o.copy_files = missing;
  o.ncopy_files = 1;
  snprintf(dir, sizeof dir, "%s/", test_path("gone"));
  CHECK(write_dir(ctx, dir, ts, &o) != 0);
  CHECK(!exists(test_path("gone")));
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}
