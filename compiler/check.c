/* check.c — semantic checks of a parsed .wbr file: everything that can be known without a tensor
 * set. Every pattern and template is checked by the runtime's own engine (bytecode/pattern.c, as
 * the bytecode verifier and the VM do, so the three cannot disagree, and they say the same
 * words); this file only places the engine's refusal in the source. Axis lists, sizes and ranges
 * are checked, and repeated statements are found. Every problem is reported (one diagnostic
 * each; one per pattern or template) before returning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "params.h"
#include "bytecode/pattern.h"

typedef struct checker {
  wbr_ctx *ctx;
  wbr_ast_file *f;
  int errors;
  bool oom;
  size_t at; /* the statement being checked */
} checker;

/* What a pattern binds, for checking the templates that use it. */
typedef struct binds {
  wbr_pattern_kind kind;
  bool ok;             /* the pattern itself is valid */
  uint32_t ngroups;    /* capture groups (a glob's '*' and captures; a regex's groups) */
  uint32_t nnamed;     /* named ones */
  wbr_namepat *np;     /* the pattern compiled by the runtime's engine (when ok) */
} binds;

static void err(checker *c, wbr_span sp, const char *help, const char *fmt, ...) WBR_PRINTF(4, 5);
static void err(checker *c, wbr_span sp, const char *help, const char *fmt, ...) {
  c->errors++;
  va_list ap;
  va_start(ap, fmt);
  wbr_vdiag_at(c->ctx, c->f, WBR_SEV_ERROR, sp, help, fmt, ap);
  va_end(ap);
}

/* Source span of text[i, i+n) of a quoted string: each '"' in text was written '\"'. */
static wbr_span str_span(const wbr_ast_pat *p, size_t i, size_t n) {
  uint32_t q = 0, q2 = 0;
  for (size_t k = 0; k < i + n && p->text[k]; k++) {
    if (p->text[k] == '"') {
      if (k < i) q++;
      q2++;
    }
  }
  uint32_t s = p->span.start + 1 + (uint32_t)i + q;
  return (wbr_span){s, p->span.start + 1 + (uint32_t)(i + n) + q2};
}

/* Where the engine's refusal e of p's text lies in the source. A regex's offsets run past its
 * text into the flags after the closing '/'. */
static wbr_span engine_span(const wbr_ast_pat *p, const wbr_namepat_error *e) {
  size_t len = strlen(p->text);
  if (p->kind == WBR_PK_REGEX) {
    char letters[8];
    wbr_pattern_letters(p->flags, letters);
    size_t max = len + 1 + strlen(letters);
    uint32_t off = (uint32_t)(e->offset < max ? e->offset : max);
    return (wbr_span){p->span.start + 1 + off, p->span.start + 2 + off};
  }
  if (!len) return p->span;
  size_t off = e->offset < len ? e->offset : len - 1;
  size_t n = e->len < len - off ? e->len : len - off;
  return str_span(p, off, n ? n : 1);
}

/* Report the engine's refusal of p, in its words; what prefixes the message, help (if not NULL)
 * replaces the engine's. */
static void engine_err(checker *c, const wbr_ast_pat *p, const wbr_namepat_error *e, const char *what,
                       const char *help) {
  err(c, engine_span(p, e), help ? help : e->help[0] ? e->help : NULL, "%s%s", what ? what : "", e->msg);
}

/* Compile p with the runtime's engine, recording what it binds. */
static void pattern(checker *c, const wbr_ast_pat *p, binds *b) {
  memset(b, 0, sizeof *b);
  b->kind = p->kind;
  char letters[8];
  wbr_pattern_letters(p->flags, letters);
  wbr_namepat_error e;
  int rc = wbr_namepat_new(&b->np, p->kind, p->text, p->kind == WBR_PK_REGEX ? letters : NULL, &e);
  if (rc == WBR_ENOMEM) {
    c->oom = true;
    return;
  }
  if (rc) {
    engine_err(c, p, &e, NULL, NULL);
    return;
  }
  b->ok = true;
  b->ngroups = wbr_namepat_groups(b->np);
  for (uint32_t g = 1; g <= b->ngroups; g++) b->nnamed += wbr_namepat_group_name(b->np, g) != NULL;
}

/* Is `name` a named group of the regex? */
static bool regex_has_name(const binds *b, const char *name, size_t n) {
  return b->np && wbr_namepat_group_of(b->np, name, n) != 0;
}

static void binds_free(binds *b) {
  wbr_namepat_free(b->np);
  b->np = NULL;
}

