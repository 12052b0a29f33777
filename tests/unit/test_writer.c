/* test_writer.c — the atomic streaming writer: chunked writes across tensor boundaries and past
 * the buffer, byte accounting errors, nothing left behind on failure or kill, replacing an
 * existing file, file mode and umask, `protect` (paths and sets, by identity), bad destinations,
 * /dev/null, symlinks written through, named temporaries removed by wbr_remove_temporaries. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "weightbridge.h"

/* Entries in dir (hidden ones included), "." and ".." excepted. */
static int dir_entries(const char *dir, char *first, size_t n) {
  DIR *d = opendir(dir);
  int c = 0;
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (c++ == 0 && first) snprintf(first, n, "%s", e->d_name);
  }
  closedir(d);
  return c;
}

static void put_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* A layout of a small, a big (> the writer's 1 MiB buffer), a zero-size and a small tensor. */
enum { BIG = 3 * 1024 * 1024 + 5 };
static uint8_t *big_bytes;
static uint8_t small_a[12], small_b[6];

static wbr_tensorset *layout(wbr_ctx *ctx) {
  if (!big_bytes) {
    big_bytes = malloc(BIG);
    for (size_t i = 0; i < BIG; i++) big_bytes[i] = (uint8_t)(i * 31 + (i >> 11));
    for (size_t i = 0; i < sizeof small_a; i++) small_a[i] = (uint8_t)(100 + i);
    for (size_t i = 0; i < sizeof small_b; i++) small_b[i] = (uint8_t)(200 + i);
  }
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  int64_t sa[2] = {3, 1}, sbig[1] = {BIG}, s0[2] = {0, 5}, sb[1] = {3};
  wbr_tensorset_add(ts, "a", WBR_F32, 2, sa, small_a);
  wbr_tensorset_add(ts, "big", WBR_U8, 1, sbig, big_bytes);
  wbr_tensorset_add(ts, "none", WBR_F64, 2, s0, small_a);
  wbr_tensorset_add(ts, "b", WBR_I16, 1, sb, small_b);
  return ts;
}

static void stream(wbr_writer *w, const uint8_t *p, size_t len, size_t chunk, int *rc) {
  for (size_t o = 0; o < len && *rc == 0; o += chunk)
    *rc = wbr_writer_write(w, p + o, len - o < chunk ? len - o : chunk);
}

/* Writing in odd chunks that straddle tensor boundaries gives the same file as writing whole
 * tensors. */
TEST(writer_chunked_equals_whole) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = layout(ctx);
  const char *whole = test_path("whole.safetensors"), *chunked = test_path("chunked.safetensors");
  CHECK_INT(wbr_tensorset_write(ts, ctx, whole), 0);
  size_t total = sizeof small_a + BIG + sizeof small_b;
  uint8_t *all = malloc(total);
  memcpy(all, small_a, sizeof small_a);
  memcpy(all + sizeof small_a, big_bytes, BIG);
  memcpy(all + sizeof small_a + BIG, small_b, sizeof small_b);
  static const size_t chunks[] = {1, 7, 4096, 1u << 20, (1u << 20) + 3, 5u << 20};
  for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
    wbr_writer *w = NULL;
    int rc = wbr_writer_open(&w, ctx, chunked, ts, NULL, NULL);
    CHECK_INT(rc, 0);
    stream(w, all, total, chunks[c], &rc);
    CHECK_INT(rc, 0);
    CHECK_INT(wbr_writer_commit(w), 0);
    wbr_writer_free(w);
    size_t l1, l2;
    unsigned char *x = test_slurp(whole, &l1), *y = test_slurp(chunked, &l2);
    CHECK(x && y && l1 == l2 && memcmp(x, y, l1) == 0);
    free(x);
    free(y);
  }
  char first[256];
  CHECK_INT(dir_entries(test_tmpdir(), first, sizeof first), 2);
  wbr_tensorset *back = NULL;
  CHECK_INT(wbr_tensorset_open(&back, ctx, chunked), 0);
  if (back) {
    wbr_tensor_info t;
    wbr_tensorset_get(back, 1, &t);
    CHECK(t.nbytes == BIG && memcmp(t.data, big_bytes, BIG) == 0);
    wbr_tensorset_get(back, 2, &t);
    CHECK_STR(t.name, "none");
    CHECK_INT(t.nbytes, 0);
  }
  wbr_tensorset_free(back);
  free(all);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(writer_too_few_bytes_leaves_nothing) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = layout(ctx);
  const char *out = test_path("out.safetensors");
  wbr_writer *w = NULL;
  CHECK_INT(wbr_writer_open(&w, ctx, out, ts, NULL, NULL), 0);
  CHECK_INT(wbr_writer_write(w, small_a, sizeof small_a), 0);
  CHECK_INT(wbr_writer_write(w, big_bytes, 1000), 0);
  CHECK_INT(wbr_writer_commit(w), WBR_EFORMAT);
  CHECK_STR(g.last, "tensor 'big': got 1000 bytes, expected 3145733");
  CHECK_INT(g.n, 1);
  wbr_writer_free(w);
  CHECK_INT(dir_entries(test_tmpdir(), NULL, 0), 0);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(writer_too_many_bytes) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = layout(ctx);
  const char *out = test_path("out.safetensors");
  wbr_writer *w = NULL;
  CHECK_INT(wbr_writer_open(&w, ctx, out, ts, NULL, NULL), 0);
  int rc = 0;
  stream(w, small_a, sizeof small_a, 5, &rc);
  stream(w, big_bytes, BIG, 1 << 20, &rc);
  CHECK_INT(rc, 0);
  CHECK_INT(wbr_writer_write(w, small_b, 4), 0);
  CHECK_INT(wbr_writer_write(w, small_b, 4), WBR_EFORMAT);
  CHECK_STR(g.last, "got 2 bytes more than the layout's 4 tensors hold (3145751 bytes)");
  CHECK_INT(wbr_writer_commit(w), WBR_EIO); /* failed writers stay failed, silently */
  CHECK_INT(g.n, 1);
  wbr_writer_free(w);
  CHECK_INT(dir_entries(test_tmpdir(), NULL, 0), 0);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* An existing output stays intact until commit; free without commit keeps the old contents. */
