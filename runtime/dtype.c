/* dtype.c — names and element sizes of the safetensors dtypes, from the one list in
 * weightbridge.h. */
#include <string.h>
#include <strings.h>

#include "util.h"

static const struct {
  const char *name;
  size_t size;
} dtypes[] = {
#define DT_ROW(id, name, size) {name, size},
    WBR_DTYPE_LIST(DT_ROW)
#undef DT_ROW
};

const char *wbr_dtype_name(wbr_dtype dt) {
  return (unsigned)dt < WBR_DTYPE_COUNT ? dtypes[dt].name : "?";
}

size_t wbr_dtype_size(wbr_dtype dt) { return (unsigned)dt < WBR_DTYPE_COUNT ? dtypes[dt].size : 0; }

int wbr_dtype_parse(wbr_dtype *out, const char *name, size_t len) {
  for (unsigned i = 0; i < WBR_DTYPE_COUNT; i++) {
    if (strlen(dtypes[i].name) == len && strncasecmp(dtypes[i].name, name, len) == 0) {
      *out = (wbr_dtype)i;
      return 0;
    }
  }
  return -1;
}
