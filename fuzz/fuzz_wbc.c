/* fuzz_wbc.c — libFuzzer target for the .wbc loader, the security boundary of the runtime: any
 * bytes must load or be refused with one error, never crash, hang or read out of bounds. Each
 * input is tried as it is and again with its size field and checksum repaired, so mutations
 * reach the section parser and the verifier instead of stopping at the CRC. What loads is
 * disassembled and serialized again, which must give back the same bytes (the format is
 * canonical: no padding, no unused bytes). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

static void put32(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try_load(data, size);
  if (size >= 24 && size < (1u << 24)) {
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    put32(copy + 16, (uint32_t)size);
    put32(copy + size - 4, (uint32_t)crc32(0, copy, (uInt)(size - 4)));
    try_load(copy, size);
    free(copy);
  }
  return 0;
}
