/* zip.c — the zip reader and streaming writer declared in zip.h (PKWARE APPNOTE 6.3: local
 * headers, central directory, end of central directory, zip64 records, data descriptors).
 * The reader validates every offset and size before use and never reads outside the bytes it
 * was given; the writer streams entries and keeps only the central directory in memory. */
#include "zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/crc32.h"
#include "format.h" /* wbr_oom_file */

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define SIG_DESC 0x08074b50u

#define LOCAL_SIZE 30
#define CENTRAL_SIZE 46
#define END_SIZE 22
#define END64_SIZE 56
#define LOC64_SIZE 20

#define FLAG_ENCRYPTED 0x0001u
#define FLAG_DESCRIPTOR 0x0008u
#define FLAG_UTF8 0x0800u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void wr32(uint8_t *p, uint32_t v) {
  wr16(p, (uint16_t)v);
  wr16(p + 2, (uint16_t)(v >> 16));
}
static void wr64(uint8_t *p, uint64_t v) {
  wr32(p, (uint32_t)v);
  wr32(p + 4, (uint32_t)(v >> 32));
}

/* zlib counts in uInt; feed it large buffers in pieces. */
#define ZCHUNK ((size_t)1 << 30)

/* base/crc32.c: PCLMUL folding where the CPU has it, zlib's crc32 otherwise. */
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
  return wbr_crc32(crc, p, n);
}

/* ---- Reader -------------------------------------------------------------------------------- */

struct wbr_zip {
  wbr_ctx *ctx;
  const char *path, *what;
  const uint8_t *bytes;
  size_t len;
  wbr_zip_entry *e;
  size_t n;
  wbr_map index; /* name -> position */
};

bool wbr_zip_sniff(const uint8_t *bytes, size_t len) {
  return len >= 4 && (rd32(bytes) == SIG_LOCAL || (len == END_SIZE && rd32(bytes) == SIG_END));
}

#define ZFAIL(z, help, ...) wbr_fail((z)->ctx, WBR_EFORMAT, (z)->path, help, __VA_ARGS__)
#define HELP_DAMAGED "the file is damaged or truncated: copy or download it again"
#define HELP_BUG "this is a bug in weightbridge: please report it with the command that ran"

void wbr_zip_free(wbr_zip *z) {
  if (!z) return;
  for (size_t i = 0; i < z->n; i++) free((char *)z->e[i].name);
  free(z->e);
  wbr_map_free(&z->index);
  free(z);
}

/* Locate the end of central directory record: the last signature whose comment ends exactly at
 * the end of the file (a comment is at most 65535 bytes). */
static int find_end(wbr_zip *z, size_t *at) {
  if (z->len < END_SIZE)
    return ZFAIL(z, HELP_DAMAGED, "%s is %zu bytes, too short for a zip archive", z->what, z->len);
  size_t lo = z->len - END_SIZE > 65535 ? z->len - END_SIZE - 65535 : 0;
  for (size_t i = z->len - END_SIZE + 1; i-- > lo;) {
    if (rd32(z->bytes + i) == SIG_END && i + END_SIZE + rd16(z->bytes + i + 20) == z->len) {
      *at = i;
      return 0;
    }
  }
  return ZFAIL(z, HELP_DAMAGED, "%s has no zip end-of-central-directory record (truncated?)",
               z->what);
}

static int entry_cmp_offset(const void *a, const void *b) {
  const wbr_zip_entry *x = *(const wbr_zip_entry *const *)a, *y = *(const wbr_zip_entry *const *)b;
  return x->header_offset < y->header_offset ? -1 : x->header_offset > y->header_offset;
}

/* Apply a central header's zip64 extra field (id 1): the 64-bit values of the fields whose
 * 32-bit slot holds 0xFFFFFFFF, in the order usize, csize, offset. */
