/* mint.h — the matcher's internal types, shared by its files: analysed names (tokens.c), layout
 * relations and the pairing phases (pair.c), rule induction and the name simulator (induce.c),
 * and the draft, its proof and the evidence text (draft.c). */
#ifndef WBR_MINT_H
#define WBR_MINT_H

#include "../base/tensorset.h"
#include "../base/util.h"
#include "match.h"

#define M_MAXNUM 16  /* numbers kept per name */
#define M_MAXPARTS 4 /* parts of a fused tensor */
#define M_MAXANC 8   /* ancestor scopes kept per name */

/* ---- interned strings ------------------------------------------------------------------------ */

typedef struct mintern {
  wbr_map map;
  char **s;
  size_t n, cap;
  bool oom;
} mintern;

void mi_init(mintern *in);
void mi_free(mintern *in);
/* Id of s[0..len) (added if new); UINT32_MAX when out of memory. */
uint32_t mi_id(mintern *in, const char *s, size_t len);
static inline const char *mi_str(const mintern *in, uint32_t id) { return in->s[id]; }

/* ---- analysed tensors ------------------------------------------------------------------------ */

/* The role of the last word of a name, for agreement checks (weight vs bias never pair). */
enum { ROLE_OTHER = 0, ROLE_WEIGHT, ROLE_BIAS, ROLE_MEAN, ROLE_VAR, ROLE_COUNT };

typedef struct mtensor {
  const char *name;
  size_t len;
  wbr_dtype dtype;
  int ndim;
  int64_t shape[WBR_MAX_DIMS];
  uint64_t nelem;
  uint32_t w0, nw;           /* canonical words (no numbers): side->words[w0 .. w0+nw) */
  int64_t num[M_MAXNUM];     /* numbers in order of appearance */
  uint8_t rank[M_MAXNUM];    /* rank of each number among its family's values */
  uint8_t informative[M_MAXNUM]; /* the family has several values at that position */
  uint16_t famn[M_MAXNUM];   /* how many values the family has */
  uint8_t nnum;
  uint32_t key;              /* canonical key: words and numbers */
  uint32_t parent;           /* raw name up to its last separator ("" at top level) */
  uint16_t anc_len[M_MAXANC]; /* lengths of the ancestor prefixes, nearest first */
  uint32_t anc[M_MAXANC];    /* their interned ids */
  uint8_t nanc;
  uint32_t leafkey;          /* canonical words of the last component */
  uint8_t role;              /* ROLE_* of the last word */
  bool kernel;               /* last word is literally "kernel" (Flax/TF layout) */
  bool fused;                /* words say it holds several projections (qkv, in_proj) */
  int8_t part;               /* 0,1,2 when its words say q, k or v; -1 otherwise */
  uint32_t partkey;          /* canonical key without the q/k/v word (for grouping parts) */
  int32_t pair;              /* index into matcher.pairs, or -1 */
  uint32_t sfam[M_MAXNUM];   /* per digit run: its family (the raw prefix before it, family.c) */
  int64_t sval[M_MAXNUM];    /* ... and its value */
  uint8_t nsf;
} mtensor;

typedef struct mside {
  mtensor *t;
  size_t n;
  uint32_t *words;
  size_t nwords, wcap;
} mside;

/* ---- layouts: how a source tensor becomes its target ------------------------------------------- */

enum { MOP_RESHAPE = 1, MOP_PERMUTE = 2 };

typedef struct mop {
  uint8_t kind;
  uint8_t n;
  int64_t v[WBR_MAX_DIMS]; /* reshape: the resulting shape; permute: the axes */
} mop;

/* Relation kinds, simplest first. */
enum { REL_ID = 0, REL_RESHAPE, REL_TRANSPOSE, REL_PERMUTE, REL_RESHAPE_T, REL_NONE = 99 };
/* Layout conventions read from names. */
enum { CONV_NONE = 0, CONV_FLAX_TO_TORCH, CONV_TORCH_TO_FLAX };

