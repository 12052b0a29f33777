/* test_namepat.c — glob and regex matching over tensor names, capture binding, templates, and
 * the errors a user sees for bad patterns. */
#include <stdlib.h>

#include "../../bytecode/pattern.h"
#include "harness.h"

/* Rename `name` with pattern/template; returns the new name (static buffer) or "<no match>" or
 * "<error: msg>". */
static const char *apply(wbr_pattern_kind kind, const char *pat, const char *flags,
                         const char *tmpl, const char *name, long index) {
  static char res[512];
  wbr_namepat *p;
  wbr_template *t = NULL;
  wbr_namepat_error err = {.offset = 0};
  if (wbr_namepat_new(&p, kind, pat, flags, &err) != 0) {
    snprintf(res, sizeof res, "<error@%zu: %s>", err.offset, err.msg);
    return res;
  }
  if (tmpl && wbr_template_new(&t, p, tmpl, true, &err) != 0) {
    snprintf(res, sizeof res, "<terror@%zu: %s>", err.offset, err.msg);
    wbr_namepat_free(p);
    return res;
  }
  wbr_match m;
  int r = wbr_namepat_match(p, name, strlen(name), &m, &err);
  if (r == 0) snprintf(res, sizeof res, "<no match>");
  else if (r < 0) snprintf(res, sizeof res, "<match error: %s>", err.msg);
  else if (!t) snprintf(res, sizeof res, "<match %zu-%zu>", m.start, m.end);
  else if (wbr_template_uses_arith(t) && wbr_template_check_match(t, name, &m, &err))
    snprintf(res, sizeof res, "<aerror: %s>", err.msg);
  else {
    wbr_buf b;
    wbr_buf_init(&b);
    wbr_template_expand(t, name, &m, index, kind == WBR_PK_GLOB, &b);
    snprintf(res, sizeof res, "%s", b.p ? b.p : "");
    wbr_buf_free(&b);
  }
  wbr_template_free(t);
  wbr_namepat_free(p);
  return res;
}

#define G WBR_PK_GLOB
#define R WBR_PK_REGEX

TEST(glob_star_crosses_separators_and_matches_whole_name) {
  CHECK_STR(apply(G, "*.num_batches_tracked", NULL, NULL, "layer1.0.bn1.num_batches_tracked", 0), "<match 0-32>");
  CHECK_STR(apply(G, "*.gamma", NULL, NULL, "stages.0.gamma.x", 0), "<no match>");
  CHECK_STR(apply(G, "downsample_layers.0.*", NULL, "stem.*", "downsample_layers.0.1.weight", 0), "stem.1.weight");
  CHECK_STR(apply(G, "*.pwconv{n}.*", NULL, "*.mlp.fc{n}.*", "stages.1.blocks.0.pwconv2.bias", 0), "stages.1.blocks.0.mlp.fc2.bias");
  CHECK_STR(apply(G, "cls", NULL, "cls_token", "cls", 0), "cls_token");
  CHECK_STR(apply(G, "cls", NULL, "cls_token", "cls2", 0), "<no match>");
}

TEST(glob_leftmost_star_is_lazy) {
  CHECK_STR(apply(G, "*.*", NULL, "*|*", "a.b.c", 0), "a|b.c");
  CHECK_STR(apply(G, "*.{x}", NULL, "*|{x}", "a.b.c", 0), "a.b|c");
}

TEST(glob_captures_are_one_segment_and_consistent) {
  CHECK_STR(apply(G, "blocks.{i}.attn", NULL, "b{i}", "blocks.12.attn", 0), "b12");
  CHECK_STR(apply(G, "blocks.{i}.attn", NULL, "b{i}", "blocks.1.2.attn", 0), "<no match>");
  CHECK_STR(apply(G, "blocks.{i}.attn", NULL, "b{i}", "blocks..attn", 0), "<no match>");
  CHECK_STR(apply(G, "l{i}.x{i}", NULL, "{i}", "l3.x3", 0), "3");
  CHECK_STR(apply(G, "l{i}.x{i}", NULL, "{i}", "l3.x4", 0), "<no match>");
  CHECK_STR(apply(G, "enc_{i}/query/kernel", NULL, "blocks.{i}.q", "enc_7/query/kernel", 0), "blocks.7.q");
}

