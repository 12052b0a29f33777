/* convention.c — conventions that shapes cannot show (issue 10 item 7, docs/matcher.md
 * "Conventions"). Two tensors of the same shape can still hold their rows in different orders:
 * rotary q/k projections (Meta's interleaved pairs vs Hugging Face's half split) and fused qkv
 * projections (blocked [q; k; v] vs per head or per kv group). A pair that crosses one of these,
 * where the names do not show that both sides use the same convention, is never decided; only
 * a hint takes it. The table is small on purpose: each row names what marks the convention. */
#include <string.h>

#include "mint.h"

bool m_has_segment(const mtensor *x, const char *seg) {
  size_t n = strlen(seg);
  for (size_t i = 0; i + n <= x->len; i++) {
    if (i > 0 && x->name[i - 1] != '.' && x->name[i - 1] != '/' && x->name[i - 1] != ':') continue;
    if (memcmp(x->name + i, seg, n) != 0) continue;
    char after = i + n < x->len ? x->name[i + n] : '.';
    if (after == '.' || after == '/' || after == ':') return true;
  }
  return false;
}

/* Meta's LLaMA (`attention.wq`, `attention.wk`) and llama.cpp's GGUF names (`blk.N.attn_q`,
 * `attn_k`: its converter permutes them from HF): rotary dimensions interleaved in pairs. */
static bool rope_interleaved(const mtensor *x) {
  return m_has_segment(x, "wq") || m_has_segment(x, "wk") || m_has_segment(x, "attn_q") || m_has_segment(x, "attn_k");
}

/* GPT-NeoX, BLOOM, Falcon (`query_key_value`), Megatron-core (`linear_qkv`): fused per head (or
 * per kv group), not blocked. */
static bool qkv_per_head(const mtensor *x) {
  return m_has_segment(x, "query_key_value") || m_has_segment(x, "linear_qkv");
}

static bool holds_qk(const mtensor *x) { return x->part == 0 || x->part == 1 || x->fused; }

/* GPT-2's names (`c_attn`, `c_proj`, `c_fc`): a Conv1D weight is stored [in, out] like a Flax
 * kernel, a Linear one (nanoGPT, same names) [out, in]: the names cannot tell which, so
 * shapes and layer-mates decide (pair.c conv_of). */
bool m_conv1d_name(const mtensor *x) {
  return m_has_segment(x, "c_attn") || m_has_segment(x, "c_proj") || m_has_segment(x, "c_fc");
}

/* GPT-2's `c_attn` (HF Conv1D and nanoGPT Linear alike): q, k and v blocked, in that order. */
bool m_gpt2_c_attn(const mtensor *x) { return m_has_segment(x, "c_attn"); }

const char *m_convention_crossed(const mtensor *s, const mtensor *t) {
  if (holds_qk(s) && holds_qk(t) && rope_interleaved(s) != rope_interleaved(t))
    return "rotary q/k convention: Meta-style `wq`/`wk` and GGUF `attn_q`/`attn_k` interleave rotary pairs, other "
           "implementations may split them in halves (a permutation of rows drafted only between known families)";
  if (qkv_per_head(s) != qkv_per_head(t))
    return "fused qkv convention: `query_key_value` (`linear_qkv`) is fused per head (or kv group), the other side blocked "
           "[q; k; v] or separate (a reordering of rows the matcher does not draft)";
  return NULL;
}

/* Separate q, k, v (or a blocked fusion) against `query_key_value` / `linear_qkv` fused per kv
 * group, crossing no rotary convention: the one crossing famtab.c drafts, given the groups. */
bool m_qkv_grouped(const mtensor *x) { return qkv_per_head(x); }

bool m_qkv_grouped_pair(const mtensor *s, const mtensor *t) {
  return qkv_per_head(s) != qkv_per_head(t) &&
         !(holds_qk(s) && holds_qk(t) && rope_interleaved(s) != rope_interleaved(t));
}