typedef struct mlayout {
  uint8_t rel;
  uint8_t nops;
  mop op[3];
} mlayout;

/* Find how shape a becomes shape b under a naming convention; returns the relation (REL_*) and
 * fills *out, or REL_NONE. */
int rel_find(mlayout *out, const int64_t *a, int na, const int64_t *b, int nb, int conv);

/* ---- pairs ------------------------------------------------------------------------------------ */

enum {
  EV_HINT = 0, /* pinned by a hint */
  EV_KEY,      /* same name after normalisation */
  EV_SHAPE,    /* the only tensors of their shape, and the names agree */
  EV_SIBLING,  /* same leaf under parents already paired */
  EV_ORDER,    /* continues a run of pairs in definition order */
  EV_NAME,     /* clearly the best name match on both sides */
  EV_FUSED,    /* parts of a fused tensor (q, k, v) */
  EV_UPDATE,   /* produced by the rules given with --update */
  EV_STRUCT,   /* the same place in two aligned modules (structure.c) */
  EV_COUNT
};

typedef struct mpair {
  uint32_t t;
  uint32_t s[M_MAXPARTS]; /* sources; several = concat along axis 0 in this order */
  uint8_t ns;
  uint8_t split_k, split_i; /* split_k > 1: s[0] is cut into split_k parts on axis 0; this is part split_i */
  mlayout lay;              /* applied to each part (concat) or to the split part */
  uint8_t ev;
  bool square_t;            /* a square 2-D pair transposed by convention */
  /* fused.c: split: the source axis cut and this part's range on it; concat: the target axis */
  uint8_t axis;
  uint8_t cut, cut_part;    /* split: 1 + the piece no target takes (dropped), or 0; its part word */
  int64_t off, len;
  char why[120];
  bool layout_hinted;       /* a hint gave its layout: nothing may change it (review.c) */
  uint16_t rivals;          /* decided by names or order with this many free same-shape rivals */
  mlayout pre, post;        /* famtab.c, fused per kv group: a split's source before the cut ([G, -1]),
                             * a concat's result after the join ([R, in]); nops 0: none */
  uint8_t named;            /* MNAMED_*: the statement that says the layout (famtab.c), or 0 */
  int64_t count;            /* ... its count: heads (rope), groups (fuse, unfuse) */
} mpair;
/* The named layout statements the matcher drafts (spec 12, section 3). */
enum { MNAMED_NONE = 0, MNAMED_ROPE_TO_HALF, MNAMED_ROPE_TO_INTERLEAVED, MNAMED_ROPE_K_TO_HALF,
       MNAMED_ROPE_K_TO_INTERLEAVED, MNAMED_GROUPS };

typedef struct munres {
  uint32_t t;
  uint32_t cand[4];
  uint8_t ncand;
  bool dtype;    /* undecided because the only fitting sources have another dtype: no hint helps */
  bool layout;   /* undecided because of a layout a hint does not carry (a convention, two axes) */
  bool depth;    /* undecided because the fitting sources sit in a family of another depth */
  bool square;   /* a square 2-D weight whose layout nothing decides: a hint should give it */
  bool param;    /* undecided until a parameter is given (famtab.c): a hint does not help */
  char why[400];
} munres;

/* Two numbered families that correspond (family.c): the numbers of each that take part, and
 * whether their counts differ (a depth mismatch) or they map in order. */
typedef struct mfcorr {
  uint32_t fs, ft;   /* family ids (interned prefixes) */
  int64_t *vs, *vt;  /* sorted numbers */
  uint32_t ns, nt;
  bool depth;
} mfcorr;

typedef struct mfmember {
  uint32_t fam, i; /* tensor i has a number of family fam */
} mfmember;

/* stack.c: scanned and stacked tensors, cut into the pieces the pairing sees. A group is every
 * tensor under one scope of one side, stacked on a leading axis of L blocks, that corresponds to
 * a numbered family of the other side. */
