/* json.c — the strict JSON layer shared by the safetensors, manifest, sharded and GGUF readers
 * (json.h): a lexical pass of our own gives exact error positions and reads integers exactly
 * from their digits, then cJSON builds the tree. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Integers above 2^53 are not exact in most JSON readers (Python's float, JavaScript), so a
 * shape or offset beyond it is refused even though we read the digits exactly. */
#define JSON_INT_MAX (UINT64_C(1) << 53)

typedef struct json_num {
  const cJSON *node;
  size_t off, len; /* the number's text in the document */
} json_num;

struct wbr_json {
  cJSON *root;
  const char *text;
  json_num *nums; /* sorted by node address, for lookup */
  size_t nnum, cap;
};

static bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int nums_push(wbr_json *j, size_t off, size_t len) {
  if (!wbr_grow(&j->nums, &j->cap, j->nnum + 1, sizeof *j->nums, 64)) return -1;
  j->nums[j->nnum++] = (json_num){NULL, off, len};
  return 0;
}

/* Nesting allowed in our documents; below cJSON's own limit (1000), so cJSON never refuses a
 * document the validator accepted. */
#define JSON_MAX_DEPTH 256
/* cJSON copies a number into a 64-byte buffer; longer ones would be misread. */
#define JSON_MAX_NUMBER 40

typedef struct jv {
  const char *s;
  size_t n, i;
  size_t *err_off;
  char *err;
  size_t errlen;
} jv;

static int jv_fail(jv *v, size_t at, const char *fmt, ...) WBR_PRINTF(3, 4);
static int jv_fail(jv *v, size_t at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->err, v->errlen, fmt, ap);
  va_end(ap);
  *v->err_off = at;
  return WBR_EFORMAT;
}

/* A string at v->i (on its opening quote); leaves v->i after the closing quote. */
static int jv_string(jv *v) {
  size_t start = v->i++;
  while (v->i < v->n) {
    unsigned char c = (unsigned char)v->s[v->i];
    if (c == '"') {
      v->i++;
      return 0;
    }
    if (c < 0x20) return jv_fail(v, v->i, "control character 0x%02x inside a string", c);
    if (c != '\\') {
      v->i++;
      continue;
    }
    size_t at = v->i;
    if (v->i + 1 >= v->n) break;
    char e = v->s[v->i + 1];
    if (strchr("\"\\/bfnrt", e) && e) {
      v->i += 2;
      continue;
    }
    if (e != 'u') return jv_fail(v, at, "invalid escape '\\%c' in a string", e);
    int cp = v->i + 6 <= v->n ? wbr_hex4(v->s + v->i + 2) : -1;
    if (cp < 0) return jv_fail(v, at, "invalid \\u escape in a string");
    if (cp == 0)
      return jv_fail(v, at, "string contains \\u0000, which names and metadata cannot hold");
    v->i += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return jv_fail(v, at, "\\u escape is half a UTF-16 surrogate pair");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      int lo = v->i + 6 <= v->n && v->s[v->i] == '\\' && v->s[v->i + 1] == 'u'
                   ? wbr_hex4(v->s + v->i + 2) : -1;
      if (lo < 0xDC00 || lo > 0xDFFF)
        return jv_fail(v, at, "\\u escape is half a UTF-16 surrogate pair");
      v->i += 6;
    }
  }
  (void)start;
  return jv_fail(v, v->n, "unexpected end of JSON (unterminated string)");
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* A number per RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? , stricter than cJSON
 * (which takes leading zeros and "1."). */
