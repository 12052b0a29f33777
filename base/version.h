/* version.h — the first check of every function that takes a versioned struct of
 * weightbridge.h (wbr_apply_options, wbr_writer_options, wbr_match_options, wbr_match_result):
 * the struct's version must be one this library knows, so a caller that forgot the _INIT macro,
 * or was built against a newer header, gets a clear WBR_EUSAGE instead of fields misread. */
#ifndef WBR_VERSION_CHECK_H
#define WBR_VERSION_CHECK_H

#include "util.h"

/* 0 if 1 <= got <= known; else reports through ctx, for function `fn`, that the struct `type`
 * (initialised with `init`) has an unknown version, and returns WBR_EUSAGE. */
int wbr_check_version(wbr_ctx *ctx, const char *fn, const char *type, const char *init, unsigned got,
                      unsigned known);

/* wbr_check_version for a pointer p to a struct whose macros are PREFIX_VERSION and PREFIX_INIT. */
#define WBR_CHECK_VERSION(ctx, fn, p, type, PREFIX) \
  wbr_check_version(ctx, fn, #type, #PREFIX "_INIT", (p)->version, PREFIX##_VERSION)

#endif