TEST(writer_replaces_only_on_commit) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = layout(ctx);
  const char *out = test_path("out.safetensors");
  put_file(out, "old contents");
  wbr_writer *w = NULL;
  CHECK_INT(wbr_writer_open(&w, ctx, out, ts, NULL, NULL), 0);
  CHECK_INT(wbr_writer_write(w, small_a, sizeof small_a), 0);
  size_t len;
  unsigned char *p = test_slurp(out, &len);
  CHECK(p && len == 12 && memcmp(p, "old contents", 12) == 0);
  free(p);
  wbr_writer_free(w);
  p = test_slurp(out, &len);
  CHECK(p && len == 12 && memcmp(p, "old contents", 12) == 0);
  free(p);
  CHECK_INT(dir_entries(test_tmpdir(), NULL, 0), 1);
  CHECK_INT(wbr_tensorset_write(ts, ctx, out), 0);
  wbr_tensorset *back = NULL;
  CHECK_INT(wbr_tensorset_open(&back, ctx, out), 0);
  CHECK_INT(wbr_tensorset_count(back), 4);
  CHECK_INT(dir_entries(test_tmpdir(), NULL, 0), 1);
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* A process killed mid-write leaves no output (and, where the filesystem has O_TMPFILE, no
 * temporary file either). */
TEST(writer_killed_leaves_nothing) {
  const char *out = test_path("killed.safetensors");
  pid_t pid = fork();
  if (pid == 0) {
    wbr_ctx *ctx;
    wbr_ctx_new(&ctx, NULL, NULL);
    wbr_tensorset *ts = layout(ctx);
    wbr_writer *w = NULL;
    if (wbr_writer_open(&w, ctx, out, ts, NULL, NULL) == 0) {
      wbr_writer_write(w, small_a, sizeof small_a);
      wbr_writer_write(w, big_bytes, BIG);
    }
    raise(SIGKILL);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  CHECK(access(out, F_OK) != 0);
  int probe = -1;
#ifdef O_TMPFILE
  probe = open(test_tmpdir(), O_TMPFILE | O_WRONLY, 0600);
#endif
  char first[256] = "";
  if (probe >= 0) {
    close(probe);
    CHECK_INT(dir_entries(test_tmpdir(), first, sizeof first), 0);
  } else {
    CHECK(dir_entries(test_tmpdir(), first, sizeof first) <= 1);
    CHECK(first[0] == 0 || first[0] == '.');
  }
}

static mode_t mode_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_mode & 07777 : 0;
}