TEST(glob_escapes_and_special_characters) {
  CHECK_STR(apply(G, "a\\*b", NULL, "x", "a*b", 0), "x");
  CHECK_STR(apply(G, "a\\*b", NULL, "x", "aXb", 0), "<no match>");
  CHECK_STR(apply(G, "w[0](x)+?", NULL, "ok", "w[0](x)+?", 0), "ok");
  CHECK_STR(apply(G, "a.b", NULL, "ok", "aXb", 0), "<no match>");
  CHECK_STR(apply(G, "\\{x\\}", NULL, "\\{y\\}", "{x}", 0), "{y}");
}

TEST(regex_replaces_only_the_matched_part) {
  CHECK_STR(apply(R, "^stages\\.(\\d+)\\.(\\d+)\\.", "", "stages.$1.blocks.$2.", "stages.1.0.pwconv1.weight", 0), "stages.1.blocks.0.pwconv1.weight");
  CHECK_STR(apply(R, "(?<l>\\d+)$", "", "n${l}", "x.12", 0), "x.n12");
  CHECK_STR(apply(R, "KERNEL", "i", "weight", "a.kernel", 0), "a.weight");
  CHECK_STR(apply(R, "q", "", "$$", "aqb", 0), "a$b");
  CHECK_STR(apply(R, "(a)|(b)", "", "[$2]", "b", 0), "[b]");
  CHECK_STR(apply(R, "(a)|(b)", "", "[$1]", "b", 0), "[]");
  CHECK_STR(apply(R, "b(.)", "", "<$0|${1}0>", "abcd", 0), "a<bc|c0>d");
}

TEST(template_index_for_unstack) {
  CHECK_STR(apply(G, "scan/*/kernel", NULL, "blocks.{#}.*.weight", "scan/mlp/kernel", 3), "blocks.3.mlp.weight");
}

TEST(index_arithmetic_shifts_numbers_and_keeps_zero_padding) {
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i+1}.w", "h.0.w", 0), "b.1.w");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i+1}.w", "h.9.w", 0), "b.10.w");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i-1}.w", "h.10.w", 0), "b.9.w");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i+1}.w", "h.007.w", 0), "b.008.w");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i+1}.w", "h.099.w", 0), "b.100.w");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i-1}.w", "h.010.w", 0), "b.009.w");
  CHECK_STR(apply(G, "h.{i}.*", NULL, "b.{i+1000}.*", "h.3.x.y", 0), "b.1003.x.y");
  CHECK_STR(apply(R, "^h\\.(?<i>\\d+)\\.", "", "b.${i+1}.", "h.4.w", 0), "b.5.w");
  CHECK_STR(apply(R, "^h\\.(\\d+)\\.(\\d+)$", "", "b.${1-1}.${2+2}", "h.4.5", 0), "b.3.7");
  CHECK_STR(apply(R, "(\\d+)", "", "$1+1", "a7", 0), "a7+1"); /* no braces: literal "+1" */
  CHECK_STR(apply(R, "^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)", "", "$123", "abcdefghijkl", 0), "l3"); /* $ takes two digits */
  CHECK_STR(apply(G, "s.*", NULL, "b.{#+1}.*", "s.w", 4), "b.5.w");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i+1}.w", "h.x.w", 0), "<aerror: '{i+1}' needs a number, and capture 'i' is 'x'>");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i-1}.w", "h.0.w", 0), "<aerror: '{i-1}' would be negative: capture 'i' is '0'>");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i+1}.w", "h.1234567890123456789.w", 0),
            "<aerror: '{i+1}' needs a number, and capture 'i' is '1234567890123456789', more than 18 digits>");
  CHECK_STR(apply(R, "^h(\\d*)x", "", "${1+1}", "hx", 0), "<aerror: '${1+1}' needs a number, and capture '1' is ''>");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i+}.w", "h.0.w", 0), "<terror@2: '{i+}' is not index arithmetic: '+' must be followed by a number>");
  CHECK_STR(apply(G, "h.{i}.w", NULL, "b.{i+0}.w", "h.0.w", 0), "<terror@2: '{i+0}' adds nothing>");
  CHECK_STR(apply(G, "h.{i+1}.w", NULL, "b", "h.0.w", 0), "<error@2: '{i+1}': index arithmetic in a pattern>");
  CHECK_STR(apply(G, "s.*", NULL, "b.{#-1}.*", "s.w", 0), "<terror@2: '{#-1}' would make the first piece's index negative: {#} counts from 0>");
}

