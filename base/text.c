/* text.c — UTF-8 validation and edit distance (text.h), shared by the format readers and
 * writers, the bytecode verifier, the rule-file lexer and emitter, the parser's keyword hints
 * and the VM's target-name hints, so all of them agree on what is text and what is close. */
#include "text.h"

#include <stdint.h>

/* Bytes after a lead byte c, and the lead's payload bits; 0 continuations for a byte that
 * cannot start a sequence (a continuation byte, C0/C1 overlong leads, F5-FF). */
static size_t utf8_lead(uint8_t c, uint32_t *cp) {
  if (c >= 0xC2 && c <= 0xDF) return *cp = c & 0x1Fu, 1;
  if (c >= 0xE0 && c <= 0xEF) return *cp = c & 0x0Fu, 2;
  if (c >= 0xF0 && c <= 0xF4) return *cp = c & 0x07u, 3;
  return 0;
}

bool wbr_utf8_valid(const void *s, size_t n, size_t *bad) {
  const uint8_t *p = s;
  for (size_t i = 0; i < n;) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    uint32_t cp = 0;
    size_t k = utf8_lead(p[i], &cp);
    bool ok = k > 0 && n - i > k;
    for (size_t m = 1; ok && m <= k; m++) {
      ok = (p[i + m] & 0xC0) == 0x80;
      cp = (cp << 6) | (p[i + m] & 0x3Fu);
    }
    /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
    if (ok && ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
               (cp >= 0xD800 && cp <= 0xDFFF)))
      ok = false;
    if (!ok) {
      if (bad) *bad = i;
      return false;
    }
    i += k + 1;
  }
  return true;
}

static unsigned char fold(char c, unsigned flags) {
  unsigned char u = (unsigned char)c;
  return (flags & WBR_EDIT_FOLD_CASE) && u >= 'A' && u <= 'Z' ? (unsigned char)(u + ('a' - 'A')) : u;
}

static size_t min2(size_t x, size_t y) { return x < y ? x : y; }

/* Three rolling rows of the Damerau-Levenshtein (optimal string alignment) table: the swap
 * needs the row before the previous one. */
size_t wbr_edit_distance(const char *a, size_t na, const char *b, size_t nb, unsigned flags) {
  if (na > WBR_EDIT_MAX || nb > WBR_EDIT_MAX) return na > nb ? na : nb;
  size_t rows[3][WBR_EDIT_MAX + 1];
  size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= nb; j++) prev[j] = j;
  for (size_t i = 1; i <= na; i++) {
    unsigned char ca = fold(a[i - 1], flags);
    cur[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      unsigned char cb = fold(b[j - 1], flags);
      size_t c = min2(prev[j - 1] + (ca != cb), min2(prev[j], cur[j - 1]) + 1);
      if ((flags & WBR_EDIT_TRANSPOSE) && i > 1 && j > 1 && ca == fold(b[j - 2], flags) &&
          fold(a[i - 2], flags) == cb)
        c = min2(c, prev2[j - 2] + 1);
      cur[j] = c;
    }
    size_t *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[nb];
}

int wbr_hex4(const char *p) {
  int x = 0;
  for (int k = 0; k < 4; k++) {
    char c = p[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    x = x * 16 + d;
  }
  return x;
}
