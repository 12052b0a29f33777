/* lcache.c — whether two tensors' shapes relate by a known layout change, answered once per pair
 * of layout classes. Tensors alike in dtype, shape, role, "kernel" and GPT-2 names relate alike
 * to any other (layout_raw in pair.c reads nothing else); the 20,000-tensor bench has some
 * hundred classes a side, and the pairing asks millions of times. Kept through m_pair_all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mint.h"

#define LC_MAXCELLS (1u << 22) /* more class pairs than this: no cache */

struct mlcache {
  uint32_t *cls[2]; /* class of each source (0) and target (1) */
  uint32_t nc[2];
  int8_t *fits;     /* [source class * nc[1] + target class]: 1, 0, or -1 not asked yet */
};

static uint32_t class_of(mintern *in, const mtensor *x) {
  char key[80 + 24 * WBR_MAX_DIMS];
  int n = snprintf(key, sizeof key, "%d %d %d %d %d", (int)x->dtype, (int)x->role, (int)x->kernel,
                   (int)m_conv1d_name(x), x->ndim);
  for (int d = 0; d < x->ndim && d < WBR_MAX_DIMS; d++)
    n += snprintf(key + n, sizeof key - (size_t)n, " %lld", (long long)x->shape[d]);
  return mi_id(in, key, (size_t)n);
}

static bool classes(matcher *m, struct mlcache *c, int k) {
  const mside *sd = k ? &m->T : &m->S;
  mintern in;
  mi_init(&in);
  c->cls[k] = malloc((sd->n + 1) * sizeof *c->cls[k]);
  bool ok = c->cls[k] != NULL;
  for (size_t i = 0; i < sd->n && ok; i++) ok = (c->cls[k][i] = class_of(&in, &sd->t[i])) != UINT32_MAX;
  c->nc[k] = (uint32_t)in.n;
  mi_free(&in);
  return ok;
}

void m_lcache_free(matcher *m) {
  struct mlcache *c = m->lcache;
  if (!c) return;
  free(c->cls[0]);
  free(c->cls[1]);
  free(c->fits);
  free(c);
  m->lcache = NULL;
}

/* Without memory for it, m_layout_for simply asks every time. */
void m_lcache_build(matcher *m) {
  m_lcache_free(m);
  struct mlcache *c = calloc(1, sizeof *c);
  if (!c) return;
  m->lcache = c;
  bool ok = classes(m, c, 0) && classes(m, c, 1) && (uint64_t)c->nc[0] * c->nc[1] <= LC_MAXCELLS;
  if (ok) c->fits = malloc((size_t)c->nc[0] * c->nc[1] + 1);
  if (!ok || !c->fits) {
    m_lcache_free(m);
    return;
  }
  memset(c->fits, -1, (size_t)c->nc[0] * c->nc[1] + 1);
}

int8_t *m_lcache_cell(const matcher *m, const mtensor *s, const mtensor *t) {
  const struct mlcache *c = m->lcache;
  if (!c || s < m->S.t || s >= m->S.t + m->S.n || t < m->T.t || t >= m->T.t + m->T.n) return NULL;
  return &c->fits[(size_t)c->cls[0][s - m->S.t] * c->nc[1] + c->cls[1][t - m->T.t]];
}
