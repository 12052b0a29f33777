/* test_version.c — the version macros of include/weightbridge.h agree with each other and with
 * wbr_version(): the string spells MAJOR.MINOR.PATCH and WBR_VERSION_NUMBER packs the same three. */
#include <stdio.h>

#include "harness.h"
#include "weightbridge.h"

TEST(version_macros_agree_with_wbr_version) {
  char want[64];
  snprintf(want, sizeof want, "%d.%d.%d", WBR_VERSION_MAJOR, WBR_VERSION_MINOR, WBR_VERSION_PATCH);
  CHECK_STR(WBR_VERSION, want);
  CHECK_STR(wbr_version(), want);
  CHECK_INT(WBR_VERSION_NUMBER,
            WBR_VERSION_MAJOR * 10000 + WBR_VERSION_MINOR * 100 + WBR_VERSION_PATCH);
  int major = -1, minor = -1, patch = -1;
  CHECK_INT(sscanf(wbr_version(), "%d.%d.%d", &major, &minor, &patch), 3);
  CHECK_INT(major * 10000 + minor * 100 + patch, WBR_VERSION_NUMBER);
  CHECK(WBR_VERSION_MINOR < 100 && WBR_VERSION_PATCH < 100);
}
