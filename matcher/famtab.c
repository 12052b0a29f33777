/* famtab.c — implementation families read from names (docs/matcher.md, "Implementation
 * families"): which LLM naming each side uses (Hugging Face, Meta, GGUF, fused qkv, Mixtral
 * experts, GPT-2 Conv1D), what that naming implies (RoPE convention, fusion layout), and the
 * layout a same-shape pair needs between two families that differ: the rotary permutation of q/k
 * rows (with the head counts given by --param / --config) and experts concatenated with w2
 * stored transposed. A side whose family the names do not establish stays undecided. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/text.h"
#include "mint.h"

/* ---- the table ---------------------------------------------------------------------------------- */

/* ROPE_ARCH: the names do not say; it depends on the model's architecture (GGUF, below). */
enum { ROPE_NONE = 0, ROPE_HALF, ROPE_INTERLEAVED, ROPE_ARCH };

/* One family. A side is of the family when, for every mark, some name has it as a segment (a
 * whole `.`/`/`-separated part); q and k name its separate rotary projections (NULL: none). */
typedef struct mfamdef {
  const char *name;
  const char *marks[3];
  const char *q, *k;
  uint8_t rope;
} mfamdef;

static const mfamdef FAMILIES[] = {
    /* Hugging Face LlamaForCausalLM, Mistral, Qwen2, Gemma: rotate_half, the pairs (j, j + d/2)
     * (Cohere's q_proj/gate_proj rotate interleaved pairs: it has no post_attention_layernorm) */
    {"Hugging Face LLaMA", {"q_proj", "gate_proj", "post_attention_layernorm"}, "q_proj", "k_proj", ROPE_HALF},
    /* Hugging Face Mixtral: the same attention, experts instead of the MLP */
    {"Hugging Face Mixtral", {"q_proj", "block_sparse_moe", "post_attention_layernorm"}, "q_proj", "k_proj", ROPE_HALF},
    /* Meta's original release (params.json, consolidated.*.pth): the pairs (2j, 2j + 1) */
    {"Meta LLaMA", {"attention", "wq", "feed_forward"}, "wq", "wk", ROPE_INTERLEAVED},
    /* llama.cpp's GGUF names: its converter permutes q/k from HF into the interleaved pairs for
     * the LLaMA architecture (llama, mistral, mixtral) only; qwen2, gemma, phi3 ... keep HF's
     * half-split rows (llama.cpp runs them with NEOX rope). The names do not tell which, but a
     * Meta-named other side is a LLaMA, hence interleaved too (convention.c). */
    {"llama.cpp GGUF", {"attn_q", "ffn_gate", "token_embd"}, "attn_q", "attn_k", ROPE_ARCH},
    /* Phi-3: qkv_proj blocked [q; k; v], gate_up_proj [gate; up]; half-split RoPE (fused.c) */
    {"Hugging Face fused qkv (Phi-3)", {"self_attn", "qkv_proj", NULL}, NULL, NULL, ROPE_HALF},
    /* GPT-NeoX, BLOOM, Falcon, Megatron: query_key_value per head or kv group (convention.c) */
    {"query_key_value per head or kv group", {"query_key_value", NULL, NULL}, NULL, NULL, ROPE_NONE},
    /* Mixtral: experts as separate tensors, stacked [E, ...], or concatenated along rows */
    {"Mixtral experts", {"block_sparse_moe", "experts", NULL}, NULL, NULL, ROPE_NONE},
    /* Hugging Face GPT-2 Conv1D [in, out] or nanoGPT Linear [out, in]: square.c decides */
    {"GPT-2", {"c_attn", NULL, NULL}, NULL, NULL, ROPE_NONE},
};
#define NFAM (sizeof FAMILIES / sizeof FAMILIES[0])

/* ---- per side ------------------------------------------------------------------------------------ */

typedef struct mfamside {
  int fam;         /* index into FAMILIES of the one rotary family the side is, or -1 */
  int64_t qrows;   /* the row count every q projection of the side has, or 0 (none, or several) */
} mfamside;