static int apply_zip64(wbr_zip *z, wbr_zip_entry *e, const uint8_t *x, size_t xlen, bool need_u,
                       bool need_c, bool need_o) {
  bool found = false;
  size_t i = 0;
  while (i + 4 <= xlen) {
    uint16_t id = rd16(x + i), sz = rd16(x + i + 2);
    if (i + 4 + sz > xlen) break; /* a malformed tail of extra data is tolerated, as others do */
    if (id == 1) {
      const uint8_t *p = x + i + 4, *end = p + sz;
      found = true;
      if (need_u) {
        if (end - p < 8) goto short_field;
        e->usize = rd64(p), p += 8;
      }
      if (need_c) {
        if (end - p < 8) goto short_field;
        e->csize = rd64(p), p += 8;
      }
      if (need_o) {
        if (end - p < 8) goto short_field;
        e->header_offset = rd64(p), p += 8;
      }
      break;
    }
    i += 4 + (size_t)sz;
  }
  if ((need_u || need_c || need_o) && !found)
    return ZFAIL(z, HELP_DAMAGED, "zip entry '%s': sizes need a zip64 extra field, which is missing",
                 e->name);
  return 0;
short_field:
  return ZFAIL(z, HELP_DAMAGED, "zip entry '%s': zip64 extra field is too short", e->name);
}

static int read_central(wbr_zip *z, uint64_t cd_off, uint64_t cd_size, uint64_t count,
                        uint64_t cd_limit) {
  if (cd_off > cd_limit || cd_size > cd_limit - cd_off)
    return ZFAIL(z, HELP_DAMAGED,
                 "zip central directory (offset %llu, %llu bytes) lies outside the archive "
                 "(%llu bytes before its end record)",
                 (unsigned long long)cd_off, (unsigned long long)cd_size,
                 (unsigned long long)cd_limit);
  if (count > cd_size / CENTRAL_SIZE)
    return ZFAIL(z, HELP_DAMAGED, "zip end record claims %llu entries in a %llu-byte central directory",
                 (unsigned long long)count, (unsigned long long)cd_size);
  z->e = calloc(count ? (size_t)count : 1, sizeof *z->e);
  if (!z->e) return wbr_oom_file(z->ctx, z->path);
  const uint8_t *p = z->bytes + cd_off, *end = p + cd_size;
  for (uint64_t k = 0; k < count; k++) {
    if (end - p < CENTRAL_SIZE || rd32(p) != SIG_CENTRAL)
      return ZFAIL(z, HELP_DAMAGED, "zip central directory entry %llu is malformed (bad signature "
                   "or truncated)", (unsigned long long)k);
    uint16_t flags = rd16(p + 8), method = rd16(p + 10);
    size_t nlen = rd16(p + 28), xlen = rd16(p + 30), clen = rd16(p + 32);
    uint16_t disk = rd16(p + 34);
    if ((size_t)(end - p) - CENTRAL_SIZE < nlen + xlen + clen)
      return ZFAIL(z, HELP_DAMAGED, "zip central directory entry %llu runs past the directory's end",
                   (unsigned long long)k);
    wbr_zip_entry *e = &z->e[z->n];
    const char *name = (const char *)p + CENTRAL_SIZE;
    if (memchr(name, 0, nlen))
      return ZFAIL(z, HELP_DAMAGED, "zip entry %llu has a NUL byte in its name",
                   (unsigned long long)k);
    e->name = wbr_strndup(name, nlen);
    if (!e->name) return wbr_oom_file(z->ctx, z->path);
    e->name_len = nlen;
    z->n++;
    e->method = method;
    e->crc32 = rd32(p + 16);
    e->csize = rd32(p + 20);
    e->usize = rd32(p + 24);
    e->header_offset = rd32(p + 42);
    int rc = apply_zip64(z, e, p + CENTRAL_SIZE + nlen, xlen, e->usize == 0xFFFFFFFFu,
                         e->csize == 0xFFFFFFFFu, e->header_offset == 0xFFFFFFFFu);
    if (rc) return rc;
    if (flags & FLAG_ENCRYPTED)
      return ZFAIL(z, "decrypt the archive first", "zip entry '%s' is encrypted", e->name);
    if (disk != 0 && disk != 0xFFFF)
      return ZFAIL(z, "join the parts into one archive", "zip entry '%s' is on disk %u of a "
                   "multi-part archive", e->name, disk);
    if (method != WBR_ZIP_STORED && method != WBR_ZIP_DEFLATED)
      return ZFAIL(z, "re-create the archive with stored or deflated entries",
                   "zip entry '%s' uses compression method %u; only stored (0) and deflated (8) "
                   "are supported", e->name, method);
    if (method == WBR_ZIP_STORED && e->csize != e->usize)
      return ZFAIL(z, HELP_DAMAGED, "zip entry '%s' is stored but its sizes differ (%llu stored, "
                   "%llu uncompressed)", e->name, (unsigned long long)e->csize,
                   (unsigned long long)e->usize);
    size_t old;
    int r = wbr_map_put(&z->index, e->name, z->n - 1, &old);
    if (r < 0) return wbr_oom_file(z->ctx, z->path);
    if (r == 1)
      return ZFAIL(z, HELP_DAMAGED, "zip entry name '%s' appears twice", e->name);
    p += CENTRAL_SIZE + nlen + xlen + clen;
  }
  return 0;
}

