/* test_arena.c — base/'s memory helpers. The one arena of the syntax tree and the plan
 * (arena.c): memory comes back zeroed and aligned, a large request does not retire the block
 * small ones are served from, strings are copied with their NUL, an arena is reusable after it
 * is freed. The growable array (util.c wbr_grow): doubles from `first`, keeps the contents,
 * refuses an overflowing size without touching the array. */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../base/arena.h"
#include "../../base/util.h"
#include "harness.h"

TEST(arena_zeroed_aligned_distinct) {
  wbr_arena a = {0};
  /* Twice: the second round most likely gets back the blocks the first one dirtied. */
  for (int round = 0; round < 2; round++) {
  unsigned char *prev = NULL;
  for (size_t n = 0; n < 300; n++) {
    unsigned char *p = wbr_arena_alloc(&a, n);
    CHECK(p != NULL);
    if (!p) break;
    CHECK((uintptr_t)p % alignof(max_align_t) == 0);
    for (size_t i = 0; i < n; i++) CHECK(p[i] == 0);
    memset(p, 0xAB, n ? n : 1); /* n == 0 still owns a unit: the next request must not see it */
    CHECK(p != prev);
    prev = p;
  }
  wbr_arena_free(&a);
  CHECK(a.head == NULL);
  }
}

TEST(arena_large_request_keeps_the_current_block) {
  wbr_arena a;
  wbr_arena_init(&a, 1024);
  char *small1 = wbr_arena_alloc(&a, 16);
  char *big = wbr_arena_alloc(&a, 100000);
  char *small2 = wbr_arena_alloc(&a, 16);
  CHECK(small1 && big && small2);
  /* small2 comes from small1's block, right after it: the big one got a block of its own. */
  CHECK(small2 == small1 + 16);
  memset(big, 1, 100000);
  CHECK(small2[0] == 0);
  wbr_arena_free(&a);
  /* Reusable after free. */
  char *again = wbr_arena_alloc(&a, 8);
  CHECK(again != NULL);
  wbr_arena_free(&a);
}

TEST(arena_strndup) {
  wbr_arena a = {0};
  char *s = wbr_arena_strndup(&a, "h.0.attn.c_attn.weight!", 22);
  CHECK_STR(s, "h.0.attn.c_attn.weight");
  char *e = wbr_arena_strndup(&a, "", 0);
  CHECK_STR(e, "");
  CHECK(wbr_arena_alloc(&a, SIZE_MAX - 3) == NULL); /* refused, not wrapped around */
  CHECK(wbr_arena_alloc(&a, 4) != NULL);           /* and the arena still serves */
  wbr_arena_free(&a);
}

TEST(grow_doubles_and_keeps_contents) {
  int64_t *v = NULL;
  size_t cap = 0, caps[6], ncaps = 0;
  for (size_t n = 0; n < 100; n++) {
    size_t before = cap;
    CHECK(wbr_grow(&v, &cap, n + 1, sizeof *v, 16));
    if (cap != before && ncaps < 6) caps[ncaps++] = cap;
    v[n] = (int64_t)n * 7;
  }
  CHECK_INT(ncaps, 4);
  CHECK(caps[0] == 16 && caps[1] == 32 && caps[2] == 64 && caps[3] == 128);
  for (size_t n = 0; n < 100; n++) CHECK(v[n] == (int64_t)n * 7);
  /* Room already there: nothing moves. */
  int64_t *same = v;
  CHECK(wbr_grow(&v, &cap, 50, sizeof *v, 16) && v == same && cap == 128);
  /* A jump past one doubling. */
  CHECK(wbr_grow(&v, &cap, 1000, sizeof *v, 16) && cap == 1024 && v[99] == 693);
  /* Too large: refused, the array and its capacity as they were. */
  same = v;
  CHECK(!wbr_grow(&v, &cap, SIZE_MAX / 4, sizeof *v, 16));
  CHECK(v == same && cap == 1024);
  CHECK(!wbr_grow(&v, &cap, SIZE_MAX, 1, 16));
  CHECK(v == same && cap == 1024);
  free(v);
}
