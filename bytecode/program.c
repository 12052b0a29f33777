/* program.c — the in-memory rule program: building it with deduplicated pools, freeing it, and
 * the opcode tables from opcodes.h. The verifier is verify.c. */
#include "program.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

/* ---- opcode tables ---- */

static const wbr_opinfo opinfo[WBR_OP_COUNT] = {
#define OPINFO_ROW(id, name, x, a, b, c, doc) \
  {name, WBR_OPK_##x, WBR_OPK_##a, WBR_OPK_##b, WBR_OPK_##c, doc},
    WBR_OP_LIST(OPINFO_ROW)
#undef OPINFO_ROW
};

static const struct {
  const char *name, *label, *doc;
} opk_info[WBR_OPK_NKINDS] = {
#define OPK_ROW(id, label, ilist, doc) {#id, label, doc},
    WBR_OPK_LIST(OPK_ROW)
#undef OPK_ROW
};

const wbr_opinfo *wbr_opinfo_get(unsigned op) { return op < WBR_OP_COUNT ? &opinfo[op] : NULL; }
const char *wbr_opk_label(wbr_opk k) { return (unsigned)k < WBR_OPK_NKINDS ? opk_info[k].label : ""; }
const char *wbr_opk_doc(wbr_opk k) { return (unsigned)k < WBR_OPK_NKINDS ? opk_info[k].doc : ""; }
const char *wbr_opk_name(wbr_opk k) { return (unsigned)k < WBR_OPK_NKINDS ? opk_info[k].name : "?"; }

void wbr_pattern_letters(uint8_t flags, char out[8]) {
  size_t k = 0;
  for (int bit = 0; WBR_RX_LETTERS[bit]; bit++)
    if (flags & (1u << bit)) out[k++] = WBR_RX_LETTERS[bit];
  out[k] = 0;
}

/* ---- building ---- */

/* Dedupe maps while a program is built: one map, keys prefixed by pool ("s", "p", "i", "r"). */
struct wbr_program_builder {
  wbr_map map;
  char **keys;
  size_t nkeys, cap;
};

int wbr_program_new(wbr_program **out) {
  wbr_program *p = calloc(1, sizeof *p);
  *out = p;
  if (!p) return WBR_ENOMEM;
  p->b = calloc(1, sizeof *p->b);
  p->source = wbr_strdup("");
  if (!p->b || !p->source) {
    wbr_program_free(p);
    *out = NULL;
    return WBR_ENOMEM;
  }
  wbr_map_init(&p->b->map);
  return 0;
}

void wbr_program_finish(wbr_program *p) {
  if (!p || !p->b) return;
  wbr_map_free(&p->b->map);
  for (size_t i = 0; i < p->b->nkeys; i++) free(p->b->keys[i]);
  free(p->b->keys);
  free(p->b);
  p->b = NULL;
}

void wbr_program_drop_patterns(wbr_program *p) {
  for (uint32_t i = 0; i < p->nnp; i++) wbr_namepat_free(p->np[i]);
  free(p->np);
  p->np = NULL;
  p->nnp = 0;
}

void wbr_program_free(wbr_program *p) {
  if (!p) return;
  wbr_program_drop_patterns(p);
  wbr_program_finish(p);
  free(p->code);
  free(p->pos);
  for (uint32_t i = 0; i < p->nstrs; i++) free(p->strs[i]);
  free(p->strs);
  free(p->str_len);
  free(p->pats);
  free(p->ints);
  free(p->int_vals);
  free(p->refs);
  free(p->ref_vals);
  free(p->params);
  free(p->xnodes);
  free(p->source);
  free(p->text);
  free(p->spans);
  free(p);
}

/* Grow *arr (elements of size sz) to hold need elements. */
static bool grow(void **arr, size_t *cap, size_t need, size_t sz) { return wbr_grow(arr, cap, need, sz, 8); }

/* Grow two parallel arrays indexed by a u32 count. */
static bool grow2(void **a, size_t sa, void **b, size_t sb, uint32_t *cap, uint32_t need) {
  if (need <= *cap) return true;
  size_t ca = *cap, cb = *cap;
  if (!grow(a, &ca, need, sa)) return false;
  if (b && !grow(b, &cb, need, sb)) return false;
  *cap = (uint32_t)(ca < cb || !b ? ca : cb);
  return true;
}

/* Look up key; on a miss remember it (owned) with value val. Returns the existing value, val on
 * insert, or -1 when out of memory. key is consumed. */
static int64_t dedupe(wbr_program *p, char *key, int64_t val) {
  if (!key) return -1;
  if (!p->b) { /* not building: no dedupe */
    free(key);
    return val;
  }
  size_t old;
  if (wbr_map_get(&p->b->map, key, &old)) {
    free(key);
    return (int64_t)old;
  }
  if (!grow((void **)&p->b->keys, &p->b->cap, p->b->nkeys + 1, sizeof(char *)) ||
      wbr_map_put(&p->b->map, key, (size_t)val, NULL) < 0) {
    free(key);
    return -1;
  }
  p->b->keys[p->b->nkeys++] = key;
  return val;
}

static char *key_of(char tag, const void *s, size_t len) {
  char *k = malloc(len + 2);
  if (!k) return NULL;
  k[0] = tag;
  memcpy(k + 1, s, len);
  k[len + 1] = 0;
  return k;
}

int64_t wbr_program_add_str(wbr_program *p, const char *s, size_t len) {
  bool plain = memchr(s, 0, len) == NULL; /* a key cannot hold a NUL: no dedupe then */
  if (plain && p->b) {
    char *k = key_of('s', s, len);
    if (!k) return -1;
    size_t old;
    int hit = wbr_map_get(&p->b->map, k, &old);
    free(k);
    if (hit) return (int64_t)old;
  }
  if (p->nstrs >= WBR_MAX_POOL || len > WBR_MAX_STR) return -1;
  if (!grow2((void **)&p->strs, sizeof(char *), (void **)&p->str_len, sizeof(uint32_t),
             &p->strs_cap, p->nstrs + 1))
    return -1;
  char *copy = wbr_strndup(s, len);
  if (!copy) return -1;
  uint32_t idx = p->nstrs;
  if (plain && dedupe(p, key_of('s', s, len), idx) < 0) {
    free(copy);
    return -1;
  }
  p->strs[idx] = copy;
  p->str_len[idx] = (uint32_t)len;
  p->nstrs++;
  return idx;
}

int64_t wbr_program_add_pattern(wbr_program *p, uint8_t kind, uint8_t flags, const char *text,
                                size_t len) {
  int64_t s = wbr_program_add_str(p, text, len);
  if (s < 0) return -1;
  char key[64];
  int kl = snprintf(key, sizeof key, "%u:%u:%lld", kind, flags, (long long)s);
  char *k = key_of('p', key, (size_t)kl);
  size_t old;
  if (k && p->b && wbr_map_get(&p->b->map, k, &old)) {
    free(k);
    return (int64_t)old;
  }
  if (p->npats >= WBR_MAX_POOL ||
      !grow2((void **)&p->pats, sizeof(wbr_pattern), NULL, 0, &p->pats_cap, p->npats + 1)) {
    free(k);
    return -1;
  }
  if (dedupe(p, k, p->npats) < 0) return -1;
  p->pats[p->npats] = (wbr_pattern){.kind = kind, .flags = flags, .text = (uint32_t)s};
  return p->npats++;
}

static char *list_key(char tag, const int64_t *iv, const uint32_t *uv, uint32_t n) {
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_putc(&b, tag);
  for (uint32_t i = 0; i < n; i++)
    wbr_buf_printf(&b, "%s%lld", i ? "," : "", iv ? (long long)iv[i] : (long long)uv[i]);
  return wbr_buf_take(&b);
}

int64_t wbr_program_add_ints(wbr_program *p, const int64_t *v, uint32_t n) {
  char *k = list_key('i', v, NULL, n);
  size_t old;
  if (k && p->b && wbr_map_get(&p->b->map, k, &old)) {
    free(k);
    return (int64_t)old;
  }
  size_t cv = p->int_vals_cap;
  if (n > WBR_MAX_LIST || p->nints >= WBR_MAX_POOL ||
      !grow2((void **)&p->ints, sizeof(wbr_list), NULL, 0, &p->ints_cap, p->nints + 1) ||
      !grow((void **)&p->int_vals, &cv, p->nint_vals + n + 1, sizeof(int64_t))) {
    free(k);
    return -1;
  }
  p->int_vals_cap = cv;
  if (dedupe(p, k, p->nints) < 0) return -1;
  if (n) memcpy(p->int_vals + p->nint_vals, v, n * sizeof *v);
  p->ints[p->nints] = (wbr_list){.off = (uint32_t)p->nint_vals, .n = n};
  p->nint_vals += n;
  return p->nints++;
}

int64_t wbr_program_add_refs(wbr_program *p, const uint32_t *v, uint32_t n) {
  char *k = list_key('r', NULL, v, n);
  size_t old;
  if (k && p->b && wbr_map_get(&p->b->map, k, &old)) {
    free(k);
    return (int64_t)old;
  }
  size_t cv = p->ref_vals_cap;
  if (n > WBR_MAX_LIST || p->nrefs >= WBR_MAX_POOL ||
      !grow2((void **)&p->refs, sizeof(wbr_list), NULL, 0, &p->refs_cap, p->nrefs + 1) ||
      !grow((void **)&p->ref_vals, &cv, p->nref_vals + n + 1, sizeof(uint32_t))) {
    free(k);
    return -1;
  }
  p->ref_vals_cap = cv;
  if (dedupe(p, k, p->nrefs) < 0) return -1;
  if (n) memcpy(p->ref_vals + p->nref_vals, v, n * sizeof *v);
  p->refs[p->nrefs] = (wbr_list){.off = (uint32_t)p->nref_vals, .n = n};
  p->nref_vals += n;
  return p->nrefs++;
}

int64_t wbr_program_add_insn(wbr_program *p, wbr_insn in, uint32_t line, uint32_t col) {
  if (p->ncode >= WBR_MAX_INSNS ||
      !grow2((void **)&p->code, sizeof(wbr_insn), (void **)&p->pos, sizeof(wbr_pos),
             &p->code_cap, p->ncode + 1))
    return -1;
  p->code[p->ncode] = in;
  p->pos[p->ncode] = (wbr_pos){line, col};
  return p->ncode++;
}

int wbr_program_set_source(wbr_program *p, const char *name, uint64_t hash, uint32_t lang) {
  char *s = wbr_strdup(name ? name : "");
  if (!s) return WBR_ENOMEM;
  free(p->source);
  p->source = s;
  p->source_hash = hash;
  p->lang_version = lang;
  return 0;
}
