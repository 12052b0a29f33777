/* dtype.c — names and element sizes of the safetensors dtypes, from the one list in
 * weightbridge.h, and the dtype and shape facts the planner and the kernels share (which casts
 * exist, the shape of a permuted tensor). */
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

bool wbr_dtype_is_float(wbr_dtype dt) {
  return dt == WBR_F64 || dt == WBR_F32 || dt == WBR_F16 || dt == WBR_BF16 || dt == WBR_F8_E4M3 ||
         dt == WBR_F8_E5M2;
}

/* The float dtypes wbr_cast converts between (no F8 kernel). */
static bool castable_float(wbr_dtype dt) {
  return dt == WBR_F64 || dt == WBR_F32 || dt == WBR_F16 || dt == WBR_BF16;
}

bool wbr_cast_supported(wbr_dtype from, wbr_dtype to) {
  if ((unsigned)from >= WBR_DTYPE_COUNT || (unsigned)to >= WBR_DTYPE_COUNT) return false;
  return from == to || (castable_float(from) && castable_float(to));
}

void wbr_permute_shape(int64_t *out, int ndim, const int64_t *shape, const int *perm) {
  for (int i = 0; i < ndim; i++) out[i] = shape[perm[i]];
}