/* Read each local header, find where the data starts, check that the data lies before the
 * central directory and that no two entries overlap. */
static int read_locals(wbr_zip *z, uint64_t cd_off) {
  for (size_t i = 0; i < z->n; i++) {
    wbr_zip_entry *e = &z->e[i];
    if (e->header_offset > cd_off || cd_off - e->header_offset < LOCAL_SIZE)
      return ZFAIL(z, HELP_DAMAGED, "zip entry '%s': local header offset %llu is outside the "
                   "archive's entry area (%llu bytes)", e->name,
                   (unsigned long long)e->header_offset, (unsigned long long)cd_off);
    const uint8_t *h = z->bytes + e->header_offset;
    if (rd32(h) != SIG_LOCAL)
      return ZFAIL(z, HELP_DAMAGED, "zip entry '%s': no local header at offset %llu", e->name,
                   (unsigned long long)e->header_offset);
    uint64_t nlen = rd16(h + 26), xlen = rd16(h + 28);
    uint64_t data = e->header_offset + LOCAL_SIZE + nlen + xlen;
    if (data > cd_off || e->csize > cd_off - data)
      return ZFAIL(z, HELP_DAMAGED, "zip entry '%s': its %llu bytes at offset %llu run past the "
                   "entry area (%llu bytes)", e->name, (unsigned long long)e->csize,
                   (unsigned long long)data, (unsigned long long)cd_off);
    if (nlen != e->name_len || memcmp(h + LOCAL_SIZE, e->name, e->name_len) != 0)
      return ZFAIL(z, HELP_DAMAGED, "zip entry '%s': the local header names another file",
                   e->name);
    e->data_offset = data;
  }
  if (z->n < 2) return 0;
  wbr_zip_entry **order = malloc(z->n * sizeof *order);
  if (!order) return wbr_oom_file(z->ctx, z->path);
  for (size_t i = 0; i < z->n; i++) order[i] = &z->e[i];
  qsort(order, z->n, sizeof *order, entry_cmp_offset);
  int rc = 0;
  for (size_t i = 0; i + 1 < z->n && !rc; i++) {
    if (order[i]->data_offset + order[i]->csize > order[i + 1]->header_offset)
      rc = ZFAIL(z, HELP_DAMAGED, "zip entries '%s' and '%s' overlap", order[i]->name,
                 order[i + 1]->name);
  }
  free(order);
  return rc;
}

int wbr_zip_open(wbr_zip **out, wbr_ctx *ctx, const char *path, const char *what,
                 const uint8_t *bytes, size_t len) {
  if (!out) return WBR_EUSAGE;
  *out = NULL;
  wbr_zip *z = calloc(1, sizeof *z);
  if (!z) return wbr_oom_file(ctx, path);
  z->ctx = ctx;
  z->path = path;
  z->what = what ? what : "zip archive";
  z->bytes = bytes;
  z->len = len;
  wbr_map_init(&z->index);
  size_t end = 0;
  int rc = find_end(z, &end);
  if (rc) goto fail;
  const uint8_t *r = bytes + end;
  uint64_t disk = rd16(r + 4), cd_disk = rd16(r + 6), n_disk = rd16(r + 8), count = rd16(r + 10);
  uint64_t cd_size = rd32(r + 12), cd_off = rd32(r + 16);
  uint64_t cd_limit = end;
  /* A zip64 locator sits right before the end record when the archive needs 64-bit fields. */
  if (end >= LOC64_SIZE && rd32(bytes + end - LOC64_SIZE) == SIG_LOC64) {
    const uint8_t *loc = bytes + end - LOC64_SIZE;
    uint64_t off64 = rd64(loc + 8);
    if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1) {
      rc = ZFAIL(z, "join the parts into one archive", "%s is a multi-part zip archive", z->what);
      goto fail;
    }
    if (off64 > end - LOC64_SIZE || end - LOC64_SIZE - off64 < END64_SIZE ||
        rd32(bytes + off64) != SIG_END64) {
      rc = ZFAIL(z, HELP_DAMAGED, "%s: the zip64 end record is missing or outside the archive",
                 z->what);
      goto fail;
    }
    const uint8_t *r64 = bytes + off64;
    disk = rd32(r64 + 16), cd_disk = rd32(r64 + 20), n_disk = rd64(r64 + 24);
    count = rd64(r64 + 32), cd_size = rd64(r64 + 40), cd_off = rd64(r64 + 48);
    cd_limit = off64;
  }
  if (disk != 0 || cd_disk != 0 || n_disk != count) {
    rc = ZFAIL(z, "join the parts into one archive", "%s is a multi-part zip archive", z->what);
    goto fail;
  }
  rc = read_central(z, cd_off, cd_size, count, cd_limit);
  if (!rc) rc = read_locals(z, cd_off);
  if (rc) goto fail;
  *out = z;
  return 0;
