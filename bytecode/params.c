/* params.c — the arithmetic of size expressions, shared by the compiler (constant folding,
 * checks) and the VM (binding parameter values): int64, every overflow caught, division exact. */
#include "params.h"

#include "base/checked.h"

wbr_xerr wbr_xop_apply(wbr_xop op, int64_t a, int64_t b, int64_t *out) {
  switch (op) {
  case WBR_XOP_ADD: return wbr_add_i64(a, b, out) ? WBR_XERR_OK : WBR_XERR_OVERFLOW;
  case WBR_XOP_SUB: return wbr_sub_i64(a, b, out) ? WBR_XERR_OK : WBR_XERR_OVERFLOW;
  case WBR_XOP_MUL: return wbr_mul_i64(a, b, out) ? WBR_XERR_OK : WBR_XERR_OVERFLOW;
  case WBR_XOP_DIV:
    if (b == 0) return WBR_XERR_ZERO;
    if (a == INT64_MIN && b == -1) return WBR_XERR_OVERFLOW;
    if (a % b != 0) return WBR_XERR_INEXACT;
    *out = a / b;
    return WBR_XERR_OK;
  case WBR_XOP_LIT:
  case WBR_XOP_PARAM:
  case WBR_XOP_COUNT: break;
  }
  return WBR_XERR_OVERFLOW;
}

char wbr_xop_char(wbr_xop op) {
  switch (op) {
  case WBR_XOP_ADD: return '+';
  case WBR_XOP_SUB: return '-';
  case WBR_XOP_MUL: return '*';
  case WBR_XOP_DIV: return '/';
  case WBR_XOP_LIT:
  case WBR_XOP_PARAM:
  case WBR_XOP_COUNT: break;
  }
  return '?';
}
