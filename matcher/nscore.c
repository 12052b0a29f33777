/* nscore.c — phase_name's pairwise name score from compact per-tensor records. A bucket of the
 * 20,000-tensor bench scores 1,651 x 1,651 BatchNorm vectors; each tensor's share of m_csim and
 * m_nsim (its distinct content words and their idf sum, its informative number ranks) is taken
 * once per bucket. The results are the same floats: the same additions in the same order. */
#include "mint.h"

void m_nrec_fill(const matcher *m, const mside *side, const mtensor *x, mnrec *r) {
  const uint32_t *w = side->words + x->w0;
  r->cw = 0;
  r->nw = 0;
  r->many = false;
  for (uint32_t i = 0; i < x->nw; i++) {
    bool dup = false;
    for (uint32_t j = 0; j < i; j++) dup |= w[j] == w[i];
    if (dup || w[i] >= m->nidf || (m->isrole && m->isrole[w[i]])) continue;
    r->cw += m->idf[w[i]]; /* as sim() adds its sa / sb */
    if (r->nw == M_NREC_WORDS) r->many = true;
    else r->w[r->nw++] = w[i];
  }
  r->nn = 0;
  for (int p = 0; p < x->nnum; p++)
    if (x->informative[p]) r->fam[r->nn] = x->famn[p], r->rank[r->nn++] = x->rank[p];
}

/* m_csim(a, b): a content word of a is in b's words exactly when it is in b's distinct content
 * words (it is neither a role word nor unknown, so neither is its equal). */
float m_nrec_csim(const matcher *m, const mnrec *a, const mnrec *b) {
  double both = 0;
  for (uint32_t i = 0; i < a->nw; i++)
    for (uint32_t j = 0; j < b->nw; j++)
      if (b->w[j] == a->w[i]) {
        both += m->idf[a->w[i]];
        break;
      }
  double sa = a->cw, sb = b->cw;
  return sa + sb > 0 ? (float)(2.0 * both / (sa + sb)) : 0.0f;
}

/* m_nsim(a, b). */
float m_nrec_nsim(const mnrec *a, const mnrec *b) {
  if (a->nn != b->nn || a->nn == 0) return 0;
  for (int p = 0; p < a->nn; p++)
    if (a->fam[p] != b->fam[p]) return 0;
  int agree = 0;
  for (int p = 0; p < a->nn; p++) agree += a->rank[p] == b->rank[p] ? 1 : -1;
  return (float)agree / (float)a->nn;
}
