/* test_namepat_prefix.c — wbr_namepat_prefix, the literal text before a glob's first wildcard that
 * the matcher's rule search uses to skip names without running the match (matcher/induce.c). */
#include <stdlib.h>

#include "../../bytecode/pattern.h"
#include "harness.h"

/* The prefix of pat (as a string), and whether every name of names that does not start with it
 * is also one the pattern does not match. */
static const char *prefix_of(const char *pat, size_t *len) {
  static char out[128];
  wbr_namepat *p;
  wbr_namepat_error err;
  if (wbr_namepat_new(&p, pat[0] == '^' ? WBR_PK_REGEX : WBR_PK_GLOB, pat, NULL, &err) != 0) return "<error>";
  const char *pre = wbr_namepat_prefix(p, len);
  snprintf(out, sizeof out, "%.*s", (int)*len, pre);
  static const char *names[] = {"layer1.3.conv1.weight", "layer1.30.bn.bias", "layer2.3.x", "la", "stem.weight",
                                "a*b.c", "head.weight"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    wbr_match m;
    bool starts = strncmp(names[i], pre, *len) == 0;
    if (!starts && wbr_namepat_match(p, names[i], strlen(names[i]), &m, &err) != 0) snprintf(out, sizeof out, "<skips a match>");
  }
  wbr_namepat_free(p);
  return out;
}

TEST(glob_prefix_is_the_text_before_the_first_wildcard) {
  size_t n;
  CHECK_STR(prefix_of("layer{i}.3.*", &n), "layer");
  CHECK_INT(n, 5);
  CHECK_STR(prefix_of("layer1.3.*", &n), "layer1.3.");
  CHECK_STR(prefix_of("*.weight", &n), "");
  CHECK_INT(n, 0);
  CHECK_STR(prefix_of("a\\*b.*", &n), "a*b."); /* escapes resolved */
  CHECK_STR(prefix_of("head.weight", &n), "head.weight"); /* a literal: the whole name */
  CHECK_STR(prefix_of("^layer.*", &n), "");              /* a regex has none */
  CHECK_INT(n, 0);
}
