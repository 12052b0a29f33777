/* util.c — error reporting into a context, the string buffer, the string hash map.
 * The context is the only place diagnostics go: the library never prints. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wbr_ctx {
  wbr_diag_fn fn;
  void *ud;
  char last[1024];
  size_t errors;
};

int wbr_ctx_new(wbr_ctx **out, wbr_diag_fn fn, void *userdata) {
  if (!out) return WBR_EUSAGE;
  wbr_ctx *c = calloc(1, sizeof *c);
  *out = c;
  if (!c) return WBR_ENOMEM;
  c->fn = fn;
  c->ud = userdata;
  return 0;
}

void wbr_ctx_free(wbr_ctx *ctx) { free(ctx); }

const char *wbr_ctx_last_error(const wbr_ctx *ctx) { return ctx ? ctx->last : ""; }

size_t wbr_ctx_error_count(const wbr_ctx *ctx) { return ctx ? ctx->errors : 0; }

void wbr_free(void *p) { free(p); }

const char *wbr_version(void) { return WBR_VERSION; }

int wbr_report(wbr_ctx *ctx, int code, const wbr_diag *d) {
  if (!ctx) return d->severity == WBR_SEV_ERROR ? code : 0;
  if (d->severity == WBR_SEV_ERROR) {
    ctx->errors++;
    snprintf(ctx->last, sizeof ctx->last, "%s", d->message ? d->message : "");
  }
  if (ctx->fn) ctx->fn(ctx->ud, d);
  return d->severity == WBR_SEV_ERROR ? code : 0;
}

int wbr_vreport(wbr_ctx *ctx, int code, const wbr_diag *d, const char *fmt, va_list ap) {
  char msg[WBR_MSG_MAX];
  int pre = snprintf(msg, sizeof msg, "%s", d->message ? d->message : "");
  if (pre >= 0 && (size_t)pre < sizeof msg) vsnprintf(msg + pre, sizeof msg - (size_t)pre, fmt, ap);
  wbr_diag full = *d;
  full.message = msg;
  return wbr_report(ctx, code, &full);
}

int wbr_fail(wbr_ctx *ctx, int code, const char *file, const char *help, const char *fmt, ...) {
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = file, .help = help};
  va_list ap;
  va_start(ap, fmt);
  int rc = wbr_vreport(ctx, code, &d, fmt, ap);
  va_end(ap);
  return rc;
}

/* Most allocations are small; one that fails means the machine or the process's limit is
 * exhausted. Callers that know the file or the size report their own, more precise message. */
int wbr_oom(wbr_ctx *ctx) {
  return wbr_fail(ctx, WBR_ENOMEM, NULL,
                  "free memory or raise this process's limit (ulimit -v), then run again",
                  "out of memory");
}

/* What a user can do about the common ways the system refuses a file. */
static const char *errno_help(int e) {
  switch (e) {
  case ENOENT: return "check the path: no file or directory of that name exists";
  case EACCES: case EPERM: return "check the file's permissions (and those of its directories)";
  case ENOMEM: return "free memory or raise this process's limit (ulimit -v), then try again";
  case ENOSPC: case EDQUOT: return "free some space, or choose another directory";
  case EMFILE: case ENFILE: return "close other files or raise the open-file limit (ulimit -n)";
  case ENOTDIR: case EISDIR: case ENAMETOOLONG: case ELOOP: return "check the path";
  case EROFS: return "the file system is read-only: choose another directory";
  default: return "check the file and the file system, then try again";
  }
}

int wbr_fail_errno(wbr_ctx *ctx, const char *file, const char *what) {
  int e = errno;
  return wbr_fail(ctx, WBR_EIO, file, errno_help(e), "%s: %s", what, strerror(e));
}

/* Text from checkpoints (tensor names) reaches messages: control characters are shown as \xNN
 * so they cannot drive the terminal or forge lines; so are the C1 controls U+0080-U+009F
 * (UTF-8 C2 80-9F), which terminals may take as CSI or OSC. Tabs are kept in source lines. */
void wbr_buf_put_clean(wbr_buf *b, const char *s, bool keep_tab) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s, d = (unsigned char)s[1];
    if (c == 0xC2 && d >= 0x80 && d <= 0x9F) {
      wbr_buf_printf(b, "\\xc2\\x%02x", d);
      s++;
    } else if ((c < 0x20 && !(keep_tab && c == '\t')) || c == 0x7f) wbr_buf_printf(b, "\\x%02x", c);
    else wbr_buf_putc(b, (char)c);
  }
}

