/* ast.c — the syntax tree's memory (one arena per file) and the statement keyword table. The
 * builders the grammar actions call are build.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend.h"

/* ---- arena -------------------------------------------------------------------------------- */

typedef struct arena_block {
  struct arena_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} arena_block;

typedef struct arena {
  arena_block *head;
  size_t stmt_cap; /* capacity of f->stmts (heap, not arena: it grows) */
} arena;

static const char *const keywords[] = {
#define KW_NAME(id, kw, syntax, doc) kw,
    WBR_STMT_LIST(KW_NAME)
#undef KW_NAME
};

const char *wbr_stmt_keyword(wbr_stmt_kind k) {
  return (unsigned)k < WBR_STMT_COUNT ? keywords[k] : "?";
}

wbr_ast_file *wbr_ast_new(const char *name) {
  wbr_ast_file *f = calloc(1, sizeof *f);
  arena *a = calloc(1, sizeof *a);
  if (!f || !a) {
    free(f);
    free(a);
    return NULL;
  }
  f->arena = a;
  f->version = 1;
  f->name = name ? wbr_ast_strdup(f, name) : NULL;
  if (name && !f->name) {
    wbr_ast_free(f);
    return NULL;
  }
  return f;
}

void wbr_ast_free(wbr_ast_file *f) {
  if (!f) return;
  arena *a = f->arena;
  if (a) {
    for (arena_block *b = a->head, *n; b; b = n) {
      n = b->next;
      free(b);
    }
    free(a);
  }
  free(f->stmts);
  free(f);
}

void *wbr_ast_alloc(wbr_ast_file *f, size_t n) {
  arena *a = f->arena;
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  arena_block *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 16384 ? n : 16384;
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = 0;
    /* A big one-off allocation goes behind the current block so the current one keeps
     * serving small requests. */
    if (a->head && n > 16384) {
      b->next = a->head->next;
      a->head->next = b;
    } else {
      b->next = a->head;
      a->head = b;
    }
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

static char *arena_strndup(wbr_ast_file *f, const char *s, size_t n) {
  char *p = wbr_ast_alloc(f, n + 1);
  if (p) memcpy(p, s, n);
  return p;
}

char *wbr_ast_strdup(wbr_ast_file *f, const char *s) { return arena_strndup(f, s, strlen(s)); }

wbr_ast_stmt *wbr_ast_add_stmt(wbr_ast_file *f, wbr_stmt_kind k) {
  arena *a = f->arena;
  if (f->nstmts == a->stmt_cap) {
    size_t cap = a->stmt_cap ? a->stmt_cap * 2 : 16;
    wbr_ast_stmt *p = realloc(f->stmts, cap * sizeof *p);
    if (!p) return NULL;
    f->stmts = p;
    a->stmt_cap = cap;
  }
  wbr_ast_stmt *s = &f->stmts[f->nstmts++];
  memset(s, 0, sizeof *s);
  s->kind = k;
  return s;
}
