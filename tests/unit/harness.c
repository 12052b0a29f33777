/* harness.c — registry and runner for the unit tests (see harness.h). */
#include "harness.h"
#include "weightbridge.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 2048

static struct {
  const char *name;
  test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int cur_failed;
static char tmpdir[256];

void test_register(const char *name, test_fn fn) {
  if (ntests < MAX_TESTS) {
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
  }
}

void test_failed(const char *file, int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("    %s:%d: %s\n", file, line, msg);
  cur_failed++;
}

const char *test_tmpdir(void) { return tmpdir; }

const char *test_path(const char *name) {
  static char buf[8][512];
  static int k;
  char *p = buf[k++ & 7];
  snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
  return p;
}

unsigned char *test_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) p[n] = 0;
  *len = n >= 0 ? (size_t)n : 0;
  return p;
}

int main(int argc, char **argv) {
  int failed = 0;
  for (int i = 0; i < ntests; i++) {
    if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/wbr-unit-XXXXXX");
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      return 2;
    }
    cur_failed = 0;
    tests[i].fn();
    if (!cur_failed) printf("PASS: unit/%s\n", tests[i].name);
    else printf("FAIL: unit/%s: %d check(s) failed (lines above)\n", tests[i].name, cur_failed);
    failed += cur_failed != 0;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
  return failed ? 1 : 0;
}

void test_on_diag(void *ud, const struct wbr_diag *d) {
  test_diags *g = ud;
  if (d->severity != WBR_SEV_ERROR) return;
  g->n++;
  snprintf(g->last, sizeof g->last, "%s", d->message);
}