fail:
  wbr_zip_free(z);
  return rc;
}

size_t wbr_zip_count(const wbr_zip *z) { return z ? z->n : 0; }

const wbr_zip_entry *wbr_zip_entry_at(const wbr_zip *z, size_t i) {
  return z && i < z->n ? &z->e[i] : NULL;
}

const wbr_zip_entry *wbr_zip_find(const wbr_zip *z, const char *name) {
  size_t i;
  if (!z || !name || !wbr_map_get(&z->index, name, &i)) return NULL;
  return &z->e[i];
}

int wbr_zip_stored(const wbr_zip *z, const wbr_zip_entry *e, const uint8_t **data) {
  *data = NULL;
  if (e->method != WBR_ZIP_STORED)
    return ZFAIL(z, "re-save the archive without compression (PyTorch and numpy.savez store "
                 "entries uncompressed)",
                 "zip entry '%s' is compressed (deflated); it must be stored", e->name);
  *data = z->bytes + e->data_offset;
  return 0;
}

const uint8_t *wbr_zip_data(const wbr_zip *z, const wbr_zip_entry *e) {
  return z->bytes + e->data_offset;
}

int wbr_zip_check_crc(const wbr_zip *z, const wbr_zip_entry *e) {
  const uint8_t *p;
  int rc = wbr_zip_stored(z, e, &p);
  if (rc) return rc;
  uint32_t c = crc_update(0, p, (size_t)e->usize);
  if (c != e->crc32)
    return ZFAIL(z, HELP_DAMAGED, "zip entry '%s': CRC-32 mismatch (the data is corrupt)",
                 e->name);
  return 0;
}

/* Where the next inflated bytes go: the part of [skip, skip+n) still to fill, or scratch while
 * skipping. */
static void inflate_out(z_stream *s, uint64_t produced, uint64_t skip, uint8_t *dst, uint64_t n,
                        uint8_t *scratch, size_t scratch_len) {
  if (produced < skip) {
    uint64_t k = skip - produced;
    s->next_out = scratch;
    s->avail_out = (uInt)(k < scratch_len ? k : scratch_len);
  } else {
    uint64_t k = skip + n - produced;
    s->next_out = dst + (produced - skip);
    s->avail_out = (uInt)(k < ZCHUNK ? k : ZCHUNK);
  }
}

