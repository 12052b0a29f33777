/* pattern.c — globs and regexes over tensor names, and the templates that build new names.
 * Globs become anchored PCRE2 regexes (lazy `*` so the leftmost star takes as little as it
 * can); a literal prefix/suffix test rejects most names before PCRE2 runs, which keeps plans of
 * tens of thousands of names fast. Matching has PCRE2 limits so no pattern can hang the tool. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pattern.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 63

/* What a match writes: a pattern's own (wbr_namepat_match) or a run's (wbr_namepat_match_in). */
struct wbr_namepat_state {
  pcre2_match_data *md;
  pcre2_match_context *mctx;
  uint64_t *budget; /* steps left for costly matches, or NULL */
};

struct wbr_namepat {
  wbr_pattern_kind kind;
  pcre2_code *code;
  wbr_namepat_state own;
  bool jit;
  int nstars;
  uint32_t star_group[MAX_GROUPS + 1]; /* group number of the k-th star */
  uint32_t ngroups;
  char *names[MAX_GROUPS + 1];         /* name of each group, or NULL */
  char *literal;                       /* glob without wildcards: the name itself */
  char *prefix, *suffix;               /* glob: literal text before the first and after the last wildcard */
  size_t prefix_len, suffix_len;
};

static int vperr(wbr_namepat_error *err, size_t off, size_t len, const char *help, const char *fmt,
                 va_list ap) {
  if (err) {
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    err->offset = off;
    err->len = len ? len : 1;
    snprintf(err->help, sizeof err->help, "%s", help ? help : "");
  }
  return WBR_ERULES;
}

/* A refusal at text[off, off+len), with what to do (help, or NULL). */
static int perrh(wbr_namepat_error *err, size_t off, size_t len, const char *help, const char *fmt, ...)
    WBR_PRINTF(5, 6);
static int perrh(wbr_namepat_error *err, size_t off, size_t len, const char *help, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vperr(err, off, len, help, fmt, ap);
  va_end(ap);
  return WBR_ERULES;
}

static int perr(wbr_namepat_error *err, size_t off, const char *fmt, ...) WBR_PRINTF(3, 4);
static int perr(wbr_namepat_error *err, size_t off, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vperr(err, off, 1, NULL, fmt, ap);
  va_end(ap);
  return WBR_ERULES;
}

static bool is_name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static bool is_name_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Length of a capture name at s (identifier), 0 if none. */
static size_t name_len(const char *s) {
  if (!is_name_start(*s)) return 0;
  size_t n = 1;
  while (is_name_char(s[n])) n++;
  return n;
}

static void put_literal(wbr_buf *re, unsigned char c) {
  if (isalnum(c) || c == '_')
    wbr_buf_putc(re, (char)c);
  else
    wbr_buf_printf(re, "\\x{%02x}", c);
}

static int too_many(wbr_namepat_error *err, size_t off, size_t len) {
  return perrh(err, off, len, "a pattern has at most 63 '*' and captures together",
               "more than %d captures in one pattern", MAX_GROUPS);
}

/* Offset of the '}' closing the '{' at s[i] (none before the next '{' or the end: 0). */
static size_t brace_end(const char *s, size_t i) {
  size_t j = i + 1;
  while (s[j] && s[j] != '}' && s[j] != '{') j++;
  return s[j] == '}' ? j : 0;
}

/* The '{' at g[i] of a glob does not open a capture: say why. */
static int bad_glob_brace(const char *g, size_t i, wbr_namepat_error *err) {
  size_t j = brace_end(g, i);
  if (!j)
    return perrh(err, i, 1, "close the capture with '}', or write '\\{' for a literal '{'", "unclosed '{' in a glob");
  int n = (int)(j - i - 1);
  const char *body = g + i + 1;
  if (n == 1 && *body == '#')
    return perrh(err, i, 3, "{#} numbers the pieces of 'unstack': it belongs in its template, not in a pattern",
                 "'{#}' in a pattern");
  size_t k = name_len(body);
  if (k && (body[k] == '+' || body[k] == '-'))
    return perrh(err, i, (size_t)n + 2, "a pattern captures: write {name} here and the arithmetic in the template",
                 "'{%.*s}': index arithmetic in a pattern", n, body);
  if (n == 0)
    return perrh(err, i, 2, "a capture name is a letter or '_' then letters, digits or '_'; write '\\{' for a literal '{'",
                 "empty capture '{}'");
  return perrh(err, i, (size_t)n + 2, "a capture name is a letter or '_' then letters, digits or '_'; write '\\{' for a literal '{'",
               "invalid capture name '%.*s'", n, body);
}

