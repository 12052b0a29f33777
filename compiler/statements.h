/* statements.h — the statements of the rule language, once: X(ID, keyword, syntax, meaning).
 * From this table come the statement enum (ast.h), the keyword table, the lexer's keyword
 * words and "did you mean" candidates, the "the syntax is: ..." and "statements are: ..." help
 * (parse.c); docs/language.md's statement table, keyword list and grammar are checked against
 * it (tests/unit/test_stmts.c).
 * Each row also needs a %token KW_ID in grammar/parser.y (bison declares its tokens itself).
 * Adding a statement: docs/extending.md. */
#ifndef WBR_STATEMENTS_H
#define WBR_STATEMENTS_H

#define WBR_STMT_LIST(X)                                                                          \
  X(RENAME, "rename", "rename PATTERN -> \"TEMPLATE\"",                                           \
    "give each matched tensor the name built from the template")                                  \
  X(DROP, "drop", "drop PATTERN", "remove each matched tensor")                                    \
  X(RESHAPE, "reshape", "reshape PATTERN [D, ...]",                                               \
    "reshape each matched tensor to the given sizes")                                             \
  X(TRANSPOSE, "transpose", "transpose PATTERN", "swap the two axes of each matched 2-D tensor")  \
  X(PERMUTE, "permute", "permute PATTERN (AXIS, ...)", "reorder the axes of each matched tensor") \
  X(SPLIT, "split",                                                                               \
    "split PATTERN axis N [sizes [S, ...]] -> \"T1\", \"T2\", ... | "                                 \
    "split PATTERN axis N parts K [transpose] -> \"TEMPLATE with {#}\"",                            \
    "cut each matched tensor along axis N into the named parts")                                  \
  X(CONCAT, "concat",                                                                             \
    "concat PATTERN, PATTERN, ... axis N -> \"TEMPLATE\" | "                                         \
    "concat PATTERN over NAME [axis N] [transpose] -> \"TEMPLATE\"",                                \
    "join one tensor from each pattern, or the parts a capture numbers, along an existing axis")  \
  X(STACK, "stack",                                                                               \
    "stack PATTERN, PATTERN, ... axis N -> \"TEMPLATE\" | "                                          \
    "stack PATTERN over NAME [axis N] [transpose] -> \"TEMPLATE\"",                                 \
    "join one tensor from each pattern, or the parts a capture numbers, on a new axis")           \
  X(UNSTACK, "unstack", "unstack PATTERN axis N [transpose] -> \"TEMPLATE with {#}\"",            \
    "cut each matched tensor along an axis into one tensor per index")                            \
  X(SELECT, "select", "select PATTERN axis N index I -> \"TEMPLATE\"",                            \
    "take one index along an axis (the axis disappears)")                                         \
  X(SLICE, "slice", "slice PATTERN axis N range A:B -> \"TEMPLATE\"",                             \
    "take a range [A, B) along an axis (the axis stays)")                                         \
  X(CAST, "cast", "cast PATTERN DTYPE", "convert the matched floating-point tensors to a dtype")  \
  X(HINT, "hint", "hint \"NAME\" = \"NAME\" [transpose | permute (AXIS, ...)]",                   \
    "tell the matcher that two names correspond; no effect on the mapping")                       \
  X(EXPECT, "expect", "expect PATTERN shape [D, ...] | dtype DTYPE | count N",                    \
    "assert the shape, dtype or count of the matched tensors")                                    \
  X(PARAM, "param", "param NAME [= EXPR]",                                                        \
    "declare an integer parameter, given by --param or --config, else its default")                \
  X(ROPE, "rope", "rope PATTERN heads N interleaved -> half | half -> interleaved",               \
    "reorder the rows of a q or k projection between the two rotary (RoPE) conventions")          \
  X(FUSE, "fuse", "fuse PATTERN, PATTERN, ... [axis N] blocked | groups G -> \"TEMPLATE\"",        \
    "join one tensor from each pattern into one fused tensor, whole or block by block")           \
  X(UNFUSE, "unfuse",                                                                             \
    "unfuse PATTERN [axis N] blocked | groups G [sizes [S, ...]] -> \"T1\", \"T2\", ...",           \
    "cut a fused tensor into its parts, whole or block by block (the inverse of fuse)")

#endif