TEST(bad_patterns_and_templates_are_explained) {
  CHECK_CONTAINS(apply(G, "", NULL, NULL, "x", 0), "empty pattern");
  CHECK_CONTAINS(apply(G, "a.{", NULL, NULL, "x", 0), "<error@2: unclosed '{' in a glob>");
  CHECK_CONTAINS(apply(G, "a}", NULL, NULL, "x", 0), "<error@1: unmatched '}'");
  CHECK_CONTAINS(apply(G, "a**", NULL, NULL, "x", 0), "<error@1: '**' in a glob>");
  CHECK_CONTAINS(apply(G, "{#}", NULL, NULL, "x", 0), "<error@0: '{#}' in a pattern>");
  CHECK_CONTAINS(apply(G, "a\\", NULL, NULL, "x", 0), "escapes nothing");
  CHECK_CONTAINS(apply(R, "a(b", "", NULL, "x", 0), "<error@3: invalid regex: missing closing parenthesis>");
  CHECK_CONTAINS(apply(R, "ab", "q", NULL, "x", 0), "<error@3: unknown regex flag 'q' (known: i m s x n)");
  CHECK_CONTAINS(apply(G, "a.*", NULL, "{j}", "a.b", 0), "<terror@0: capture '{j}' is not bound by the pattern>");
  CHECK_CONTAINS(apply(G, "a.*", NULL, "*.*", "a.b", 0), "<terror@0: the template has 2 '*' but the pattern has 1>");
  CHECK_CONTAINS(apply(G, "a.*", NULL, "$1", "a.b", 0), "<terror@0: '$1' in the template of a glob pattern>");
  CHECK_CONTAINS(apply(R, "a(.)", "", "$2", "ab", 0), "<terror@0: '$2' refers to group 2, but the regex has 1 group>");
  CHECK_CONTAINS(apply(R, "a", "", "*", "a", 0), "<terror@0: '*' in the template of a /regex/ pattern>");
  CHECK_CONTAINS(apply(G, "a", NULL, "", "a", 0), "empty template");
  wbr_namepat *p;
  wbr_template *t;
  wbr_namepat_error err;
  CHECK_INT(wbr_namepat_new(&p, G, "x.*", NULL, &err), 0);
  CHECK_INT(wbr_template_new(&t, p, "{#}.*", false, &err), WBR_ERULES);
  CHECK_STR(err.msg, "'{#}' (the index of 'unstack') is not allowed in this template");
  wbr_namepat_free(p);
}

TEST(pathological_regex_is_stopped_not_hung) {
  char name[64];
  memset(name, 'a', 40);
  name[40] = '!';
  name[41] = 0;
  CHECK_CONTAINS(apply(R, "^(a+)+$", "", NULL, name, 0), "<match error: matching stopped");
}

TEST(pattern_literal_and_groups) {
  wbr_namepat *p;
  wbr_namepat_error err;
  CHECK_INT(wbr_namepat_new(&p, G, "head.weight", NULL, &err), 0);
  CHECK_STR(wbr_namepat_literal(p), "head.weight");
  wbr_namepat_free(p);
  CHECK_INT(wbr_namepat_new(&p, G, "b.{i}.*.{j}", NULL, &err), 0);
  CHECK(wbr_namepat_literal(p) == NULL);
  CHECK_INT(wbr_namepat_groups(p), 3);
  CHECK_INT(wbr_namepat_stars(p), 1);
  CHECK_INT(wbr_namepat_group_of(p, "j", 1), 3);
  CHECK_STR(wbr_namepat_group_name(p, 1), "i");
  wbr_namepat_free(p);
}