/* Compile template t against the pattern of b with the runtime's engine, exactly as the
 * verifier and the VM will compile it. Sets *hash if it uses {#}. False if it was refused. */
static bool engine_template(checker *c, const wbr_ast_pat *t, const binds *b, bool allow_hash,
                            const char *what, const char *help, bool *hash) {
  if (!b->np) return false;
  wbr_template *tp = NULL;
  wbr_namepat_error e;
  int rc = wbr_template_new(&tp, b->np, t->text, allow_hash, &e);
  if (rc == 0 && hash) *hash = wbr_template_uses_index(tp);
  wbr_template_free(tp);
  if (rc == WBR_ENOMEM) c->oom = true;
  else if (rc) engine_err(c, t, &e, what, help);
  return rc == 0;
}

/* Check a template against the binds of its (first) pattern. Sets *hash if it uses {#}. False
 * if it or its pattern was refused (reported). */
static bool template(checker *c, const wbr_ast_pat *t, const binds *b, bool allow_hash,
                     bool *hash) {
  if (hash) *hash = false;
  return b->ok && engine_template(c, t, b, allow_hash, NULL, NULL, hash);
}

/* A size, count or index (compiler/params.c): 1 known (*v), 0 depends on parameters, -1 reported. */
static int check_num(checker *c, const wbr_ast_num *n, int64_t *v) {
  wbr_numcheck nc = {.ctx = c->ctx, .f = c->f, .at = c->at};
  int r = wbr_check_num(&nc, n, v);
  c->errors += nc.errors;
  return r;
}

/* A num where only the literal -1 means "infer" or "any": an expression that comes out
 * negative is an error. */
static int check_size(checker *c, const wbr_ast_num *n, int64_t *v) {
  int r = check_num(c, n, v);
  if (r == 1 && n->e && *v < 0) {
    err(c, n->span, "a size is >= 0; only a literal -1 means 'infer' or 'any'",
        "the size comes out as %lld", (long long)*v);
    return -1;
  }
  return r;
}

static void check_axis(checker *c, const wbr_ast_stmt *s) {
  if (!s->has_axis) return;
  if (s->axis < -WBR_MAX_DIMS || s->axis >= WBR_MAX_DIMS)
    err(c, s->axis_span, "axes count from 0 (first) or from -1 (last)",
        "axis %lld is out of range: tensors have at most %d dimensions", (long long)s->axis,
        WBR_MAX_DIMS);
}

static void check_shape_list(checker *c, const wbr_ast_stmt *s, bool one_infer) {
  const wbr_ast_ints *l = &s->ints;
  if (l->n > WBR_MAX_DIMS) {
    err(c, l->span, NULL, "%zu dimensions: tensors have at most %d", l->n, WBR_MAX_DIMS);
    return;
  }
  size_t minus = 0, first = 0;
  for (size_t i = 0; i < l->n; i++) {
    wbr_ast_num num = wbr_ast_ints_num(l, i);
    int64_t v = 0;
    if (check_size(c, &num, &v) != 1 || num.e) continue;
    if (l->v[i] < -1) {
      err(c, l->spans[i], one_infer ? "a size is >= 0, or -1 to infer it" : "a size is >= 0, "
          "or -1 for any size", "invalid dimension %lld", (long long)l->v[i]);
    } else if (l->v[i] == -1 && one_infer) {
      if (minus++ == 1) {
        char help[120];
        snprintf(help, sizeof help, "only one dimension can be inferred; the first -1 is "
                 "dimension %zu", first);
        err(c, l->spans[i], help, "more than one -1 in 'reshape'");
      }
      if (minus == 1) first = i;
    }
  }
}

static void check_permute(checker *c, const wbr_ast_stmt *s) {
  const wbr_ast_ints *l = &s->ints;
  if (l->n == 0) {
    err(c, l->span, "list every axis in its new order, e.g. (1, 0)", "empty axis list in 'permute'");
    return;
  }
  if (l->n > WBR_MAX_DIMS) {
    err(c, l->span, NULL, "%zu axes: tensors have at most %d dimensions", l->n, WBR_MAX_DIMS);
    return;
  }
  bool seen[WBR_MAX_DIMS] = {false};
  for (size_t i = 0; i < l->n; i++) {
    char help[120];
    snprintf(help, sizeof help, "the axes must be 0 to %zu, each once, in the new order",
             l->n - 1);
    if (l->v[i] < 0 || (uint64_t)l->v[i] >= l->n) {
      err(c, l->spans[i], help, "axis %lld is not in 0..%zu: the list is not a permutation",
          (long long)l->v[i], l->n - 1);
      return;
    }
    if (seen[l->v[i]]) {
      err(c, l->spans[i], help, "axis %lld appears twice: the list is not a permutation",
          (long long)l->v[i]);
      return;
    }
    seen[l->v[i]] = true;
  }
}