int wbr_zip_inflate(wbr_ctx *ctx, const char *path, const char *name, const wbr_zip_entry *e,
                    const uint8_t *src, uint64_t skip, uint8_t *dst, uint64_t n) {
  uint64_t want;
  if (!wbr_add_u64(skip, n, &want) || want > e->usize)
    return wbr_fail(ctx, WBR_EINTERNAL, path, "please report this with the file",
                    "internal error: zip entry '%s': bytes %llu+%llu asked of %llu", name,
                    (unsigned long long)skip, (unsigned long long)n, (unsigned long long)e->usize);
  bool whole = want == e->usize;
  uint8_t scratch[16384];
  z_stream s;
  memset(&s, 0, sizeof s);
  if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return wbr_oom_file(ctx, path);
  uint64_t in_left = e->csize, produced = 0;
  uLong crc = 0;
  int zr = Z_OK;
  while (produced < want || whole) {
    if (s.avail_in == 0 && in_left) {
      size_t k = in_left < ZCHUNK ? (size_t)in_left : ZCHUNK;
      s.next_in = (Bytef *)(uintptr_t)src;
      s.avail_in = (uInt)k;
      src += k;
      in_left -= k;
    }
    if (produced < want) inflate_out(&s, produced, skip, dst, n, scratch, sizeof scratch);
    else s.next_out = scratch, s.avail_out = 1; /* at the end: anything more is too much */
    const uint8_t *out0 = s.next_out;
    uInt before_in = s.avail_in, before_out = s.avail_out;
    zr = inflate(&s, Z_NO_FLUSH);
    size_t got = (size_t)(s.next_out - out0);
    if (whole) crc = crc32(crc, out0, (uInt)got);
    produced += got;
    if (produced > want) zr = Z_DATA_ERROR; /* more data than the stated size */
    if (zr == Z_STREAM_END || zr == Z_DATA_ERROR || zr == Z_MEM_ERROR || zr == Z_NEED_DICT) break;
    if (before_in == s.avail_in && before_out == s.avail_out && s.avail_in == 0 && in_left == 0) {
      zr = Z_DATA_ERROR; /* truncated stream */
      break;
    }
  }
  inflateEnd(&s);
  if (zr == Z_MEM_ERROR) return wbr_oom_file(ctx, path);
  if (!whole && produced == want && zr != Z_DATA_ERROR && zr != Z_NEED_DICT) return 0;
  if (zr != Z_STREAM_END)
    return wbr_fail(ctx, WBR_EFORMAT, path, HELP_DAMAGED,
                    "zip entry '%s': the deflated data is corrupt or does not match its stated "
                    "size", name);
  if (produced != e->usize)
    return wbr_fail(ctx, WBR_EFORMAT, path, HELP_DAMAGED,
                    "zip entry '%s': inflates to %llu bytes, the directory says %llu", name,
                    (unsigned long long)produced, (unsigned long long)e->usize);
  if ((uint32_t)crc != e->crc32)
    return wbr_fail(ctx, WBR_EFORMAT, path, HELP_DAMAGED,
                    "zip entry '%s': CRC-32 mismatch (the data is corrupt)", name);
  return 0;
}

int wbr_zip_extract(const wbr_zip *z, const wbr_zip_entry *e, uint8_t *dst, size_t dst_len) {
  if (e->usize > dst_len)
    return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG,
                    "zip entry '%s': %llu bytes do not fit the %zu-byte buffer", e->name,
                    (unsigned long long)e->usize, dst_len);
  const uint8_t *src = z->bytes + e->data_offset;
  if (e->method != WBR_ZIP_STORED)
    return wbr_zip_inflate(z->ctx, z->path, e->name, e, src, 0, dst, e->usize);
  memcpy(dst, src, (size_t)e->usize);
  if (crc_update(0, dst, (size_t)e->usize) != e->crc32)
    return ZFAIL(z, HELP_DAMAGED, "zip entry '%s': CRC-32 mismatch (the data is corrupt)",
                 e->name);
  return 0;
}

/* ---- Writer -------------------------------------------------------------------------------- */

typedef struct zw_entry {
  char *name;
  uint16_t method, flags;
  uint32_t crc;
  uint64_t csize, usize, offset;
} zw_entry;

struct wbr_zipw {
  wbr_ctx *ctx;
  const char *path;
  wbr_zip_emit_fn emit;
  void *sink;
  uint64_t start, off;
  zw_entry *e;
  size_t n, cap;
  bool open, finished, failed;
  /* the entry being streamed */
  bool zip64;
  uint64_t size, got;
  z_stream zs;
  bool deflating;
  uint8_t *zbuf;
};

#define ZBUF 65536

static int zw_emit(wbr_zipw *z, const void *p, size_t n) {
  if (!n) return 0;
  int rc = z->emit(z->sink, p, n);
  if (rc) {
    z->failed = true;
    return rc;
  }
  z->off += n;
  return 0;
}

int wbr_zipw_new(wbr_zipw **out, wbr_ctx *ctx, const char *path, wbr_zip_emit_fn emit, void *sink,
                 uint64_t start) {
  if (!out || !emit) return WBR_EUSAGE;
  wbr_zipw *z = calloc(1, sizeof *z);
  *out = z;
  if (!z) return wbr_oom_file(ctx, path);
  z->ctx = ctx;
  z->path = path;
  z->emit = emit;
  z->sink = sink;
  z->start = start;
  return 0;
}

void wbr_zipw_free(wbr_zipw *z) {
  if (!z) return;
  for (size_t i = 0; i < z->n; i++) free(z->e[i].name);
  free(z->e);
  if (z->deflating) deflateEnd(&z->zs);
  free(z->zbuf);
  free(z);
}

uint64_t wbr_zipw_offset(const wbr_zipw *z) { return z->off; }

