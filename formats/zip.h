/* zip.h — a small zip archive reader and a streaming zip writer, for the container formats built
 * on zip (PyTorch's torch.save files, NumPy's .npz). The reader works on bytes already in memory
 * (a read-only mapping) and trusts nothing: every offset and size is checked against the archive.
 * The writer emits through a callback (normally wbr_writer_emit), so entries stream through it.
 *
 * Supported: STORED (method 0) and DEFLATED (method 8, via zlib) entries, zip64 (archives, entries
 * and offsets past 4 GiB, more than 65535 entries), data descriptors, UTF-8 names. Not supported
 * (refused with a clear error): encryption, multi-disk archives, other compression methods. */
#ifndef WBR_ZIP_H
#define WBR_ZIP_H

#include "../base/util.h"

/* ---- Reader -------------------------------------------------------------------------------- */

enum { WBR_ZIP_STORED = 0, WBR_ZIP_DEFLATED = 8 };

typedef struct wbr_zip_entry {
  const char *name;      /* NUL-terminated copy owned by the archive; never contains NUL */
  size_t name_len;
  uint16_t method;       /* WBR_ZIP_STORED or WBR_ZIP_DEFLATED (others are refused at open) */
  uint32_t crc32;        /* from the central directory */
  uint64_t csize;        /* bytes stored in the archive */
  uint64_t usize;        /* bytes after decompression (== csize when stored) */
  uint64_t header_offset;/* of the local file header */
  uint64_t data_offset;  /* of the entry's (compressed) bytes; data_offset + csize <= archive len */
} wbr_zip_entry;

typedef struct wbr_zip wbr_zip;

/* Parse the archive in bytes[0..len) (which must outlive the wbr_zip). Reads the end record (and
 * the zip64 end record), the central directory, and every local header; checks that entries lie
 * inside the archive, do not overlap each other or the central directory, and that names are
 * unique. `path` and `what` ("PyTorch checkpoint", "npz file") are only for messages. One error
 * through ctx on failure: 0 or a negative wbr_error (*out is NULL then). */
int wbr_zip_open(wbr_zip **out, wbr_ctx *ctx, const char *path, const char *what,
                 const uint8_t *bytes, size_t len);
void wbr_zip_free(wbr_zip *z);

/* True if the bytes begin with a zip local header or an empty archive's end record: a cheap test
 * to pick a reader before wbr_zip_open. */
bool wbr_zip_sniff(const uint8_t *bytes, size_t len);

/* Entries in central-directory order. */
size_t wbr_zip_count(const wbr_zip *z);
const wbr_zip_entry *wbr_zip_entry_at(const wbr_zip *z, size_t i);
/* The entry with exactly this name, or NULL. O(1). */
const wbr_zip_entry *wbr_zip_find(const wbr_zip *z, const char *name);

/* The bytes of a STORED entry, in place (no copy): *data points into the archive, length
 * e->usize. A DEFLATED entry gets an error saying so (use wbr_zip_extract). The CRC is not checked
 * here (checking means reading every byte; call wbr_zip_check_crc when that is wanted). */
int wbr_zip_stored(const wbr_zip *z, const wbr_zip_entry *e, const uint8_t **data);

/* Where an entry's (possibly compressed) bytes are in the archive: e->csize of them. */
const uint8_t *wbr_zip_data(const wbr_zip *z, const wbr_zip_entry *e);

/* Decompress (or copy) an entry into dst[0..e->usize), checking the size and the CRC-32. dst_len
 * must be >= e->usize. Works for STORED and DEFLATED entries. */
int wbr_zip_extract(const wbr_zip *z, const wbr_zip_entry *e, uint8_t *dst, size_t dst_len);

/* Inflate a DEFLATED entry whose compressed bytes are src[0..e->csize), keeping bytes
 * [skip, skip + n) of its output in dst. Needs only e's sizes and CRC (the archive may be gone;
 * `name` is for messages). Reading to the end (skip + n == e->usize) checks the stream's length
 * and CRC-32; a shorter read (a header) stops as soon as it has its bytes. */
int wbr_zip_inflate(wbr_ctx *ctx, const char *path, const char *name, const wbr_zip_entry *e,
                    const uint8_t *src, uint64_t skip, uint8_t *dst, uint64_t n);

/* Check a STORED entry's CRC-32 against the central directory. */
int wbr_zip_check_crc(const wbr_zip *z, const wbr_zip_entry *e);

/* ---- Writer -------------------------------------------------------------------------------- */

/* Where the writer's bytes go: return 0 or a negative wbr_error (already reported). */
typedef int (*wbr_zip_emit_fn)(void *sink, const void *bytes, size_t len);

typedef struct wbr_zipw wbr_zipw;

/* A writer that emits an archive through emit(sink, ...). `start` is the offset at which the
 * first byte will land in the output (0 unless something precedes the archive); alignment is
 * computed from it. `path` is for messages. */
int wbr_zipw_new(wbr_zipw **out, wbr_ctx *ctx, const char *path, wbr_zip_emit_fn emit, void *sink,
                 uint64_t start);
void wbr_zipw_free(wbr_zipw *z);

/* Add a whole entry whose bytes are in memory. method: WBR_ZIP_STORED or WBR_ZIP_DEFLATED.
 * align (a power of two, or 0/1 for none): a STORED entry's data starts at a multiple of it
 * (padding goes in the local header's extra field, as PyTorch does). */
int wbr_zipw_add(wbr_zipw *z, const char *name, const void *bytes, size_t len, int method,
                 unsigned align);

/* Stream an entry of exactly `size` uncompressed bytes: begin, any number of data calls, end.
 * The CRC is computed on the way and written in a data descriptor after the data, so nothing
 * is buffered beyond zlib's window for DEFLATED entries. */
int wbr_zipw_begin(wbr_zipw *z, const char *name, uint64_t size, int method, unsigned align);
int wbr_zipw_data(wbr_zipw *z, const void *bytes, size_t len);
int wbr_zipw_end(wbr_zipw *z);

/* For a STORED entry being streamed: `len` bytes of it went to the sink by another route (the
 * caller emitted them itself), with CRC-32 `crc` (computed with wbr_zip_crc32 from 0). Counts
 * them as the entry's data without emitting anything. */
int wbr_zipw_data_external(wbr_zipw *z, uint64_t len, uint32_t crc);

/* CRC-32 (the zip/zlib polynomial) of p[0..n), continuing from crc (0 to start). */
uint32_t wbr_zip_crc32(uint32_t crc, const void *p, size_t n);

/* Write the central directory and the end records (zip64 ones when needed). After this the
 * writer takes nothing more. */
int wbr_zipw_finish(wbr_zipw *z);

/* Bytes emitted so far (== the offset of the next byte, minus `start`). */
uint64_t wbr_zipw_offset(const wbr_zipw *z);

#endif
