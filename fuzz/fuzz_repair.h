/* fuzz_repair.h — for the .wbc fuzz targets (fuzz_wbc, fuzz_vm): run a test on the input as it
 * is, then again with its size field and CRC repaired (when that changes it), so that mutations
 * reach the section parser, the verifier and the VM instead of stopping at the checksum.
 * Included by one target each (they are separate programs). */
#ifndef WBR_FUZZ_REPAIR_H
#define WBR_FUZZ_REPAIR_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put32(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static void with_repair(const uint8_t *data, size_t size, void (*test)(const uint8_t *, size_t)) {
  test(data, size);
  if (size < 24 || size >= (1u << 24)) return;
  uint8_t *copy = malloc(size);
  if (!copy) return;
  memcpy(copy, data, size);
  put32(copy + 16, (uint32_t)size);
  put32(copy + size - 4, (uint32_t)crc32(0, copy, (uInt)(size - 4)));
  if (memcmp(copy, data, size) != 0) test(copy, size);
  free(copy);
}

#endif
