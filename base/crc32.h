/* crc32.h — CRC-32 with zlib's crc32() semantics (start from 0, feed pieces in order), fast on
 * x86-64 (base/crc32.c). Internal header. */
#ifndef WBR_CRC32_H
#define WBR_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t wbr_crc32(uint32_t crc, const void *data, size_t n);

#endif
