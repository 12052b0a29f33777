/* emit.h — the emitter: a checked AST becomes a verified in-memory program (bytecode/program.h).
 * Internal to the compiler and the matcher (which proves the AST it built without printing and
 * parsing it); wbr_program_compile (compile.c) is the public entry point. */
#ifndef WBR_EMIT_H
#define WBR_EMIT_H

#include "../bytecode/program.h"
#include "ast.h"

/* Emit one instruction per statement of f, in order, with deduplicated pools; the source name,
 * a hash of the source text and the language version go with it. The result is run through
 * the .wbc verifier: a statement the checker let through but the bytecode cannot express is
 * reported at that statement as an internal error. Returns 0, WBR_ERULES, WBR_ENOMEM or
 * WBR_EINTERNAL; *out is NULL on failure. */
int wbr_emit(wbr_program **out, wbr_ctx *ctx, const wbr_ast_file *f);

#endif
