/* tokens.c — what the matcher reads from a tensor name: canonical words (separators, camelCase
 * and case normalised, synonyms and plurals folded: kernel/w -> weight, beta -> bias,
 * running_mean/moving_mean -> mean, ...), the numbers in it and their rank within their family
 * (so `layers.3`, `encoder_layer_3` and 1-based `block4` can agree), the role of the last word,
 * and the canonical key used for exact name matches. Also word weights (idf) and similarities. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mint.h"

/* ---- interning ------------------------------------------------------------------------------- */

void mi_init(mintern *in) {
  memset(in, 0, sizeof *in);
  wbr_map_init(&in->map);
}

void mi_free(mintern *in) {
  for (size_t i = 0; i < in->n; i++) free(in->s[i]);
  free(in->s);
  wbr_map_free(&in->map);
  memset(in, 0, sizeof *in);
}

uint32_t mi_id(mintern *in, const char *s, size_t len) {
  char stack[256];
  char *tmp = len < sizeof stack ? stack : malloc(len + 1);
  if (!tmp) {
    in->oom = true;
    return UINT32_MAX;
  }
  memcpy(tmp, s, len);
  tmp[len] = 0;
  size_t v;
  if (wbr_map_get(&in->map, tmp, &v)) {
    if (tmp != stack) free(tmp);
    return (uint32_t)v;
  }
  if (!wbr_grow(&in->s, &in->cap, in->n + 1, sizeof *in->s, 1024)) goto oom;
  char *copy = tmp != stack ? tmp : wbr_strndup(s, len);
  if (!copy) goto oom;
  tmp = NULL;
  in->s[in->n] = copy;
  if (wbr_map_put(&in->map, copy, in->n, NULL) < 0) {
    free(copy);
    goto oom;
  }
  return (uint32_t)in->n++;
oom:
  if (tmp && tmp != stack) free(tmp);
  in->oom = true;
  return UINT32_MAX;
}

/* ---- words ------------------------------------------------------------------------------------ */

/* Synonyms: spelling -> canonical word ("" drops the word). */
static const char *const synonyms[][2] = {
    {"kernel", "weight"}, {"weights", "weight"}, {"w", "weight"},
    {"scale", "weight"},  {"beta", "bias"},      {"b", "bias"},   {"biases", "bias"},
    {"offset", "bias"}, /* Haiku/Sonnet norms: scale and offset */
    {"running", ""},      {"moving", ""},        {"variance", "var"},
    {"embedding", "embed"}, {"embeddings", "embed"}, {"emb", "embed"},
    {"attention", "attn"}, {"self", ""},         {"class", "cls"},
    {"ln", "norm"},       {"layernorm", "norm"}, {"batchnorm", "norm"}, {"bn", "norm"},
    {"gn", "norm"},       {"groupnorm", "norm"}, {"dense", "fc"},  {"linear", "fc"},
    {"projection", "proj"}, {"query", "q"},      {"key", "k"},    {"value", "v"},
    {"wq", "q"},          {"wk", "k"},           {"wv", "v"},     {"wo", "out"},
    {"output", "out"},    {"o", "out"},          {"convolution", "conv"},
    {"layers", "layer"},  {"blocks", "block"},   {"heads", "head"}, {"stages", "stage"},
    {"features", "feature"}, {"encoders", "encoder"}, {"kernels", "weight"},
    {"ffn", "mlp"},       {"feedforward", "mlp"},
};

/* Words that compound names are split into ("encoderblock" -> encoder block). */
static const char *const vocab[] = {
    "encoder", "decoder", "block", "layer", "norm", "attn", "attention", "embed", "embedding",
    "proj", "conv", "mlp", "head", "pos", "patch", "token", "stage", "down", "up", "out", "in",
    "fc", "dense", "weight", "bias", "cls", "transformer", "sample", "linear", "residual",
};

static void canon(const char *w, size_t n, const char **out, size_t *outn) {
  for (size_t i = 0; i < sizeof synonyms / sizeof synonyms[0]; i++)
    if (strlen(synonyms[i][0]) == n && memcmp(synonyms[i][0], w, n) == 0) {
      *out = synonyms[i][1];
      *outn = strlen(synonyms[i][1]);
      return;
    }
  *out = w;
  *outn = n;
}

