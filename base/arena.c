/* arena.c — the bump allocator of arena.h: a list of blocks, the newest serving small
 * requests; a request bigger than a block gets its own block, linked behind the current one so
 * that the current block keeps serving the small requests that follow. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct wbr_arena_block {
  wbr_arena_block *next;
  size_t used, cap;
  max_align_t data[];
};

void wbr_arena_init(wbr_arena *a, size_t block) {
  a->head = NULL;
  a->block = block;
}

static wbr_arena_block *new_block(size_t cap) {
  wbr_arena_block *b = malloc(sizeof *b + cap);
  if (!b) return NULL;
  b->next = NULL;
  b->used = 0;
  b->cap = cap;
  return b;
}

void *wbr_arena_alloc(wbr_arena *a, size_t n) {
  const size_t unit = _Alignof(max_align_t);
  if (n > SIZE_MAX - unit) return NULL;
  n = n ? (n + unit - 1) / unit * unit : unit;
  size_t block = a->block ? a->block : WBR_ARENA_BLOCK;
  wbr_arena_block *b = a->head;
  if (!b || b->cap - b->used < n) {
    if (n > SIZE_MAX - sizeof *b) return NULL;
    b = new_block(n > block ? n : block);
    if (!b) return NULL;
    if (a->head && n > block) {
      b->next = a->head->next;
      a->head->next = b;
    } else {
      b->next = a->head;
      a->head = b;
    }
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *wbr_arena_strndup(wbr_arena *a, const char *s, size_t n) {
  char *p = n < SIZE_MAX ? wbr_arena_alloc(a, n + 1) : NULL;
  if (p && n) memcpy(p, s, n);
  return p;
}

void wbr_arena_free(wbr_arena *a) {
  for (wbr_arena_block *b = a->head, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  a->head = NULL;
}