static bool same_pat(const wbr_ast_pat *a, const wbr_ast_pat *b) {
  return a->kind == b->kind && strcmp(a->text, b->text) == 0 && a->flags == b->flags;
}

static void check_hint(checker *c, const wbr_ast_stmt *s) {
  binds bi;
  for (size_t i = 0; i < s->nin; i++) {
    pattern(c, &s->in[i], &bi);
    binds_free(&bi);
  }
  if (s->nin == 2 && s->in[0].text[0] && same_pat(&s->in[0], &s->in[1]))
    err(c, s->in[1].span, "a hint relates two different names", "the hint relates a name to itself");
  if (s->hint_layout == WBR_HINT_PERMUTE) check_permute(c, s);
}

/* Input i >= 1 of a concat or stack: the same kind as the first, and joined to it only by the
 * first pattern's captures (a glob) or named groups (a regex). */
static void check_later_input(checker *c, const wbr_ast_stmt *s, size_t i, const binds *b0) {
  const char *kw = wbr_stmt_keyword(s->kind);
  binds bi;
  const wbr_ast_pat *p = &s->in[i];
  if (p->kind != s->in[0].kind) {
    err(c, p->span, "write every input as a glob, or every input as a /regex/",
        "'%s' mixes glob and /regex/ inputs", kw);
    return;
  }
  int errors_before = c->errors;
  pattern(c, p, &bi);
  if (bi.ok && b0->ok && p->kind == WBR_PK_REGEX && bi.ngroups > 0) {
    /* Later regexes join the first on named groups only. */
    if (bi.ngroups != bi.nnamed) {
      err(c, p->span, "name the groups with (?<name>...), or use (?:...) for grouping only",
          "unnamed group in a later /regex/ of '%s': only named groups can join the first", kw);
    } else {
      for (uint32_t g = 1; g <= bi.ngroups; g++) {
        const char *nm = wbr_namepat_group_name(bi.np, g);
        if (nm && !regex_has_name(b0, nm, strlen(nm)))
          err(c, p->span, "the first pattern enumerates the groups; the others may only use "
              "its named groups", "group '%s' is not a named group of the first pattern of '%s'",
              nm, kw);
      }
    }
  }
  binds_free(&bi);
  /* The runtime builds the name each later input selects from the first pattern's captures,
   * as a template: it must compile as one. */
  if (bi.ok && b0->ok && c->errors == errors_before) {
    char what[96];
    snprintf(what, sizeof what, "input %zu of '%s' (built from the first pattern's captures): ", i + 1, kw);
    engine_template(c, p, b0, false, what,
                    p->kind == WBR_PK_REGEX ? "a later input names one tensor from the first regex's groups, "
                                               "written like a template: /b${i}/"
                                             : NULL,
                    NULL);
  }
}

/* At least two outputs, one size per output (one -1 at most, the others positive), no two
 * outputs alike. */
static void check_split(checker *c, const wbr_ast_stmt *s) {
  const char *kw = wbr_stmt_keyword(s->kind);
  if (s->nout < 2) {
    err(c, s->out[0].span, "list one template per part: -> \"a\", \"b\"",
        "'%s' needs at least 2 outputs, found %zu", kw, s->nout);
  }
  if (s->has_ints) {
    if (s->ints.n != s->nout && s->nout >= 2)
      err(c, s->ints.span, "give one size per output template",
          "%zu sizes for %zu outputs", s->ints.n, s->nout);
    size_t infer = 0;
    for (size_t i = 0; i < s->ints.n; i++) {
      wbr_ast_num num = wbr_ast_ints_num(&s->ints, i);
      int64_t v = 0;
      int k = check_size(c, &num, &v);
      if (k < 0 || (k == 1 && num.e && v > 0) || k == 0) continue;
      if (num.e) {
        err(c, num.span, "every part has a size of at least 1", "the split size comes out as %lld",
            (long long)v);
        continue;
      }
      if (s->ints.v[i] == -1 && infer++ == 0) continue;
      if (s->ints.v[i] == -1)
        err(c, s->ints.spans[i], "only one size can be inferred", "more than one -1 in the sizes of '%s'", kw);
      else if (s->ints.v[i] <= 0)
        err(c, s->ints.spans[i], "every part has a size of at least 1 (or -1 for the rest)",
            "%s size %lld is not positive", kw, (long long)s->ints.v[i]);
    }
  }
  for (size_t i = 1; i < s->nout; i++) {
    for (size_t j = 0; j < i; j++) {
      if (strcmp(s->out[i].text, s->out[j].text) == 0) {
        err(c, s->out[i].span, "give every part its own name",
            "two outputs of '%s' have the same template", kw);
        wbr_diag_at(c->ctx, c->f, WBR_SEV_NOTE, s->out[j].span, NULL, "the first is here");
        break;
      }
    }
  }
}