static bool in_vocab(const char *w, size_t n) {
  for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++)
    if (strlen(vocab[i]) == n && memcmp(vocab[i], w, n) == 0) return true;
  return false;
}

int m_word_id(matcher *m, const char *w) {
  uint32_t id = mi_id(&m->in, w, strlen(w));
  return id == UINT32_MAX ? -1 : (int)id;
}

const char *m_word(const matcher *m, uint32_t id) { return mi_str(&m->in, id); }

int m_digit_runs(const char *name, size_t len, size_t *starts, size_t *ends, int max) {
  int n = 0;
  for (size_t i = 0; i < len;) {
    if (isdigit((unsigned char)name[i])) {
      size_t j = i;
      while (j < len && isdigit((unsigned char)name[j])) j++;
      if (n < max) {
        starts[n] = i;
        ends[n] = j;
        n++;
      }
      i = j;
    } else {
      i++;
    }
  }
  return n;
}

static bool is_sep(char c) { return c == '.' || c == '/' || c == ':'; }

typedef struct wordsink {
  matcher *m;
  mside *side;
  mtensor *t;
  wbr_buf key;     /* canonical key being built */
  wbr_buf partkey; /* key without q/k/v words */
  uint32_t last_word;
  bool have_in, have_proj;
} wordsink;

static void push_word_id(wordsink *ws, const char *w, size_t n);

/* "post"/"pre" + "attn" is one word: post_attention_layernorm is the norm AFTER attention,
 * so its "attention" is no evidence for Meta's attention_norm (the norm before it, R10). */
static bool fold_modifier(wordsink *ws, const char *w, size_t n) {
  if (n != 4 || memcmp(w, "attn", 4) != 0 || !ws->t->nw) return false;
  const char *prev = mi_str(&ws->m->in, ws->last_word);
  if (strcmp(prev, "post") != 0 && strcmp(prev, "pre") != 0) return false;
  char both[8];
  size_t pn = strlen(prev);
  memcpy(both, prev, pn);
  memcpy(both + pn, "attn", 4);
  uint32_t id = mi_id(&ws->m->in, both, pn + 4);
  if (id == UINT32_MAX) return false;
  ws->side->words[ws->side->nwords - 1] = id;
  ws->last_word = id;
  wbr_buf_put(&ws->key, "attn", 4);
  wbr_buf_put(&ws->partkey, "attn", 4);
  return true;
}

static void push_word_id(wordsink *ws, const char *w, size_t n) {
  if (n == 0) return;
  if (fold_modifier(ws, w, n)) return;
  uint32_t id = mi_id(&ws->m->in, w, n);
  if (id == UINT32_MAX) return;
  mside *s = ws->side;
  if (s->nwords == s->wcap) {
    size_t nc = s->wcap ? s->wcap * 2 : 4096;
    uint32_t *nw = realloc(s->words, nc * sizeof *nw);
    if (!nw) {
      ws->m->oom = true;
      return;
    }
    s->words = nw;
    s->wcap = nc;
  }
  s->words[s->nwords++] = id;
  ws->t->nw++;
  ws->last_word = id;
  if (ws->key.len) wbr_buf_putc(&ws->key, '.');
  wbr_buf_put(&ws->key, w, n);
  bool qkv = n == 1 && (w[0] == 'q' || w[0] == 'k' || w[0] == 'v');
  if (qkv) ws->t->part = w[0] == 'q' ? 0 : w[0] == 'k' ? 1 : 2;
  if (!qkv && !(n == 3 && memcmp(w, "qkv", 3) == 0)) {
    if (ws->partkey.len) wbr_buf_putc(&ws->partkey, '.');
    wbr_buf_put(&ws->partkey, w, n);
  }
  if (n == 3 && memcmp(w, "qkv", 3) == 0) ws->t->fused = true;
  if (n == 2 && memcmp(w, "in", 2) == 0) ws->have_in = true;
  if (n == 4 && memcmp(w, "proj", 4) == 0) ws->have_proj = true;
}