static int zw_state(wbr_zipw *z, bool want_open) {
  if (z->failed) return WBR_EIO;
  if (z->finished || z->open != want_open)
    return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG, "zip writer used out of order (%s)",
                    z->finished ? "already finished" : z->open ? "an entry is open" : "no open entry");
  return 0;
}

/* Write a local header. known: crc and sizes are final (else a data descriptor follows). */
static int zw_local(wbr_zipw *z, const char *name, int method, unsigned align, bool known,
                    uint32_t crc, uint64_t csize, uint64_t usize, bool zip64) {
  if (method != WBR_ZIP_STORED && method != WBR_ZIP_DEFLATED)
    return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG, "zip writer: unknown method %d", method);
  if (align & (align - 1))
    return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG, "zip writer: alignment %u is not a power "
                    "of two", align);
  size_t nlen = strlen(name);
  if (nlen > 0xFFFF)
    return wbr_fail(z->ctx, WBR_EFORMAT, z->path, "use shorter tensor names",
                    "zip entry name is %zu bytes, more than 65535", nlen);
  if (!wbr_grow(&z->e, &z->cap, z->n + 1, sizeof *z->e, 16)) return wbr_oom_file(z->ctx, z->path);
  zw_entry *e = &z->e[z->n];
  memset(e, 0, sizeof *e);
  e->name = wbr_strdup(name);
  if (!e->name) return wbr_oom_file(z->ctx, z->path);
  z->n++;
  e->method = (uint16_t)method;
  e->flags = FLAG_UTF8 | (known ? 0 : FLAG_DESCRIPTOR);
  e->offset = z->off;
  e->crc = crc;
  e->csize = csize;
  e->usize = usize;

  size_t xlen = zip64 ? 20 : 0;
  size_t pad = 0;
  if (method == WBR_ZIP_STORED && align > 1) {
    uint64_t data = z->start + z->off + LOCAL_SIZE + nlen + xlen;
    pad = (size_t)((align - data % align) % align);
    /* The padding is an extra field of its own: 4 bytes of header, then filler. */
    while (pad && pad < 4) pad += align;
  }
  uint8_t h[LOCAL_SIZE + 20];
  wr32(h, SIG_LOCAL);
  wr16(h + 4, zip64 ? 45 : 20);
  wr16(h + 6, e->flags);
  wr16(h + 8, (uint16_t)method);
  wr16(h + 10, 0);      /* time */
  wr16(h + 12, 0x21);   /* date: 1980-01-01 */
  wr32(h + 14, known ? crc : 0);
  wr32(h + 18, zip64 ? 0xFFFFFFFFu : known ? (uint32_t)csize : 0);
  wr32(h + 22, zip64 ? 0xFFFFFFFFu : known ? (uint32_t)usize : 0);
  wr16(h + 26, (uint16_t)nlen);
  wr16(h + 28, (uint16_t)(xlen + pad));
  int rc = zw_emit(z, h, LOCAL_SIZE);
  if (!rc) rc = zw_emit(z, name, nlen);
  if (!rc && zip64) {
    uint8_t x[20];
    wr16(x, 1);
    wr16(x + 2, 16);
    wr64(x + 4, known ? usize : 0);
    wr64(x + 12, known ? csize : 0);
    rc = zw_emit(z, x, 20);
  }
  if (!rc && pad) {
    uint8_t fill[4 + 4096];
    if (pad > sizeof fill)
      return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG, "zip writer: alignment too large");
    wr16(fill, 0x4246); /* "FB", the id PyTorch uses for its padding */
    wr16(fill + 2, (uint16_t)(pad - 4));
    memset(fill + 4, 'Z', pad - 4);
    rc = zw_emit(z, fill, pad);
  }
  return rc;
}

static int deflate_chunk(wbr_zipw *z, const uint8_t *p, size_t n, int flush) {
  do {
    size_t k = n < ZCHUNK ? n : ZCHUNK;
    z->zs.next_in = (Bytef *)(uintptr_t)p;
    z->zs.avail_in = (uInt)k;
    p += k;
    n -= k;
    int f = n ? Z_NO_FLUSH : flush;
    int zr;
    do {
      z->zs.next_out = z->zbuf;
      z->zs.avail_out = ZBUF;
      zr = deflate(&z->zs, f);
      if (zr == Z_STREAM_ERROR)
        return wbr_fail(z->ctx, WBR_EINTERNAL, z->path, HELP_BUG, "zlib deflate failed");
      size_t out = ZBUF - z->zs.avail_out;
      int rc = zw_emit(z, z->zbuf, out);
      if (rc) return rc;
    } while (z->zs.avail_out == 0 || (f == Z_FINISH && zr != Z_STREAM_END));
  } while (n);
  return 0;
}

