/* fuzz_wbc.c — libFuzzer target for the .wbc loader, the security boundary of the runtime: any
 * bytes must load or be refused with one error, never crash, hang or read out of bounds. Each
 * input is tried as it is and again with its size field and checksum repaired, so mutations
 * reach the section parser and the verifier instead of stopping at the CRC. What loads is
 * disassembled and serialized again, which must give back the same bytes (the format is
 * canonical: no padding, no unused bytes). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_repair.h"
#include "weightbridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_load(const uint8_t *data, size_t size) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return;
  wbr_program *p = NULL;
  int rc = wbr_program_load_bytes(&p, ctx, "fuzz.wbc", data, size);
  if (rc == 0) {
    char *text = wbr_program_disasm(p);
    wbr_free(text);
    void *bytes = NULL;
    size_t len = 0;
    if (wbr_program_serialize(p, ctx, &bytes, &len) == 0 &&
        (len != size || memcmp(bytes, data, size) != 0))
      abort(); /* a loaded program must serialize back to the same bytes */
    wbr_free(bytes);
  } else if (wbr_ctx_error_count(ctx) != 1 || p != NULL) {
    abort(); /* a refusal is exactly one error and no program */
  }
  wbr_program_free(p);
  wbr_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  with_repair(data, size, try_load);
  return 0;
}