/* One lowercase word: fold synonyms, split known compounds. */
static void add_word(wordsink *ws, const char *w, size_t n) {
  const char *c;
  size_t cn;
  canon(w, n, &c, &cn);
  if (c == w && !in_vocab(w, n) && n >= 6) {
    for (size_t k = 2; k + 2 <= n; k++)
      if (in_vocab(w, k) && in_vocab(w + k, n - k)) {
        add_word(ws, w, k);
        add_word(ws, w + k, n - k);
        return;
      }
  }
  push_word_id(ws, c, cn);
}

static void add_number(wordsink *ws, const char *d, size_t n) {
  mtensor *t = ws->t;
  int64_t v = 0;
  for (size_t i = 0; i < n && i < 15; i++) v = v * 10 + (d[i] - '0');
  if (t->nnum < M_MAXNUM) t->num[t->nnum++] = v;
  if (ws->key.len) wbr_buf_putc(&ws->key, '.');
  wbr_buf_printf(&ws->key, "%lld", (long long)v);
  if (ws->partkey.len) wbr_buf_putc(&ws->partkey, '.');
  wbr_buf_printf(&ws->partkey, "%lld", (long long)v);
}

/* Split one component (between separators) into words and numbers. */
static void split_component(wordsink *ws, const char *c, size_t n) {
  char low[256];
  size_t i = 0;
  while (i < n) {
    unsigned char ch = (unsigned char)c[i];
    if (ch == '_' || ch == '-' || !isalnum(ch)) {
      i++;
      continue;
    }
    size_t j = i;
    if (isdigit(ch)) {
      while (j < n && isdigit((unsigned char)c[j])) j++;
      add_number(ws, c + i, j - i);
      i = j;
      continue;
    }
    /* a word: letters; camelCase boundaries split it ("MlpBlock", "MLPBlock") */
    j = i + 1;
    while (j < n && isalpha((unsigned char)c[j])) {
      unsigned char p = (unsigned char)c[j - 1], q = (unsigned char)c[j];
      if (islower(p) && isupper(q)) break;
      if (isupper(p) && isupper(q) && j + 1 < n && islower((unsigned char)c[j + 1])) break;
      j++;
    }
    size_t wn = j - i < sizeof low ? j - i : sizeof low - 1;
    for (size_t k = 0; k < wn; k++) low[k] = (char)tolower((unsigned char)c[i + k]);
    add_word(ws, low, wn);
    i = j;
  }
}

static int role_of(const char *w) {
  if (!strcmp(w, "weight")) return ROLE_WEIGHT;
  if (!strcmp(w, "bias")) return ROLE_BIAS;
  if (!strcmp(w, "mean")) return ROLE_MEAN;
  if (!strcmp(w, "var")) return ROLE_VAR;
  if (!strcmp(w, "tracked")) return ROLE_COUNT;
  return ROLE_OTHER;
}