int wbr_zipw_add(wbr_zipw *z, const char *name, const void *bytes, size_t len, int method,
                 unsigned align) {
  int rc = zw_state(z, false);
  if (rc) return rc;
  if (method == WBR_ZIP_DEFLATED) {
    /* The compressed size is not known before compressing: stream it. */
    rc = wbr_zipw_begin(z, name, len, method, align);
    if (!rc) rc = wbr_zipw_data(z, bytes, len);
    if (!rc) rc = wbr_zipw_end(z);
    return rc;
  }
  uint32_t crc = crc_update(0, bytes, len);
  bool zip64 = len >= 0xFFFFFFFFu;
  rc = zw_local(z, name, method, align, true, crc, len, len, zip64);
  if (!rc) rc = zw_emit(z, bytes, len);
  return rc;
}

int wbr_zipw_begin(wbr_zipw *z, const char *name, uint64_t size, int method, unsigned align) {
  int rc = zw_state(z, false);
  if (rc) return rc;
  /* Deflate can grow incompressible data slightly; leave room so the decision made now holds. */
  z->zip64 = method == WBR_ZIP_DEFLATED ? size >= 0xFF000000u : size >= 0xFFFFFFFFu;
  rc = zw_local(z, name, method, align, false, 0, 0, size, z->zip64);
  if (rc) return rc;
  z->size = size;
  z->got = 0;
  if (method == WBR_ZIP_DEFLATED) {
    if (!z->zbuf && !(z->zbuf = malloc(ZBUF))) return wbr_oom_file(z->ctx, z->path);
    memset(&z->zs, 0, sizeof z->zs);
    if (deflateInit2(&z->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      return wbr_oom_file(z->ctx, z->path);
    z->deflating = true;
  }
  z->open = true;
  return 0;
}

int wbr_zipw_data(wbr_zipw *z, const void *bytes, size_t len) {
  int rc = zw_state(z, true);
  if (rc) return rc;
  zw_entry *e = &z->e[z->n - 1];
  if (len > z->size - z->got)
    return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG, "zip entry '%s': more than the announced "
                    "%llu bytes", e->name, (unsigned long long)z->size);
  e->crc = crc_update(e->crc, bytes, len);
  z->got += len;
  if (z->deflating) return len ? deflate_chunk(z, bytes, len, Z_NO_FLUSH) : 0;
  return zw_emit(z, bytes, len);
}

int wbr_zipw_data_external(wbr_zipw *z, uint64_t len, uint32_t crc) {
  int rc = zw_state(z, true);
  if (rc) return rc;
  zw_entry *e = &z->e[z->n - 1];
  if (z->deflating)
    return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG, "zip entry '%s': external data must be "
                    "stored, not deflated", e->name);
  if (len > z->size - z->got)
    return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG, "zip entry '%s': more than the announced "
                    "%llu bytes", e->name, (unsigned long long)z->size);
  e->crc = z->got ? (uint32_t)crc32_combine(e->crc, crc, (z_off_t)len) : crc;
  z->got += len;
  z->off += len;
  return 0;
}

uint32_t wbr_zip_crc32(uint32_t crc, const void *p, size_t n) { return crc_update(crc, p, n); }

int wbr_zipw_end(wbr_zipw *z) {
  int rc = zw_state(z, true);
  if (rc) return rc;
  zw_entry *e = &z->e[z->n - 1];
  if (z->got != z->size)
    return wbr_fail(z->ctx, WBR_EUSAGE, z->path, HELP_BUG, "zip entry '%s': got %llu of %llu bytes",
                    e->name, (unsigned long long)z->got, (unsigned long long)z->size);
  if (z->deflating) {
    rc = deflate_chunk(z, (const uint8_t *)"", 0, Z_FINISH);
    e->csize = z->zs.total_out;
    deflateEnd(&z->zs);
    z->deflating = false;
    if (rc) return rc;
  } else {
    e->csize = z->size;
  }
  if (!z->zip64 && e->csize >= 0xFFFFFFFFu)
    return wbr_fail(z->ctx, WBR_EINTERNAL, z->path, HELP_BUG, "zip entry '%s' grew past 4 GiB when "
                    "compressed", e->name);
  uint8_t d[24];
  size_t dl;
  wr32(d, SIG_DESC);
  wr32(d + 4, e->crc);
  if (z->zip64) {
    wr64(d + 8, e->csize);
    wr64(d + 16, e->usize);
    dl = 24;
  } else {
    wr32(d + 8, (uint32_t)e->csize);
    wr32(d + 12, (uint32_t)e->usize);
    dl = 16;
  }
  z->open = false;
  return zw_emit(z, d, dl);
}

