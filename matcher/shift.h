/* shift.h — a numbered family renumbered by one constant, found among drafted renames, so that
 * it is drafted as one rule with index arithmetic (see shift.c). */
#ifndef WBR_MATCH_SHIFT_H
#define WBR_MATCH_SHIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A family x = A N B -> y = C (N+K) D: member `first`'s number spans x[xs, xe) and y[ys, ye). */
typedef struct mshift {
  size_t first;
  size_t xs, xe, ys, ye;
  int64_t k;
} mshift;

/* Among the renames x[i] -> y[i] (i < n, skip[i] false), the largest family (at least 2) that
 * differs only in one decimal number, shifted by the same K != 0 and written as the rule
 * language's {i+K} writes it (a zero-padded number keeps its width). Marks its members in `in`
 * and returns their count, or 0 if there is none. */
size_t m_shift_family(const char *const *x, const char *const *y, size_t n, const bool *skip, bool *in,
                      mshift *out);

#endif
