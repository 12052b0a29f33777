/* square.c — the layout of a square 2-D weight under GPT-2's names (issue 10 item 6). Such a
 * weight (`c_attn`, `c_proj`, `c_fc`) is Conv1D [in, out] (Hugging Face) or Linear [out, in]
 * (nanoGPT, GPT-Neo's MLP), and a square one shows neither. pair.c's fix_square asks here when
 * no non-square layer-mate decides: each side's layer may still say which layout it stores
 * (its fused `c_attn`, [in, 3 in] or [3 in, in]; a Flax `kernel`; a Linear-named `weight`); if
 * both sides say, the pair is transposed exactly when they differ, else it is undecided. */
#include <string.h>

#include "mint.h"

enum { LAY_NONE = 0, LAY_IN_OUT = 1, LAY_OUT_IN = 2, LAY_MIXED = 3 };

/* What one 2-D tensor's name and shape say about its layer's layout. */
static int tensor_says(const mtensor *x) {
  if (x->ndim != 2) return LAY_NONE;
  if (x->kernel) return LAY_IN_OUT; /* Flax / TF Dense */
  if (m_gpt2_c_attn(x)) {          /* q, k and v fused along the out axis: 3 times the in axis */
    if (x->shape[1] == 3 * x->shape[0]) return LAY_IN_OUT;
    if (x->shape[0] == 3 * x->shape[1]) return LAY_OUT_IN;
    return LAY_NONE;
  }
  if (m_conv1d_name(x)) return LAY_NONE;             /* c_proj, c_fc: either */
  return x->role == ROLE_WEIGHT ? LAY_OUT_IN : LAY_NONE; /* a PyTorch Linear */
}

static bool digit(char c) { return c >= '0' && c <= '9'; }

/* The layout the 2-D tensors of one layer (names starting with x's first len bytes) agree on. */
static int layer_says(const mside *side, const mtensor *x, size_t len) {
  int said = LAY_NONE;
  for (size_t i = 0; i < side->n && said != LAY_MIXED; i++) {
    const mtensor *y = &side->t[i];
    if (y->len < len || memcmp(y->name, x->name, len) != 0) continue;
    if (len > 0 && digit(x->name[len - 1]) && y->len > len && digit(y->name[len])) continue; /* h.1 is not h.10 */
    said |= tensor_says(y);
  }
  return said;
}

int m_square_gpt2_layout(const matcher *m, const mtensor *s, size_t ls, const mtensor *t, size_t lt) {
  int a = layer_says(&m->S, s, ls), b = layer_says(&m->T, t, lt);
  if (a == LAY_NONE || a == LAY_MIXED || b == LAY_NONE || b == LAY_MIXED) return REL_NONE;
  return a == b ? REL_ID : REL_TRANSPOSE;
}

const char *m_square_gpt2_why(void) {
  return "square 2-D weight under GPT-2's names (`c_attn`, `c_proj`, `c_fc`): Conv1D [in, out] (Hugging Face) "
         "or Linear [out, in] (nanoGPT), and neither a non-square 2-D weight of its layer nor the layouts its "
         "layer and the target's show tell which (as is, or transposed?)";
}