typedef struct mfgroup {
  char *scope;     /* the tensors' common name part, with its separator ("Transformer/encoderblock/") */
  int64_t L;       /* their leading size: blocks or experts */
  bool tgt;        /* of the target (stacked at the end) or of the source (unstacked first) */
  bool depth;      /* L differs from the family's size: not cut; the family's targets say so */
  bool cut_failed; /* a piece would have the name of another tensor: not cut, and no note */
  char *fam;       /* the family of the other side (its text before the number: "blocks.") */
  size_t famn;     /* and its size */
} mfgroup;

/* One side as the pairing sees it. Pieces are named after their scope and index
 * ("Transformer/encoderblock/3/LayerNorm_0/scale"). */
typedef struct mfside {
  wbr_tensorset *virt;             /* the side with its groups cut into pieces; NULL if none */
  const wbr_tensorset *rs;         /* the real side */
  uint32_t *real;                  /* per tensor of virt: its real tensor */
  int64_t *piece;                  /* ... and its index on the leading axis, or -1 (whole) */
  uint32_t *at, *cnt, *pieces;     /* per real tensor: its cnt pieces, pieces[at..at+cnt) */
  int32_t *grp;                    /* per real tensor: its group, or -1 */
  size_t nreal;
} mfside;

typedef struct mfold {
  mfside s, t;
  mfgroup *g;
  size_t ng;
} mfold;

typedef struct matcher {
  wbr_ctx *ctx;
  const mfold *fold;    /* scanned/stacked tensors cut into pieces (stack.c), or NULL */
  mintern in;
  mside S, T;
  float *idf; /* per word id */
  bool *isrole; /* per word id: weight, bias, mean, var */
  size_t nidf;
  mpair *pairs;
  size_t npairs, pcap;
  munres *unres;
  size_t nunres, ucap;
  bool *src_used_by_update; /* sources the --update rules consume (not for matching) */
  bool *tgt_done_by_update; /* targets the --update rules produce */
  const wbr_tensorset *finished; /* --update: targets the user's rules already produce; the
                                  * drafted rules run after them and must leave them alone */
  bool oom;
  wbr_buf explain;
  bool want_explain;
  size_t ev_count[EV_COUNT];
  mfcorr *fcorr;        /* corresponding families, from the first pairing pass */
  size_t nfcorr;
  int32_t *fcorr_of_s, *fcorr_of_t; /* family id -> index in fcorr, or -1 */
  bool fam_active;      /* the second pass: pairs that contradict a family map are vetoed */
  struct mfmember *fmem[2]; /* per side (0 source, 1 target): (family, tensor) sorted by family */
  size_t nfmem[2];
  uint8_t *pmask[2];    /* fused.c, per side and tensor: the parts its name names (FPM_*) */
  uint32_t *fusedv[2];  /* ... and the tensors that hold several */
  size_t nfused[2];
  struct mstruct *structure; /* the last alignment of the name trees (structure.c) */
  struct mtrees *trees;      /* the name trees themselves, built once per m_pair_all (structure.c) */
  struct mlcache *lcache;    /* layout fits per pair of layout classes, kept through m_pair_all (lcache.c) */
  struct mfam *famtab;       /* implementation families of both sides and the parameters (famtab.c) */
  const wbr_param_value *params; /* --param / --config values (wbr_match_options version 2), or NULL */
  size_t nparams;
} matcher;

/* layouts.c: wbr_match_options version 3's layout conventions. check: 0 or WBR_EUSAGE (reported)
 * for an unknown name; apply: after m_analyse_both, marks each side's kernels as its convention
 * says (NULL: as the names say). */
int m_layouts_check(wbr_ctx *ctx, const wbr_match_options *o);
void m_layouts_apply(matcher *m, const wbr_match_options *o);

