/* util.h — small shared pieces of the library: error reporting into a wbr_ctx, a growable
 * string buffer, a string hash map, and overflow-checked arithmetic. Internal to the library;
 * everything here is hidden from the shared object's symbol table. */
#ifndef WBR_UTIL_H
#define WBR_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightbridge.h"

#if defined(__GNUC__)
#define WBR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define WBR_PRINTF(a, b)
#endif

/* ---- Reporting ---------------------------------------------------------------------------- */

/* Report one error about `file` (may be NULL) and return `code` so callers can write
 *   return wbr_fail(ctx, WBR_EFORMAT, path, "run 'wbr inspect' ...", "tensor '%s': ...", name);
 * `help` (may be NULL) says what to do next. */
int wbr_fail(wbr_ctx *ctx, int code, const char *file, const char *help, const char *fmt, ...)
    WBR_PRINTF(5, 6);
/* Report a fully positioned diagnostic (compiler, plan). Returns code for errors, 0 otherwise. */
int wbr_report(wbr_ctx *ctx, int code, const wbr_diag *d);
/* The one formatter of diagnostics: reports d (as wbr_report) with the message d->message (a
 * prefix, may be NULL) followed by fmt's text, cut at WBR_MSG_MAX - 1 bytes. wbr_fail, the
 * compiler's positioned errors, the VM's and the loaders' all format through it. */
#define WBR_MSG_MAX 1536
int wbr_vreport(wbr_ctx *ctx, int code, const wbr_diag *d, const char *fmt, va_list ap);
/* Shorthands for out of memory and system-call failures (message includes strerror(errno)). */
int wbr_oom(wbr_ctx *ctx);
int wbr_fail_errno(wbr_ctx *ctx, const char *file, const char *what);

/* ---- String buffer ------------------------------------------------------------------------- */

typedef struct wbr_buf {
  char *p;     /* NUL-terminated when len > 0 or after any append */
  size_t len;
  size_t cap;
  bool oom;    /* sticky: an append failed; the contents are incomplete */
} wbr_buf;

void wbr_buf_init(wbr_buf *b);
void wbr_buf_free(wbr_buf *b);
void wbr_buf_put(wbr_buf *b, const void *s, size_t n);
void wbr_buf_puts(wbr_buf *b, const char *s);
void wbr_buf_putc(wbr_buf *b, char c);
void wbr_buf_printf(wbr_buf *b, const char *fmt, ...) WBR_PRINTF(2, 3);
void wbr_buf_vprintf(wbr_buf *b, const char *fmt, va_list ap);
/* Append text from a checkpoint or a .wbc (names, metadata) for a terminal: control characters
 * as \xNN, so they cannot drive the terminal or forge lines; tabs kept if keep_tab. The one
 * escaping of messages, inspect and text plans. */
void wbr_buf_put_clean(wbr_buf *b, const char *s, bool keep_tab);
/* Append s as a JSON string literal (quotes and escapes). */
void wbr_buf_json_str(wbr_buf *b, const char *s);
/* Take ownership of the contents (NULL if oom); the buffer is reset. */
char *wbr_buf_take(wbr_buf *b);

/* ---- Growable arrays ---------------------------------------------------------------------- */

/* Make the heap array at *(T **)arr, of capacity *cap elements of `size` bytes, hold at least
 * `need`: the capacity doubles, starting at `first`. True on success (or when it already
 * holds them); false when out of memory or past SIZE_MAX, with the array and *cap unchanged.
 * Usage: if (!wbr_grow(&v->items, &v->cap, v->n + 1, sizeof *v->items, 16)) return oom; */
bool wbr_grow(void *arr, size_t *cap, size_t need, size_t size, size_t first);

char *wbr_strdup(const char *s);
char *wbr_strndup(const char *s, size_t n);

/* ---- String -> index hash map (open addressing, keys borrowed) --------------------------------- */

typedef struct wbr_map {
  const char **keys;
  uint64_t *hashes; /* of each key, so probes compare hashes before strings */
  size_t *vals;
  size_t cap; /* power of two, or 0 */
  size_t len;
} wbr_map;

void wbr_map_init(wbr_map *m);
void wbr_map_free(wbr_map *m);
/* Insert key -> val. Returns 0, 1 if key was already present (*old set, nothing changed), or -1
 * when out of memory. `key` must stay alive as long as the map. */
int wbr_map_put(wbr_map *m, const char *key, size_t val, size_t *old);
/* Remove key; returns 1 if it was there, else 0. */
int wbr_map_del(wbr_map *m, const char *key);
/* Empty the map, keeping (or growing to) room for n keys without rehashing. 0 or -1 (OOM). */
int wbr_map_reset(wbr_map *m, size_t n);
/* Returns 1 and sets *val if present, else 0. */
int wbr_map_get(const wbr_map *m, const char *key, size_t *val);
uint64_t wbr_hash(const char *s, size_t n);

/* ---- Checked arithmetic -------------------------------------------------------------------- */

static inline bool wbr_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}
static inline bool wbr_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
  return !__builtin_add_overflow(a, b, out);
}

/* Render a shape as "[2, 3]" into buf (always NUL-terminated). */
void wbr_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

/* Human-readable byte count ("1.5 MiB") into buf. */
void wbr_bytes_str(char *buf, size_t n, uint64_t bytes);

/* ---- dtypes and shapes (dtype.c): what the planner and the kernels both need ---------- */

/* True for every floating-point dtype: F64, F32, F16, BF16 and the two F8s. */
bool wbr_dtype_is_float(wbr_dtype dt);

/* True if wbr_cast converts from -> to: any dtype to itself (a copy), and every pair of F64,
 * F32, F16 and BF16. Integer, bool and F8 conversions are not provided: the planner refuses
 * them with its own diagnostic. */
bool wbr_cast_supported(wbr_dtype from, wbr_dtype to);

/* out[i] = shape[perm[i]]: the shape of the permuted tensor. */
void wbr_permute_shape(int64_t *out, int ndim, const int64_t *shape, const int *perm);

#endif
