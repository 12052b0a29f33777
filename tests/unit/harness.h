/* harness.h — a very small unit-test harness. TEST(name) defines and registers a test; CHECK
 * macros record failures with file:line and keep going; the runner prints "PASS: unit/name" or
 * "FAIL: unit/name: why" per test, as tests/run.sh expects. */
#ifndef WBR_TEST_HARNESS_H
#define WBR_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_failed(const char *file, int line, const char *fmt, ...);
/* A fresh scratch directory for this test (removed after the run). */
const char *test_tmpdir(void);
/* test_tmpdir()/name; the result stays valid for the next 7 calls. */
const char *test_path(const char *name);
/* A whole file in a malloc'd, NUL-terminated buffer, its size in *len; NULL if unreadable. */
unsigned char *test_slurp(const char *path, size_t *len);

/* A diagnostic callback for wbr_ctx_new(&ctx, test_on_diag, &diags): counts the errors and keeps
 * the last error's message. */
typedef struct test_diags {
  int n;
  char last[1024];
} test_diags;
struct wbr_diag;
void test_on_diag(void *ud, const struct wbr_diag *d);

#define TEST(name)                                                                       \
  static void test_##name(void);                                                         \
  __attribute__((constructor)) static void test_reg_##name(void) {                       \
    test_register(#name, test_##name);                                                   \
  }                                                                                      \
  static void test_##name(void)

#define CHECK(c)                                                                         \
  do {                                                                                   \
    if (!(c)) test_failed(__FILE__, __LINE__, "%s", #c);                                 \
  } while (0)
#define CHECK_INT(a, b)                                                                  \
  do {                                                                                   \
    long long a_ = (long long)(a), b_ = (long long)(b);                                  \
    if (a_ != b_) test_failed(__FILE__, __LINE__, "%s == %lld, expected %lld", #a, a_, b_); \
  } while (0)
#define CHECK_STR(a, b)                                                                  \
  do {                                                                                   \
    const char *a_ = (a), *b_ = (b);                                                     \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                               \
      test_failed(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", \
                  b_ ? b_ : "(null)");                                                   \
  } while (0)
#define CHECK_CONTAINS(hay, needle)                                                      \
  do {                                                                                   \
    const char *h_ = (hay), *n_ = (needle);                                              \
    if (!h_ || !strstr(h_, n_))                                                          \
      test_failed(__FILE__, __LINE__, "%s == \"%s\" lacks \"%s\"", #hay, h_ ? h_ : "(null)", n_); \
  } while (0)

#endif