/* Values of the matcher's parameters (n_heads, n_kv_heads): -1 when not given. */
typedef struct mfam {
  mfamside side[2];
  int64_t n_heads, n_kv_heads;
  const wbr_param_value *heads_from, *kv_from; /* where the values came from */
  int64_t kv_used;          /* the kv head count a pair was drafted with (given or from k's rows) */
  bool want_heads, want_kv; /* an undecided pair needs it (listed in the draft) */
} mfam;

static bool has_seg(const mtensor *x, const char *seg) { return seg && m_has_segment(x, seg); }

static bool side_has(const mside *sd, const char *seg) {
  for (size_t i = 0; i < sd->n; i++)
    if (has_seg(&sd->t[i], seg)) return true;
  return false;
}

/* The one family with a rotary convention whose marks the side has (two that differ in it or in
 * their q/k names: none is established). */
static int side_family(const mside *sd) {
  int found = -1;
  for (size_t f = 0; f < NFAM; f++) {
    if (FAMILIES[f].rope == ROPE_NONE || !FAMILIES[f].q) continue;
    bool all = true;
    for (int k = 0; k < 3 && all; k++) all = !FAMILIES[f].marks[k] || side_has(sd, FAMILIES[f].marks[k]);
    if (!all) continue;
    if (found >= 0 && (FAMILIES[found].rope != FAMILIES[f].rope || strcmp(FAMILIES[found].q, FAMILIES[f].q) != 0 ||
                       strcmp(FAMILIES[found].k, FAMILIES[f].k) != 0))
      return -1;
    if (found < 0) found = (int)f;
  }
  return found;
}

static int64_t side_qrows(const mside *sd, const mfamdef *d) {
  int64_t r = 0;
  for (size_t i = 0; i < sd->n; i++) {
    const mtensor *x = &sd->t[i];
    if (x->fused || x->part != 0 || x->ndim != 2 || !has_seg(x, d->q)) continue;
    if (r && r != x->shape[0]) return 0;
    r = x->shape[0];
  }
  return r;
}

/* The values --param and --config give the matcher (wbr_match_options version 2), the first
 * entry of a name winning (the command line lists --param values before the config's). */
static void params_given(mfam *f, const matcher *m) {
  for (size_t i = m->nparams; m->params && i-- > 0;) {
    const wbr_param_value *p = &m->params[i];
    if (p->name && strcmp(p->name, "n_heads") == 0) f->n_heads = p->value, f->heads_from = p;
    else if (p->name && strcmp(p->name, "n_kv_heads") == 0) f->n_kv_heads = p->value, f->kv_from = p;
  }
}

/* The parameters the matcher uses. A --param of another name may be for the rules library
 * (cli/library.c plans its files with every value), but one a typo away from these is a mistake
 * worth one error. */
static const char *const USED[] = {"n_heads", "n_kv_heads"};

int m_famtab_check_params(wbr_ctx *ctx, const wbr_param_value *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (v[i].origin != WBR_PARAM_FLAG || !v[i].name) continue;
    const char *near = NULL;
    for (size_t k = 0; k < sizeof USED / sizeof USED[0]; k++) {
      if (strcmp(v[i].name, USED[k]) == 0) {
        near = NULL;
        break;
      }
      size_t d = wbr_edit_distance(v[i].name, strlen(v[i].name), USED[k], strlen(USED[k]), WBR_EDIT_TRANSPOSE);
      if (d <= 2) near = USED[k];
    }
    if (!near) continue;
    char help[120];
    snprintf(help, sizeof help, "did you mean %s? wbr match reads --param n_heads and n_kv_heads", near);
    return wbr_fail(ctx, WBR_EUSAGE, "--param", help, "wbr match has no parameter '%s'", v[i].name);
  }
  return 0;
}