/* Translate a glob to a regex; records star groups and capture names. */
static int glob_to_regex(wbr_namepat *p, const char *g, wbr_buf *re, wbr_buf *lit,
                         wbr_namepat_error *err) {
  bool wild = false;
  size_t last_wild_end = 0; /* offset in lit just after the last wildcard */
  wbr_buf_puts(re, "\\A");
  for (size_t i = 0; g[i];) {
    char c = g[i];
    if (c == '\\') {
      if (!g[i + 1])
        return perrh(err, i, 1, "write '\\\\' for a literal backslash", "a '\\' at the end of a pattern escapes nothing");
      put_literal(re, (unsigned char)g[i + 1]);
      wbr_buf_putc(lit, g[i + 1]);
      i += 2;
    } else if (c == '*') {
      if (g[i + 1] == '*')
        return perrh(err, i, 2, "write a single '*': it already matches across '.' and '/'", "'**' in a glob");
      if (p->ngroups >= MAX_GROUPS) return too_many(err, i, 1);
      p->star_group[p->nstars++] = ++p->ngroups;
      wbr_buf_puts(re, "(.*?)");
      if (!wild) {
        p->prefix_len = lit->len;
        wild = true;
      }
      i++;
      last_wild_end = lit->len;
    } else if (c == '{') {
      size_t n = name_len(g + i + 1);
      if (n == 0 || g[i + 1 + n] != '}') return bad_glob_brace(g, i, err);
      if (n > WBR_CAPTURE_NAME_MAX)
        return perrh(err, i + 1, n, "a capture name has at most 32 characters (PCRE2's limit for group names)",
                     "capture name longer than %d characters", WBR_CAPTURE_NAME_MAX);
      char name[WBR_CAPTURE_NAME_MAX + 1];
      memcpy(name, g + i + 1, n);
      name[n] = 0;
      uint32_t prev = wbr_namepat_group_of(p, name, n);
      if (prev) {
        /* The same capture twice must match the same text. */
        wbr_buf_printf(re, "\\g{%u}", prev);
      } else {
        if (p->ngroups >= MAX_GROUPS) return too_many(err, i, n + 2);
        uint32_t gnum = ++p->ngroups;
        p->names[gnum] = wbr_strdup(name);
        if (!p->names[gnum]) return WBR_ENOMEM;
        wbr_buf_puts(re, "([^./]+?)");
      }
      if (!wild) {
        p->prefix_len = lit->len;
        wild = true;
      }
      i += n + 2;
      last_wild_end = lit->len;
    } else if (c == '}') {
      return perrh(err, i, 1, "write '\\}' for a literal '}'", "unmatched '}' in a glob");
    } else {
      put_literal(re, (unsigned char)c);
      wbr_buf_putc(lit, c);
      i++;
    }
  }
  wbr_buf_puts(re, "\\z");
  if (lit->oom || re->oom) return WBR_ENOMEM;
  const char *l = lit->p ? lit->p : "";
  if (!wild) {
    p->literal = wbr_strdup(l);
    p->prefix_len = lit->len;
    if (!p->literal) return WBR_ENOMEM;
  }
  p->prefix = wbr_strndup(l, p->prefix_len);
  p->suffix_len = wild ? lit->len - last_wild_end : 0;
  p->suffix = wbr_strdup(l + lit->len - p->suffix_len);
  if (!p->prefix || !p->suffix) return WBR_ENOMEM;
  return 0;
}

