/* pattern.h — name patterns and templates of the rule language, as the runtime executes them.
 * A glob ("blocks.{i}.*.weight") is translated to an anchored PCRE2 regex; a /regex/ is used as
 * written and searched anywhere. Templates build names from a match. The compiler's checker and
 * the bytecode verifier use the same functions, so the three can never disagree. */
#ifndef WBR_NAMEPAT_H
#define WBR_NAMEPAT_H

#include "base/util.h"

/* A pattern's kind, one enum for the AST (compiler/ast.h), the program (wbr_pattern.kind, whose
 * values are the .wbc encoding) and the matcher. */
typedef enum wbr_pattern_kind { WBR_PK_GLOB = 0, WBR_PK_REGEX = 1 } wbr_pattern_kind;

/* Why a pattern or template was refused, as one diagnostic: what is wrong (msg), where (the
 * byte offset and length of the offending part of its text, for a caret) and what to do (help;
 * may be empty). The checker, the verifier and the VM all print these words. */
typedef struct wbr_namepat_error {
  char msg[256];
  size_t offset;
  size_t len; /* >= 1 */
  char help[256];
} wbr_namepat_error;

typedef struct wbr_namepat wbr_namepat;

/* Longest capture name; PCRE2's limit for group names. */
#define WBR_CAPTURE_NAME_MAX 32

/* Compile a pattern. Glob text keeps its backslash escapes (\* \{ \} \\ are literals). Regex
 * flags: i caseless, m multiline, s dotall, x extended, n no auto capture. Returns 0, WBR_ERULES (err filled) or
 * WBR_ENOMEM. */
int wbr_namepat_new(wbr_namepat **out, wbr_pattern_kind kind, const char *text, const char *flags,
                    wbr_namepat_error *err);
void wbr_namepat_free(wbr_namepat *p);

wbr_pattern_kind wbr_namepat_get_kind(const wbr_namepat *p);
/* Number of `*` in a glob (0 for a regex). */
int wbr_namepat_stars(const wbr_namepat *p);
/* Number of capture groups (glob: stars and {name}s; regex: its groups). */
uint32_t wbr_namepat_groups(const wbr_namepat *p);
/* Group number of a named capture, or 0 if the pattern has none of that name. */
uint32_t wbr_namepat_group_of(const wbr_namepat *p, const char *name, size_t len);
/* Name of group g, or NULL if it is unnamed. */
const char *wbr_namepat_group_name(const wbr_namepat *p, uint32_t g);
/* If the glob has no wildcard, the one name it matches (escapes resolved); else NULL. */
const char *wbr_namepat_literal(const wbr_namepat *p);
/* A glob's literal text before its first wildcard (*len bytes; 0 for a regex): a name that does
 * not start with it never matches, so a caller scanning many names may skip those unmatched. */
const char *wbr_namepat_prefix(const wbr_namepat *p, size_t *len);

/* Where a pattern matched: the matched byte range of the name and every group's range
 * (start == end == SIZE_MAX for a group that did not participate). */
typedef struct wbr_match {
  size_t start, end;
  uint32_t ngroups;
  size_t group[2 * 64]; /* up to 63 groups; more are refused at compile time */
} wbr_match;

/* Limits on the work of matching (docs/language.md, "Limits"). One match may take at most
 * WBR_MATCH_STEPS PCRE2 steps (and nest WBR_MATCH_DEPTH deep). A match is first tried with
 * WBR_MATCH_CHEAP steps, far more than ordinary patterns need (a sloppy /(.*)(.*)(.*)x$/ takes
 * ~3,000 on a 50-byte name); a costlier one is retried with twice the steps at a time, and each
 * retry is charged its step limit to the budget set with wbr_namepat_set_budget, so a run's
 * costly matching is bounded as a whole (and charged at most ~2x what it spent), not only per
 * name. */
#define WBR_MATCH_STEPS 1000000u
#define WBR_MATCH_DEPTH 10000u
#define WBR_MATCH_CHEAP 10000u
#define WBR_MATCH_BUDGET 100000000ull /* steps of costly matching in one plan run */

/* Charge p's costly matches to *steps_left (shared by every pattern of one run); NULL: no
 * budget, every match may take WBR_MATCH_STEPS. *steps_left must outlive p's matches. */
void wbr_namepat_set_budget(wbr_namepat *p, uint64_t *steps_left);

/* Match name against p: 1 if it matches (m filled), 0 if not, WBR_ERULES if PCRE2's match or
 * depth limit was hit (a pathological regex) or the budget is spent, with a message in err. */
int wbr_namepat_match(const wbr_namepat *p, const char *name, size_t len, wbr_match *m,
                      wbr_namepat_error *err);

/* The matching state of one run (PCRE2's match data and step limits, and the budget), shared by
 * every pattern the run matches. Matching through it leaves the pattern untouched, so patterns
 * compiled once (a program keeps its own) can serve several runs, each with its own state.
 * steps_left is the budget, as for wbr_namepat_set_budget (NULL: none). 0 or WBR_ENOMEM. */
typedef struct wbr_namepat_state wbr_namepat_state;
int wbr_namepat_state_new(wbr_namepat_state **out, uint64_t *steps_left);
void wbr_namepat_state_free(wbr_namepat_state *st);
/* wbr_namepat_match with st's match data and budget instead of p's own (p's budget is unused). */
int wbr_namepat_match_in(const wbr_namepat *p, wbr_namepat_state *st, const char *name, size_t len,
                         wbr_match *m, wbr_namepat_error *err);

typedef struct wbr_template wbr_template;

/* Compile a template against the pattern whose match will fill it (docs/language.md section 4).
 * Glob: `*` (the k-th * of the glob; as many as the glob has, or none) and {name}. Regex: $N
 * (one or two digits) or ${N} (group N, 0 = the whole match) and ${name}. Both: {#} (the index
 * of unstack; only if allow_index), $$ a literal $, backslash escapes \* \{ \} \$ \\. Index
 * arithmetic: {name+K} {name-K} (glob), ${name+K} ${N-K} (regex), {#+K}; K a decimal number
 * 1..999999999. Every reference must exist in the pattern. */
int wbr_template_new(wbr_template **out, const wbr_namepat *p, const char *text, bool allow_index,
                     wbr_namepat_error *err);
void wbr_template_free(wbr_template *t);
/* Number of `*` references in the template. */
int wbr_template_stars(const wbr_template *t);
bool wbr_template_uses_index(const wbr_template *t);
/* Whether t copies group g of its pattern (with or without index arithmetic). */
bool wbr_template_uses_group(const wbr_template *t, uint32_t g);

/* Index arithmetic needs numbers: 0 if every {i+K} / {i-K} of t can be computed for match m of
 * `name` (the capture is decimal digits, the result >= 0), else WBR_ERULES with err naming the
 * reference, the capture and its value. Call it before wbr_template_expand on a template that
 * uses arithmetic (wbr_template_uses_arith). */
bool wbr_template_uses_arith(const wbr_template *t);
int wbr_template_check_match(const wbr_template *t, const char *name, const wbr_match *m,
                             wbr_namepat_error *err);

/* Append the name built from template t and match m of `name` to out. A regex rename keeps
 * the unmatched parts of the name: pass whole=false to replace only [m->start, m->end). A
 * capture with leading zeros keeps its width under arithmetic ("007" + 1 -> "008"); one that
 * wbr_template_check_match would refuse is copied unchanged. */
void wbr_template_expand(const wbr_template *t, const char *name, const wbr_match *m, long index,
                         bool whole, wbr_buf *out);

#endif
