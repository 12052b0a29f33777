/* checked.h — overflow-checked integer arithmetic for sizes, indices and element counts.
 * Every helper returns true and stores the exact result, or returns false (leaving *out
 * unspecified) when the result does not fit. Callers turn false into a clear error; nothing here
 * reports. Unsigned 64-bit add/mul live in util.h (wbr_add_u64, wbr_mul_u64). Header-only,
 * internal to the library. */
#ifndef WBR_CHECKED_H
#define WBR_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Signed 64-bit (shapes, dims, indices, slice bounds) ----------------------------------- */

static inline bool wbr_add_i64(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_add_overflow(a, b, out);
}
static inline bool wbr_sub_i64(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_sub_overflow(a, b, out);
}
static inline bool wbr_mul_i64(int64_t a, int64_t b, int64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}

/* ---- size_t (allocation sizes, byte offsets in memory) ------------------------------------- */

static inline bool wbr_add_size(size_t a, size_t b, size_t *out) {
  return !__builtin_add_overflow(a, b, out);
}
static inline bool wbr_mul_size(size_t a, size_t b, size_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}

/* ---- Products of dims ---------------------------------------------------------------------- */

/* Product of n non-negative dims as int64 (an empty product is 1). False if a dim is negative or
 * the product exceeds INT64_MAX: such a shape cannot describe a tensor. */
static inline bool wbr_dims_product_i64(int n, const int64_t *dims, int64_t *out) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) {
    if (dims[i] < 0 || __builtin_mul_overflow(p, dims[i], &p)) return false;
  }
  *out = p;
  return true;
}

#endif