static int jv_number(jv *v, wbr_json *j) {
  const char *s = v->s;
  size_t n = v->n, i = v->i, start = i;
  bool ok = true;
  if (i < n && s[i] == '-') i++;
  if (i < n && s[i] == '0') {
    i++;
  } else if (i < n && s[i] >= '1' && s[i] <= '9') {
    while (i < n && is_digit(s[i])) i++;
  } else {
    ok = false;
  }
  if (ok && i < n && s[i] == '.') {
    size_t d = ++i;
    while (i < n && is_digit(s[i])) i++;
    ok = i > d;
  }
  if (ok && i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d = i;
    while (i < n && is_digit(s[i])) i++;
    ok = i > d;
  }
  /* Whatever number-like text follows belongs to the same malformed number ("01", "1.e"). */
  size_t end = i;
  while (end < n && s[end] && strchr("0123456789+-.eE", s[end])) end++;
  if (!ok || end != i) {
    int l = end - start > 40 ? 40 : (int)(end - start);
    return jv_fail(v, start, "malformed number '%.*s'", l, s + start);
  }
  if (i - start > JSON_MAX_NUMBER)
    return jv_fail(v, start, "number '%.20s...' is longer than %d characters", s + start,
                   JSON_MAX_NUMBER);
  if (nums_push(j, start, i - start) < 0) return WBR_ENOMEM;
  v->i = i;
  return 0;
}

/* Strict RFC 8259 syntax check with exact error positions, iterative (no recursion on input
 * depth). It also records every number's text in document order, to pair with cJSON's nodes. */
static int jv_document(wbr_json *j, const char *s, size_t n, size_t *err_off, char *err,
                       size_t errlen) {
  enum { VALUE, KEY_OR_END, KEY, COLON, OBJ_NEXT, VALUE_OR_END, ARR_NEXT, DONE } st = VALUE;
  char stack[JSON_MAX_DEPTH];
  int depth = 0;
  jv v = {s, n, 0, err_off, err, errlen};
  if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) v.i = 3; /* a BOM, as cJSON allows */
  for (;;) {
    while (v.i < n && is_json_space(s[v.i])) v.i++;
    if (v.i == n) {
      if (st == DONE) return 0;
      return jv_fail(&v, n, "unexpected end of JSON");
    }
    char c = s[v.i];
    bool value_done = false;
    switch (st) {
    case DONE:
      return jv_fail(&v, v.i, "unexpected data after the JSON value");
    case KEY_OR_END:
    case KEY:
      if (c == '}' && st == KEY_OR_END) {
        v.i++;
        depth--;
        value_done = true;
        break;
      }
      if (c != '"')
        return jv_fail(&v, v.i, st == KEY ? "expected a string key after ','"
                                          : "expected a string key or '}'");
      if (jv_string(&v)) return WBR_EFORMAT;
      st = COLON;
      break;
    case COLON:
      if (c != ':') return jv_fail(&v, v.i, "expected ':' after an object key");
      v.i++;
      st = VALUE;
      break;
    case OBJ_NEXT:
    case ARR_NEXT: {
      char close = st == OBJ_NEXT ? '}' : ']';
      if (c == ',') {
        v.i++;
        st = st == OBJ_NEXT ? KEY : VALUE;
      } else if (c == close) {
        v.i++;
        depth--;
        value_done = true;
      } else {
        return jv_fail(&v, v.i, "expected ',' or '%c'", close);
      }
      break;
    }
    case VALUE_OR_END:
      if (c == ']') {
        v.i++;
        depth--;
        value_done = true;
        break;
      }
      /* fall through */
    case VALUE:
      if (c == '{' || c == '[') {
        if (depth == JSON_MAX_DEPTH)
          return jv_fail(&v, v.i, "nested deeper than %d levels", JSON_MAX_DEPTH);
        stack[depth++] = c;
        v.i++;
        st = c == '{' ? KEY_OR_END : VALUE_OR_END;
      } else if (c == '"') {
        if (jv_string(&v)) return WBR_EFORMAT;
        value_done = true;
      } else if (c == '-' || is_digit(c)) {
        int rc = jv_number(&v, j);
        if (rc) return rc;
        value_done = true;
      } else {
        static const char *const lits[] = {"true", "false", "null"};
        size_t k = 0;
        while (k < 3 && !(n - v.i >= strlen(lits[k]) &&
                          memcmp(s + v.i, lits[k], strlen(lits[k])) == 0))
          k++;
        if (k == 3) return jv_fail(&v, v.i, "expected a value");
        v.i += strlen(lits[k]);
        value_done = true;
      }
      break;
    }
    if (value_done) st = depth == 0 ? DONE : stack[depth - 1] == '{' ? OBJ_NEXT : ARR_NEXT;
  }
}

