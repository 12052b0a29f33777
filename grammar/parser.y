/* parser.y — the grammar of .wbr rule files (docs/language.md has it in EBNF). Pure and
 * reentrant; every action is one builder call (compiler/ast.c). A statement with a syntax error
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
}

%token <pat> STRING "a string" REGEX "a regex"
%token <num> INT "a number"
%token IDENT "a word"
%token ARROW "'->'" COMMA "','" LBRACK "'['" RBRACK "']'" LPAREN "'('" RPAREN "')'"
%token COLON "':'" EQUALS "'='" NL "end of line"
%token KW_WEIGHTBRIDGE "weightbridge" KW_OPTIONAL "optional"
%token KW_RENAME "rename" KW_DROP "drop" KW_RESHAPE "reshape" KW_TRANSPOSE "transpose"
%token KW_PERMUTE "permute" KW_SPLIT "split" KW_CONCAT "concat" KW_STACK "stack"
%token KW_UNSTACK "unstack" KW_SELECT "select" KW_SLICE "slice" KW_CAST "cast" KW_HINT "hint"
%token KW_EXPECT "expect"
%token KW_AXIS "axis" KW_SIZES "sizes" KW_INDEX "index" KW_RANGE "range" KW_SHAPE "shape"
%token KW_DTYPE "dtype" KW_COUNT "count"

%type <pat> pat tmpl
%type <pats> pats tmpls
%type <ints> brack paren int_items
%type <stmt> stmt body

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
  KW_RENAME pat ARROW tmpl    { $$ = wbr_b_stmt(ps, WBR_STMT_RENAME, @$, @1, &(wbr_parts){.in1 = $2, .out1 = $4}); }
| KW_DROP pat                 { $$ = wbr_b_stmt(ps, WBR_STMT_DROP, @$, @1, &(wbr_parts){.in1 = $2}); }
| KW_RESHAPE pat brack        { $$ = wbr_b_stmt(ps, WBR_STMT_RESHAPE, @$, @1, &(wbr_parts){.in1 = $2, .ints = $3}); }
| KW_TRANSPOSE pat            { $$ = wbr_b_stmt(ps, WBR_STMT_TRANSPOSE, @$, @1, &(wbr_parts){.in1 = $2}); }
| KW_PERMUTE pat paren        { $$ = wbr_b_stmt(ps, WBR_STMT_PERMUTE, @$, @1, &(wbr_parts){.in1 = $2, .ints = $3}); }
| KW_SPLIT pat KW_AXIS INT ARROW tmpls
    { $$ = wbr_b_stmt(ps, WBR_STMT_SPLIT, @$, @1, &(wbr_parts){.in1 = $2, .has_axis = true, .axis = $4, .axis_span = @4, .outs = $6}); }
| KW_SPLIT pat KW_AXIS INT KW_SIZES brack ARROW tmpls
    { $$ = wbr_b_stmt(ps, WBR_STMT_SPLIT, @$, @1, &(wbr_parts){.in1 = $2, .has_axis = true, .axis = $4, .axis_span = @4, .ints = $6, .outs = $8}); }
| KW_CONCAT pats KW_AXIS INT ARROW tmpl
    { $$ = wbr_b_stmt(ps, WBR_STMT_CONCAT, @$, @1, &(wbr_parts){.ins = $2, .has_axis = true, .axis = $4, .axis_span = @4, .out1 = $6}); }
| KW_STACK pats KW_AXIS INT ARROW tmpl
    { $$ = wbr_b_stmt(ps, WBR_STMT_STACK, @$, @1, &(wbr_parts){.ins = $2, .has_axis = true, .axis = $4, .axis_span = @4, .out1 = $6}); }
| KW_UNSTACK pat KW_AXIS INT ARROW tmpl
    { $$ = wbr_b_stmt(ps, WBR_STMT_UNSTACK, @$, @1, &(wbr_parts){.in1 = $2, .has_axis = true, .axis = $4, .axis_span = @4, .out1 = $6}); }
| KW_SELECT pat KW_AXIS INT KW_INDEX INT ARROW tmpl
    { $$ = wbr_b_stmt(ps, WBR_STMT_SELECT, @$, @1, &(wbr_parts){.in1 = $2, .has_axis = true, .axis = $4, .axis_span = @4, .index = $6, .index_span = @6, .out1 = $8}); }
| KW_SLICE pat KW_AXIS INT KW_RANGE INT COLON INT ARROW tmpl
    { $$ = wbr_b_stmt(ps, WBR_STMT_SLICE, @$, @1, &(wbr_parts){.in1 = $2, .has_axis = true, .axis = $4, .axis_span = @4, .index = $6, .end = $8, .index_span = {@6.start, @8.end}, .out1 = $10}); }
| KW_CAST pat IDENT           { $$ = wbr_b_stmt(ps, WBR_STMT_CAST, @$, @1, &(wbr_parts){.in1 = $2, .has_dtype = true, .dtype_span = @3}); }
| KW_HINT STRING EQUALS STRING { $$ = wbr_b_hint(ps, @$, @1, $2, $4, WBR_HINT_ANY, NULL); }
| KW_HINT STRING EQUALS STRING KW_TRANSPOSE
    { $$ = wbr_b_hint(ps, @$, @1, $2, $4, WBR_HINT_TRANSPOSE, NULL); }
| KW_HINT STRING EQUALS STRING KW_PERMUTE paren
    { $$ = wbr_b_hint(ps, @$, @1, $2, $4, WBR_HINT_PERMUTE, $6); }
| KW_EXPECT pat KW_SHAPE brack
    { $$ = wbr_b_stmt(ps, WBR_STMT_EXPECT, @$, @1, &(wbr_parts){.in1 = $2, .expect = WBR_EXPECT_SHAPE, .ints = $4}); }
| KW_EXPECT pat KW_DTYPE IDENT
    { $$ = wbr_b_stmt(ps, WBR_STMT_EXPECT, @$, @1, &(wbr_parts){.in1 = $2, .expect = WBR_EXPECT_DTYPE, .has_dtype = true, .dtype_span = @4}); }
| KW_EXPECT pat KW_COUNT INT
    { $$ = wbr_b_stmt(ps, WBR_STMT_EXPECT, @$, @1, &(wbr_parts){.in1 = $2, .expect = WBR_EXPECT_COUNT, .count = $4, .count_span = @4}); }
;

pat:
  STRING
| REGEX
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
| LBRACK int_items RBRACK     { $$ = wbr_b_ints_close(ps, $2, @$); }
;

paren:
  LPAREN RPAREN               { $$ = wbr_b_ints_close(ps, NULL, @$); }
| LPAREN int_items RPAREN     { $$ = wbr_b_ints_close(ps, $2, @$); }
;

int_items:
  INT                         { $$ = wbr_b_ints(ps, NULL, $1, @1); }
| int_items COMMA INT         { $$ = wbr_b_ints(ps, $1, $3, @3); }
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