/* tokens.c */
void m_analyse_both(matcher *m);
int m_side_load(matcher *m, mside *side, const wbr_tensorset *ts);
void m_side_free(mside *side);
void m_ranks(matcher *m, mside *side);
void m_idf(matcher *m);
/* Word similarity of two tensors in [0, 1] (idf-weighted Dice over canonical words). */
float m_wsim(const matcher *m, const mtensor *a, const mtensor *b);
/* The same over content words only (weight, bias, mean, var left out). */
float m_csim(const matcher *m, const mtensor *a, const mtensor *b);
/* Number evidence in [-1, 1]: agreement of informative index ranks, left to right. */
float m_nsim(const mtensor *a, const mtensor *b);
const char *m_word(const matcher *m, uint32_t id);
int m_word_id(matcher *m, const char *w);
/* Split raw names into digit runs: positions of numbers (start, end) in name; returns count. */
int m_digit_runs(const char *name, size_t len, size_t *starts, size_t *ends, int max);

/* A hint: two globs that pin pairs. From --hint (file NULL) or from a `hint` statement of an
 * --update file (file and span locate it, for file:line:col diagnostics). */
typedef struct mhint {
  const char *src, *tgt;
  const struct wbr_ast_file *file;
  uint32_t start, end; /* the statement's byte span in file */
  uint8_t nperm;       /* the layout it gives (transpose or permute): perm[0..nperm); 0: none */
  uint8_t perm[WBR_MAX_DIMS];
} mhint;

/* Free to pair: not paired yet and not consumed (or produced) by the --update rules. */
/* Equal shapes: the same rank and sizes. */
static inline bool m_same_shape(const int64_t *a, int na, const int64_t *b, int nb) {
  if (na != nb) return false;
  for (int i = 0; i < na; i++)
    if (a[i] != b[i]) return false;
  return true;
}

static inline bool m_src_free(const matcher *m, uint32_t i) {
  return m->S.t[i].pair < 0 && !(m->src_used_by_update && m->src_used_by_update[i]);
}
static inline bool m_tgt_free(const matcher *m, uint32_t i) {
  return m->T.t[i].pair < 0 && !(m->tgt_done_by_update && m->tgt_done_by_update[i]);
}
/* review.c: hints that carry a layout, and what a draft's decisions rest on */
/* Parse the --hint value A=B[ transpose| permute (a, ...)] into *h (h->src is malloc'd). */
int m_hint_parse(mhint *h, wbr_ctx *ctx, const char *arg);
/* The layout of (s, t) under the hint's permutation, or REL_NONE with the reason in bad. */
int m_hint_layout(const mhint *h, const mtensor *s, const mtensor *t, mlayout *out, char *bad, size_t nb);
/* What was checked, then the REVIEW list (decisions resting on names or order alone), as lines
 * without '#': the draft header's wording, or the summary's. Caller frees; NULL when out of memory. */
char *m_review_text(const matcher *m, bool header);
size_t m_review_count(const matcher *m);
/* Whether pair p rests on names or order alone among same-shape candidates (a REVIEW entry). */
bool m_review_pair(const mpair *p);
/* Fill mpair.rivals of every pair decided by names or order (after pairing: pairs are stored in
 * the order they were taken, so what was free when each was taken is known). */
void m_count_rivals(matcher *m);

/* pair.c */
int m_pair_all(matcher *m, const mhint *hints, size_t nhints);
int m_layout_for(const matcher *m, const mtensor *s, const mtensor *t, mlayout *out);
mpair *m_add_pair(matcher *m, uint32_t t, const uint32_t *s, int ns, const mlayout *lay, int ev,
                  const char *fmt, ...) WBR_PRINTF(7, 8);

/* family.c */
void m_families_prepare(matcher *m);
void m_families_infer(matcher *m);
void m_families_free(matcher *m);
/* The correspondence (s, t) contradicts, or -1. */
long m_index_veto(const matcher *m, const mtensor *s, const mtensor *t);
/* Under the depth mismatch c, do s and t hold numbers of the same rank in its families? */
bool m_depth_same_rank(const matcher *m, const mtensor *s, const mtensor *t, long c);
/* Would (s, t) cross the boundary of a mapped family (order may not)? */
bool m_family_boundary(const matcher *m, const mtensor *s, const mtensor *t);
void m_families_describe(const matcher *m, long c, char *out, size_t n);
void m_families_warn(matcher *m);