void m_famtab_prepare(matcher *m) {
  m_famtab_free(m);
  mfam *f = calloc(1, sizeof *f);
  if (!f) {
    m->oom = true;
    return;
  }
  f->n_heads = f->n_kv_heads = -1;
  params_given(f, m);
  for (int s = 0; s < 2; s++) {
    const mside *sd = s ? &m->T : &m->S;
    f->side[s].fam = side_family(sd);
    f->side[s].qrows = f->side[s].fam >= 0 ? side_qrows(sd, &FAMILIES[f->side[s].fam]) : 0;
  }
  m->famtab = f;
}

void m_famtab_free(matcher *m) {
  free(m->famtab);
  m->famtab = NULL;
}

/* ---- the rotary permutation ------------------------------------------------------------------------ */

/* Is (s, t) a separate q (0) or k (1) projection, weight or bias, named so by both families? */
static int rope_part(const mfam *f, const mtensor *s, const mtensor *t) {
  const mfamdef *ds = &FAMILIES[f->side[0].fam], *dt = &FAMILIES[f->side[1].fam];
  if (s->fused || t->fused || s->part != t->part || (s->part != 0 && s->part != 1)) return -1;
  if (s->ndim != t->ndim || s->ndim < 1 || s->ndim > 2) return -1;
  for (int d = 0; d < s->ndim; d++)
    if (s->shape[d] != t->shape[d]) return -1;
  const char *qs = s->part ? ds->k : ds->q, *qt = t->part ? dt->k : dt->q;
  return has_seg(s, qs) && has_seg(t, qt) ? s->part : -1;
}

/* The head count for rows R of part p, or -1 with *miss naming what is missing or wrong. */
static int64_t rope_heads(const mfam *f, int p, int64_t R, const char **miss) {
  *miss = p ? "n_kv_heads" : "n_heads";
  int64_t qrows = f->side[0].qrows;
  if (f->n_heads < 1) {
    *miss = "n_heads";
    return -1;
  }
  int64_t h = p ? f->n_kv_heads : f->n_heads;
  if (p && h < 1) { /* k under GQA: as many kv heads as head_dim-wide blocks of its rows */
    if (!qrows || qrows % f->n_heads || R % (qrows / f->n_heads)) return -1;
    h = R / (qrows / f->n_heads);
  }
  if (h < 1 || R % h || (R / h) % 2) return -1;
  if (qrows && p && qrows % f->n_heads == 0 && R / h != qrows / f->n_heads) return -1; /* head_dim differs */
  return h;
}

static void set_op(mop *o, int kind, const int64_t *v, int n) {
  o->kind = (uint8_t)kind;
  o->n = (uint8_t)n;
  for (int i = 0; i < n; i++) o->v[i] = v[i];
}

/* Rows [H, 2, d/2] <-> [H, d/2, 2]: reshape, swap the two inner axes, reshape back. */
static void rope_chain(mlayout *out, const mtensor *t, int64_t h, bool to_interleaved) {
  int64_t d = t->shape[0] / h, in = t->ndim == 2 ? t->shape[1] : 1;
  int64_t mid[4] = {h, to_interleaved ? 2 : d / 2, to_interleaved ? d / 2 : 2, in};
  int64_t perm[4] = {0, 2, 1, 3};
  int n = t->ndim == 2 ? 4 : 3;
  memset(out, 0, sizeof *out);
  out->rel = REL_PERMUTE;
  out->nops = 3;
  set_op(&out->op[0], MOP_RESHAPE, mid, n);
  set_op(&out->op[1], MOP_PERMUTE, perm, n);
  set_op(&out->op[2], MOP_RESHAPE, t->shape, t->ndim);
}

/* Both sides' families are known and use different conventions: ROPE_HALF against
 * ROPE_INTERLEAVED is drafted; against ROPE_ARCH it is not known (*arch). */
static bool rope_crossing(const matcher *m, bool *arch) {
  const mfam *f = m->famtab;
  if (!f || f->side[0].fam < 0 || f->side[1].fam < 0) return false;
  int a = FAMILIES[f->side[0].fam].rope, b = FAMILIES[f->side[1].fam].rope;
  *arch = a == ROPE_ARCH || b == ROPE_ARCH;
  return a != b && !(*arch && (a == ROPE_INTERLEAVED || b == ROPE_INTERLEAVED));
}

