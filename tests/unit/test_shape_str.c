/* test_shape_str.c — wbr_shape_str (base/util.c, formatted without printf since the plan-speed
 * work) gives the bytes "%lld" would, and truncates exactly like snprintf. */
#include <stdio.h>

#include "../../base/util.h"
#include "harness.h"

TEST(shape_str_matches_printf) {
  const int64_t a[] = {0}, b[] = {3, 4096, 11008, 1};
  const int64_t c[] = {-1, INT64_MAX, INT64_MIN, 10, 9, 100, 7, 8};
  char got[256], want[256];
  wbr_shape_str(got, sizeof got, 0, a);
  CHECK_STR(got, "[]");
  wbr_shape_str(got, sizeof got, 1, a);
  CHECK_STR(got, "[0]");
  wbr_shape_str(got, sizeof got, 4, b);
  CHECK_STR(got, "[3, 4096, 11008, 1]");
  wbr_shape_str(got, sizeof got, 8, c);
  snprintf(want, sizeof want, "[%lld, %lld, %lld, 10, 9, 100, 7, 8]", -1LL, (long long)INT64_MAX,
           (long long)INT64_MIN);
  CHECK_STR(got, want);
  for (size_t n = 1; n < 12; n++) { /* truncation */
    char small[12];
    wbr_shape_str(small, n, 4, b);
    static const char full[] = "[3, 4096, 11008, 1]";
    memcpy(want, full, n - 1); /* what snprintf(small, n, ...) keeps */
    want[n - 1] = '\0';
    CHECK_STR(small, want);
  }
}
