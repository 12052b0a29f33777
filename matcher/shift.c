/* shift.c — numbered families renumbered by one constant (h.0 -> blocks.1, h.1 -> blocks.2, ...):
 * found among the renames the matcher drafts, so that induce.c can try one rule with index
 * arithmetic, "h.{i}.*" -> "blocks.{i+1}.*", instead of one rename per block. Only the text is
 * looked at here; the rule is proved on the simulator like every other (induce.c try_rule). */
#include "shift.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/util.h"

#define MAX_DIGITS 18
#define MAX_K 999999999LL

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* s[0, n) as a number of 1..18 digits. */
static bool number(const char *s, size_t n, int64_t *v) {
  if (n == 0 || n > MAX_DIGITS) return false;
  *v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i])) return false;
    *v = *v * 10 + (s[i] - '0');
  }
  return true;
}

/* Is y[0, yn) what {i+K} makes of the capture x[0, xn) (bytecode/pattern.c's rule: a capture
 * with a leading zero keeps its width)? */
static bool shifted(const char *x, size_t xn, const char *y, size_t yn, int64_t k) {
  int64_t v;
  if (!number(x, xn, &v) || v + k < 0) return false;
  char buf[32];
  int w = snprintf(buf, sizeof buf, "%0*lld", xn > 1 && x[0] == '0' ? (int)xn : 0, (long long)(v + k));
  return w > 0 && (size_t)w == yn && memcmp(buf, y, yn) == 0;
}

/* The text around the number of member `first`, and K. */
typedef struct frame {
  const char *a, *b, *c, *d;
  size_t na, nb, nc, nd;
  int64_t k;
} frame;

/* Does x -> y fit the frame: x = A digits B, y = C digits D, y's number x's shifted by K? */
static bool fits(const frame *f, const char *x, const char *y) {
  size_t xl = strlen(x), yl = strlen(y);
  if (xl <= f->na + f->nb || yl <= f->nc + f->nd) return false;
  if (memcmp(x, f->a, f->na) != 0 || memcmp(x + xl - f->nb, f->b, f->nb) != 0) return false;
  if (memcmp(y, f->c, f->nc) != 0 || memcmp(y + yl - f->nd, f->d, f->nd) != 0) return false;
  return shifted(x + f->na, xl - f->na - f->nb, y + f->nc, yl - f->nc - f->nd, f->k);
}

/* The maximal digit runs of s, as [start, end) pairs; returns how many (at most max). */
static size_t digit_runs(const char *s, size_t *st, size_t *en, size_t max) {
  size_t n = 0;
  for (size_t i = 0; s[i] && n < max;) {
    if (!is_digit(s[i])) {
      i++;
      continue;
    }
    st[n] = i;
    while (is_digit(s[i])) i++;
    en[n++] = i;
  }
  return n;
}

enum { RUNS = 4 }; /* numbers looked at per name: the first four */

/* The frames of rename x -> y: one per pair of a number in x and one in y that fits. */
static size_t frames_of(const char *x, const char *y, frame *f, mshift *sh) {
  size_t xs[RUNS], xe[RUNS], ys[RUNS], ye[RUNS], m = 0;
  size_t nx = digit_runs(x, xs, xe, RUNS), ny = digit_runs(y, ys, ye, RUNS);
  for (size_t p = 0; p < nx; p++) {
    for (size_t q = 0; q < ny; q++) {
      int64_t vx, vy;
      if (!number(x + xs[p], xe[p] - xs[p], &vx) || !number(y + ys[q], ye[q] - ys[q], &vy)) continue;
      int64_t k = vy - vx;
      if (k == 0 || k > MAX_K || k < -MAX_K) continue;
      f[m] = (frame){x, x + xe[p], y, y + ye[q], xs[p], strlen(x) - xe[p], ys[q], strlen(y) - ye[q], k};
      sh[m] = (mshift){0, xs[p], xe[p], ys[q], ye[q], k};
      if (fits(&f[m], x, y)) m++;
    }
  }
  return m;
}

/* A frame as a hash key: the four texts and K. */
static char *frame_key(const frame *f) {
  size_t n = f->na + f->nb + f->nc + f->nd + 32;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%.*s\x1f%.*s\x1f%.*s\x1f%.*s\x1f%lld", (int)f->na, f->a, (int)f->nb, f->b, (int)f->nc, f->c,
                  (int)f->nd, f->d, (long long)f->k);
  return s;
}

size_t m_shift_family(const char *const *x, const char *const *y, size_t n, const bool *skip, bool *in,
                      mshift *out) {
  /* every candidate frame of every rename, counted by its key: linear in the renames */
  wbr_map map;
  wbr_map_init(&map);
  char **keys = calloc(n * RUNS * RUNS + 1, sizeof *keys);
  size_t *count = calloc(n * RUNS * RUNS + 1, sizeof *count), nk = 0, best = 0;
  frame bf = {0};
  bool oom = !keys || !count;
  for (size_t i = 0; i < n && !oom; i++) {
    if (skip[i]) continue;
    frame f[RUNS * RUNS];
    mshift sh[RUNS * RUNS];
    size_t m = frames_of(x[i], y[i], f, sh);
    for (size_t c = 0; c < m && !oom; c++) {
      char *key = frame_key(&f[c]);
      size_t at = nk;
      int r = key ? wbr_map_put(&map, key, nk, &at) : -1;
      if (r < 0) oom = true;
      if (r == 0) keys[nk++] = key;
      else free(key);
      if (oom || ++count[at] <= best) continue;
      best = count[at];
      bf = f[c];
      *out = sh[c];
      out->first = i;
    }
  }
  for (size_t i = 0; keys && i < nk; i++) free(keys[i]);
  free(keys);
  free(count);
  wbr_map_free(&map);
  if (oom || best < 2) return 0;
  for (size_t j = 0; j < n; j++) in[j] = !skip[j] && fits(&bf, x[j], y[j]);
  return best;
}