bool m_rope_layout(const matcher *m, const mtensor *s, const mtensor *t, mlayout *out) {
  bool arch;
  if (!rope_crossing(m, &arch) || arch) return false;
  mfam *f = m->famtab;
  int p = rope_part(f, s, t);
  const char *miss;
  int64_t h = p < 0 ? -1 : rope_heads(f, p, t->shape[0], &miss);
  if (h < 1) return false;
  if (p == 1) f->kv_used = h;
  rope_chain(out, t, h, FAMILIES[f->side[1].fam].rope == ROPE_INTERLEAVED);
  return true;
}

void m_rope_mark(const matcher *m, mpair *p, const mtensor *s, const mlayout *l) {
  bool il = FAMILIES[m->famtab->side[1].fam].rope == ROPE_INTERLEAVED;
  p->count = l->op[0].v[0];
  p->named = (uint8_t)(s->part == 1 ? (il ? MNAMED_ROPE_K_TO_INTERLEAVED : MNAMED_ROPE_K_TO_HALF)
                                    : (il ? MNAMED_ROPE_TO_INTERLEAVED : MNAMED_ROPE_TO_HALF));
}

static const char *rope_word(int r) {
  return r == ROPE_HALF ? "half-split pairs" : r == ROPE_INTERLEAVED ? "interleaved pairs" : "pairs by architecture";
}

bool m_rope_why(matcher *m, const mtensor *s, const mtensor *t, char *why, size_t n, bool *param) {
  bool arch;
  if (!rope_crossing(m, &arch)) return false;
  mfam *f = m->famtab;
  int p = rope_part(f, s, t);
  if (p < 0) return false;
  const mfamdef *ds = &FAMILIES[f->side[0].fam], *dt = &FAMILIES[f->side[1].fam];
  *param = !arch;
  if (arch) {
    snprintf(why, n,
             "rotary q/k convention: the source is %s (%s), the target %s (%s): llama.cpp interleaves q/k pairs "
             "for LLaMA-architecture models only (not qwen2, gemma, phi3), which the names do not show (LLaMA: "
             "the library's rules or a rope statement; otherwise a hint pairs it as it is)",
             ds->name, rope_word(ds->rope), dt->name, rope_word(dt->rope));
    return true;
  }
  const char *miss;
  if (rope_heads(f, p, t->shape[0], &miss) >= 1) return false;
  bool given = strcmp(miss, "n_heads") == 0 ? f->n_heads >= 1 : f->n_kv_heads >= 1;
  if (strcmp(miss, "n_heads") == 0) f->want_heads = true;
  else f->want_kv = true;
  snprintf(why, n,
           "rotary q/k convention: the source is %s (%s), the target %s (%s): the rows are "
           "permuted per head, %s: %s --param %s=N or --config config.json",
           ds->name, rope_word(ds->rope), dt->name, rope_word(dt->rope),
           given ? "and the head count given does not fit the rows" : "and the head count is not known",
           given ? "give the right" : "add", miss);
  return true;
}

/* Where a value came from, for the draft's `param` line. */
static void from_text(char *b, size_t n, const wbr_param_value *p) {
  if (p->origin == WBR_PARAM_FLAG) snprintf(b, n, "--param");
  else snprintf(b, n, "--config %s", p->key ? p->key : p->name);
}

size_t m_famtab_decls(const matcher *m, mdecl *out, size_t max) {
  const mfam *f = m->famtab;
  size_t k = 0;
  if (!f || max < 2) return 0;
  if (f->heads_from) {
    out[k] = (mdecl){.name = "n_heads", .value = f->n_heads};
    from_text(out[k++].from, sizeof out->from, f->heads_from);
  }
  if (f->kv_from) {
    out[k] = (mdecl){.name = "n_kv_heads", .value = f->n_kv_heads};
    from_text(out[k++].from, sizeof out->from, f->kv_from);
  } else if (f->kv_used > 0) {
    out[k] = (mdecl){.name = "n_kv_heads", .value = f->kv_used};
    snprintf(out[k++].from, sizeof out->from, "not given: k's rows over the head size of q's rows and n_heads");
  }
  return k;
}

