/* parser.y — the grammar of .wbr rule files (docs/language.md has it in EBNF). Pure and
 * reentrant; every action is one builder call (compiler/build.c); a statement's action fills
 * its wbr_ast_stmt directly (the STMT macros below). A statement with a syntax error
 * is skipped up to its end of line ('error NL') so one run reports every bad line; messages are
 * composed in compiler/parse.c from the lookahead and the expected tokens. */
%code requires {
#include "compiler/frontend.h"
#define WBR_YYLTYPE wbr_span
#define WBR_YYLTYPE_IS_DECLARED 1
}

%code provides {
int wbr_yylex(WBR_YYSTYPE *lval, WBR_YYLTYPE *lloc, void *scanner);
}

%code {
/* Spans are byte ranges: a rule covers its first to its last symbol; an empty rule sits at the
 * end of what came before. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
  do {                                                                \
    if (N) {                                                          \
      (Cur).start = YYRHSLOC(Rhs, 1).start;                           \
      (Cur).end = YYRHSLOC(Rhs, N).end;                               \
    } else {                                                          \
      (Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end;                 \
    }                                                                 \
  } while (0)
static void wbr_yyerror(WBR_YYLTYPE *loc, wbr_parser *ps, void *scanner, const char *msg);
/* A statement action fills the wbr_ast_stmt itself; these name its parts. The lists the
 * grammar gathered become the statement's arrays (a NULL list is an empty one). */
#define STMT(id, at, kw, ...) \
  wbr_b_stmt(ps, (wbr_ast_stmt){.kind = WBR_STMT_##id, .span = (at), .kw_span = (kw), __VA_ARGS__})
#define ONE_IN(p) .in = (p), .nin = 1
#define ONE_OUT(t) .out = (t), .nout = 1
#define INS(l) .in = (l) ? (l)->v : NULL, .nin = (l) ? (l)->n : 0
#define OUTS(l) .out = (l) ? (l)->v : NULL, .nout = (l) ? (l)->n : 0
#define INTS(l) .has_ints = (l) != NULL, .ints = wbr_b_ints_array(l)
#define AXIS(v, at) .has_axis = true, .axis = (v), .axis_span = (at)
#define DTYPE(at) .dtype = wbr_b_dtype(ps, (at)), .dtype_span = (at)
#define HINT_PAIR(a, b) .in = wbr_b_pair(ps, (a), (b)), .nin = 2
#define ROPE(n, d) .groups = (n), .rope = (d)
#define GROUPS(n) .groups = (n)
#define OVER(at) .over = wbr_b_word(ps, (at)), .over_span = (at)
#define PARTS(n) .has_parts = true, .parts = (n)
}

%define api.prefix {wbr_yy}
%define api.token.prefix {T_}
%define api.pure full
%define parse.error custom
%define parse.lac full
%locations
%initial-action { @$ = (wbr_span){0, 0}; }
%expect 0
%parse-param {wbr_parser *ps} {void *scanner}
%lex-param {void *scanner}

%union {
  wbr_ast_pat *pat;
  wbr_pat_list *pats;
  wbr_int_list *ints;
  wbr_ast_stmt *stmt;
  int64_t num;
  wbr_ast_expr *expr;
  wbr_ast_num nv;
}

%token <pat> STRING "a string" REGEX "a regex"
%token <num> INT "a number"
%token IDENT "a word"
%token ARROW "'->'" COMMA "','" LBRACK "'['" RBRACK "']'" LPAREN "'('" RPAREN "')'"
%token COLON "':'" EQUALS "'='" NL "end of line"
%token PLUS "'+'" MINUS "'-'" STAR "'*'" SLASH "'/'"
%token KW_WEIGHTBRIDGE "weightbridge" KW_OPTIONAL "optional"
%token KW_RENAME "rename" KW_DROP "drop" KW_RESHAPE "reshape" KW_TRANSPOSE "transpose"
%token KW_PERMUTE "permute" KW_SPLIT "split" KW_CONCAT "concat" KW_STACK "stack"
%token KW_UNSTACK "unstack" KW_SELECT "select" KW_SLICE "slice" KW_CAST "cast" KW_HINT "hint"
%token KW_EXPECT "expect" KW_PARAM "param"
%token KW_AXIS "axis" KW_SIZES "sizes" KW_INDEX "index" KW_RANGE "range" KW_SHAPE "shape"
%token KW_DTYPE "dtype" KW_COUNT "count"
%token KW_ROPE "rope" KW_FUSE "fuse" KW_UNFUSE "unfuse" KW_HEADS "heads"
%token KW_INTERLEAVED "interleaved" KW_HALF "half" KW_BLOCKED "blocked" KW_GROUPS "groups"
%token KW_OVER "over" KW_PARTS "parts"

%type <pat> pat tmpl
%type <pats> pats tmpls
%type <ints> brack paren int_items num_items opt_sizes
%type <expr> expr term factor
%type <nv> num
%type <stmt> stmt body
%type <num> opt_axis opt_transpose

%%

file:
  %empty
| file line
;

line:
  stmt NL                     { wbr_b_push(ps, $1); }
| KW_WEIGHTBRIDGE INT NL      { wbr_b_header(ps, @1, $2, @2); }
| KW_WEIGHTBRIDGE error NL    { wbr_b_header_bad(ps, @1); }
| error NL                    { yyerrok; }
;

stmt:
  body
| KW_OPTIONAL body            { $$ = wbr_b_optional(ps, $2, @$, @1); }
;

body:
  KW_RENAME pat ARROW tmpl    { $$ = STMT(RENAME, @$, @1, ONE_IN($2), ONE_OUT($4)); }
| KW_DROP pat                 { $$ = STMT(DROP, @$, @1, ONE_IN($2)); }
| KW_RESHAPE pat brack        { $$ = STMT(RESHAPE, @$, @1, ONE_IN($2), INTS($3)); }
| KW_TRANSPOSE pat            { $$ = STMT(TRANSPOSE, @$, @1, ONE_IN($2)); }
| KW_PERMUTE pat paren        { $$ = STMT(PERMUTE, @$, @1, ONE_IN($2), INTS($3)); }
| KW_SPLIT pat KW_AXIS INT ARROW tmpls
    { $$ = STMT(SPLIT, @$, @1, ONE_IN($2), AXIS($4, @4), OUTS($6)); }
| KW_SPLIT pat KW_AXIS INT KW_SIZES brack ARROW tmpls
    { $$ = STMT(SPLIT, @$, @1, ONE_IN($2), AXIS($4, @4), INTS($6), OUTS($8)); }
| KW_CONCAT pats KW_AXIS INT ARROW tmpl
    { $$ = STMT(CONCAT, @$, @1, INS($2), AXIS($4, @4), ONE_OUT($6)); }
| KW_STACK pats KW_AXIS INT ARROW tmpl
    { $$ = STMT(STACK, @$, @1, INS($2), AXIS($4, @4), ONE_OUT($6)); }
| KW_UNSTACK pat KW_AXIS INT ARROW tmpl
    { $$ = STMT(UNSTACK, @$, @1, ONE_IN($2), AXIS($4, @4), ONE_OUT($6)); }
| KW_STACK pat KW_OVER IDENT opt_axis opt_transpose ARROW tmpl
    { $$ = STMT(STACK, @$, @1, ONE_IN($2), OVER(@4), AXIS($5, @5), .transpose = $6, ONE_OUT($8)); }
| KW_CONCAT pat KW_OVER IDENT opt_axis opt_transpose ARROW tmpl
    { $$ = STMT(CONCAT, @$, @1, ONE_IN($2), OVER(@4), AXIS($5, @5), .transpose = $6, ONE_OUT($8)); }
| KW_SPLIT pat KW_AXIS INT KW_PARTS num opt_transpose ARROW tmpl
    { $$ = STMT(SPLIT, @$, @1, ONE_IN($2), AXIS($4, @4), PARTS($6), .transpose = $7, ONE_OUT($9)); }
| KW_UNSTACK pat KW_AXIS INT KW_TRANSPOSE ARROW tmpl
    { $$ = STMT(UNSTACK, @$, @1, ONE_IN($2), AXIS($4, @4), .transpose = true, ONE_OUT($7)); }
| KW_SELECT pat KW_AXIS INT KW_INDEX num ARROW tmpl
    { $$ = STMT(SELECT, @$, @1, ONE_IN($2), AXIS($4, @4), .index = $6.v, .index_e = $6.e, .index_span = @6, ONE_OUT($8)); }
| KW_SLICE pat KW_AXIS INT KW_RANGE num COLON num ARROW tmpl
    { $$ = STMT(SLICE, @$, @1, ONE_IN($2), AXIS($4, @4), .index = $6.v, .index_e = $6.e, .end = $8.v, .end_e = $8.e, .index_span = {@6.start, @8.end}, .end_span = @8, ONE_OUT($10)); }
| KW_CAST pat IDENT           { $$ = STMT(CAST, @$, @1, ONE_IN($2), DTYPE(@3)); }
| KW_CAST pat KW_HALF         { $$ = STMT(CAST, @$, @1, ONE_IN($2), DTYPE(@3)); } /* an alias: reported */
| KW_HINT STRING EQUALS STRING { $$ = STMT(HINT, @$, @1, HINT_PAIR($2, $4)); }
| KW_HINT STRING EQUALS STRING KW_TRANSPOSE
    { $$ = STMT(HINT, @$, @1, HINT_PAIR($2, $4), .hint_layout = WBR_HINT_TRANSPOSE); }
| KW_HINT STRING EQUALS STRING KW_PERMUTE paren
    { $$ = STMT(HINT, @$, @1, HINT_PAIR($2, $4), .hint_layout = WBR_HINT_PERMUTE, INTS($6)); }
| KW_EXPECT pat KW_SHAPE brack
    { $$ = STMT(EXPECT, @$, @1, ONE_IN($2), .expect = WBR_EXPECT_SHAPE, INTS($4)); }
| KW_EXPECT pat KW_DTYPE IDENT
    { $$ = STMT(EXPECT, @$, @1, ONE_IN($2), .expect = WBR_EXPECT_DTYPE, DTYPE(@4)); }
| KW_EXPECT pat KW_COUNT num
    { $$ = STMT(EXPECT, @$, @1, ONE_IN($2), .expect = WBR_EXPECT_COUNT, .count = $4.v, .count_e = $4.e, .count_span = @4); }
| KW_PARAM IDENT              { $$ = STMT(PARAM, @$, @1, .name = wbr_b_word(ps, @2), .name_span = @2); }
| KW_PARAM IDENT EQUALS num
    { $$ = STMT(PARAM, @$, @1, .name = wbr_b_word(ps, @2), .name_span = @2, .def = $4, .has_def = true); }
| KW_ROPE pat KW_HEADS num KW_INTERLEAVED ARROW KW_HALF
    { $$ = STMT(ROPE, @$, @1, ONE_IN($2), ROPE($4, WBR_ROPE_TO_HALF)); }
| KW_ROPE pat KW_HEADS num KW_HALF ARROW KW_INTERLEAVED
    { $$ = STMT(ROPE, @$, @1, ONE_IN($2), ROPE($4, WBR_ROPE_TO_INTERLEAVED)); }
| KW_FUSE pats opt_axis KW_BLOCKED ARROW tmpl
    { $$ = STMT(FUSE, @$, @1, INS($2), AXIS($3, @3), .blocked = true, ONE_OUT($6)); }
| KW_FUSE pats opt_axis KW_GROUPS num ARROW tmpl
    { $$ = STMT(FUSE, @$, @1, INS($2), AXIS($3, @3), GROUPS($5), ONE_OUT($7)); }
| KW_UNFUSE pat opt_axis KW_BLOCKED opt_sizes ARROW tmpls
    { $$ = STMT(UNFUSE, @$, @1, ONE_IN($2), AXIS($3, @3), .blocked = true, INTS($5), OUTS($7)); }
| KW_UNFUSE pat opt_axis KW_GROUPS num opt_sizes ARROW tmpls
    { $$ = STMT(UNFUSE, @$, @1, ONE_IN($2), AXIS($3, @3), GROUPS($5), INTS($6), OUTS($8)); }
;

/* fuse, unfuse, stack/concat ... over NAME: the axis is 0 unless given. */
opt_axis:
  %empty                      { $$ = 0; }
| KW_AXIS INT                 { $$ = $2; }
;

opt_sizes:
  %empty                      { $$ = NULL; }
| KW_SIZES brack              { $$ = $2; }
;

pat:
  STRING
| REGEX
;

/* The experts forms: the parts may be transposed. */
opt_transpose:
  %empty                      { $$ = 0; }
| KW_TRANSPOSE                { $$ = 1; }
;

tmpl:
  STRING
;

pats:
  pat                         { $$ = wbr_b_pats(ps, NULL, $1); }
| pats COMMA pat              { $$ = wbr_b_pats(ps, $1, $3); }
;

tmpls:
  tmpl                        { $$ = wbr_b_pats(ps, NULL, $1); }
| tmpls COMMA tmpl            { $$ = wbr_b_pats(ps, $1, $3); }
;

brack:
  LBRACK RBRACK               { $$ = wbr_b_ints_close(ps, NULL, @$); }
| LBRACK num_items RBRACK     { $$ = wbr_b_ints_close(ps, $2, @$); }
;

paren:
  LPAREN RPAREN               { $$ = wbr_b_ints_close(ps, NULL, @$); }
| LPAREN int_items RPAREN     { $$ = wbr_b_ints_close(ps, $2, @$); }
;

int_items:
  INT                         { $$ = wbr_b_ints(ps, NULL, $1, @1); }
| int_items COMMA INT         { $$ = wbr_b_ints(ps, $1, $3, @3); }
;

num_items:
  num                         { $$ = wbr_b_nums(ps, NULL, $1); }
| num_items COMMA num         { $$ = wbr_b_nums(ps, $1, $3); }
;

/* A size, count or index: an integer expression over parameters (docs/language.md,
 * "Parameters"); the lexer makes '/', '+' and '-' operators after a number, a name or ')'. */
num:
  expr                        { $$ = wbr_b_num(ps, $1, @1); }
;

expr:
  term
| expr PLUS term              { $$ = wbr_b_binop(ps, WBR_EXPR_ADD, $1, $3, @$); }
| expr MINUS term             { $$ = wbr_b_binop(ps, WBR_EXPR_SUB, $1, $3, @$); }
;

term:
  factor
| term STAR factor            { $$ = wbr_b_binop(ps, WBR_EXPR_MUL, $1, $3, @$); }
| term SLASH factor           { $$ = wbr_b_binop(ps, WBR_EXPR_DIV, $1, $3, @$); }
;

factor:
  INT                         { $$ = wbr_b_lit(ps, $1, @1); }
| IDENT                       { $$ = wbr_b_name(ps, @1); }
| LPAREN expr RPAREN          { $$ = $2; }
;

%%

/* Hand the lookahead and the expected tokens (as token kinds) to parse.c, which words the
 * message. LAC makes the expected list exact. */
static int yyreport_syntax_error(const yypcontext_t *yyctx, wbr_parser *ps, void *scanner) {
  enum { MAXEXP = 40 };
  yysymbol_kind_t exp[MAXEXP];
  int tokexp[MAXEXP];
  (void)scanner;
  int n = yypcontext_expected_tokens(yyctx, exp, MAXEXP);
  if (n < 0) n = 0;
  int m = 0;
  for (int i = 0; i < n; i++) {
    for (int t = 0; t <= YYMAXUTOK; t++) {
      if (YYTRANSLATE(t) == exp[i]) {
        tokexp[m++] = t;
        break;
      }
    }
  }
  yysymbol_kind_t la = yypcontext_token(yyctx);
  int latok = 0;
  for (int t = 0; t <= YYMAXUTOK && la != YYSYMBOL_YYEOF; t++) {
    if (YYTRANSLATE(t) == la) {
      latok = t;
      break;
    }
  }
  wbr_parse_syntax_error(ps, latok, *yypcontext_location(yyctx), tokexp, m);
  return 0;
}

static void wbr_yyerror(WBR_YYLTYPE *loc, wbr_parser *ps, void *scanner, const char *msg) {
  /* Only reached for parser-internal failures (memory exhausted). */
  (void)scanner;
  wbr_parse_error(ps, *loc, NULL, "%s", msg);
}
