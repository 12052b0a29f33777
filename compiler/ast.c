/* ast.c — the syntax tree's memory (one arena per file) and the statement keyword table. The
 * builders the grammar actions call are build.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/arena.h"
#include "frontend.h"

/* ---- arena -------------------------------------------------------------------------------- */

/* f->arena: the file's memory (base/arena.c) and what the statement array needs besides. */
typedef struct arena {
  wbr_arena mem;
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
    wbr_arena_free(&a->mem);
    free(a);
  }
  free(f->stmts);
  free(f);
}

void *wbr_ast_alloc(wbr_ast_file *f, size_t n) { return wbr_arena_alloc(&((arena *)f->arena)->mem, n); }

char *wbr_ast_strdup(wbr_ast_file *f, const char *s) {
  return wbr_arena_strndup(&((arena *)f->arena)->mem, s, strlen(s));
}

wbr_ast_stmt *wbr_ast_add_stmt(wbr_ast_file *f, wbr_stmt_kind k) {
  arena *a = f->arena;
  if (!wbr_grow(&f->stmts, &a->stmt_cap, f->nstmts + 1, sizeof *f->stmts, 16)) return NULL;
  wbr_ast_stmt *s = &f->stmts[f->nstmts++];
  memset(s, 0, sizeof *s);
  s->kind = k;
  return s;
}
