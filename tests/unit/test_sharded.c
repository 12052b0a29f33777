/* test_sharded.c — the sharded safetensors writer: the greedy split under a maximum shard size
 * (set after the writer opens, even with leading empty tensors), the index read back through the
 * reader, nothing left behind when the output is abandoned, an empty set, the directory lock held
 * while shards are written, no shard onto an input. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "formats/sharded.h"
#include "harness.h"
#include "weightbridge.h"

static int sh_entries(const char *dir) {
  DIR *d = opendir(dir);
  int c = 0;
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) c++;
  closedir(d);
  return c;
}

static float sh_data[64];

/* Tensors of 10, 10, 30, 0 and 5 floats: 40, 40, 120, 0, 20 bytes. */
static wbr_tensorset *sh_set(wbr_ctx *ctx, bool leading_empty) {
  wbr_tensorset *ts;
  if (wbr_tensorset_new(&ts, ctx)) return NULL;
  for (int i = 0; i < 64; i++) sh_data[i] = (float)i * 0.5f;
  int64_t s10[] = {10}, s30[] = {3, 10}, s0[] = {0, 4}, s5[] = {5};
  if (leading_empty) wbr_tensorset_add(ts, "first.empty", WBR_F32, 2, s0, sh_data);
  wbr_tensorset_add(ts, "a", WBR_F32, 1, s10, sh_data);
  wbr_tensorset_add(ts, "b", WBR_F32, 1, s10, sh_data + 10);
  wbr_tensorset_add(ts, "c", WBR_F32, 2, s30, sh_data + 20);
  wbr_tensorset_add(ts, "d", WBR_F32, 2, s0, sh_data);
  wbr_tensorset_add(ts, "e", WBR_F32, 1, s5, sh_data + 50);
  wbr_tensorset_meta_set(ts, "format", "pt");
  return ts;
}

static int sh_write(wbr_ctx *ctx, const char *path, const wbr_tensorset *ts, uint64_t max) {
  wbr_writer *w;
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.max_shard_bytes = max;
  int rc = wbr_writer_open(&w, ctx, path, ts, NULL, &o);
  if (rc) return rc;
  for (size_t i = 0; i < wbr_tensorset_count(ts) && rc == 0; i++) {
    wbr_tensor_info t;
    wbr_tensorset_get(ts, i, &t);
    /* Odd-sized pieces, so tensor boundaries fall inside writes. */
    const uint8_t *p = t.data;
    for (uint64_t off = 0; off < t.nbytes && rc == 0; off += 7)
      rc = wbr_writer_write(w, p + off, t.nbytes - off < 7 ? (size_t)(t.nbytes - off) : 7);
  }
  if (rc == 0) rc = wbr_writer_commit(w);
  wbr_writer_free(w);
  return rc;
}

static void sh_check_back(wbr_ctx *ctx, const char *index, const wbr_tensorset *ts) {
  wbr_tensorset *back;
  CHECK_INT(wbr_tensorset_open(&back, ctx, index), 0);
  if (!back) return;
  CHECK_INT(wbr_tensorset_count(back), wbr_tensorset_count(ts));
  for (size_t i = 0; i < wbr_tensorset_count(ts) && i < wbr_tensorset_count(back); i++) {
    wbr_tensor_info a, b;
    wbr_tensorset_get(ts, i, &a);
    wbr_tensorset_get(back, i, &b);
    CHECK_STR(b.name, a.name);
    CHECK_INT(b.nbytes, a.nbytes);
    CHECK(a.nbytes == 0 || memcmp(a.data, b.data, (size_t)a.nbytes) == 0);
  }
  CHECK_STR(wbr_tensorset_format(back), "sharded safetensors");
  wbr_tensorset_free(back);
}