char *wbr_diag_format(const wbr_diag *d) {
  static const char *const sev[] = {"error", "warning", "note"};
  wbr_buf b;
  wbr_buf_init(&b);
  if (d->file) {
    wbr_buf_puts(&b, d->file);
    if (d->line > 0) {
      wbr_buf_printf(&b, ":%d", d->line);
      if (d->col > 0) wbr_buf_printf(&b, ":%d", d->col);
    }
    wbr_buf_puts(&b, ": ");
  }
  unsigned s = (unsigned)d->severity < 3 ? (unsigned)d->severity : 0;
  wbr_buf_printf(&b, "%s: ", sev[s]);
  wbr_buf_put_clean(&b, d->message ? d->message : "", false);
  wbr_buf_putc(&b, '\n');
  if (d->source_line && d->col > 0) {
    wbr_buf_puts(&b, "  ");
    wbr_buf_put_clean(&b, d->source_line, true);
    wbr_buf_puts(&b, "\n  ");
    /* Keep tabs so the caret lines up under tab-indented source. */
    for (int i = 0; i < d->col - 1 && d->source_line[i]; i++)
      wbr_buf_putc(&b, d->source_line[i] == '\t' ? '\t' : ' ');
    wbr_buf_putc(&b, '^');
    for (int i = 1; i < d->span; i++) wbr_buf_putc(&b, '~');
    wbr_buf_putc(&b, '\n');
  }
  if (d->help) {
    wbr_buf_puts(&b, "  help: ");
    wbr_buf_put_clean(&b, d->help, false);
    wbr_buf_putc(&b, '\n');
  }
  return wbr_buf_take(&b);
}

/* ---- buffer ---- */

void wbr_buf_init(wbr_buf *b) { memset(b, 0, sizeof *b); }

void wbr_buf_free(wbr_buf *b) {
  free(b->p);
  wbr_buf_init(b);
}

