/* test_apply.c — apply when a source file changes under it (issue 9 item 13): a source that
 * shrinks while apply reads its mapping raises SIGBUS, which apply turns into one error naming
 * the change, with nothing written and the previous SIGBUS handler back in place; a shrink
 * before an in-kernel copy or before apply starts is caught by comparing sizes, and one during
 * the copy by the writer. The source is truncated from the progress callback (or before the
 * copy), so every case is deterministic and takes milliseconds. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/format.h" /* wbr_writer_copy */
#include "harness.h"
#include "weightbridge.h"

#define SIDE 256 /* three F32 [256, 256] tensors: 768 KiB of source */

/* A source of three tensors, written by our own writer. */
static void write_source(wbr_ctx *ctx, const char *path) {
  static float v[SIDE * SIDE];
  for (int i = 0; i < SIDE * SIDE; i++) v[i] = (float)i;
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  int64_t shape[2] = {SIDE, SIDE};
  wbr_tensorset_add(ts, "a", WBR_F32, 2, shape, v);
  wbr_tensorset_add(ts, "b", WBR_F32, 2, shape, v);
  wbr_tensorset_add(ts, "c", WBR_F32, 2, shape, v);
  CHECK_INT(wbr_tensorset_write(ts, ctx, path), 0);
  wbr_tensorset_free(ts);
}

typedef struct shrink {
  const char *path;
  size_t after; /* truncate once this many tensors are written */
} shrink;

static void shrink_source(void *ud, size_t done, size_t total, uint64_t bd, uint64_t bt) {
  shrink *s = ud;
  (void)total, (void)bd, (void)bt;
  if (done == s->after) CHECK_INT(truncate(s->path, 4096), 0);
}

/* Apply `rules` to a fresh source, truncating it as `after` says (0: before apply starts). */
static void shrink_case(const char *rules, size_t after, const char *want) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  const char *src = test_path("src.safetensors"), *out = test_path("out.safetensors");
  write_source(ctx, src);
  wbr_tensorset *ts = NULL;
  wbr_program *p = NULL;
  wbr_plan *plan = NULL;
  CHECK_INT(wbr_tensorset_open(&ts, ctx, src), 0);
  CHECK_INT(wbr_program_compile(&p, ctx, "r.wbr", rules, strlen(rules)), 0);
  CHECK_INT(wbr_plan_new(&plan, ctx, p, ts, NULL), 0);
  shrink s = {src, after};
  wbr_apply_options o = WBR_APPLY_OPTIONS_INIT;
  o.progress = shrink_source;
  o.userdata = &s;
  if (after == 0) CHECK_INT(truncate(src, 4096), 0);
  struct sigaction before, now;
  sigaction(SIGBUS, NULL, &before);
  CHECK_INT(wbr_plan_apply(plan, ctx, out, NULL, &o), WBR_EFORMAT);
  CHECK_INT(g.n, 1);
  if (!strstr(g.last, want)) test_failed(__FILE__, __LINE__, "message '%s' lacks '%s'", g.last, want);
  struct stat st;
  CHECK(stat(out, &st) != 0); /* nothing written */
  sigaction(SIGBUS, NULL, &now);
  CHECK(now.sa_handler == before.sa_handler); /* the handler is apply's only while it reads */
  wbr_plan_free(plan);
  wbr_program_free(p);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(apply_source_shrinks_under_a_transpose_sigbus) {
  /* The transpose reads the second tensor from the mapping, past the file's new end. */
  shrink_case("weightbridge 1\ntranspose \"*\"\n", 1,
              "the file changed while it was being read (a bus error reading it: ");
}

TEST(apply_source_shrinks_before_an_in_kernel_copy) {
  shrink_case("weightbridge 1\nrename \"*\" -> \"x.*\"\n", 1,
              "bytes when opened, 4096 now); nothing was written");
}

TEST(apply_source_shrank_before_apply) {
  shrink_case("weightbridge 1\ntranspose \"*\"\n", 0,
              "bytes when opened, 4096 now); nothing was written");
}

/* The in-kernel copy meets the end of a source that shrank after it was opened: reported as a
 * change of the source, not as a failed write from memory ("Bad address" from the mapping). */
TEST(writer_copy_from_a_shrunk_source) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  enum { N = 4 << 20 };
  const char *src = test_path("big.bin"), *out = test_path("copy.safetensors");
  uint8_t *bytes = calloc(1, N);
  FILE *f = fopen(src, "wb");
  CHECK(f && bytes && fwrite(bytes, 1, N, f) == N);
  if (f) fclose(f);
  int fd = open(src, O_RDONLY);
  CHECK(fd >= 0 && truncate(src, N / 2) == 0);
  wbr_tensorset *layout;
  wbr_tensorset_new(&layout, ctx);
  int64_t shape[1] = {N};
  wbr_tensorset_add(layout, "w", WBR_U8, 1, shape, NULL);
  wbr_writer *w = NULL;
  CHECK_INT(wbr_writer_open(&w, ctx, out, layout, NULL, NULL), 0);
  if (w && bytes) {
    CHECK_INT(wbr_writer_copy(w, fd, 0, bytes, N), WBR_EFORMAT);
    CHECK_INT(g.n, 1);
    if (!strstr(g.last, "tensor 'w': the source file changed while it was being read (it now ends "
                        "2097152 bytes short"))
      test_failed(__FILE__, __LINE__, "message: %s", g.last);
  }
  wbr_writer_free(w);
  struct stat st;
  CHECK(stat(out, &st) != 0); /* nothing written */
  if (fd >= 0) close(fd);
  free(bytes);
  wbr_tensorset_free(layout);
  wbr_ctx_free(ctx);
}