/* Pair the number nodes, in document order, with the texts found by jv_document. */
static void tree_numbers(wbr_json *j, const cJSON *v, size_t *k, bool *ok) {
  for (; v; v = v->next) {
    if (cJSON_IsNumber(v)) {
      if (*k < j->nnum) j->nums[*k].node = v;
      else *ok = false;
      (*k)++;
    } else if (v->child) {
      tree_numbers(j, v->child, k, ok);
    }
  }
}

static int num_cmp(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const json_num *)a)->node, y = (uintptr_t)((const json_num *)b)->node;
  return x < y ? -1 : x > y;
}

int wbr_json_parse(wbr_json **out, const char *text, size_t len, size_t *err_off, char *err,
                   size_t errlen) {
  *out = NULL;
  *err_off = 0;
  err[0] = 0;
  size_t bad;
  if (!wbr_utf8_valid((const uint8_t *)text, len, &bad)) {
    *err_off = bad;
    snprintf(err, errlen, "invalid UTF-8");
    return WBR_EFORMAT;
  }
  wbr_json *j = calloc(1, sizeof *j);
  if (!j) return WBR_ENOMEM;
  j->text = text;
  int rc = jv_document(j, text, len, err_off, err, errlen);
  if (rc == 0) {
    j->root = cJSON_ParseWithLength(text, len);
    /* The validator accepted the text, so cJSON can only fail for lack of memory. */
    if (!j->root) rc = WBR_ENOMEM;
  }
  if (rc == 0) {
    size_t k = 0;
    bool ok = true;
    tree_numbers(j, j->root, &k, &ok);
    if (!ok || k != j->nnum) {
      snprintf(err, errlen, "internal error: JSON numbers out of step");
      rc = WBR_EINTERNAL;
    } else if (j->nnum) {
      qsort(j->nums, j->nnum, sizeof *j->nums, num_cmp);
    }
  }
  if (rc) {
    wbr_json_free(j);
    return rc;
  }
  *out = j;
  return 0;
}

const cJSON *wbr_json_root(const wbr_json *j) { return j->root; }

void wbr_json_free(wbr_json *j) {
  if (!j) return;
  cJSON_Delete(j->root);
  free(j->nums);
  free(j);
}

const char *wbr_json_kind(const cJSON *v) {
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsArray(v)) return "a list";
  if (cJSON_IsObject(v)) return "an object";
  if (cJSON_IsTrue(v)) return "true";
  if (cJSON_IsFalse(v)) return "false";
  if (cJSON_IsNull(v)) return "null";
  return "an unknown value";
}

/* Bytes of the valid UTF-8 sequence at s (1 for ASCII), or 0 if none starts there. */
static size_t utf8_seq(const char *s) {
  unsigned char c = (unsigned char)*s;
  size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
           : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  for (size_t m = 1; m < k; m++)
    if (!s[m]) return 0;
  return k && wbr_utf8_valid((const uint8_t *)s, k, NULL) ? k : 0;
}

void wbr_json_show(char *buf, size_t n, const char *s) {
  /* Names go into one-line messages: escape control bytes and bytes that are not UTF-8 (so a
   * message is always valid text), cut very long names. */
  size_t o = 0, i = 0;
  while (s[i] && o + 8 < n) {
    unsigned char c = (unsigned char)s[i];
    size_t k = utf8_seq(s + i);
    if (c < 0x20 || c == 0x7f || k == 0) {
      o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
      i++;
    } else {
      if (o + k + 8 >= n) break;
      memcpy(buf + o, s + i, k);
      o += k;
      i += k;
    }
    if (o > 200) break;
  }
  if (s[i] && o + 4 < n) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o < n ? o : n - 1] = 0;
}

static const json_num *num_find(const wbr_json *j, const cJSON *v) {
  json_num key = {.node = v};
  if (!j->nnum) return NULL;
  return bsearch(&key, j->nums, j->nnum, sizeof *j->nums, num_cmp);
}