/* The draft's list of the parameters an undecided pair waits for (lines without '#'). */
size_t m_famtab_missing(const matcher *m, char lines[][160], size_t max) {
  const mfam *f = m->famtab;
  size_t k = 0;
  if (!f) return 0;
  if (f->want_heads && k < max)
    snprintf(lines[k++], 160,
             "param n_heads = ?  (the attention heads: add --param n_heads=N or --config config.json)");
  if (f->want_kv && k < max)
    snprintf(lines[k++], 160, "param n_kv_heads = ?  (the kv heads: add --param n_kv_heads=N or --config config.json)");
  return k;
}

/* ---- experts concatenated, w2 stored transposed ------------------------------------------------------ */

/* Mixtral's experts concatenated along rows keep the down projection w2 transposed per expert
 * ([E * ffn, dim]) where the stacked layout has [E, dim, ffn]: a concat source of the stacked
 * target's very name becomes it by reshape [E, ffn, dim] + permute (0, 2, 1), and the reverse by
 * permute then reshape. Only for `experts.w2` (or `down_proj`) of a Mixtral-named side, of the
 * same name on both sides, and not square (ffn != dim: square, the names cannot tell). */
static bool experts_down(const mtensor *x) {
  return m_has_segment(x, "experts") && (m_has_segment(x, "w2") || m_has_segment(x, "down_proj"));
}

static bool experts_t_layout(const mtensor *s, const mtensor *t, mlayout *out) {
  bool to_stack = s->ndim == 2 && t->ndim == 3;
  const mtensor *c = to_stack ? s : t, *k = to_stack ? t : s; /* concat, stacked */
  if (!(s->ndim == 2 && t->ndim == 3) && !(s->ndim == 3 && t->ndim == 2)) return false;
  int64_t E = k->shape[0], a = k->shape[1], b = k->shape[2]; /* stacked [E, dim, ffn] */
  if (E < 2 || a == b || c->shape[0] != E * b || c->shape[1] != a) return false;
  int64_t mid[3] = {E, b, a}, perm[3] = {0, 2, 1};
  memset(out, 0, sizeof *out);
  out->rel = REL_PERMUTE;
  out->nops = 2;
  if (to_stack) {
    set_op(&out->op[0], MOP_RESHAPE, mid, 3);
    set_op(&out->op[1], MOP_PERMUTE, perm, 3);
  } else {
    set_op(&out->op[0], MOP_PERMUTE, perm, 3);
    set_op(&out->op[1], MOP_RESHAPE, t->shape, 2);
  }
  return true;
}

/* ---- roles the families name differently -------------------------------------------------------- */

/* The same tensor under each LLaMA family's name, as a segment: Hugging Face (and its Mixtral),
 * Meta, llama.cpp GGUF. Only a pair whose names carry one role's segments on the two sides, with
 * the same numbers and the same shape, and no other free candidate of that role, is proposed;
 * so a file that keeps no definition order (a .safetensors header is sorted) still pairs gate
 * with w1 and up with w3 although their shapes are equal. */
static const char *const ROLES[][3] = {
    {"input_layernorm", "attention_norm", "attn_norm"},
    {"post_attention_layernorm", "ffn_norm", "ffn_norm"},
    {"gate_proj", "w1", "ffn_gate"},
    {"down_proj", "w2", "ffn_down"},
    {"up_proj", "w3", "ffn_up"},
};
#define NROLES (sizeof ROLES / sizeof ROLES[0])

/* The ROLES column of a rotary family of FAMILIES (0 HF LLaMA, 1 HF Mixtral, 2 Meta, 3 GGUF). */
static int role_col(int fam) { return fam == 0 || fam == 1 ? 0 : fam == 2 ? 1 : fam == 3 ? 2 : -1; }