int wbr_zipw_finish(wbr_zipw *z) {
  int rc = zw_state(z, false);
  if (rc) return rc;
  uint64_t cd_off = z->off;
  for (size_t i = 0; i < z->n && !rc; i++) {
    zw_entry *e = &z->e[i];
    bool bu = e->usize >= 0xFFFFFFFFu, bc = e->csize >= 0xFFFFFFFFu, bo = e->offset >= 0xFFFFFFFFu;
    size_t xlen = (bu || bc || bo) ? 4 + 8 * (size_t)(bu + bc + bo) : 0;
    size_t nlen = strlen(e->name);
    uint8_t h[CENTRAL_SIZE + 28];
    wr32(h, SIG_CENTRAL);
    wr16(h + 4, 0x0300 | (xlen ? 45 : 20)); /* made by: Unix */
    wr16(h + 6, xlen ? 45 : 20);
    wr16(h + 8, e->flags);
    wr16(h + 10, e->method);
    wr16(h + 12, 0);
    wr16(h + 14, 0x21);
    wr32(h + 16, e->crc);
    wr32(h + 20, bc ? 0xFFFFFFFFu : (uint32_t)e->csize);
    wr32(h + 24, bu ? 0xFFFFFFFFu : (uint32_t)e->usize);
    wr16(h + 28, (uint16_t)nlen);
    wr16(h + 30, (uint16_t)xlen);
    wr16(h + 32, 0);
    wr16(h + 34, 0);
    wr16(h + 36, 0);
    wr32(h + 38, 0100644u << 16); /* a regular file, rw-r--r-- */
    wr32(h + 42, bo ? 0xFFFFFFFFu : (uint32_t)e->offset);
    rc = zw_emit(z, h, CENTRAL_SIZE);
    if (!rc) rc = zw_emit(z, e->name, nlen);
    if (!rc && xlen) {
      uint8_t *x = h, *p = x + 4;
      wr16(x, 1);
      wr16(x + 2, (uint16_t)(xlen - 4));
      if (bu) wr64(p, e->usize), p += 8;
      if (bc) wr64(p, e->csize), p += 8;
      if (bo) wr64(p, e->offset), p += 8;
      rc = zw_emit(z, x, xlen);
    }
  }
  if (rc) return rc;
  uint64_t cd_size = z->off - cd_off;
  bool z64 = z->n >= 0xFFFF || cd_off >= 0xFFFFFFFFu || cd_size >= 0xFFFFFFFFu;
  if (z64) {
    uint64_t end64 = z->off;
    uint8_t r[END64_SIZE + LOC64_SIZE];
    wr32(r, SIG_END64);
    wr64(r + 4, END64_SIZE - 12);
    wr16(r + 12, 0x0300 | 45);
    wr16(r + 14, 45);
    wr32(r + 16, 0);
    wr32(r + 20, 0);
    wr64(r + 24, z->n);
    wr64(r + 32, z->n);
    wr64(r + 40, cd_size);
    wr64(r + 48, cd_off);
    uint8_t *l = r + END64_SIZE;
    wr32(l, SIG_LOC64);
    wr32(l + 4, 0);
    wr64(l + 8, end64);
    wr32(l + 16, 1);
    rc = zw_emit(z, r, sizeof r);
    if (rc) return rc;
  }
  uint8_t r[END_SIZE];
  wr32(r, SIG_END);
  wr16(r + 4, 0);
  wr16(r + 6, 0);
  wr16(r + 8, z->n >= 0xFFFF ? 0xFFFF : (uint16_t)z->n);
  wr16(r + 10, z->n >= 0xFFFF ? 0xFFFF : (uint16_t)z->n);
  wr32(r + 12, cd_size >= 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)cd_size);
  wr32(r + 16, cd_off >= 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)cd_off);
  wr16(r + 20, 0);
  rc = zw_emit(z, r, END_SIZE);
  if (!rc) z->finished = true;
  return rc;
}
