/* fmt.c — the canonical printer of .wbr files (`wbr fmt`, and the matcher's drafts). One
 * statement per line, single spaces, lowercase words, normalised numbers, comments where they
 * were, at most one blank line. Printing is a function of the AST alone, so fmt is idempotent
 * as long as parsing the output gives back the same AST. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "frontend.h"
#include "params.h"

/* A quoted string: text is glob syntax with '"' unescaped (see ast.h). */
static void put_string(wbr_buf *b, const char *t) {
  wbr_buf_putc(b, '"');
  for (size_t i = 0; t[i]; i++) {
    char ch = t[i];
    if (ch == '\\') {
      char nx = t[i + 1];
      if (nx == '*' || nx == '{' || nx == '}' || nx == '\\') {
        wbr_buf_putc(b, '\\');
        wbr_buf_putc(b, nx);
        i++;
      } else {
        wbr_buf_puts(b, "\\\\"); /* a lone backslash (hand-built AST): keep it literal */
      }
    } else if (ch == '"') {
      wbr_buf_puts(b, "\\\"");
    } else {
      wbr_buf_putc(b, ch);
    }
  }
  wbr_buf_putc(b, '"');
}

static void put_pat(wbr_buf *b, const wbr_ast_pat *p) {
  if (p->kind == WBR_PK_REGEX) {
    wbr_buf_putc(b, '/');
    wbr_buf_puts(b, p->text);
    wbr_buf_putc(b, '/');
    char letters[8]; /* in canonical order */
    wbr_pattern_letters(p->flags, letters);
    wbr_buf_puts(b, letters);
  } else {
    put_string(b, p->text);
  }
}

static void put_pats(wbr_buf *b, const wbr_ast_pat *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i) wbr_buf_puts(b, ", ");
    put_pat(b, &v[i]);
  }
}

static void put_ints(wbr_buf *b, const wbr_ast_ints *l, char open, char close) {
  wbr_buf_putc(b, open);
  for (size_t i = 0; i < l->n; i++) {
    if (i) wbr_buf_puts(b, ", ");
    wbr_fmt_num(b, &(wbr_ast_num){l->v[i], l->e ? l->e[i] : NULL, {0, 0}});
  }
  wbr_buf_putc(b, close);
}

static void put_dtype(wbr_buf *b, wbr_dtype dt) {
  const char *n = wbr_dtype_name(dt);
  for (size_t i = 0; n[i]; i++) {
    char ch = n[i];
    wbr_buf_putc(b, ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch);
  }
}

/* The experts forms after the pattern: " over e[ axis N][ transpose] -> ..." (axis 0 is the
 * default and left out), " axis N parts K[ transpose] -> ...", " axis N transpose -> ...". */
static void put_experts(wbr_buf *b, const wbr_ast_stmt *s) {
  if (s->over) {
    wbr_buf_printf(b, " over %s", s->over);
    if (s->axis != 0) wbr_buf_printf(b, " axis %" PRId64, s->axis);
  } else {
    wbr_buf_printf(b, " axis %" PRId64, s->axis);
  }
  if (s->has_parts) {
    wbr_buf_puts(b, " parts ");
    wbr_fmt_num(b, &s->parts);
  }
  if (s->transpose) wbr_buf_puts(b, " transpose");
  wbr_buf_puts(b, " -> ");
  put_pats(b, s->out, s->nout);
}