/* Analyse one name; `skip` bytes of wrapper prefix are ignored for the key. */
static void analyse(matcher *m, mside *side, mtensor *t, size_t skip) {
  wordsink ws = {.m = m, .side = side, .t = t};
  wbr_buf_init(&ws.key);
  wbr_buf_init(&ws.partkey);
  t->w0 = (uint32_t)side->nwords;
  t->nw = 0;
  t->nnum = 0;
  t->part = -1;
  t->fused = false;
  size_t last_start = 0;
  for (size_t i = 0; i <= t->len; i++) {
    if (i == t->len || is_sep(t->name[i])) {
      if (i > last_start && last_start >= skip) {
        uint32_t before = t->nw;
        ws.have_in = ws.have_proj = false;
        split_component(&ws, t->name + last_start, i - last_start);
        if (ws.have_in && ws.have_proj) t->fused = true;
        if (i == t->len) {
          /* leaf key: canonical words of the last component */
          wbr_buf lk;
          wbr_buf_init(&lk);
          for (uint32_t k = before; k < t->nw; k++) {
            if (lk.len) wbr_buf_putc(&lk, '.');
            wbr_buf_puts(&lk, mi_str(&m->in, side->words[t->w0 + k]));
          }
          t->leafkey = mi_id(&m->in, lk.p ? lk.p : "", lk.len);
          wbr_buf_free(&lk);
        }
      }
      last_start = i + 1;
    }
  }
  if (t->nw == 0) t->leafkey = mi_id(&m->in, "", 0);
  t->role = t->nw ? (uint8_t)role_of(mi_str(&m->in, ws.last_word)) : ROLE_OTHER;
  /* the raw last word decides the Flax/TF convention */
  size_t e = t->len, b = e;
  while (b > 0 && isalpha((unsigned char)t->name[b - 1])) b--;
  t->kernel = e - b == 6 && strncasecmp(t->name + b, "kernel", 6) == 0;
  t->key = mi_id(&m->in, ws.key.p ? ws.key.p : "", ws.key.len);
  t->partkey = mi_id(&m->in, ws.partkey.p ? ws.partkey.p : "", ws.partkey.len);
  size_t p = t->len;
  while (p > 0 && !is_sep(t->name[p - 1])) p--;
  t->parent = mi_id(&m->in, t->name, p ? p - 1 : 0);
  t->nanc = 0;
  for (size_t q = p; q > 0 && t->nanc < M_MAXANC;) {
    q--; /* q is a separator */
    if (q < 65535) {
      t->anc_len[t->nanc] = (uint16_t)q;
      t->anc[t->nanc] = mi_id(&m->in, t->name, q);
      t->nanc++;
    }
    while (q > 0 && !is_sep(t->name[q - 1])) q--;
  }
  if (ws.key.oom || ws.partkey.oom) m->oom = true;
  wbr_buf_free(&ws.key);
  wbr_buf_free(&ws.partkey);
}

int m_side_load(matcher *m, mside *side, const wbr_tensorset *ts) {
  memset(side, 0, sizeof *side);
  side->n = wbr_tensorset_count(ts);
  side->t = calloc(side->n ? side->n : 1, sizeof *side->t);
  if (!side->t) return wbr_oom(m->ctx);
  for (size_t i = 0; i < side->n; i++) {
    wbr_tensor_info info;
    wbr_tensorset_get(ts, i, &info);
    mtensor *t = &side->t[i];
    t->name = info.name;
    t->len = strlen(info.name);
    t->dtype = info.dtype;
    t->ndim = info.ndim;
    for (int d = 0; d < info.ndim && d < WBR_MAX_DIMS; d++) t->shape[d] = info.shape[d];
    t->nelem = info.nelem;
    t->pair = -1;
  }
  return 0;
}

void m_side_free(mside *side) {
  free(side->t);
  free(side->words);
  memset(side, 0, sizeof *side);
}

/* The first component shared by nearly every name of a side and by none of the other side's
 * (DETR's `body.`, DataParallel's `module.`) is a wrapper: it is left out of the keys. */
static size_t wrapper_len(const mside *a, const mside *b) {
  if (a->n < 2) return 0;
  const mtensor *t0 = &a->t[0];
  size_t w = 0;
  while (w < t0->len && !is_sep(t0->name[w])) w++;
  if (w == t0->len || w == 0) return 0;
  size_t same = 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->t[i].len > w && is_sep(a->t[i].name[w]) && memcmp(a->t[i].name, t0->name, w) == 0) same++;
  if (same * 10 < a->n * 9) return 0;
  for (size_t i = 0; i < b->n; i++)
    if (b->t[i].len > w && is_sep(b->t[i].name[w]) && memcmp(b->t[i].name, t0->name, w) == 0) return 0;
  return w + 1;
}

static void analyse_side(matcher *m, mside *side, size_t wrap) {
  const char *w0 = side->n ? side->t[0].name : "";
  for (size_t i = 0; i < side->n; i++) {
    mtensor *t = &side->t[i];
    size_t skip = wrap && t->len > wrap && memcmp(t->name, w0, wrap) == 0 ? wrap : 0;
    analyse(m, side, t, skip);
  }
}

/* ---- ranks ------------------------------------------------------------------------------------ */

typedef struct famval {
  uint32_t fam;
  int64_t v;
} famval;