static int regex_names(wbr_namepat *p) {
  uint32_t count = 0, size = 0;
  PCRE2_SPTR table = NULL;
  pcre2_pattern_info(p->code, PCRE2_INFO_NAMECOUNT, &count);
  pcre2_pattern_info(p->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
  pcre2_pattern_info(p->code, PCRE2_INFO_NAMETABLE, &table);
  for (uint32_t i = 0; i < count; i++) {
    const unsigned char *e = table + (size_t)i * size;
    uint32_t g = ((uint32_t)e[0] << 8) | e[1];
    if (g <= MAX_GROUPS && !p->names[g]) {
      p->names[g] = wbr_strdup((const char *)e + 2);
      if (!p->names[g]) return WBR_ENOMEM;
    }
  }
  return 0;
}

/* Match data for the most groups a pattern can have, PCRE2's limits, the budget. */
static int state_init(wbr_namepat_state *st, uint64_t *steps_left) {
  st->budget = steps_left;
  st->md = pcre2_match_data_create(MAX_GROUPS + 1, NULL);
  st->mctx = pcre2_match_context_create(NULL);
  if (!st->md || !st->mctx) return WBR_ENOMEM;
  pcre2_set_match_limit(st->mctx, WBR_MATCH_STEPS);
  pcre2_set_depth_limit(st->mctx, WBR_MATCH_DEPTH);
  return 0;
}

static void state_fini(wbr_namepat_state *st) {
  pcre2_match_data_free(st->md);
  pcre2_match_context_free(st->mctx);
}

int wbr_namepat_new(wbr_namepat **out, wbr_pattern_kind kind, const char *text, const char *flags,
                    wbr_namepat_error *err) {
  *out = NULL;
  wbr_namepat *p = calloc(1, sizeof *p);
  if (!p) return WBR_ENOMEM;
  p->kind = kind;
  wbr_buf re, lit;
  wbr_buf_init(&re);
  wbr_buf_init(&lit);
  uint32_t opts = 0;
  int rc = 0;
  if (kind == WBR_PK_GLOB) {
    if (!*text) rc = perrh(err, 0, 1, "write \"*\" to match every tensor", "empty pattern");
    else rc = glob_to_regex(p, text, &re, &lit, err);
    opts = PCRE2_DOTALL;
  } else {
    if (!*text) rc = perr(err, 0, "empty regex: it would match every name; write /.*/ if you mean it");
    for (const char *f = flags ? flags : ""; *f && rc == 0; f++) {
      if (*f == 'i') opts |= PCRE2_CASELESS;
      else if (*f == 'm') opts |= PCRE2_MULTILINE;
      else if (*f == 's') opts |= PCRE2_DOTALL;
      else if (*f == 'x') opts |= PCRE2_EXTENDED;
      else if (*f == 'n') opts |= PCRE2_NO_AUTO_CAPTURE;
      else rc = perr(err, strlen(text) + 1 + (size_t)(f - flags), "unknown regex flag '%c' (known: i m s x n)", *f);
    }
    wbr_buf_puts(&re, text);
    /* As the bytecode verifier compiles it; names that are not valid UTF-8 simply do not match. */
    opts |= PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  }
  if (rc == 0 && re.oom) rc = WBR_ENOMEM;
  if (rc == 0) {
    int ecode;
    PCRE2_SIZE eoff;
    p->code = pcre2_compile((PCRE2_SPTR)re.p, re.len, opts | PCRE2_NEVER_BACKSLASH_C, &ecode, &eoff, NULL);
    if (!p->code) {
      PCRE2_UCHAR msg[200];
      pcre2_get_error_message(ecode, msg, sizeof msg);
      /* A glob's regex is ours: its errors cannot be placed in the user's text. */
      if (kind == WBR_PK_REGEX)
        rc = perrh(err, (size_t)eoff, 1, "the regex syntax is PCRE2's (man pcre2pattern)", "invalid regex: %s",
                   (const char *)msg);
      else
        rc = perr(err, 0, "%s", (const char *)msg);
    }
  }
  if (rc == 0 && kind == WBR_PK_REGEX) {
    uint32_t n = 0;
    pcre2_pattern_info(p->code, PCRE2_INFO_CAPTURECOUNT, &n);
    if (n > MAX_GROUPS) rc = perr(err, 0, "more than %d groups in one regex", MAX_GROUPS);
    p->ngroups = n;
    if (rc == 0) rc = regex_names(p);
  }
  if (rc == 0) rc = state_init(&p->own, NULL);
  if (rc == 0) p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
  wbr_buf_free(&re);
  wbr_buf_free(&lit);
  if (rc) {
    wbr_namepat_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

void wbr_namepat_free(wbr_namepat *p) {
  if (!p) return;
  pcre2_code_free(p->code);
  state_fini(&p->own);
  for (int i = 0; i <= MAX_GROUPS; i++) free(p->names[i]);
  free(p->literal);
  free(p->prefix);
  free(p->suffix);
  free(p);
}

wbr_pattern_kind wbr_namepat_get_kind(const wbr_namepat *p) { return p->kind; }
int wbr_namepat_stars(const wbr_namepat *p) { return p->nstars; }
uint32_t wbr_namepat_groups(const wbr_namepat *p) { return p->ngroups; }
const char *wbr_namepat_literal(const wbr_namepat *p) { return p->literal; }

const char *wbr_namepat_prefix(const wbr_namepat *p, size_t *len) {
  *len = p->kind == WBR_PK_GLOB && p->prefix ? p->prefix_len : 0;
  return p->prefix ? p->prefix : "";
}

const char *wbr_namepat_group_name(const wbr_namepat *p, uint32_t g) {
  return g <= MAX_GROUPS ? p->names[g] : NULL;
}

uint32_t wbr_namepat_group_of(const wbr_namepat *p, const char *name, size_t len) {
  for (uint32_t g = 1; g <= p->ngroups && g <= MAX_GROUPS; g++)
    if (p->names[g] && strlen(p->names[g]) == len && memcmp(p->names[g], name, len) == 0) return g;
  return 0;
}

void wbr_namepat_set_budget(wbr_namepat *p, uint64_t *steps_left) { p->own.budget = steps_left; }

static int run_pcre2(const wbr_namepat *p, const wbr_namepat_state *st, const char *name, size_t len,
                     uint32_t steps) {
  pcre2_set_match_limit(st->mctx, steps);
  return p->jit ? pcre2_jit_match(p->code, (PCRE2_SPTR)name, len, 0, 0, st->md, st->mctx)
                : pcre2_match(p->code, (PCRE2_SPTR)name, len, 0, 0, st->md, st->mctx);
}

#define BUDGET_SPENT (-100000) /* not a PCRE2 error code */

/* Cheap first; a costly match is retried with 2x the steps, each retry paid from the budget
 * before it runs, so what costly matching spends never exceeds the budget. */
static int match_budgeted(const wbr_namepat *p, const wbr_namepat_state *st, const char *name, size_t len) {
  uint32_t steps = WBR_MATCH_CHEAP;
  int r = run_pcre2(p, st, name, len, steps);
  while (r == PCRE2_ERROR_MATCHLIMIT && steps < WBR_MATCH_STEPS) {
    steps = steps * 2 < WBR_MATCH_STEPS ? steps * 2 : WBR_MATCH_STEPS;
    if (*st->budget < steps) return BUDGET_SPENT;
    *st->budget -= steps;
    r = run_pcre2(p, st, name, len, steps);
  }
  return r;
}

int wbr_namepat_match_in(const wbr_namepat *p, wbr_namepat_state *st, const char *name, size_t len,
                         wbr_match *m, wbr_namepat_error *err) {
  if (p->kind == WBR_PK_GLOB) {
    if (p->literal) {
      if (len != p->prefix_len || memcmp(name, p->literal, len) != 0) return 0;
    } else if (len < p->prefix_len + p->suffix_len || memcmp(name, p->prefix, p->prefix_len) != 0 ||
               memcmp(name + len - p->suffix_len, p->suffix, p->suffix_len) != 0) {
      return 0;
    }
  }
  int r = st->budget ? match_budgeted(p, st, name, len) : run_pcre2(p, st, name, len, WBR_MATCH_STEPS);
  if (r == BUDGET_SPENT)
    return perr(err, 0, "matching stopped: this run's budget of %llu steps for costly matches is spent "
                "(simplify the pattern)", (unsigned long long)WBR_MATCH_BUDGET);
  if (r == PCRE2_ERROR_NOMATCH) return 0;
  if (r < 0) {
    PCRE2_UCHAR msg[200];
    pcre2_get_error_message(r, msg, sizeof msg);
    return perr(err, 0, "matching stopped: %s (simplify the pattern)", (const char *)msg);
  }
  const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);
  uint32_t npairs = pcre2_get_ovector_count(st->md);
  m->start = ov[0];
  m->end = ov[1];
  m->ngroups = p->ngroups;
  m->group[0] = m->start;
  m->group[1] = m->end;
  for (uint32_t g = 1; g <= p->ngroups; g++) {
    bool set = g < npairs && g < (uint32_t)r && ov[2 * g] != PCRE2_UNSET;
    m->group[2 * g] = set ? ov[2 * g] : SIZE_MAX;
    m->group[2 * g + 1] = set ? ov[2 * g + 1] : SIZE_MAX;
  }
  return 1;
}

int wbr_namepat_match(const wbr_namepat *p, const char *name, size_t len, wbr_match *m,
                      wbr_namepat_error *err) {
  /* Matching writes only what the state points to (p's own match data and budget), never the
   * state itself, so dropping const here is sound. */
  return wbr_namepat_match_in(p, (wbr_namepat_state *)&p->own, name, len, m, err);
}

int wbr_namepat_state_new(wbr_namepat_state **out, uint64_t *steps_left) {
  wbr_namepat_state *st = calloc(1, sizeof *st);
  *out = st;
  if (!st) return WBR_ENOMEM;
  if (state_init(st, steps_left) == 0) return 0;
  wbr_namepat_state_free(st);
  *out = NULL;
  return WBR_ENOMEM;
}

void wbr_namepat_state_free(wbr_namepat_state *st) {
  if (!st) return;
  state_fini(st);
  free(st);
}

/* ---- templates ---- */

enum { T_LIT, T_GROUP, T_INDEX };

typedef struct tpart {
  int kind;
  uint32_t group;   /* T_GROUP */
  size_t off, len;  /* T_LIT: its bytes in lits; with arithmetic: the reference as written */
  size_t name_off, name_len; /* with arithmetic: the capture's name (or number) in that reference */
  int64_t add;      /* index arithmetic {i+K} / {i-K}: +K or -K; 0: none */
} tpart;

struct wbr_template {
  tpart *parts;
  size_t n;
  char *lits;
  int stars;
  bool index, arith;
};

/* A template being compiled. */
typedef struct tcomp {
  wbr_template *t;
  const wbr_namepat *p;
  const char *text;
  bool allow_index;
  wbr_namepat_error *err;
  wbr_buf lits;
  size_t cap;
} tcomp;

#define ARITH_MAX_K 999999999
#define ARITH_MAX_DIGITS 18 /* a capture of at most 18 digits, plus K, fits in int64 */

static int tpush(tcomp *tc, tpart part) {
  wbr_template *t = tc->t;
  if (!wbr_grow(&t->parts, &tc->cap, t->n + 1, sizeof *t->parts, 8)) return WBR_ENOMEM;
  t->parts[t->n++] = part;
  return 0;
}

static int tpush_lit(tcomp *tc, const char *s, size_t n) {
  tpart part = {.kind = T_LIT, .off = tc->lits.len, .len = n};
  wbr_buf_put(&tc->lits, s, n);
  return tpush(tc, part);
}

/* A reference to a group, with its arithmetic (if any) recorded as written, for run-time errors. */
static int tpush_ref(tcomp *tc, tpart part, size_t i, size_t len, size_t name_off, size_t name_len) {
  if (part.add) {
    part.off = tc->lits.len;
    part.len = len;
    part.name_off = name_off;
    part.name_len = name_len;
    wbr_buf_put(&tc->lits, tc->text + i, len);
  }
  return tpush(tc, part);
}

/* A glob template uses as many '*' as its glob, or none (the k-th copies the k-th). */
static int star_count(tcomp *tc) {
  const char *s = tc->text;
  int n = 0;
  size_t first = 0;
  if (tc->p->kind != WBR_PK_GLOB) return 0;
  for (size_t i = 0; s[i]; i++) {
    if (s[i] == '\\' && s[i + 1]) i++;
    else if (s[i] == '*' && n++ == 0) first = i;
  }
  if (n == 0 || n == tc->p->nstars) return 0;
  char help[200];
  snprintf(help, sizeof help, "the k-th '*' of the template copies the k-th '*' of the pattern: use %d, or none "
           "and name the parts with {captures}", tc->p->nstars);
  return perrh(tc->err, first, 1, help, "the template has %d '*' but the pattern has %d", n, tc->p->nstars);
}

/* The captures or named groups of p, as a template writes them ("{i}, {j}" / "${layer}"). */
static void bound_list(const wbr_namepat *p, char *out, size_t cap) {
  size_t o = 0;
  out[0] = 0;
  for (uint32_t g = 1; g <= p->ngroups && g <= MAX_GROUPS; g++) {
    if (!p->names[g]) continue;
    int w = snprintf(out + o, cap - o, "%s%s{%s}", o ? ", " : "", p->kind == WBR_PK_REGEX ? "$" : "", p->names[g]);
    if (w < 0 || (size_t)w >= cap - o) {
      out[o] = 0;
      break;
    }
    o += (size_t)w;
  }
}

static int unbound(tcomp *tc, size_t i, size_t len, const char *name, size_t n) {
  char have[200], help[260];
  bound_list(tc->p, have, sizeof have);
  bool rx = tc->p->kind == WBR_PK_REGEX;
  if (have[0]) snprintf(help, sizeof help, "the %s %s%s", rx ? "regex has" : "pattern binds", have,
                        rx ? "; name a group with (?<name>...)" : "");
  else if (rx) snprintf(help, sizeof help, "name a group with (?<name>...)");
  else snprintf(help, sizeof help, "the pattern binds no captures; add {%.*s} to it", (int)(n > 40 ? 40 : n), name);
  if (rx)
    return perrh(tc->err, i, len, help, "'%.*s': the regex has no group named '%.*s'", (int)len, tc->text + i, (int)n, name);
  return perrh(tc->err, i, len, help, "capture '{%.*s}' is not bound by the pattern", (int)n, name);
}

/* Index arithmetic: text[o] is the '+' or '-' of the reference text[i..j] (j at its '}'). */
static int parse_add(tcomp *tc, size_t i, size_t o, size_t j, tpart *part) {
  const char *s = tc->text;
  int len = (int)(j - i + 1);
  size_t nd = j - o - 1;
  bool digits = nd > 0;
  for (size_t k = o + 1; k < j && digits; k++) digits = isdigit((unsigned char)s[k]);
  const char *help = tc->p->kind == WBR_PK_REGEX
                         ? "index arithmetic is ${name+K}, ${name-K} or ${N+K}, K a number from 1 to 999999999: ${i+1}"
                         : "index arithmetic is {name+K} or {name-K}, K a number from 1 to 999999999: {i+1}";
  if (!digits)
    return perrh(tc->err, i, (size_t)len, help, "'%.*s' is not index arithmetic: '%c' must be followed by a number",
                 len, s + i, s[o]);
  long long k = nd > 9 ? ARITH_MAX_K + 1LL : strtoll(s + o + 1, NULL, 10);
  if (k > ARITH_MAX_K)
    return perrh(tc->err, o + 1, nd, help, "'%.*s': K is at most %d", len, s + i, ARITH_MAX_K);
  if (k == 0)
    return perrh(tc->err, i, (size_t)len, "write the capture alone, or add a number from 1", "'%.*s' adds nothing",
                 len, s + i);
  part->add = s[o] == '-' ? -k : k;
  tc->t->arith = true;
  return 0;
}

/* {#} or {#+K} at text[i], j at its '}'. */
static int index_ref(tcomp *tc, size_t i, size_t j) {
  int len = (int)(j - i + 1);
  if (!tc->allow_index)
    return perrh(tc->err, i, (size_t)len, "{#} numbers the pieces of 'unstack'; name the parts with the pattern's captures",
                 "'%.*s' (the index of 'unstack') is not allowed in this template", len, tc->text + i);
  tpart part = {.kind = T_INDEX};
  int rc = j > i + 2 ? parse_add(tc, i, i + 2, j, &part) : 0;
  if (rc) return rc;
  if (part.add < 0)
    return perrh(tc->err, i, (size_t)len, "write {#+K} to count from K", "'%.*s' would make the first piece's index "
                 "negative: {#} counts from 0", len, tc->text + i);
  tc->t->index = true;
  return tpush(tc, part);
}

/* A '{' at text[i]: {name}, {name+K}, {name-K} of a glob, or {#}. */
static int brace_ref(tcomp *tc, size_t i, size_t *next) {
  const char *s = tc->text;
  size_t j = brace_end(s, i);
  if (!j)
    return perrh(tc->err, i, 1, "close the capture with '}', or write '\\{' for a literal '{'", "unclosed '{' in a template");
  *next = j + 1;
  size_t n = j - i - 1;
  const char *body = s + i + 1;
  if (*body == '#' && (n == 1 || body[1] == '+' || body[1] == '-')) return index_ref(tc, i, j);
  if (tc->p->kind == WBR_PK_REGEX)
    return perrh(tc->err, i, n + 2, "with a /regex/ pattern write ${name} or $1; write '\\{' for a literal '{'",
                 "'{%.*s}' in the template of a /regex/ pattern", (int)n, body);
  size_t k = name_len(body);
  if (n == 0)
    return perrh(tc->err, i, 2, "a capture name is a letter or '_' then letters, digits or '_'; write '\\{' for a literal '{'",
                 "empty capture '{}'");
  if (k == 0 || (k < n && body[k] != '+' && body[k] != '-'))
    return perrh(tc->err, i, n + 2, "a capture name is a letter or '_' then letters, digits or '_'; write '\\{' for a literal '{'",
                 "invalid capture name '%.*s'", (int)n, body);
  tpart part = {.kind = T_GROUP};
  int rc = k < n ? parse_add(tc, i, i + 1 + k, j, &part) : 0;
  if (rc) return rc;
  part.group = wbr_namepat_group_of(tc->p, body, k);
  if (!part.group) return unbound(tc, i, n + 2, body, k);
  return tpush_ref(tc, part, i, n + 2, 1, k);
}

static int group_number(tcomp *tc, size_t i, size_t len, unsigned long g) {
  uint32_t have = tc->p->ngroups;
  if (g <= have) return 0;
  return perrh(tc->err, i, len, "number the groups ( ... ) of the regex from 1; $0 is the whole match",
               "'%.*s' refers to group %lu, but the regex has %u group%s", (int)len, tc->text + i, g, have,
               have == 1 ? "" : "s");
}

/* ${N}, ${name}, ${N+K}, ${name-K} at text[i] of a regex template. */
static int dollar_brace(tcomp *tc, size_t i, size_t *next) {
  const char *s = tc->text;
  size_t j = i + 2;
  while (s[j] && s[j] != '}') j++;
  if (!s[j]) return perrh(tc->err, i, 2, "write ${name} or ${1}", "unclosed '${' in a template");
  *next = j + 1;
  const char *body = s + i + 2;
  size_t n = j - i - 2, k = 0;
  bool num = isdigit((unsigned char)body[0]);
  if (num) while (k < n && isdigit((unsigned char)body[k])) k++;
  else k = name_len(body);
  if (k == 0 || (k < n && body[k] != '+' && body[k] != '-'))
    return perrh(tc->err, i, n + 3, "write ${name} or ${1}", "'${%.*s}' is not a group reference", (int)n, body);
  tpart part = {.kind = T_GROUP};
  int rc = k < n ? parse_add(tc, i, i + 2 + k, j, &part) : 0;
  if (rc) return rc;
  if (num) {
    unsigned long g = k <= 3 ? strtoul(body, NULL, 10) : 1000;
    if ((rc = group_number(tc, i, n + 3, g))) return rc;
    part.group = (uint32_t)g;
  } else {
    part.group = wbr_namepat_group_of(tc->p, body, k);
    if (!part.group) return unbound(tc, i, n + 3, body, k);
  }
  return tpush_ref(tc, part, i, n + 3, 2, k);
}

/* A '$' at text[i]: $$, $N (one or two digits) or ${...}. */
static int dollar_ref(tcomp *tc, size_t i, size_t *next) {
  const char *s = tc->text;
  char nx = s[i + 1];
  bool digit = isdigit((unsigned char)nx);
  if (nx == '$') {
    *next = i + 2;
    return tpush_lit(tc, "$", 1);
  }
  if (!digit && nx != '{')
    return perrh(tc->err, i, 1, "write '$$' for a literal '$'", "'$' must be followed by a group number, {name} or '$'");
  if (tc->p->kind == WBR_PK_GLOB)
    return perrh(tc->err, i, 2, "'$1' and '${name}' refer to /regex/ groups; a glob template uses '*' and {name}",
                 "'$%c' in the template of a glob pattern", nx);
  if (nx == '{') return dollar_brace(tc, i, next);
  size_t nd = isdigit((unsigned char)s[i + 2]) ? 2 : 1;
  unsigned long g = (unsigned long)(nx - '0');
  if (nd == 2) g = g * 10 + (unsigned long)(s[i + 2] - '0');
  *next = i + 1 + nd;
  int rc = group_number(tc, i, nd + 1, g);
  if (rc) return rc;
  tpart part = {.kind = T_GROUP, .group = (uint32_t)g};
  return tpush(tc, part);
}

/* One part of the template at text[*at]; *at moves past it. */
static int template_part(tcomp *tc, size_t *at) {
  const char *s = tc->text;
  size_t i = *at;
  char c = s[i];
  if (c == '\\') {
    if (!s[i + 1])
      return perrh(tc->err, i, 1, "write '\\\\' for a literal backslash", "a '\\' at the end of a template escapes nothing");
    *at = i + 2;
    return tpush_lit(tc, s + i + 1, 1);
  }
  if (c == '*') {
    if (tc->p->kind != WBR_PK_GLOB)
      return perrh(tc->err, i, 1, "with a /regex/ pattern use $1 or ${name}; write '\\*' for a literal '*'",
                   "'*' in the template of a /regex/ pattern");
    *at = i + 1;
    tpart part = {.kind = T_GROUP, .group = tc->p->star_group[tc->t->stars++]};
    return tpush(tc, part);
  }
  if (c == '{') return brace_ref(tc, i, at);
  if (c == '$') return dollar_ref(tc, i, at);
  if (c == '}') return perrh(tc->err, i, 1, "write '\\}' for a literal '}'", "unmatched '}' in a template");
  size_t e = i;
  while (s[e] && !strchr("\\*{}$", s[e])) e++;
  *at = e;
  return tpush_lit(tc, s + i, e - i);
}

int wbr_template_new(wbr_template **out, const wbr_namepat *p, const char *text, bool allow_index,
                     wbr_namepat_error *err) {
  *out = NULL;
  wbr_template *t = calloc(1, sizeof *t);
  if (!t) return WBR_ENOMEM;
  tcomp tc = {.t = t, .p = p, .text = text, .allow_index = allow_index, .err = err};
  wbr_buf_init(&tc.lits);
  int rc = 0;
  if (!*text) rc = perrh(err, 0, 1, "write the name the tensor should get", "empty template");
  if (rc == 0) rc = star_count(&tc);
  for (size_t i = 0; text[i] && rc == 0;) rc = template_part(&tc, &i);
  if (rc == 0 && tc.lits.oom) rc = WBR_ENOMEM;
  t->lits = wbr_buf_take(&tc.lits);
  if (rc == 0 && !t->lits) rc = WBR_ENOMEM;
  if (rc) {
    wbr_template_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void wbr_template_free(wbr_template *t) {
  if (!t) return;
  free(t->parts);
  free(t->lits);
  free(t);
}

int wbr_template_stars(const wbr_template *t) { return t->stars; }
bool wbr_template_uses_index(const wbr_template *t) { return t->index; }
bool wbr_template_uses_arith(const wbr_template *t) { return t->arith; }

bool wbr_template_uses_group(const wbr_template *t, uint32_t g) {
  for (size_t i = 0; i < t->n; i++)
    if (t->parts[i].kind == T_GROUP && t->parts[i].group == g) return true;
  return false;
}

/* Group g's text in the match ("" if it did not participate). */
static const char *group_text(const wbr_match *m, const char *name, uint32_t g, size_t *len) {
  if (g > m->ngroups || m->group[2 * g] == SIZE_MAX) {
    *len = 0;
    return "";
  }
  *len = m->group[2 * g + 1] - m->group[2 * g];
  return name + m->group[2 * g];
}

/* s[0, n) as a number of 1..18 decimal digits. */
static bool decimal(const char *s, size_t n, int64_t *v) {
  if (n == 0 || n > ARITH_MAX_DIGITS) return false;
  *v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return false;
    *v = *v * 10 + (s[i] - '0');
  }
  return true;
}

int wbr_template_check_match(const wbr_template *t, const char *name, const wbr_match *m,
                             wbr_namepat_error *err) {
  for (size_t i = 0; i < t->n; i++) {
    const tpart *pt = &t->parts[i];
    if (pt->kind != T_GROUP || !pt->add) continue;
    size_t clen;
    const char *cap = group_text(m, name, pt->group, &clen);
    const char *ref = t->lits + pt->off;
    int rl = (int)pt->len, nl = (int)pt->name_len, cl = (int)(clen > 64 ? 64 : clen);
    const char *nm = ref + pt->name_off;
    int64_t v;
    bool digits = clen > 0;
    for (size_t k = 0; k < clen && digits; k++) digits = isdigit((unsigned char)cap[k]);
    if (!decimal(cap, clen, &v))
      return perrh(err, 0, 1, "index arithmetic needs decimal digits: make the pattern match only numbered names "
                   "(a /regex/ group can be (?<i>\\d+))",
                   "'%.*s' needs a number, and capture '%.*s' is '%.*s'%s", rl, ref, nl, nm, cl, cap,
                   digits ? ", more than 18 digits" : clen > 64 ? "..." : "");
    if (v + pt->add < 0)
      return perrh(err, 0, 1, "index arithmetic must give a number >= 0: make the pattern match only the indices "
                   "that can be shifted", "'%.*s' would be negative: capture '%.*s' is '%.*s'", rl, ref, nl, nm, cl, cap);
  }
  return 0;
}

/* A group's text shifted by K, keeping a zero-padded width ("007" + 1 -> "008"). */
static void put_shifted(wbr_buf *out, const char *cap, size_t clen, int64_t add) {
  int64_t v;
  if (!decimal(cap, clen, &v) || v + add < 0) {
    wbr_buf_put(out, cap, clen); /* refused by wbr_template_check_match */
    return;
  }
  int width = clen > 1 && cap[0] == '0' ? (int)clen : 0;
  wbr_buf_printf(out, "%0*lld", width, (long long)(v + add));
}

void wbr_template_expand(const wbr_template *t, const char *name, const wbr_match *m, long index,
                         bool whole, wbr_buf *out) {
  if (!whole) wbr_buf_put(out, name, m->start);
  for (size_t i = 0; i < t->n; i++) {
    const tpart *pt = &t->parts[i];
    size_t clen;
    const char *cap;
    switch (pt->kind) {
    case T_LIT:
      wbr_buf_put(out, t->lits + pt->off, pt->len);
      break;
    case T_GROUP:
      cap = group_text(m, name, pt->group, &clen);
      if (pt->add) put_shifted(out, cap, clen, pt->add);
      else wbr_buf_put(out, cap, clen);
      break;
    case T_INDEX:
      wbr_buf_printf(out, "%ld", index + (long)pt->add);
      break;
    }
  }
  if (!whole) wbr_buf_puts(out, name + m->end);
}