void wbr_fmt_stmt(const wbr_ast_stmt *s, wbr_buf *b) {
  if (s->optional && s->kind != WBR_STMT_HINT) wbr_buf_puts(b, "optional ");
  wbr_buf_puts(b, wbr_stmt_keyword(s->kind));
  wbr_buf_putc(b, ' ');
  if (s->kind == WBR_STMT_HINT) {
    if (s->nin >= 1) put_pat(b, &s->in[0]);
    wbr_buf_puts(b, " = ");
    if (s->nin >= 2) put_pat(b, &s->in[1]);
    if (s->hint_layout == WBR_HINT_TRANSPOSE) wbr_buf_puts(b, " transpose");
    if (s->hint_layout == WBR_HINT_PERMUTE) {
      wbr_buf_puts(b, " permute ");
      put_ints(b, &s->ints, '(', ')');
    }
    return;
  }
  if (s->kind == WBR_STMT_PARAM) {
    wbr_buf_puts(b, s->name ? s->name : "");
    if (s->has_def) {
      wbr_buf_puts(b, " = ");
      wbr_fmt_num(b, &s->def);
    }
    return;
  }
  put_pats(b, s->in, s->nin);
  switch (s->kind) {
  case WBR_STMT_RESHAPE:
    wbr_buf_putc(b, ' ');
    put_ints(b, &s->ints, '[', ']');
    break;
  case WBR_STMT_PERMUTE:
    wbr_buf_putc(b, ' ');
    put_ints(b, &s->ints, '(', ')');
    break;
  case WBR_STMT_SPLIT:
  case WBR_STMT_CONCAT:
  case WBR_STMT_STACK:
  case WBR_STMT_UNSTACK:
  case WBR_STMT_SELECT:
  case WBR_STMT_SLICE:
    if (s->over || s->has_parts || s->transpose) {
      put_experts(b, s);
      break;
    }
    wbr_buf_printf(b, " axis %" PRId64, s->axis);
    if (s->kind == WBR_STMT_SPLIT && s->has_ints) {
      wbr_buf_puts(b, " sizes ");
      put_ints(b, &s->ints, '[', ']');
    }
    if (s->kind == WBR_STMT_SELECT || s->kind == WBR_STMT_SLICE) {
      wbr_buf_puts(b, s->kind == WBR_STMT_SELECT ? " index " : " range ");
      wbr_fmt_num(b, &(wbr_ast_num){s->index, s->index_e, {0, 0}});
    }
    if (s->kind == WBR_STMT_SLICE) {
      wbr_buf_putc(b, ':');
      wbr_fmt_num(b, &(wbr_ast_num){s->end, s->end_e, {0, 0}});
    }
    wbr_buf_puts(b, " -> ");
    put_pats(b, s->out, s->nout);
    break;
  case WBR_STMT_RENAME:
    wbr_buf_puts(b, " -> ");
    put_pats(b, s->out, s->nout);
    break;
  case WBR_STMT_CAST:
    wbr_buf_putc(b, ' ');
    put_dtype(b, s->dtype);
    break;
  case WBR_STMT_EXPECT:
    switch (s->expect) {
    case WBR_EXPECT_SHAPE:
      wbr_buf_puts(b, " shape ");
      put_ints(b, &s->ints, '[', ']');
      break;
    case WBR_EXPECT_DTYPE:
      wbr_buf_puts(b, " dtype ");
      put_dtype(b, s->dtype);
      break;
    case WBR_EXPECT_COUNT:
      wbr_buf_puts(b, " count ");
      wbr_fmt_num(b, &(wbr_ast_num){s->count, s->count_e, {0, 0}});
      break;
    }
    break;
  case WBR_STMT_ROPE:
    wbr_buf_puts(b, " heads ");
    wbr_fmt_num(b, &s->groups);
    wbr_buf_puts(b, s->rope == WBR_ROPE_TO_HALF ? " interleaved -> half" : " half -> interleaved");
    break;
  case WBR_STMT_FUSE:
  case WBR_STMT_UNFUSE:
    if (s->axis != 0) wbr_buf_printf(b, " axis %" PRId64, s->axis);
    if (s->blocked) wbr_buf_puts(b, " blocked");
    else {
      wbr_buf_puts(b, " groups ");
      wbr_fmt_num(b, &s->groups);
    }
    if (s->kind == WBR_STMT_UNFUSE && s->has_ints) {
      wbr_buf_puts(b, " sizes ");
      put_ints(b, &s->ints, '[', ']');
    }
    wbr_buf_puts(b, " -> ");
    put_pats(b, s->out, s->nout);
    break;
  case WBR_STMT_DROP:
  case WBR_STMT_TRANSPOSE:
  case WBR_STMT_HINT:
  case WBR_STMT_PARAM:
  case WBR_STMT_COUNT:
    break;
  }
}

static void put_comment(wbr_buf *b, const wbr_ast_comment *c) {
  /* Comments from the parser start with '#'; a hand-built one may not. */
  if (c->text[0] != '#') wbr_buf_puts(b, "# ");
  size_t n = strlen(c->text);
  while (n > 0 && strchr(" \t\r\n\f\v", c->text[n - 1])) n--;
  for (size_t i = 0; i < n; i++) wbr_buf_putc(b, c->text[i] == '\n' ? ' ' : c->text[i]);
}

static void put_comment_lines(wbr_buf *b, const wbr_ast_comment *v, size_t n, bool first_blank) {
  for (size_t i = 0; i < n; i++) {
    if (v[i].blank_before && (i > 0 || first_blank)) wbr_buf_putc(b, '\n');
    put_comment(b, &v[i]);
    wbr_buf_putc(b, '\n');
  }
}

void wbr_fmt_ast(const wbr_ast_file *f, wbr_buf *b) {
  put_comment_lines(b, f->head, f->nhead, false);
  if (f->nhead && f->version_blank_before) wbr_buf_putc(b, '\n');
  wbr_buf_printf(b, "weightbridge %d", f->version > 0 ? f->version : 1);
  if (f->version_trail) {
    wbr_buf_puts(b, "  ");
    put_comment(b, f->version_trail);
  }
  wbr_buf_putc(b, '\n');
  for (size_t i = 0; i < f->nstmts; i++) {
    const wbr_ast_stmt *s = &f->stmts[i];
    if (s->blank_before) wbr_buf_putc(b, '\n');
    put_comment_lines(b, s->lead, s->nlead, false);
    if (s->nlead && s->blank_after_lead) wbr_buf_putc(b, '\n');
    wbr_fmt_stmt(s, b);
    if (s->trail) {
      wbr_buf_puts(b, "  ");
      put_comment(b, s->trail);
    }
    wbr_buf_putc(b, '\n');
  }
  put_comment_lines(b, f->tail, f->ntail, true);
}