/* The one role whose segment x has in column c, or -1 (none, or several). */
static int tensor_role(const mtensor *x, int c) {
  int r = -1;
  for (size_t i = 0; i < NROLES; i++)
    if (has_seg(x, ROLES[i][c])) {
      if (r >= 0) return -1;
      r = (int)i;
    }
  return r;
}

/* The next segment of x at or after *i that is all digits (a block number; `w1` is not one):
 * its start, with its length in *n, or NULL at the end of the name. */
static const char *next_number(const mtensor *x, size_t *i, size_t *n) {
  while (*i < x->len) {
    size_t b = *i, e = b;
    while (e < x->len && x->name[e] != '.' && x->name[e] != '/') e++;
    *i = e < x->len ? e + 1 : e;
    bool digits = e > b;
    for (size_t k = b; k < e && digits; k++) digits = x->name[k] >= '0' && x->name[k] <= '9';
    if (digits) {
      *n = e - b;
      return x->name + b;
    }
  }
  return NULL;
}

/* Do the names of a and b hold the same block numbers, in the same order? */
static bool same_numbers(const mtensor *a, const mtensor *b) {
  size_t i = 0, j = 0, na = 0, nb = 0;
  for (;;) {
    const char *pa = next_number(a, &i, &na), *pb = next_number(b, &j, &nb);
    if (!pa || !pb) return !pa && !pb;
    if (na != nb || memcmp(pa, pb, na) != 0) return false;
  }
}

/* The one free source of role r in column cs for target x, or -1. */
static int64_t role_source(const matcher *m, const mtensor *x, int r, int cs) {
  int64_t found = -1;
  for (uint32_t s = 0; s < m->S.n; s++) {
    const mtensor *y = &m->S.t[s];
    if (!m_src_free(m, s) || y->fused || tensor_role(y, cs) != r || !same_numbers(x, y)) continue;
    if (x->dtype != y->dtype || !m_same_shape(x->shape, x->ndim, y->shape, y->ndim) || found >= 0) return -1;
    found = s;
  }
  return found;
}

/* Pairs of the roles above, between two LLaMA families the names establish. */
static size_t role_pairs(matcher *m, mprop *out, mlayout *lays, size_t n) {
  const mfam *f = m->famtab;
  if (!f || f->side[0].fam < 0 || f->side[1].fam < 0) return n;
  int cs = role_col(f->side[0].fam), ct = role_col(f->side[1].fam);
  if (cs < 0 || ct < 0 || cs == ct) return n;
  for (uint32_t t = 0; t < m->T.n; t++) {
    const mtensor *x = &m->T.t[t];
    int r = x->fused ? -1 : tensor_role(x, ct);
    if (!m_tgt_free(m, t) || r < 0) continue;
    int64_t s = role_source(m, x, r, cs);
    if (s < 0) continue;
    memset(&lays[n], 0, sizeof lays[n]);
    lays[n].rel = REL_ID;
    out[n] = (mprop){.s = (uint32_t)s, .t = t};
    snprintf(out[n].why, sizeof out[n].why, "the same role in both families' names: %s is %s", ROLES[r][cs], ROLES[r][ct]);
    n++;
  }
  return n;
}

size_t m_famtab_propose(matcher *m, mprop **out, mlayout **lays) {
  *out = malloc((m->T.n + 1) * sizeof **out);
  *lays = malloc((m->T.n + 1) * sizeof **lays);
  if (!*out || !*lays) {
    m->oom = true;
    return 0;
  }
  size_t n = 0;
  for (uint32_t t = 0; t < m->T.n; t++) {
    const mtensor *x = &m->T.t[t];
    if (!m_tgt_free(m, t) || !experts_down(x)) continue;
    for (uint32_t s = 0; s < m->S.n; s++) {
      const mtensor *y = &m->S.t[s];
      if (!m_src_free(m, s) || y->key != x->key || y->dtype != x->dtype || !experts_t_layout(y, x, &(*lays)[n]))
        continue;
      (*out)[n] = (mprop){.s = s, .t = t};
      snprintf((*out)[n].why, sizeof (*out)[n].why,
               "same name; Mixtral experts concatenated along rows hold w2 transposed per expert");
      n++;
      break;
    }
  }
  return role_pairs(m, *out, *lays, n);
}