/* structure.c: pairs the aligned name trees propose (both tensors free; the caller checks
 * layouts, index maps and conventions before taking one) */
typedef struct mprop {
  uint32_t s, t;
  char why[120];
} mprop;
size_t m_structure_propose(matcher *m, mprop **out);
/* Would (s, t) cut across two modules the last alignment paired? (Kept until m_structure_free.) */
bool m_structure_veto(const matcher *m, uint32_t s, uint32_t t);
void m_structure_free(matcher *m);
/* Drop the name trees m_structure_propose keeps (the end of m_pair_all). */
void m_structure_trees_free(matcher *m);

/* convention.c: the convention (s, t) crosses, in words, or NULL */
const char *m_convention_crossed(const mtensor *s, const mtensor *t);
bool m_conv1d_name(const mtensor *x);
bool m_gpt2_c_attn(const mtensor *x);
/* Is seg a whole segment of x's name (between `.`, `/`, `:`)? */
bool m_has_segment(const mtensor *x, const char *seg);

/* famtab.c: implementation families (Hugging Face, Meta, GGUF, ...) read from names, and the
 * layouts a same-shape pair needs between two of them */
void m_famtab_prepare(matcher *m);
/* wbr_plan_new_with the --param / --config values of o, all taken as a config's (a name the rules
 * do not declare is no error): the --update file, and the whole file after it, are planned so. */
int m_plan_given(wbr_plan **out, wbr_ctx *ctx, const wbr_program *prog, const wbr_tensorset *src,
                 const wbr_tensorset *tgt, const wbr_match_options *o);
/* A --param a typo away from the matcher's (n_heads, n_kv_heads): one usage error, did you mean. */
int m_famtab_check_params(wbr_ctx *ctx, const wbr_param_value *v, size_t n);
void m_famtab_free(matcher *m);
/* (s, t) crosses the rotary convention between two established families and the head count is
 * known: the permutation of rows into *out. */
bool m_rope_layout(const matcher *m, const mtensor *s, const mtensor *t, mlayout *out);
/* The pair p just taken with that permutation: the rope statement that says it. */
void m_rope_mark(const matcher *m, mpair *p, const mtensor *s, const mlayout *l);
/* ... established but the head count is missing or does not fit: why, with the flag to add
 * (*param: a parameter settles it), or one side's convention depends on its architecture. */
bool m_rope_why(matcher *m, const mtensor *s, const mtensor *t, char *why, size_t n, bool *param);
/* The parameters the draft declares: the head counts given (so that `wbr check` takes the same
 * --param flags) and one a pair was drafted with; name, value and where it came from. */
typedef struct mdecl {
  const char *name;
  int64_t value;
  char from[80];
} mdecl;
size_t m_famtab_decls(const matcher *m, mdecl *out, size_t max);
/* The parameters undecided pairs wait for, one line each (`param n_heads = ?  (...)`). */
size_t m_famtab_missing(const matcher *m, char lines[][160], size_t max);
/* Pairs of a family's layout no shape relation shows (Mixtral's concatenated w2, transposed per
 * expert, against the stacked one); *out and *lays are the caller's to free. */
size_t m_famtab_propose(matcher *m, struct mprop **out, mlayout **lays);
/* q, k, v fused per kv group (`query_key_value`, Megatron's `linear_qkv`) against separate parts
 * (convention.c: the only convention the pair crosses): */