static int famval_cmp(const void *a, const void *b) {
  const famval *x = a, *y = b;
  if (x->fam != y->fam) return x->fam < y->fam ? -1 : 1;
  return x->v < y->v ? -1 : x->v > y->v;
}

/* A number's family: names with the same shape of text (digits replaced) and the same text
 * before it. Its rank among the family's values is what we compare across sides. */
void m_ranks(matcher *m, mside *side) {
  size_t total = 0;
  for (size_t i = 0; i < side->n; i++) total += side->t[i].nnum;
  if (!total) return;
  famval *fv = malloc(total * sizeof *fv);
  uint32_t *fam = malloc(total * sizeof *fam);
  if (!fv || !fam) {
    free(fv);
    free(fam);
    m->oom = true;
    return;
  }
  wbr_buf b;
  wbr_buf_init(&b);
  size_t k = 0;
  for (size_t i = 0; i < side->n; i++) {
    mtensor *t = &side->t[i];
    size_t st[M_MAXNUM], en[M_MAXNUM];
    int nr = m_digit_runs(t->name, t->len, st, en, M_MAXNUM);
    /* the signature: digits -> '#' */
    b.len = 0;
    for (size_t c = 0; c < t->len;) {
      if (isdigit((unsigned char)t->name[c])) {
        wbr_buf_putc(&b, '#');
        while (c < t->len && isdigit((unsigned char)t->name[c])) c++;
      } else {
        wbr_buf_putc(&b, t->name[c++]);
      }
    }
    wbr_buf_putc(&b, '\x1f');
    size_t siglen = b.len;
    for (int p = 0; p < nr && p < t->nnum; p++) {
      b.len = siglen;
      wbr_buf_put(&b, t->name, st[p]);
      fam[k] = mi_id(&m->in, b.p, b.len);
      fv[k].fam = fam[k];
      fv[k].v = t->num[p];
      k++;
    }
    for (int p = nr; p < t->nnum; p++) { /* cannot happen; keep arrays aligned */
      fam[k] = UINT32_MAX;
      fv[k].fam = UINT32_MAX;
      fv[k].v = 0;
      k++;
    }
  }
  wbr_buf_free(&b);
  qsort(fv, k, sizeof *fv, famval_cmp);
  size_t u = 0;
  for (size_t i = 0; i < k; i++)
    if (u == 0 || fv[i].fam != fv[u - 1].fam || fv[i].v != fv[u - 1].v) fv[u++] = fv[i];
  k = 0;
  for (size_t i = 0; i < side->n; i++) {
    mtensor *t = &side->t[i];
    for (int p = 0; p < t->nnum; p++, k++) {
      famval key = {fam[k], t->num[p]};
      famval *hit = bsearch(&key, fv, u, sizeof *fv, famval_cmp);
      size_t lo = hit ? (size_t)(hit - fv) : 0, first = lo;
      while (first > 0 && fv[first - 1].fam == key.fam) first--;
      size_t last = lo;
      while (last + 1 < u && fv[last + 1].fam == key.fam) last++;
      t->rank[p] = (uint8_t)((lo - first) > 255 ? 255 : lo - first);
      t->informative[p] = hit && last > first;
      t->famn[p] = (uint16_t)(last - first + 1 > 65535 ? 65535 : last - first + 1);
    }
  }
  free(fv);
  free(fam);
}

void m_idf(matcher *m) {
  size_t nw = m->in.n;
  uint32_t *df = calloc(nw ? nw : 1, sizeof *df);
  uint32_t *seen = calloc(nw ? nw : 1, sizeof *seen);
  m->idf = calloc(nw ? nw : 1, sizeof *m->idf);
  m->nidf = nw;
  if (!df || !seen || !m->idf) {
    m->oom = true;
    free(df);
    free(seen);
    return;
  }
  uint32_t stamp = 0;
  mside *sides[2] = {&m->S, &m->T};
  for (int s = 0; s < 2; s++)
    for (size_t i = 0; i < sides[s]->n; i++) {
      mtensor *t = &sides[s]->t[i];
      stamp++;
      for (uint32_t k = 0; k < t->nw; k++) {
        uint32_t id = sides[s]->words[t->w0 + k];
        if (id < nw && seen[id] != stamp) {
          seen[id] = stamp;
          df[id]++;
        }
      }
    }
  m->isrole = calloc(nw ? nw : 1, sizeof *m->isrole);
  if (!m->isrole) m->oom = true;
  for (size_t i = 0; i < nw && m->isrole; i++) {
    const char *w = mi_str(&m->in, (uint32_t)i);
    m->isrole[i] = !strcmp(w, "weight") || !strcmp(w, "bias") || !strcmp(w, "mean") || !strcmp(w, "var");
  }
  double N = (double)(m->S.n + m->T.n) + 1.0;
  for (size_t i = 0; i < nw; i++) m->idf[i] = df[i] ? (float)log(N / ((double)df[i] + 0.5)) + 0.1f : 0.0f;
  free(df);
  free(seen);
}

