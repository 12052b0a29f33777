/* arena.h — one bump allocator for everything that lives exactly as long as its owner: the
 * syntax tree of one rule file (compiler/ast.c) and the nodes, names and lists of one plan
 * (vm/vm.c). Memory comes back zeroed and aligned for any type; it is freed all at once. */
#ifndef WBR_ARENA_H
#define WBR_ARENA_H

#include <stddef.h>

typedef struct wbr_arena_block wbr_arena_block;

/* A zeroed struct is an empty arena with the default block size. */
typedef struct wbr_arena {
  wbr_arena_block *head; /* the block small requests are served from */
  size_t block;          /* bytes per block; 0 means WBR_ARENA_BLOCK */
} wbr_arena;

#define WBR_ARENA_BLOCK 16384

/* An empty arena whose blocks hold `block` bytes (0: the default). */
void wbr_arena_init(wbr_arena *a, size_t block);
/* n zeroed bytes (at least one unit, even for n == 0), aligned as max_align_t; NULL when out of
 * memory (the arena stays usable). A request larger than a block gets a block of its own. */
void *wbr_arena_alloc(wbr_arena *a, size_t n);
/* A NUL-terminated copy of s[0, n) in the arena; NULL when out of memory. */
char *wbr_arena_strndup(wbr_arena *a, const char *s, size_t n);
/* Free every block; the arena is empty again (and may be reused). */
void wbr_arena_free(wbr_arena *a);

#endif