TEST(sharded_split_greedy) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = sh_set(ctx, false);
  CHECK_INT(sh_write(ctx, test_path("ck.safetensors.index.json"), ts, 100), 0);
  /* a+b = 80; c (120) alone, and the empty d joins it; e would pass 100 with c. */
  CHECK_INT(sh_entries(test_tmpdir()), 4);
  wbr_tensorset *s;
  CHECK_INT(wbr_tensorset_open(&s, ctx, test_path("ck-00001-of-00003.safetensors")), 0);
  CHECK_INT(wbr_tensorset_count(s), 2);
  wbr_tensorset_free(s);
  CHECK_INT(wbr_tensorset_open(&s, ctx, test_path("ck-00002-of-00003.safetensors")), 0);
  CHECK_INT(wbr_tensorset_count(s), 2);
  CHECK_INT(wbr_tensorset_meta_count(s), 1);
  wbr_tensorset_free(s);
  CHECK_INT(wbr_tensorset_open(&s, ctx, test_path("ck-00003-of-00003.safetensors")), 0);
  CHECK_INT(wbr_tensorset_count(s), 1);
  wbr_tensorset_free(s);
  sh_check_back(ctx, test_path("ck.safetensors.index.json"), ts);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(sharded_leading_empty_and_default_max) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = sh_set(ctx, true);
  /* wbr_writer_open frames the leading empty tensor; the maximum is honoured all the same. */
  CHECK_INT(sh_write(ctx, test_path("x.safetensors.index.json"), ts, 100), 0);
  CHECK_INT(sh_entries(test_tmpdir()), 4);
  sh_check_back(ctx, test_path("x.safetensors.index.json"), ts);
  CHECK_INT(wbr_tensorset_write(ts, ctx, test_path("d.safetensors.index.json")), 0);
  CHECK_INT(sh_entries(test_tmpdir()), 6); /* one more shard and index at 5 GB */
  sh_check_back(ctx, test_path("d.safetensors.index.json"), ts);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(sharded_abandoned_leaves_nothing) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = sh_set(ctx, false);
  wbr_writer *w;
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.max_shard_bytes = 50;
  CHECK_INT(wbr_writer_open(&w, ctx, test_path("gone.safetensors.index.json"), ts, NULL, &o), 0);
  CHECK_INT(wbr_writer_write(w, sh_data, 80), 0); /* a and b: two shards begun */
  CHECK_INT(wbr_writer_write(w, sh_data, 12), 0);
  wbr_writer_free(w);
  CHECK_INT(sh_entries(test_tmpdir()), 0);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(sharded_empty_set) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  CHECK_INT(wbr_tensorset_write(ts, ctx, test_path("e.safetensors.index.json")), 0);
  CHECK_INT(sh_entries(test_tmpdir()), 1);
  sh_check_back(ctx, test_path("e.safetensors.index.json"), ts);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(sharded_max_only_for_index_outputs) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = sh_set(ctx, false);
  wbr_writer *w;
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.max_shard_bytes = 10; /* no effect on another format: one file, all of it */
  CHECK_INT(wbr_writer_open(&w, ctx, test_path("plain.safetensors"), ts, NULL, &o), 0);
  for (size_t i = 0; w && i < wbr_tensorset_count(ts); i++) {
    wbr_tensor_info t;
    wbr_tensorset_get(ts, i, &t);
    CHECK_INT(wbr_writer_write(w, t.data, (size_t)t.nbytes), 0);
  }
  if (w) CHECK_INT(wbr_writer_commit(w), 0);
  wbr_writer_free(w);
  CHECK_INT(sh_entries(test_tmpdir()), 1);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* The directory stays locked from the first shard to the index's rename (a concurrent writer of
 * the same output waits), and is free again once the writer is released. */
TEST(sharded_locks_directory_while_writing) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = sh_set(ctx, false);
  wbr_writer *w;
  wbr_writer_options o = WBR_WRITER_OPTIONS_INIT;
  o.max_shard_bytes = 50;
  CHECK_INT(wbr_writer_open(&w, ctx, test_path("l.safetensors.index.json"), ts, NULL, &o), 0);
  wbr_tensor_info t;
  wbr_tensorset_get(ts, 0, &t);
  CHECK_INT(wbr_writer_write(w, t.data, (size_t)t.nbytes), 0);
  int fd = open(test_tmpdir(), O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0);
  CHECK_INT(flock(fd, LOCK_EX | LOCK_NB), -1);
  CHECK_INT(errno, EWOULDBLOCK);
  for (size_t i = 1; i < wbr_tensorset_count(ts); i++) {
    wbr_tensorset_get(ts, i, &t);
    CHECK_INT(wbr_writer_write(w, t.data, (size_t)t.nbytes), 0);
  }
  CHECK_INT(wbr_writer_commit(w), 0);
  wbr_writer_free(w);
  CHECK_INT(flock(fd, LOCK_EX | LOCK_NB), 0);
  close(fd);
  sh_check_back(ctx, test_path("l.safetensors.index.json"), ts);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* A shard the output would write that is an input file is refused before any byte is written. */
TEST(sharded_output_shard_is_input) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = sh_set(ctx, false);
  const char *shard = test_path("o-00001-of-00001.safetensors");
  CHECK_INT(wbr_tensorset_write(ts, ctx, shard), 0);
  const char *protect[] = {shard, NULL};
  wbr_writer *w;
  CHECK_INT(wbr_writer_open(&w, ctx, test_path("o.safetensors.index.json"), ts, protect, NULL), 0);
  int rc = 0;
  for (size_t i = 0; i < wbr_tensorset_count(ts) && rc == 0; i++) {
    wbr_tensor_info t;
    wbr_tensorset_get(ts, i, &t);
    rc = wbr_writer_write(w, t.data, (size_t)t.nbytes);
  }
  CHECK_INT(rc, WBR_EUSAGE);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), "the output is the same file as the input");
  wbr_writer_free(w);
  CHECK_INT(sh_entries(test_tmpdir()), 1);
  wbr_tensorset *back = NULL;
  CHECK_INT(wbr_tensorset_open(&back, ctx, shard), 0);
  CHECK_INT(wbr_tensorset_count(back), wbr_tensorset_count(ts));
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}
