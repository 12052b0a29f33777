/* text.h — the library's text checks: the one UTF-8 validator (names in checkpoints, .wbc
 * strings, rule files), the one edit distance ("did you mean" for keywords and for target
 * names) and the \uXXXX hex digits of the JSON readers. Pure functions over bytes; no
 * allocation, no reporting. */
#ifndef WBR_TEXT_H
#define WBR_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True if p[0, n) is UTF-8: no overlong forms, no UTF-16 surrogates (U+D800-U+DFFF), nothing
 * above U+10FFFF, no sequence cut short by the end. Otherwise false, and *bad (if not NULL) is
 * the offset of the first byte of the first sequence that is not. NUL bytes are valid here. */
bool wbr_utf8_valid(const void *p, size_t n, size_t *bad);

/* How wbr_edit_distance compares. */
enum {
  WBR_EDIT_FOLD_CASE = 1, /* ASCII letters match without regard to case */
  WBR_EDIT_TRANSPOSE = 2, /* two adjacent characters swapped cost one edit, not two */
};

/* Longest text wbr_edit_distance compares; longer ones are not looked at. */
#define WBR_EDIT_MAX 256

/* Edits (insertions, deletions, substitutions; swaps with WBR_EDIT_TRANSPOSE) that turn a[0, na)
 * into b[0, nb). A text longer than WBR_EDIT_MAX is not compared: the result is then the
 * longer length, which every caller's "close enough" bound rejects. */
size_t wbr_edit_distance(const char *a, size_t na, const char *b, size_t nb, unsigned flags);

/* The value of four hex digits p[0..4) (a JSON \uXXXX escape), or -1 if one is not a hex digit.
 * p must hold 4 bytes. */
int wbr_hex4(const char *p);

#endif