/* Describe a value for "X is <this>, expected ...": numbers by their text, others by kind. */
static void value_show(char *buf, size_t n, const wbr_json *j, const cJSON *v) {
  const json_num *num = cJSON_IsNumber(v) ? num_find(j, v) : NULL;
  if (num) {
    int l = num->len > 40 ? 40 : (int)num->len;
    snprintf(buf, n, "%.*s%s", l, j->text + num->off, num->len > 40 ? "..." : "");
  } else {
    snprintf(buf, n, "%s", wbr_json_kind(v));
  }
}

/* Read a non-negative integer exactly from its digits: 0, or -1 if it is not one, or -2 if it
 * is larger than 2^53. */
static int exact_uint(const wbr_json *j, const cJSON *v, uint64_t *out) {
  const json_num *num = cJSON_IsNumber(v) ? num_find(j, v) : NULL;
  if (!num) return -1;
  const char *s = j->text + num->off;
  uint64_t x = 0;
  for (size_t i = 0; i < num->len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    if (x > JSON_INT_MAX) continue; /* already too large; keep checking it is an integer */
    x = x * 10 + (uint64_t)(s[i] - '0');
  }
  if (x > JSON_INT_MAX) return -2;
  *out = x;
  return 0;
}

int wbr_json_exact_uint(const wbr_json *j, const cJSON *v, uint64_t *out) { return exact_uint(j, v, out); }

int wbr_json_uint(const wbr_json *j, wbr_ctx *ctx, const char *path, const char *who,
                  const char *what, const cJSON *v, uint64_t *out, const char *help) {
  int r = exact_uint(j, v, out);
  if (r == 0) return 0;
  char shown[64];
  value_show(shown, sizeof shown, j, v);
  if (r == -2)
    return wbr_fail(ctx, WBR_EFORMAT, path, help, "%s: %s is %s, larger than 2^53", who, what,
                    shown);
  return wbr_fail(ctx, WBR_EFORMAT, path, help, "%s: %s is %s, expected a non-negative integer",
                  who, what, shown);
}

int wbr_json_shape(const wbr_json *j, wbr_ctx *ctx, const char *path, const char *who,
                   const cJSON *v, int64_t *shape, int *ndim, const char *help) {
  if (!cJSON_IsArray(v))
    return wbr_fail(ctx, WBR_EFORMAT, path, help,
                    "%s: \"shape\" is %s, expected a list of non-negative integers", who,
                    wbr_json_kind(v));
  int n = 0;
  for (const cJSON *e = v->child; e; e = e->next) {
    if (n == WBR_MAX_DIMS) {
      int total = n;
      for (; e; e = e->next) total++;
      return wbr_fail(ctx, WBR_EFORMAT, path, help,
                      "%s: shape has %d dimensions, at most %d are supported", who, total,
                      WBR_MAX_DIMS);
    }
    char what[32];
    snprintf(what, sizeof what, "shape[%d]", n);
    uint64_t x = 0;
    int rc = wbr_json_uint(j, ctx, path, who, what, e, &x, help);
    if (rc) return rc;
    shape[n++] = (int64_t)x;
  }
  *ndim = n;
  return 0;
}

int wbr_json_meta(wbr_ctx *ctx, const char *path, const char *label, const cJSON *v,
                  wbr_tensorset *ts, const char *help) {
  if (!cJSON_IsObject(v))
    return wbr_fail(ctx, WBR_EFORMAT, path, help, "\"%s\" is %s, expected an object of strings",
                    label, wbr_json_kind(v));
  wbr_map seen;
  wbr_map_init(&seen);
  int rc = 0;
  char shown[256];
  for (const cJSON *e = v->child; e && rc == 0; e = e->next) {
    wbr_json_show(shown, sizeof shown, e->string);
    int r = wbr_map_put(&seen, e->string, 0, NULL);
    if (r < 0)
      rc = wbr_oom_file(ctx, path);
    else if (r == 1)
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help, "\"%s\": key '%s' appears twice", label, shown);
    else if (!cJSON_IsString(e))
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help, "\"%s\": value of '%s' is %s, expected a string",
                    label, shown, wbr_json_kind(e));
    else
      rc = wbr_tensorset_meta_set(ts, e->string, e->valuestring);
  }
  wbr_map_free(&seen);
  return rc;
}
