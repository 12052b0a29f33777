/* fuzz_parser.c — libFuzzer target for the .wbr front end: parse, check and format arbitrary
 * bytes; whenever the input formats, formatting the output again must give the same text
 * (fmt idempotence), else abort. Seeds: every rule file of tests/lang and rules/
 * (tools/fuzz_seeds.sh) and fuzz/corpus/fuzz_parser/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return 0;
  char *once = NULL;
  if (wbr_rules_format(&once, ctx, "fuzz.wbr", (const char *)data, size) == 0) {
    char *twice = NULL;
    if (wbr_rules_format(&twice, ctx, "fuzz.wbr", once, strlen(once)) != 0 ||
        strcmp(once, twice) != 0) {
      fprintf(stderr, "fmt is not idempotent:\n--- once\n%s--- twice\n%s", once,
              twice ? twice : "(error)\n");
      abort();
    }
    wbr_free(twice);
  }
  wbr_free(once);
  wbr_ctx_free(ctx);
  return 0;
}
