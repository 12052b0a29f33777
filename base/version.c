/* version.c — the version check of the public API's versioned structs (see version.h): a
 * version of 0 means the struct was not made with its _INIT macro; one above what this library
 * knows means the program was built against a newer weightbridge.h than the library it runs with. */
#include "version.h"

#include <stdio.h>

int wbr_check_version(wbr_ctx *ctx, const char *fn, const char *type, const char *init, unsigned got,
                      unsigned known) {
  if (got >= 1 && got <= known) return 0;
  if (got == 0) {
    char help[160];
    snprintf(help, sizeof help, "start from %s (e.g. `%s o = %s;`), then set the fields you need", init, type,
             init);
    return wbr_fail(ctx, WBR_EUSAGE, NULL, help, "%s: the %s has version 0: it was not initialised with %s", fn,
                    type, init);
  }
  return wbr_fail(ctx, WBR_EUSAGE, NULL,
                  "build the program against the weightbridge.h of the library it runs with",
                  "%s: the %s has version %u, but this library (%s) knows versions 1 to %u", fn, type, got,
                  WBR_VERSION, known);
}