bool m_qkv_grouped(const mtensor *x);
bool m_qkv_grouped_pair(const mtensor *s, const mtensor *t);
/* the group count for parts of rows[0..3) (q, k, v), or -1 (noted: the draft lists the parameter) */
int64_t m_qkv_groups(matcher *m, const int64_t *rows, bool note);
/* the reason a grouped pair waits for its parameter (m_fused_why tells it by its address) */
extern const char m_qkv_param_why[];
/* Make the pair p of a join (ns 3) or of a cut (its piece at `off` of `len` rows) per G groups. */
void m_qkv_group_join(mpair *p, const mtensor *fused, int64_t G);
void m_qkv_group_cut(mpair *p, const mtensor *fused, const mtensor *part, int64_t G, int64_t off, int64_t len);

/* square.c: a square 2-D pair under GPT-2's names with no non-square layer-mate: REL_ID or
 * REL_TRANSPOSE where both sides' layers show their layout (ls, lt: the layers' name lengths),
 * else REL_NONE (undecided, m_square_gpt2_why says why) */
int m_square_gpt2_layout(const matcher *m, const mtensor *s, size_t ls, const mtensor *t, size_t lt);
const char *m_square_gpt2_why(void);

/* tie.c: pairs that definition order decides inside corresponding blocks (a tie of k) */
typedef struct mtie {
  uint32_t s, t;
  uint8_t k;
  mlayout lay;
} mtie;
size_t m_order_ties(matcher *m, mtie **out);

/* fused.c: pairs fused tensors with groups of parts (both ways); returns the pairs made */
size_t m_fused_pairs(matcher *m);
/* A free target that would be a fused tensor joined from (or a part cut out of) free sources
 * but for a convention (convention.c's words) or a second axis that fits too: why, and those
 * sources. */
typedef struct mfblock {
  uint32_t t;
  const char *why;
  uint32_t cand[4];
  uint8_t ncand;
  uint8_t part, of; /* a part: which piece of how many of the fused source cand[0] */
} mfblock;
size_t m_fused_blocked(matcher *m, mfblock **out);
/* What names say about parts, once per run (m_pair_all); and freed. */
void m_fused_prepare(matcher *m);
void m_fused_free(matcher *m);
/* Does a free fused tensor of the other side claim a part that pairing s with t would take (a
 * Phi-3 gate_up_proj for the up_proj that order would give the transposed down_proj)? */
bool m_fused_claims(const matcher *m, const mtensor *s, const mtensor *t);
/* If t is one of them, its reason and candidates into u. */
bool m_fused_why(const matcher *m, const mfblock *v, size_t n, uint32_t t, munres *u);
/* For the rules: is pair p the first of its split source's pieces; the pieces' sizes along the
 * axis (returns their count); do two split sources cut alike (one statement); a name for the
 * piece cut off (malloc'd, free of `taken` names and of target names), or NULL. */
bool m_split_first(const matcher *m, size_t p);
int m_split_pieces(const matcher *m, uint32_t s, int64_t *sizes, int *axis);
bool m_split_alike(const matcher *m, uint32_t a, uint32_t b);
char *m_cut_name(const matcher *m, uint32_t s, bool (*taken)(void *, const char *), void *ud);

/* induce.c: rule statements before they become an AST */
typedef struct mstmt {
  int kind;           /* wbr_stmt_kind */
  char *in[M_MAXPARTS];
  size_t nin;
  char **inv;         /* the inputs instead of in[] when there can be more (a stack of L pieces) */
  char *out[M_MAXPARTS];
  size_t nout;
  int64_t ints[WBR_MAX_DIMS];
  size_t nints;
  int64_t axis;
  bool has_axis;
  char *comment;      /* trailing comment, or NULL */
  char *lead;         /* comment line above, or NULL */
  bool blank_before;
  bool pieces;        /* a drop of pieces cut off a fused source, not of sources */
  uint8_t named;      /* rope, fuse, unfuse: MNAMED_* (the direction; k's head count) */
  int64_t count;      /* ... the heads or groups */
  uint32_t *members;  /* which items it is meant to act on (see induce.c) */
  size_t nmembers;
} mstmt;

typedef struct mrules {
  mstmt *v;
  size_t n, cap;
} mrules;