static bool buf_grow(wbr_buf *b, size_t extra) {
  if (b->oom) return false;
  if (b->len + extra + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) {
      b->oom = true;
      return false;
    }
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

void wbr_buf_put(wbr_buf *b, const void *s, size_t n) {
  if (!buf_grow(b, n)) return;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

void wbr_buf_puts(wbr_buf *b, const char *s) { wbr_buf_put(b, s, strlen(s)); }

void wbr_buf_putc(wbr_buf *b, char c) { wbr_buf_put(b, &c, 1); }

void wbr_buf_vprintf(wbr_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0 || !buf_grow(b, (size_t)n)) return;
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void wbr_buf_printf(wbr_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  wbr_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void wbr_buf_json_str(wbr_buf *b, const char *s) {
  wbr_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': wbr_buf_puts(b, "\\\""); break;
    case '\\': wbr_buf_puts(b, "\\\\"); break;
    case '\n': wbr_buf_puts(b, "\\n"); break;
    case '\r': wbr_buf_puts(b, "\\r"); break;
    case '\t': wbr_buf_puts(b, "\\t"); break;
    default:
      if (*p < 0x20)
        wbr_buf_printf(b, "\\u%04x", *p);
      else
        wbr_buf_putc(b, (char)*p);
    }
  }
  wbr_buf_putc(b, '"');
}

char *wbr_buf_take(wbr_buf *b) {
  char *p = NULL;
  if (!b->oom) {
    p = b->p ? b->p : calloc(1, 1);
    b->p = NULL;
  }
  wbr_buf_free(b);
  return p;
}

/* ---- growable arrays ---- */

bool wbr_grow(void *arr, size_t *cap, size_t need, size_t size, size_t first) {
  if (need <= *cap) return true;
  size_t n = *cap ? *cap : (first ? first : 1);
  while (n < need) {
    if (n > SIZE_MAX / 2) return false;
    n *= 2;
  }
  if (size && n > SIZE_MAX / size) return false;
  /* arr is the address of some T *: read and write it as bytes, not through a void ** lvalue. */
  void *old, *p;
  memcpy(&old, arr, sizeof old);
  p = realloc(old, n * size);
  if (!p) return false;
  memcpy(arr, &p, sizeof p);
  *cap = n;
  return true;
}

char *wbr_strdup(const char *s) { return wbr_strndup(s, strlen(s)); }

char *wbr_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* ---- map ---- */

uint64_t wbr_hash(const char *s, size_t n) {
  /* FNV-1a: fine for tensor names, which are short and varied. */
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

void wbr_map_init(wbr_map *m) { memset(m, 0, sizeof *m); }

void wbr_map_free(wbr_map *m) {
  free(m->keys);
  free(m->hashes);
  free(m->vals);
  wbr_map_init(m);
}

static size_t map_slot(const wbr_map *m, const char *key, uint64_t h) {
  size_t mask = m->cap - 1;
  size_t i = (size_t)h & mask;
  while (m->keys[i] && (m->hashes[i] != h || strcmp(m->keys[i], key) != 0)) i = (i + 1) & mask;
  return i;
}

static int map_alloc(wbr_map *m, size_t cap) {
  m->keys = calloc(cap, sizeof *m->keys);
  m->hashes = malloc(cap * sizeof *m->hashes);
  m->vals = malloc(cap * sizeof *m->vals);
  if (!m->keys || !m->hashes || !m->vals) {
    wbr_map_free(m);
    return -1;
  }
  m->cap = cap;
  return 0;
}

static int map_resize(wbr_map *m, size_t cap) {
  wbr_map n;
  wbr_map_init(&n);
  if (map_alloc(&n, cap) < 0) return -1;
  n.len = m->len;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = map_slot(&n, m->keys[i], m->hashes[i]);
    n.keys[j] = m->keys[i];
    n.hashes[j] = m->hashes[i];
    n.vals[j] = m->vals[i];
  }
  wbr_map_free(m);
  *m = n;
  return 0;
}

int wbr_map_put(wbr_map *m, const char *key, size_t val, size_t *old) {
  if ((m->len + 1) * 4 > m->cap * 3 && map_resize(m, m->cap ? m->cap * 2 : 16) < 0) return -1;
  uint64_t h = wbr_hash(key, strlen(key));
  size_t i = map_slot(m, key, h);
  if (m->keys[i]) {
    if (old) *old = m->vals[i];
    return 1;
  }
  m->keys[i] = key;
  m->hashes[i] = h;
  m->vals[i] = val;
  m->len++;
  return 0;
}

int wbr_map_del(wbr_map *m, const char *key) {
  if (!m->cap) return 0;
  size_t mask = m->cap - 1, i = map_slot(m, key, wbr_hash(key, strlen(key)));
  if (!m->keys[i]) return 0;
  /* Backward-shift deletion: move later entries of the probe run into the hole when their home
   * slot allows it, so lookups never need tombstones. */
  for (size_t j = i;;) {
    j = (j + 1) & mask;
    if (!m->keys[j]) break;
    size_t home = (size_t)m->hashes[j] & mask;
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    m->keys[i] = m->keys[j];
    m->hashes[i] = m->hashes[j];
    m->vals[i] = m->vals[j];
    i = j;
  }
  m->keys[i] = NULL;
  m->len--;
  return 1;
}

int wbr_map_reset(wbr_map *m, size_t n) {
  size_t cap = 16;
  while (cap * 3 < (n + 1) * 4) cap *= 2;
  if (cap <= m->cap) {
    memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->len = 0;
    return 0;
  }
  wbr_map_free(m);
  return map_alloc(m, cap);
}

int wbr_map_get(const wbr_map *m, const char *key, size_t *val) {
  if (!m->cap) return 0;
  size_t i = map_slot(m, key, wbr_hash(key, strlen(key)));
  if (!m->keys[i]) return 0;
  if (val) *val = m->vals[i];
  return 1;
}

/* Formatted by hand into a stack buffer (no allocation, no printf): plan rendering calls this
 * for every tensor, and the printf version was 8% of `wbr plan` at 10k tensors. Same bytes and
 * the same truncation as snprintf. */
void wbr_shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
  char t[2 + WBR_MAX_DIMS * 22];
  size_t k = 0;
  t[k++] = '[';
  for (int i = 0; i < ndim && i < WBR_MAX_DIMS; i++) {
    if (i) t[k++] = ',', t[k++] = ' ';
    uint64_t v = shape[i] < 0 ? 0 - (uint64_t)shape[i] : (uint64_t)shape[i];
    if (shape[i] < 0) t[k++] = '-';
    char d[20];
    int nd = 0;
    do d[nd++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (nd) t[k++] = d[--nd];
  }
  t[k++] = ']';
  if (n == 0) return;
  size_t m = k < n - 1 ? k : n - 1;
  memcpy(buf, t, m);
  buf[m] = '\0';
}

void wbr_bytes_str(char *buf, size_t n, uint64_t bytes) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    u++;
  }
  if (u == 0)
    snprintf(buf, n, "%llu B", (unsigned long long)bytes);
  else
    snprintf(buf, n, "%.1f %s", v, unit[u]);
}