TEST(writer_mode_follows_umask) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = layout(ctx);
  mode_t old = umask(022);
  const char *a = test_path("a.safetensors"), *b = test_path("b.json");
  CHECK_INT(wbr_tensorset_write(ts, ctx, a), 0);
  CHECK_INT(mode_of(a), 0644);
  umask(077);
  CHECK_INT(wbr_tensorset_write(ts, ctx, b), 0);
  CHECK_INT(mode_of(b), 0600);
  umask(old);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(writer_protect) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = layout(ctx);
  const char *in = test_path("in.safetensors"), *hard = test_path("hard.safetensors"),
             *sym = test_path("sym.safetensors");
  CHECK_INT(wbr_tensorset_write(ts, ctx, in), 0);
  CHECK_INT(link(in, hard), 0);
  CHECK_INT(symlink(in, sym), 0);
  const char *protect[] = {"/nonexistent/x", in, NULL};
  const char *dests[] = {in, hard, sym};
  for (int i = 0; i < 3; i++) {
    wbr_writer *w = (wbr_writer *)1;
    g.n = 0;
    CHECK_INT(wbr_writer_open(&w, ctx, dests[i], ts, protect, NULL), WBR_EUSAGE);
    CHECK(w == NULL);
    CHECK_INT(g.n, 1);
    char want[700];
    snprintf(want, sizeof want, "the output is the same file as the input '%s'", in);
    CHECK_STR(g.last, want);
  }
  /* A different file is fine, and so is a destination that does not exist yet. */
  wbr_writer *w = NULL;
  CHECK_INT(wbr_writer_open(&w, ctx, test_path("new.safetensors"), ts, protect, NULL), 0);
  wbr_writer_free(w);
  size_t len;
  unsigned char *p = test_slurp(in, &len);
  CHECK(p && len > 8);
  free(p);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(writer_bad_destinations) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = layout(ctx);
  char missing[600], want[800];
  snprintf(missing, sizeof missing, "%s/nodir/out.safetensors", test_tmpdir());
  CHECK_INT(wbr_tensorset_write(ts, ctx, missing), WBR_EIO);
  snprintf(want, sizeof want, "cannot write the output: directory '%s/nodir' does not exist",
           test_tmpdir());
  CHECK_STR(g.last, want);

  const char *file = test_path("plain");
  put_file(file, "x");
  snprintf(missing, sizeof missing, "%s/out.safetensors", file);
  CHECK_INT(wbr_tensorset_write(ts, ctx, missing), WBR_EIO);
  snprintf(want, sizeof want, "cannot write the output: '%s' is not a directory", file);
  CHECK_STR(g.last, want);

  const char *dir = test_path("d.safetensors");
  mkdir(dir, 0755);
  CHECK_INT(wbr_tensorset_write(ts, ctx, dir), WBR_EUSAGE);
  CHECK_STR(g.last, "the output is a directory");

  CHECK_INT(wbr_tensorset_write(ts, ctx, test_path("x.weights")), WBR_EUSAGE);
  CHECK_STR(g.last, "unknown output file type (by extension)");
  CHECK_INT(g.n, 4);

  if (geteuid() != 0) { /* root may write anywhere */
    const char *ro = test_path("ro");
    mkdir(ro, 0555);
    snprintf(missing, sizeof missing, "%s/out.safetensors", ro);
    CHECK_INT(wbr_tensorset_write(ts, ctx, missing), WBR_EIO);
    CHECK_CONTAINS(g.last, "no permission to create files in");
  }
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* Not a regular file: written in place (no temporary file, no rename). */
TEST(writer_dev_null) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = layout(ctx);
  if (access("/dev/null", W_OK) == 0) {
    /* /dev/null has no extension; a symlink gives it one. */
    const char *link_path = test_path("null.safetensors");
    CHECK_INT(symlink("/dev/null", link_path), 0);
    CHECK_INT(wbr_tensorset_write(ts, ctx, link_path), 0);
    struct stat st;
    CHECK(lstat(link_path, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
  }
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(writer_manifest_takes_no_bytes) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = layout(ctx);
  wbr_writer *w = NULL;
  CHECK_INT(wbr_writer_open(&w, ctx, test_path("m.json"), ts, NULL, NULL), 0);
  CHECK_INT(wbr_writer_write(w, small_a, 0), 0);
  CHECK_INT(wbr_writer_write(w, small_a, 4), WBR_EUSAGE);
  CHECK_STR(g.last, "a manifest file takes no tensor bytes (got 4)");
  wbr_writer_free(w);
  CHECK_INT(dir_entries(test_tmpdir(), NULL, 0), 0);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(writer_commit_twice) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts;
  wbr_tensorset_new(&ts, ctx);
  int64_t s[1] = {0};
  wbr_tensorset_add(ts, "z", WBR_F32, 1, s, NULL);
  wbr_writer *w = NULL;
  const char *out = test_path("z.safetensors");
  CHECK_INT(wbr_writer_open(&w, ctx, out, ts, NULL, NULL), 0);
  CHECK_INT(wbr_writer_commit(w), 0);
  CHECK_INT(wbr_writer_commit(w), WBR_EUSAGE);
  CHECK_INT(wbr_writer_write(w, s, 1), WBR_EUSAGE);
  wbr_writer_free(w);
  CHECK(access(out, F_OK) == 0); /* free after commit keeps the file */
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* Every file a tensor set read is protected by identity, whatever path names it: here the set
 * was opened through a symlink and the output is a hard link. */
TEST(writer_protects_sets_by_identity) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = layout(ctx);
  const char *in = test_path("in.safetensors"), *sym = test_path("sym.safetensors"),
             *hard = test_path("hard.safetensors");
  CHECK_INT(wbr_tensorset_write(ts, ctx, in), 0);
  CHECK_INT(symlink(in, sym), 0);
  CHECK_INT(link(in, hard), 0);
  wbr_tensorset *src = NULL;
  CHECK_INT(wbr_tensorset_open(&src, ctx, sym), 0);
  const wbr_tensorset *sets[] = {src, NULL};
  wbr_protect protect = {.sets = sets};
  CHECK_INT(wbr_write_file(ctx, hard, "x", 1, &protect), WBR_EUSAGE);
  CHECK_CONTAINS(g.last, "the output is the same file as the input");
  size_t len;
  unsigned char *p = test_slurp(in, &len);
  CHECK(p && len > 8 && p[0] != 'x');
  free(p);
  CHECK_INT(wbr_write_file(ctx, test_path("other.txt"), "x", 1, &protect), 0);
  wbr_tensorset_free(src);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* A symlinked output is written through to its target (the link stays); a dangling link creates
 * its target; a replaced file keeps its mode. */
TEST(writer_writes_through_symlinks) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  const char *real = test_path("real.txt"), *lnk = test_path("link.txt"),
             *dang = test_path("dangling.txt"), *made = test_path("made.txt");
  put_file(real, "old");
  CHECK_INT(chmod(real, 0640), 0);
  CHECK_INT(symlink("real.txt", lnk), 0);
  CHECK_INT(wbr_write_file(ctx, lnk, "new", 3, NULL), 0);
  struct stat st;
  CHECK_INT(lstat(lnk, &st), 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK_INT(mode_of(real), 0640);
  size_t len;
  unsigned char *p = test_slurp(real, &len);
  CHECK(p && len == 3 && memcmp(p, "new", 3) == 0);
  free(p);
  CHECK_INT(symlink("made.txt", dang), 0);
  CHECK_INT(wbr_write_file(ctx, dang, "m", 1, NULL), 0);
  CHECK_INT(lstat(dang, &st), 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK_INT(stat(made, &st), 0);
  CHECK_INT((int)st.st_size, 1);
  CHECK_INT(dir_entries(test_tmpdir(), NULL, 0), 4);
  wbr_ctx_free(ctx);
}

/* Without O_TMPFILE (the test-only hook) the temporary has a name; wbr_remove_temporaries (what
 * the CLI's signal handler calls) deletes it, and the output then fails instead of appearing. */
TEST(writer_remove_temporaries) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_tensorset *ts = layout(ctx);
  setenv("WBR_TEST_NO_TMPFILE", "1", 1);
  const char *sub = test_path("out");
  CHECK_INT(mkdir(sub, 0755), 0);
  char out[600], first[256] = "";
  snprintf(out, sizeof out, "%s/x.safetensors", sub);
  wbr_writer *w = NULL;
  CHECK_INT(wbr_writer_open(&w, ctx, out, ts, NULL, NULL), 0);
  CHECK_INT(dir_entries(sub, first, sizeof first), 1);
  CHECK(first[0] == '.' && strstr(first, ".tmp"));
  wbr_remove_temporaries();
  CHECK_INT(dir_entries(sub, NULL, 0), 0);
  int rc = 0;
  stream(w, small_a, sizeof small_a, 4, &rc);
  stream(w, big_bytes, BIG, BIG, &rc);
  stream(w, small_b, sizeof small_b, 6, &rc);
  CHECK_INT(rc, 0);
  CHECK_INT(wbr_writer_commit(w), WBR_EIO);
  wbr_writer_free(w);
  CHECK_INT(dir_entries(sub, NULL, 0), 0);
  unsetenv("WBR_TEST_NO_TMPFILE");
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}