void mrules_free(mrules *r);
/* Build the rule statements for the pairs of m (drops, renames, fusions, layouts, casts).
 * all_literal: one literal statement per tensor (the proof's fallback). literal_src is
 * reserved for a finer fallback (per source) and may be NULL. */
int m_induce(matcher *m, mrules *out, const bool *literal_src, bool all_literal);
/* lcache.c: m_layout_for's cache of layout_raw's yes / no per pair of layout classes (tensors
 * alike in everything layout_raw reads). The cell of (s, t): 1 fits, 0 does not, -1 not asked;
 * NULL when there is no cache or s, t are not tensors of the two sides. */
void m_lcache_build(matcher *m);
void m_lcache_free(matcher *m);
int8_t *m_lcache_cell(const matcher *m, const mtensor *s, const mtensor *t);

/* nscore.c: one tensor's share of m_csim and m_nsim, for scoring it against many (phase_name),
 * and the near-scope image pair.c keeps with it. m_nrec_csim is m_csim only when neither
 * record is `many` (more distinct content words than it holds). */
#define M_NREC_WORDS 12
#define M_NREC_SEPS 24
typedef struct mnrec {
  double cw;                    /* idf sum of its distinct content words */
  uint32_t w[M_NREC_WORDS];     /* those words, in order */
  uint8_t nw, nn;
  bool many;
  uint8_t rank[M_MAXNUM];       /* its informative numbers: rank and family size */
  uint16_t fam[M_MAXNUM];
  const char *img;              /* pair.c: its nearest paired scope's image, cut to segments */
  uint32_t ilen, isegs;
  uint16_t sep[M_NREC_SEPS];    /* ... the positions of its separators (if isegs <= M_NREC_SEPS) */
  bool live;                    /* pair.c: free when the bucket is scored */
  uint8_t cls;                  /* pair.c: its layout class in the bucket */
} mnrec;
void m_nrec_fill(const matcher *m, const mside *side, const mtensor *x, mnrec *r);
float m_nrec_csim(const matcher *m, const mnrec *a, const mnrec *b);
float m_nrec_nsim(const mnrec *a, const mnrec *b);

/* A new statement at the end of r (NULL when out of memory); a glob that selects s literally. */
mstmt *m_stmt_new(mrules *r, int kind);
char *m_lit(const char *s);
/* The id of tag + s[0..n) in `in` (UINT32_MAX when out of memory). */
uint32_t m_intern_tagged(mintern *in, char tag, const char *s, size_t n);

/* stack.c */
int m_fold_build(mfold *f, wbr_ctx *ctx, const wbr_tensorset *src, const wbr_tensorset *tgt);
void m_fold_free(mfold *f);
/* The side the pairing sees: the cut one, or real. */
const wbr_tensorset *m_fold_set(const mfold *f, bool tgt, const wbr_tensorset *real);
/* The real tensor of pairing tensor v, and *piece its index on the leading axis (-1: whole). */
size_t m_fold_real(const matcher *m, bool tgt, uint32_t v, int64_t *piece);
/* How many real tensors a side has. */
size_t m_fold_nreal(const matcher *m, bool tgt);
/* How many pairing tensors real tensor r is (L if cut, else 1), and the k-th of them. */
size_t m_fold_count(const matcher *m, bool tgt, size_t real);
uint32_t m_fold_piece(const matcher *m, bool tgt, size_t real, size_t k);
/* The draft's first statements (unstack) and its last (stack). */
int m_fold_unstack(matcher *m, mrules *out, bool literal);
int m_fold_stack(matcher *m, mrules *out, bool literal);
/* Target t is undecided because of a depth mismatch of a stack: the reason, in why. */
bool m_fold_why(const matcher *m, uint32_t t, char *why, size_t n);
/* A warning for each such mismatch that leaves targets undecided. */
void m_fold_warn(matcher *m);
/* Source s is a stack of such a mismatch, or a block of the family a stacked target mismatches:
 * kept in an incomplete draft, not dropped. */
bool m_fold_keep(const matcher *m, uint32_t s);

#endif