/* ---- q, k, v fused per kv group --------------------------------------------------------------------- */

/* GPT-NeoX, BLOOM, Falcon and Megatron fuse q, k, v per kv group: for each of the G groups, its
 * query heads' rows, then its k head's, then its v head's ([q0..qn, k, v] per group; per head
 * when G = n_heads, blocked when G = 1). So the parts, each viewed as [G, -1], join along axis 1
 * and the result is viewed as [R, in]; a cut views the fused tensor as [G, -1] first. G is
 * n_kv_heads, or, not given, k's rows over the head size q's rows and n_heads give. */
const char m_qkv_param_why[] =
    "fused qkv convention: `query_key_value` (`linear_qkv`) is fused per kv group, and the group count is not known "
    "(or does not divide the rows): add --param n_kv_heads=N (or n_heads) or --config config.json";

int64_t m_qkv_groups(matcher *m, const int64_t *rows, bool note) {
  mfam *f = m->famtab;
  if (!f) return -1;
  int64_t q = rows[0], k = rows[1], v = rows[2], G = f->n_kv_heads;
  if (G < 1 && f->n_heads >= 1 && q % f->n_heads == 0 && k % (q / f->n_heads) == 0) G = k / (q / f->n_heads);
  if (G < 1 || k != v || q % G || k % G) {
    if (note && f->n_kv_heads < 1) f->want_heads = true;
    else if (note) f->want_kv = true;
    return -1;
  }
  f->kv_used = G;
  return G;
}

static void reshape_op(mlayout *l, const int64_t *shape, int n) {
  memset(l, 0, sizeof *l);
  l->rel = REL_RESHAPE;
  l->nops = 1;
  set_op(&l->op[0], MOP_RESHAPE, shape, n);
}

/* Axis 0 cut in two, [G, -1, ...]: the view fuse/unfuse `groups` take (vm/layout.c), -1 being
 * each part's own rows per group (the proof reads it so). */
static void group_view(mlayout *l, const mtensor *x, int64_t G) {
  int64_t g[WBR_MAX_DIMS] = {G, -1};
  for (int d = 1; d < x->ndim && d + 1 < WBR_MAX_DIMS; d++) g[d + 1] = x->shape[d];
  reshape_op(l, g, x->ndim + 1);
}

void m_qkv_group_join(mpair *p, const mtensor *fused, int64_t G) {
  p->named = MNAMED_GROUPS;
  p->count = G;
  group_view(&p->lay, fused, G);
  reshape_op(&p->post, fused->shape, fused->ndim);
  p->axis = 1;
}

void m_qkv_group_cut(mpair *p, const mtensor *fused, const mtensor *part, int64_t G, int64_t off, int64_t len) {
  p->named = MNAMED_GROUPS;
  p->count = G;
  group_view(&p->pre, fused, G);
  reshape_op(&p->lay, part->shape, part->ndim);
  p->axis = 1;
  p->off = off / G;
  p->len = len / G;
}

/* ---- rule files planned with the values given ----------------------------------------------------- */

int m_plan_given(wbr_plan **out, wbr_ctx *ctx, const wbr_program *prog, const wbr_tensorset *src,
                 const wbr_tensorset *tgt, const wbr_match_options *o) {
  size_t n = o && o->version >= 2 && o->params ? o->nparams : 0;
  wbr_param_value *v = malloc((n + 1) * sizeof *v);
  if (!v) return wbr_oom(ctx);
  for (size_t i = 0; i < n; i++) v[i] = o->params[i], v[i].origin = WBR_PARAM_CONFIG;
  wbr_plan_options po = WBR_PLAN_OPTIONS_INIT;
  po.params = v;
  po.nparams = n;
  int rc = wbr_plan_new_with(out, ctx, prog, src, tgt, &po);
  free(v);
  return rc;
}