static const uint32_t *words_of(const matcher *m, const mtensor *t) {
  const mside *s = t >= m->S.t && t < m->S.t + m->S.n ? &m->S : &m->T;
  return s->words + t->w0;
}

static bool role_word(const matcher *m, uint32_t id) { return m->isrole && m->isrole[id]; }

static float sim(const matcher *m, const mtensor *a, const mtensor *b, bool content);

float m_wsim(const matcher *m, const mtensor *a, const mtensor *b) { return sim(m, a, b, false); }
float m_csim(const matcher *m, const mtensor *a, const mtensor *b) { return sim(m, a, b, true); }

static float sim(const matcher *m, const mtensor *a, const mtensor *b, bool content) {
  const uint32_t *wa = words_of(m, a), *wb = words_of(m, b);
  double sa = 0, sb = 0, both = 0;
  for (uint32_t i = 0; i < a->nw; i++) {
    bool dup = false;
    for (uint32_t j = 0; j < i; j++) dup |= wa[j] == wa[i];
    if (dup || wa[i] >= m->nidf || (content && role_word(m, wa[i]))) continue;
    sa += m->idf[wa[i]];
    for (uint32_t j = 0; j < b->nw; j++)
      if (wb[j] == wa[i]) {
        both += m->idf[wa[i]];
        break;
      }
  }
  for (uint32_t i = 0; i < b->nw; i++) {
    bool dup = false;
    for (uint32_t j = 0; j < i; j++) dup |= wb[j] == wb[i];
    if (!dup && wb[i] < m->nidf && !(content && role_word(m, wb[i]))) sb += m->idf[wb[i]];
  }
  return sa + sb > 0 ? (float)(2.0 * both / (sa + sb)) : 0.0f;
}

/* Numbers are compared as ranks within their family, and only the informative ones (a family
 * with several values: layer indices, not module counters like `Attention_1`), position by
 * position, and only when both names have as many, from families of the same size: otherwise
 * they say nothing (a block index must not be compared with an `fc2`). */
float m_nsim(const mtensor *a, const mtensor *b) {
  uint8_t ra[M_MAXNUM], rb[M_MAXNUM];
  uint16_t fa[M_MAXNUM], fb[M_MAXNUM];
  int na = 0, nb = 0;
  for (int p = 0; p < a->nnum; p++)
    if (a->informative[p]) fa[na] = a->famn[p], ra[na++] = a->rank[p];
  for (int p = 0; p < b->nnum; p++)
    if (b->informative[p]) fb[nb] = b->famn[p], rb[nb++] = b->rank[p];
  if (na != nb || na == 0) return 0;
  /* the families must have as many values on both sides, or the positions mean different things */
  for (int p = 0; p < na; p++)
    if (fa[p] != fb[p]) return 0;
  int agree = 0;
  for (int p = 0; p < na; p++) agree += ra[p] == rb[p] ? 1 : -1;
  return (float)agree / (float)na;
}

/* Called once both sides are loaded. */
void m_analyse_both(matcher *m) {
  size_t ws = wrapper_len(&m->S, &m->T), wt = wrapper_len(&m->T, &m->S);
  analyse_side(m, &m->S, ws);
  analyse_side(m, &m->T, wt);
  m_ranks(m, &m->S);
  m_ranks(m, &m->T);
  m_idf(m);
  if (m->in.oom) m->oom = true;
}
