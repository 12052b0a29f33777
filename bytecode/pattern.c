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

static int perr(wbr_namepat_error *err, size_t off, const char *fmt, ...) WBR_PRINTF(3, 4);
static int perr(wbr_namepat_error *err, size_t off, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->offset = off;
  }
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

/* Translate a glob to a regex; records star groups and capture names. */
static int glob_to_regex(wbr_namepat *p, const char *g, wbr_buf *re, wbr_buf *lit,
                         wbr_namepat_error *err) {
  bool wild = false;
  size_t last_wild_end = 0; /* offset in lit just after the last wildcard */
  wbr_buf_puts(re, "\\A");
  for (size_t i = 0; g[i];) {
    char c = g[i];
    if (c == '\\') {
      if (!g[i + 1]) return perr(err, i, "a '\\' at the end of a pattern escapes nothing");
      put_literal(re, (unsigned char)g[i + 1]);
      wbr_buf_putc(lit, g[i + 1]);
      i += 2;
    } else if (c == '*') {
      if (g[i + 1] == '*')
        return perr(err, i, "'**' is not a glob operator: one '*' already matches across '.' and '/'");
      if (p->ngroups >= MAX_GROUPS) return perr(err, i, "more than %d captures in one pattern", MAX_GROUPS);
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
      if (g[i + 1] == '#')
        return perr(err, i, "{#} (the unstack index) can only appear in a template, not a pattern");
      if (n == 0 || g[i + 1 + n] != '}')
        return perr(err, i, "'{' must start a capture like {i} (a name of letters, digits, '_'); write \\{ for a literal brace");
      if (n > WBR_CAPTURE_NAME_MAX)
        return perr(err, i + 1, "capture name longer than %d characters", WBR_CAPTURE_NAME_MAX);
      char name[WBR_CAPTURE_NAME_MAX + 1];
      memcpy(name, g + i + 1, n);
      name[n] = 0;
      uint32_t prev = wbr_namepat_group_of(p, name, n);
      if (prev) {
        /* The same capture twice must match the same text. */
        wbr_buf_printf(re, "\\g{%u}", prev);
      } else {
        if (p->ngroups >= MAX_GROUPS) return perr(err, i, "more than %d captures in one pattern", MAX_GROUPS);
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
      return perr(err, i, "unmatched '}'; write \\} for a literal brace");
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
    if (!*text) rc = perr(err, 0, "empty pattern: it would match no tensor name");
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
      rc = perr(err, kind == WBR_PK_REGEX ? (size_t)eoff : 0, "%s", (const char *)msg);
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
  size_t off, len;  /* T_LIT: bytes in lits */
} tpart;

struct wbr_template {
  tpart *parts;
  size_t n;
  char *lits;
  int stars;
  bool index;
};

static int tpush(wbr_template *t, size_t *cap, tpart part) {
  if (!wbr_grow(&t->parts, cap, t->n + 1, sizeof *t->parts, 8)) return WBR_ENOMEM;
  t->parts[t->n++] = part;
  return 0;
}

int wbr_template_new(wbr_template **out, const wbr_namepat *p, const char *text, bool allow_index,
                     wbr_namepat_error *err) {
  *out = NULL;
  wbr_template *t = calloc(1, sizeof *t);
  if (!t) return WBR_ENOMEM;
  wbr_buf lits;
  wbr_buf_init(&lits);
  size_t cap = 0;
  int rc = 0;
  if (!*text) rc = perr(err, 0, "empty template: a tensor needs a name");
  for (size_t i = 0; text[i] && rc == 0;) {
    char c = text[i];
    tpart part = {.kind = T_LIT};
    if (c == '\\') {
      if (!text[i + 1]) {
        rc = perr(err, i, "a '\\' at the end of a template escapes nothing");
        break;
      }
      part.off = lits.len;
      wbr_buf_putc(&lits, text[i + 1]);
      part.len = 1;
      i += 2;
    } else if (c == '*') {
      if (p->kind != WBR_PK_GLOB) {
        rc = perr(err, i, "'*' in a template stands for a '*' of a glob pattern, and this pattern is a regex: use $1, ${name}, or \\* for a literal star");
        break;
      }
      if (t->stars >= p->nstars) {
        rc = perr(err, i, "this template has more '*' than its pattern (%d)", p->nstars);
        break;
      }
      part.kind = T_GROUP;
      part.group = p->star_group[t->stars++];
      i++;
    } else if (c == '{' || (c == '$' && text[i + 1] == '{')) {
      size_t o = c == '$' ? i + 2 : i + 1;
      if (text[o] == '#' && text[o + 1] == '}' && c == '{') {
        if (!allow_index) {
          rc = perr(err, i, "{#} (the index) is only meaningful in the template of 'unstack'");
          break;
        }
        part.kind = T_INDEX;
        t->index = true;
        i = o + 2;
      } else if (c == '$' && isdigit((unsigned char)text[o])) {
        uint32_t g = 0;
        size_t e = o;
        while (isdigit((unsigned char)text[e]) && g < 1000) g = g * 10 + (uint32_t)(text[e++] - '0');
        if (text[e] != '}') {
          rc = perr(err, i, "'${' must be closed by '}' after the group number");
          break;
        }
        if (p->kind != WBR_PK_REGEX) {
          rc = perr(err, i, "${%u} refers to a regex group, but this pattern is a glob: use '*' or {name}", g);
          break;
        }
        if (g > p->ngroups) {
          rc = perr(err, i, "${%u}: the regex has %u group%s", g, p->ngroups, p->ngroups == 1 ? "" : "s");
          break;
        }
        part.kind = T_GROUP;
        part.group = g;
        i = e + 1;
      } else {
        size_t n = name_len(text + o);
        if (n == 0 || text[o + n] != '}') {
          rc = perr(err, i, "'%s' must start a capture reference like %si}; write \\%c for a literal", c == '$' ? "${" : "{", c == '$' ? "${" : "{", c);
          break;
        }
        uint32_t g = wbr_namepat_group_of(p, text + o, n);
        if (!g) {
          rc = perr(err, o, "capture '%.*s' is not bound by the pattern", (int)n, text + o);
          break;
        }
        part.kind = T_GROUP;
        part.group = g;
        i = o + n + 1;
      }
    } else if (c == '$') {
      if (text[i + 1] == '$') {
        part.off = lits.len;
        wbr_buf_putc(&lits, '$');
        part.len = 1;
        i += 2;
      } else if (isdigit((unsigned char)text[i + 1])) {
        uint32_t g = 0;
        size_t o = i + 1;
        while (isdigit((unsigned char)text[o]) && g < 1000) g = g * 10 + (uint32_t)(text[o++] - '0');
        if (p->kind != WBR_PK_REGEX) {
          rc = perr(err, i, "$%u refers to a regex group, but this pattern is a glob: use '*' or {name}", g);
          break;
        }
        if (g > p->ngroups) {
          rc = perr(err, i, "$%u: the regex has %u group%s", g, p->ngroups, p->ngroups == 1 ? "" : "s");
          break;
        }
        part.kind = T_GROUP;
        part.group = g;
        i = o;
      } else {
        rc = perr(err, i, "'$' must be followed by a group number, {name}, or '$' (for a literal $)");
        break;
      }
    } else if (c == '}') {
      rc = perr(err, i, "unmatched '}'; write \\} for a literal brace");
      break;
    } else {
      part.off = lits.len;
      while (text[i] && !strchr("\\*{}$", text[i])) wbr_buf_putc(&lits, text[i++]);
      part.len = lits.len - part.off;
    }
    if (rc == 0) rc = tpush(t, &cap, part);
  }
  if (rc == 0 && lits.oom) rc = WBR_ENOMEM;
  t->lits = wbr_buf_take(&lits);
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

void wbr_template_expand(const wbr_template *t, const char *name, const wbr_match *m, long index,
                         bool whole, wbr_buf *out) {
  if (!whole) wbr_buf_put(out, name, m->start);
  for (size_t i = 0; i < t->n; i++) {
    const tpart *pt = &t->parts[i];
    switch (pt->kind) {
    case T_LIT:
      wbr_buf_put(out, t->lits + pt->off, pt->len);
      break;
    case T_GROUP:
      if (pt->group <= m->ngroups && m->group[2 * pt->group] != SIZE_MAX)
        wbr_buf_put(out, name + m->group[2 * pt->group],
                    m->group[2 * pt->group + 1] - m->group[2 * pt->group]);
      break;
    case T_INDEX:
      wbr_buf_printf(out, "%ld", index);
      break;
    }
  }
  if (!whole) wbr_buf_puts(out, name + m->end);
}