/* stack/concat PATTERN over NAME: NAME is a capture of the pattern, and the template leaves it
 * out (the joined tensor holds every value of it; the other captures make the groups). */
static void check_over(checker *c, const wbr_ast_stmt *s, const binds *b0) {
  const char *kw = wbr_stmt_keyword(s->kind), *nm = s->over;
  size_t n = strlen(nm);
  if (!b0->ok) return;
  bool rx = b0->kind == WBR_PK_REGEX;
  if (!regex_has_name(b0, nm, n)) {
    char have[200] = "", help[320];
    for (uint32_t g = 1, o = 0; g <= b0->ngroups && o + 40 < sizeof have; g++) {
      const char *gn = wbr_namepat_group_name(b0->np, g);
      if (gn) o += (uint32_t)snprintf(have + o, sizeof have - o, "%s{%s}", o ? ", " : "", gn);
    }
    if (rx)
      snprintf(help, sizeof help, "name the group of the part number in the regex: (?<%s>\\d+)", nm);
    else
      snprintf(help, sizeof help, "%s%s%scapture the part number as {%s}: \"experts.{%s}.w1\"",
               have[0] ? "the pattern binds " : "", have, have[0] ? "; " : "", nm, nm);
    err(c, s->over_span, help, "'%s ... over %s': the pattern has no capture named '%s'", kw, nm, nm);
    return;
  }
  /* The engine says whether the template copies the capture (the template's own errors are
   * reported by template()). */
  wbr_template *tp = NULL;
  wbr_namepat_error e;
  int rc = wbr_template_new(&tp, b0->np, s->out[0].text, false, &e);
  if (rc == WBR_ENOMEM) c->oom = true;
  if (rc == 0 && wbr_template_uses_group(tp, wbr_namepat_group_of(b0->np, nm, n)))
    err(c, s->out[0].span, "the joined tensor holds every part: leave the part number out of its name",
        "the template of '%s ... over %s' uses the capture '%s'", kw, nm, nm);
  wbr_template_free(tp);
}

/* split PATTERN axis N parts K -> "T{#}": at least one part, and {#} names them. */
static void check_parts(checker *c, const wbr_ast_stmt *s, bool hash) {
  int64_t k;
  if (check_num(c, &s->parts, &k) == 1 && k < 1)
    err(c, s->parts.span, "cut into 1 part or more", "split into %lld parts: the count is not positive",
        (long long)k);
  if (!hash && s->nout == 1)
    err(c, s->out[0].span, "put {#} where the part number 0, 1, ... goes: \"experts.{#}.w1\"",
        "the template of 'split ... parts' must contain {#}");
}

