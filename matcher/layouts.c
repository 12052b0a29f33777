/* layouts.c — the layout convention of a side when its names do not say it (wbr_match_options
 * version 3, `wbr match --layouts SRC:TARGET`). tokens.c marks a tensor a kernel ([in, out],
 * HWIO) only when its last word is literally "kernel"; a JAX model whose Dense weights are `w`
 * (Haiku) or `weight`, or a PyTorch model with a parameter called `kernel`, needs to be told. */
#include <ctype.h>
#include <string.h>

#include "mint.h"

enum { LAYOUT_NAMES = 0, LAYOUT_PYTORCH, LAYOUT_FLAX, LAYOUT_HAIKU, LAYOUT_TENSORFLOW, LAYOUT_BAD };

static int layout_of(const char *name) {
  static const char *const names[] = {"pytorch", "flax", "haiku", "tensorflow"};
  if (!name) return LAYOUT_NAMES;
  for (int i = 0; i < 4; i++)
    if (strcmp(name, names[i]) == 0) return LAYOUT_PYTORCH + i;
  return LAYOUT_BAD;
}

int m_layouts_check(wbr_ctx *ctx, const wbr_match_options *o) {
  if (!o || o->version < 3) return 0;
  const char *side[2] = {o->src_layout, o->target_layout}, *which[2] = {"source", "target"};
  for (int i = 0; i < 2; i++)
    if (layout_of(side[i]) == LAYOUT_BAD)
      return wbr_fail(ctx, WBR_EUSAGE, NULL, "name one of: pytorch, flax, haiku, tensorflow",
                      "unknown layout convention '%s' for the %s", side[i], which[i]);
  return 0;
}

/* The name's last run of letters is exactly `word` (case-insensitive): "linear/w", "conv.W". */
static bool last_word_is(const mtensor *t, const char *word) {
  size_t e = t->len, b = e, n = strlen(word);
  while (b > 0 && isalpha((unsigned char)t->name[b - 1])) b--;
  return e - b == n && strncasecmp(t->name + b, word, n) == 0;
}

/* Whether t is a kernel under convention c (LAYOUT_NAMES: as tokens.c read it). */
static bool kernel_under(const mtensor *t, int c) {
  switch (c) {
  case LAYOUT_PYTORCH: return false; /* [out, in] whatever the name */
  case LAYOUT_FLAX:
  case LAYOUT_TENSORFLOW: return t->ndim >= 2 && t->role == ROLE_WEIGHT; /* kernel, weight, w, scale... */
  case LAYOUT_HAIKU: return t->ndim >= 2 && (last_word_is(t, "w") || t->kernel);
  default: return t->kernel;
  }
}

/* Marks side's kernels under its convention (none given: as the names say). */
static void apply_side(mside *side, const char *name) {
  int c = layout_of(name);
  if (c == LAYOUT_NAMES || c == LAYOUT_BAD) return;
  for (size_t i = 0; i < side->n; i++) side->t[i].kernel = kernel_under(&side->t[i], c);
}

void m_layouts_apply(matcher *m, const wbr_match_options *o) {
  if (!o || o->version < 3) return;
  apply_side(&m->S, o->src_layout);
  apply_side(&m->T, o->target_layout);
}