/* Issue 9, item 11: a regex just under the per-match limit costs ~1e6 steps a name; with a
 * budget, the run's costly matches stop when it is spent, while cheap patterns never touch it. */
TEST(costly_matches_are_paid_from_a_shared_budget) {
  wbr_namepat *costly, *cheap;
  wbr_namepat_error err;
  CHECK_INT(wbr_namepat_new(&costly, R, "^(a+)+$", "", &err), 0);
  CHECK_INT(wbr_namepat_new(&cheap, G, "blocks.{i}.*", NULL, &err), 0);
  uint64_t budget = WBR_MATCH_BUDGET;
  wbr_namepat_set_budget(costly, &budget);
  wbr_namepat_set_budget(cheap, &budget);
  char name[32];
  memset(name, 'a', 18);
  memcpy(name + 18, "c.0", 4);
  wbr_match m;
  /* Cheap matches cost nothing against the budget, sloppy but ordinary ones neither: a cubic
   * /(.*)(.*)(.*)\.bias$/ takes ~3,000 steps on a 50-byte name, and a model can have 20,000. */
  for (int i = 0; i < 1000; i++) CHECK_INT(wbr_namepat_match(cheap, "blocks.3.attn.w", 15, &m, &err), 1);
  wbr_namepat *sloppy;
  CHECK_INT(wbr_namepat_new(&sloppy, R, "(.*)(.*)(.*)\\.bias$", "", &err), 0);
  wbr_namepat_set_budget(sloppy, &budget);
  const char *moe = "model.layers.10.block_sparse_moe.experts.0.w1.weight";
  int sloppy_ok = 0;
  for (int i = 0; i < 20000; i++) sloppy_ok += wbr_namepat_match(sloppy, moe, strlen(moe), &m, &err) == 0;
  CHECK_INT(sloppy_ok, 20000);
  wbr_namepat_free(sloppy);
  CHECK(budget == WBR_MATCH_BUDGET);
  /* Each costly match is charged its retries' step limits; the budget runs out, then every
   * further costly match is refused with a message that names the budget. */
  int n = 0, r = 0;
  while (n < 10000 && (r = wbr_namepat_match(costly, name, strlen(name), &m, &err)) == 0) n++;
  CHECK_INT(r, WBR_ERULES);
  CHECK_CONTAINS(err.msg, "budget of 100000000 steps for costly matches is spent");
  CHECK(n > 10 && n < 200);
  CHECK(budget < WBR_MATCH_STEPS);
  /* A cheap match still works once the budget is spent. */
  CHECK_INT(wbr_namepat_match(cheap, "blocks.3.attn.w", 15, &m, &err), 1);
  /* Without a budget, the same match is only bounded per name (no error: it does not match). */
  wbr_namepat_set_budget(costly, NULL);
  CHECK_INT(wbr_namepat_match(costly, name, strlen(name), &m, &err), 0);
  wbr_namepat_free(costly);
  wbr_namepat_free(cheap);
}

/* Issue 9, item 7: the engine's limits are the ones the checker reports (63 groups, 32-byte
 * capture names), with the offset of the culprit. */
TEST(pattern_limits_and_their_offsets) {
  char pat[256] = "";
  for (int i = 0; i < 63; i++) strcat(pat, "*.");
  CHECK_STR(apply(G, pat, NULL, NULL, "x", 0), "<no match>"); /* 63 stars: fine */
  strcat(pat, "*");
  CHECK_STR(apply(G, pat, NULL, NULL, "x", 0), "<error@126: more than 63 captures in one pattern>");
  char cap[64] = "a.{";
  for (int i = 0; i < 32; i++) strcat(cap, "c");
  strcat(cap, "}");
  CHECK_STR(apply(G, cap, NULL, NULL, "a.b", 0), "<match 0-3>");
  memmove(cap + 4, cap + 3, strlen(cap + 3) + 1); /* 33 characters */
  CHECK_STR(apply(G, cap, NULL, NULL, "a.b", 0), "<error@3: capture name longer than 32 characters>");
}