static void check_stmt(checker *c, const wbr_ast_stmt *s) {
  const char *kw = wbr_stmt_keyword(s->kind);
  binds b0;
  memset(&b0, 0, sizeof b0);
  if (s->kind == WBR_STMT_HINT) {
    check_hint(c, s);
    return;
  }
  if (s->kind == WBR_STMT_PARAM) {
    wbr_numcheck nc = {.ctx = c->ctx, .f = c->f, .at = c->at};
    wbr_check_param(&nc, s);
    c->errors += nc.errors;
    return;
  }
  if (s->nin == 0) return;
  pattern(c, &s->in[0], &b0);
  for (size_t i = 1; i < s->nin; i++) check_later_input(c, s, i, &b0);

  bool hash = false, tpl_ok = true;
  for (size_t i = 0; i < s->nout; i++) {
    bool h = false;
    tpl_ok = template(c, &s->out[i], &b0, s->kind == WBR_STMT_UNSTACK || s->has_parts, &h) && tpl_ok;
    hash = hash || h;
  }
  check_axis(c, s);

  switch (s->kind) {
  case WBR_STMT_RENAME:
    if (s->nout == 1 && b0.ok && s->in[0].kind == WBR_PK_GLOB &&
        strcmp(s->in[0].text, s->out[0].text) == 0)
      err(c, s->out[0].span, "remove the statement, or change the template",
          "the template equals the pattern: this rename does nothing");
    break;
  case WBR_STMT_RESHAPE: check_shape_list(c, s, true); break;
  case WBR_STMT_PERMUTE: check_permute(c, s); break;
  case WBR_STMT_SPLIT:
    if (s->has_parts) check_parts(c, s, hash);
    else check_split(c, s);
    break;
  case WBR_STMT_UNFUSE:
    check_split(c, s);
    c->errors += wbr_check_layout(c->ctx, c->f, c->at, s);
    break;
  case WBR_STMT_ROPE: c->errors += wbr_check_layout(c->ctx, c->f, c->at, s); break;
  case WBR_STMT_FUSE:
    c->errors += wbr_check_layout(c->ctx, c->f, c->at, s);
    /* fall through - at least two inputs, as concat */
  case WBR_STMT_CONCAT:
  case WBR_STMT_STACK:
    if (s->over) check_over(c, s, &b0);
    else if (s->nin < 2)
      err(c, s->in[0].span, "list at least two patterns: \"a.{i}\", \"b.{i}\"",
          "'%s' needs at least 2 inputs, found %zu", kw, s->nin);
    break;
  case WBR_STMT_UNSTACK:
    if (tpl_ok && !hash && s->nout == 1) /* a refused template is reported already */
      err(c, s->out[0].span, "put {#} where the index 0, 1, ... goes: \"blocks.{#}.w\"",
          "the template of 'unstack' must contain {#}");
    break;
  case WBR_STMT_SELECT: { /* a negative index counts from the end */
    int64_t v;
    check_num(c, &(wbr_ast_num){s->index, s->index_e, s->index_span}, &v);
    break;
  }
  case WBR_STMT_SLICE: {
    /* Negative bounds count from the end; with mixed signs only the plan knows the size. */
    int64_t a = 0, z = 0;
    int ka = check_num(c, &(wbr_ast_num){s->index, s->index_e, s->index_e ? s->index_e->span : s->index_span}, &a);
    int kz = check_num(c, &(wbr_ast_num){s->end, s->end_e, s->end_e ? s->end_e->span : s->index_span}, &z);
    if (ka == 1 && kz == 1 && (a < 0) == (z < 0) && a >= z)
      err(c, s->index_span, "the range is start:end, end excluded, with start < end",
          "empty range %lld:%lld", (long long)a, (long long)z);
    break;
  }
  case WBR_STMT_EXPECT:
    if (s->expect == WBR_EXPECT_SHAPE) check_shape_list(c, s, false);
    if (s->expect == WBR_EXPECT_COUNT) {
      int64_t v = 0;
      if (check_num(c, &(wbr_ast_num){s->count, s->count_e, s->count_span}, &v) == 1 && v < 0)
        err(c, s->count_span, NULL, "count %lld is negative", (long long)v);
    }
    break;
  case WBR_STMT_DROP:
  case WBR_STMT_TRANSPOSE:
  case WBR_STMT_CAST:
  case WBR_STMT_HINT:
  case WBR_STMT_PARAM:
  case WBR_STMT_COUNT:
    break;
  }
  binds_free(&b0);
}

int wbr_check(wbr_ast_file *f, wbr_ctx *ctx) {
  checker c = {.ctx = ctx, .f = f};
  wbr_map seen;
  wbr_map_init(&seen);
  wbr_buf b;
  wbr_buf_init(&b);
  bool oom = false;
  for (size_t i = 0; i < f->nstmts; i++) {
    const wbr_ast_stmt *s = &f->stmts[i];
    c.at = i;
    check_stmt(&c, s);
    if (s->kind == WBR_STMT_PARAM) continue; /* a second declaration is reported as such */
    /* Duplicates: the same canonical text is the same statement. */
    b.len = 0;
    wbr_fmt_stmt(s, &b);
    char *key = b.oom ? NULL : wbr_ast_strdup(f, b.p ? b.p : "");
    size_t old;
    int r = key ? wbr_map_put(&seen, key, i, &old) : -1;
    if (r < 0) {
      oom = true;
      break;
    }
    if (r == 1) {
      err(&c, s->span, "remove one of them", "duplicate statement");
      wbr_diag_at(ctx, f, WBR_SEV_NOTE, f->stmts[old].span, NULL, "the same statement is here");
    }
  }
  wbr_buf_free(&b);
  wbr_map_free(&seen);
  if (oom || c.oom) return wbr_oom(ctx);
  return c.errors ? WBR_ERULES : 0;
}
