/* writer.c — the generic streaming writer behind every weight format: output goes to an unnamed
 * (O_TMPFILE) or hidden temporary file beside the destination, through a buffer that large
 * writes bypass; bytes are counted against the layout and framed per tensor for the format's
 * hooks; commit syncs and renames into place, so OUT is either the old file or the whole new one.
 * A destination that is not a regular file (/dev/null, a pipe) is written in place. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format.h"

#define OUT_BUF (1u << 20)      /* smaller writes are gathered into this buffer */
#define MAX_WRITE (1u << 30)    /* one write(2) at most: Linux caps a call near 2 GiB anyway */

typedef enum out_mode {
  OUT_TMPFILE, /* O_TMPFILE: nameless until commit, so even a kill leaves nothing behind */
  OUT_NAMED,   /* mkstemp-style hidden name, removed by free when not committed */
  OUT_DIRECT   /* not a regular file: written in place, no atomicity possible */
} out_mode;

/* The public struct (format.h) first, so format hooks can take a wbr_writer *. */
typedef struct writer_impl {
  struct wbr_writer w;
  out_mode mode;
  char *dir; /* destination's directory, for temporary names and the final directory sync */
  char *base;
} writer_impl;

static int w_errno(wbr_writer *w, const char *what, const char *help) {
  int e = errno;
  w->failed = true;
  if (e == ENOSPC || e == EDQUOT)
    help = "free some space (or choose another directory); nothing was written to the output";
  return wbr_fail(w->ctx, WBR_EIO, w->path, help, "%s: %s", what, strerror(e));
}

static int write_all(wbr_writer *w, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = write(w->fd, p, n > MAX_WRITE ? MAX_WRITE : n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return w_errno(w, "cannot write", NULL);
    }
    if (k == 0) {
      errno = EIO;
      return w_errno(w, "cannot write", NULL);
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Bytes the caller must give for tensor i: none for formats without data (manifests). */
static uint64_t tensor_bytes(const wbr_writer *w, size_t i) {
  return w->fmt->has_data ? w->layout->t[i].nbytes : 0;
}

static int skip_empty(wbr_writer *w);

/* Start writing back what has reached the file every so often, so that the sync at commit
 * overlaps the work instead of following it (a large output spends as long on the disk as in
 * the copy). Best effort: a file system without sync_file_range loses nothing but speed. */
#define WRITEBACK_EVERY (64ull << 20)

static void start_writeback(wbr_writer *w) {
  if (!w->durable) return;
  uint64_t on_disk = w->offset - w->buf_len; /* bytes handed to the kernel */
  if (on_disk - w->written_back < WRITEBACK_EVERY) return;
  (void)sync_file_range(w->fd, (off_t)w->written_back, (off_t)(on_disk - w->written_back), SYNC_FILE_RANGE_WRITE);
  w->written_back = on_disk;
}

static int flush_buf(wbr_writer *w) {
  int rc = write_all(w, w->buf, w->buf_len);
  w->buf_len = 0;
  if (!rc) start_writeback(w);
  return rc;
}

int wbr_writer_emit(wbr_writer *w, const void *bytes, size_t len) {
  if (!w || (!bytes && len)) return WBR_EUSAGE;
  if (w->failed) return WBR_EIO;
  if (len == 0) return 0;
  w->offset += len;
  if (w->buf_len + len <= w->buf_cap) {
    memcpy(w->buf + w->buf_len, bytes, len);
    w->buf_len += len;
    return 0;
  }
  int rc = flush_buf(w);
  if (rc) return rc;
  /* Big tensors go straight from the caller's memory (often the input's mapping) to the file:
   * no copy through our buffer. */
  if (len >= w->buf_cap) {
    rc = write_all(w, bytes, len);
    if (!rc) start_writeback(w);
    return rc;
  }
  memcpy(w->buf, bytes, len);
  w->buf_len = len;
  return 0;
}


/* Frame the zero-byte tensors at the current position: they receive no write, yet their
 * tensor_begin/tensor_end must run in order. */
static int skip_empty(wbr_writer *w) {
  while (w->cur < w->layout->n && tensor_bytes(w, w->cur) == 0) {
    int rc = 0;
    if (w->fmt->tensor_begin) rc = w->fmt->tensor_begin(w, w->cur);
    if (!rc && w->fmt->tensor_end) rc = w->fmt->tensor_end(w, w->cur);
    if (rc) {
      w->failed = true;
      return rc;
    }
    w->cur++;
  }
  return 0;
}

static void split_path(const char *path, char **dir, char **base) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    *dir = wbr_strdup(".");
    *base = wbr_strdup(path);
  } else {
    *dir = slash == path ? wbr_strdup("/") : wbr_strndup(path, (size_t)(slash - path));
    *base = wbr_strdup(slash + 1);
  }
}

/* The process umask without changing it (umask(2) can only be read by setting it, which would
 * race with other threads): Linux reports it in /proc/self/status. 022 if unavailable. */
static mode_t current_umask(void) {
  mode_t m = 022;
  FILE *f = fopen("/proc/self/status", "re");
  if (!f) return m;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    unsigned v;
    if (sscanf(line, "Umask: %o", &v) == 1) {
      m = (mode_t)(v & 0777);
      break;
    }
  }
  fclose(f);
  return m;
}

/* A fresh hidden name beside the destination: DIR/.BASE.XXXXXX.tmp. */
static char *tmp_name(const writer_impl *wi, unsigned long salt) {
  static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  char suffix[7];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = wbr_hash(wi->base, strlen(wi->base)) ^ ((uint64_t)getpid() << 32) ^
               (uint64_t)ts.tv_nsec ^ ((uint64_t)salt * 0x9E3779B97F4A7C15ull) ^
               (uint64_t)(uintptr_t)wi;
  for (int i = 0; i < 6; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    suffix[i] = digits[(x >> 33) % 36];
  }
  suffix[6] = 0;
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_printf(&b, "%s/.%s.%s.tmp", wi->dir, wi->base, suffix);
  return wbr_buf_take(&b);
}

/* Create the nameless or hidden temporary file. Reports one clear error when the directory is
 * missing or not writable. */
static int open_tmp(writer_impl *wi) {
  wbr_writer *w = &wi->w;
#ifdef O_TMPFILE
  /* /proc is needed to give the file a name at commit (linkat of /proc/self/fd/N). */
  if (access("/proc/self/fd", X_OK) == 0) {
    w->fd = open(wi->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666); /* the umask applies */
    if (w->fd >= 0) {
      wi->mode = OUT_TMPFILE;
      return 0;
    }
    /* Filesystems without O_TMPFILE say so in several ways; fall back to a named file. */
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOTSUP) goto fail;
  }
#endif
  for (unsigned long salt = 0; salt < 100; salt++) {
    free(w->tmp);
    w->tmp = tmp_name(wi, salt);
    if (!w->tmp) return wbr_oom(w->ctx);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd >= 0) {
      wi->mode = OUT_NAMED;
      /* Created 0600 so nobody reads a half-written file; the final mode is the usual one. */
      if (fchmod(w->fd, 0666 & ~current_umask()) != 0) {
        int rc = w_errno(w, "cannot set the output's mode", NULL);
        return rc;
      }
      return 0;
    }
    if (errno != EEXIST) break;
  }
  int saved = errno;
  free(w->tmp);
  w->tmp = NULL;
  errno = saved;
#ifdef O_TMPFILE
fail:
#endif
  w->failed = true;
  {
    int e = errno;
    if (e == ENOENT)
      return wbr_fail(w->ctx, WBR_EIO, w->path, "create the directory first, or choose another output path",
                      "cannot write the output: directory '%s' does not exist", wi->dir);
    if (e == ENOTDIR)
      return wbr_fail(w->ctx, WBR_EIO, w->path, "choose another output path",
                      "cannot write the output: '%s' is not a directory", wi->dir);
    if (e == EACCES || e == EPERM || e == EROFS)
      return wbr_fail(w->ctx, WBR_EIO, w->path, "choose a directory you can write to",
                      "cannot write the output: no permission to create files in '%s' (%s)",
                      wi->dir, strerror(e));
    return wbr_fail(w->ctx, WBR_EIO, w->path, NULL,
                    "cannot create a temporary file in '%s': %s", wi->dir, strerror(e));
  }
}

int wbr_writer_open(wbr_writer **out, wbr_ctx *ctx, const char *path, const wbr_tensorset *layout,
                    const char *const *protect) {
  if (!out) return WBR_EUSAGE;
  *out = NULL;
  if (!path || !layout)
    return wbr_fail(ctx, WBR_EUSAGE, path, NULL, "wbr_writer_open needs a path and a layout");
  const wbr_format *fmt = wbr_format_for_path(path);
  if (!fmt) {
    char exts[384], help[512];
    wbr_format_extensions(exts, sizeof exts);
    snprintf(help, sizeof help, "name the output with one of the extensions weightbridge writes: %s", exts);
    return wbr_fail(ctx, WBR_EUSAGE, path, help, "unknown output file type (by extension)");
  }
  for (size_t i = 0; i < layout->n && !fmt->quant_ok; i++)
    if (layout->t[i].quant)
      return wbr_fail(ctx, WBR_EINPUT, path, "write a .gguf, or drop the quantized tensors in the rules",
                      "tensor '%s' is quantized (%s): a %s file cannot hold it", layout->t[i].name,
                      layout->t[i].quant_name, fmt->name);
  struct stat st;
  bool exists = stat(path, &st) == 0;
  if (exists && S_ISDIR(st.st_mode))
    return wbr_fail(ctx, WBR_EUSAGE, path, "give a file name for the output",
                    "the output is a directory");
  for (size_t i = 0; exists && protect && protect[i]; i++) {
    struct stat ps;
    if (stat(protect[i], &ps) == 0 && ps.st_dev == st.st_dev && ps.st_ino == st.st_ino)
      return wbr_fail(ctx, WBR_EUSAGE, path,
                      "write the output to a new file: the input is read while the output is "
                      "written",
                      "the output is the same file as the input '%s'", protect[i]);
  }

  writer_impl *wi = calloc(1, sizeof *wi);
  if (!wi) return wbr_oom(ctx);
  wbr_writer *w = &wi->w;
  w->ctx = ctx;
  w->fmt = fmt;
  w->layout = layout;
  w->fd = -1;
  w->path = wbr_strdup(path);
  w->buf = malloc(OUT_BUF);
  w->buf_cap = OUT_BUF;
  split_path(path, &wi->dir, &wi->base);
  int rc = 0;
  if (!w->path || !w->buf || !wi->dir || !wi->base) {
    rc = wbr_oom(ctx);
  } else if (exists && !S_ISREG(st.st_mode)) {
    w->fd = open(path, O_WRONLY | O_CLOEXEC);
    wi->mode = OUT_DIRECT;
    if (w->fd < 0) rc = w_errno(w, "cannot open the output", NULL);
  } else {
    rc = open_tmp(wi);
  }
  w->started = true;
  if (!rc && fmt->begin) rc = fmt->begin(w);
  if (!rc) rc = skip_empty(w);
  if (rc) {
    wbr_writer_free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int wbr_writer_copy(wbr_writer *w, int fd, uint64_t off, const void *bytes, size_t len) {
  if (!w || fd < 0 || w->failed || w->committed || w->cur >= w->layout->n || w->fmt->tensor_begin ||
      w->fmt->tensor_end || w->fmt->tensor_data || w->cur_done != 0 || len != tensor_bytes(w, w->cur) || len < w->buf_cap)
    return wbr_writer_write(w, bytes, len);
  int rc = flush_buf(w);
  if (rc) {
    w->failed = true;
    return rc;
  }
  loff_t in = (loff_t)off;
  size_t done = 0;
  while (done < len) {
    ssize_t k = copy_file_range(fd, &in, w->fd, NULL, len - done, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      /* Not possible between these files (or the source shrank): write the rest from memory.
       * The bytes copied so far are in the file already. */
      if (k < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP &&
          errno != EBADF)
        return w_errno(w, "cannot write", NULL);
      rc = write_all(w, (const uint8_t *)bytes + done, len - done);
      if (rc) return rc;
      break;
    }
    done += (size_t)k;
  }
  w->offset += len;
  w->cur++;
  start_writeback(w);
  return skip_empty(w);
}

int wbr_writer_write(wbr_writer *w, const void *bytes, size_t len) {
  if (!w || (!bytes && len)) return WBR_EUSAGE;
  if (w->failed) return WBR_EIO;
  if (w->committed)
    return wbr_fail(w->ctx, WBR_EUSAGE, w->path, NULL, "write after the output was committed");
  const uint8_t *p = bytes;
  while (len) {
    if (w->cur >= w->layout->n) {
      w->failed = true;
      if (!w->fmt->has_data)
        return wbr_fail(w->ctx, WBR_EUSAGE, w->path, "write no bytes to a manifest",
                        "a %s file takes no tensor bytes (got %zu)", w->fmt->name, len);
      uint64_t total = 0;
      for (size_t i = 0; i < w->layout->n; i++) total += w->layout->t[i].nbytes;
      return wbr_fail(w->ctx, WBR_EINPUT, w->path,
                      "give exactly each tensor's bytes, in layout order",
                      "got %zu bytes more than the layout's %zu tensors hold (%llu bytes)", len,
                      w->layout->n, (unsigned long long)total);
    }
    uint64_t need = tensor_bytes(w, w->cur) - w->cur_done;
    size_t n = len < need ? len : (size_t)need;
    int rc = 0;
    if (w->cur_done == 0 && w->fmt->tensor_begin) rc = w->fmt->tensor_begin(w, w->cur);
    if (!rc && w->fmt->tensor_data) rc = w->fmt->tensor_data(w, w->cur, p, n);
    if (!rc) rc = wbr_writer_emit(w, p, n);
    if (rc) {
      w->failed = true;
      return rc;
    }
    p += n;
    len -= n;
    w->cur_done += n;
    if (w->cur_done == tensor_bytes(w, w->cur)) {
      if (w->fmt->tensor_end) rc = w->fmt->tensor_end(w, w->cur);
      w->cur++;
      w->cur_done = 0;
      if (!rc) rc = skip_empty(w);
      if (rc) {
        w->failed = true;
        return rc;
      }
    }
  }
  return 0;
}

static int sync_fd(wbr_writer *w, int fd) {
  /* Character devices and pipes cannot be synced; that is not an error for them. */
  if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
    return w_errno(w, "cannot sync the output to disk", NULL);
  return 0;
}

int wbr_writer_commit(wbr_writer *w) {
  if (!w) return WBR_EUSAGE;
  if (w->failed) return WBR_EIO;
  if (w->committed)
    return wbr_fail(w->ctx, WBR_EUSAGE, w->path, NULL, "the output was already committed");
  writer_impl *wi = (writer_impl *)w;
  if (w->cur < w->layout->n) {
    w->failed = true;
    const wbr_tensor *t = &w->layout->t[w->cur];
    return wbr_fail(w->ctx, WBR_EINPUT, w->path,
                    "give every tensor's bytes, in layout order, before committing",
                    "tensor '%s': got %llu bytes, expected %llu", t->name,
                    (unsigned long long)w->cur_done, (unsigned long long)t->nbytes);
  }
  int rc = w->fmt->finish ? w->fmt->finish(w) : 0;
  if (!rc) rc = flush_buf(w);
  if (!rc && wi->mode != OUT_DIRECT && w->durable) rc = sync_fd(w, w->fd);
  if (rc) {
    w->failed = true;
    return rc;
  }
  if (wi->mode == OUT_TMPFILE) {
    /* Give the nameless file a hidden name, then rename it over the destination (linkat cannot
     * replace an existing file). */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", w->fd);
    for (unsigned long salt = 0; salt < 100; salt++) {
      free(w->tmp);
      w->tmp = tmp_name(wi, salt + 1000);
      if (!w->tmp) {
        w->failed = true;
        return wbr_oom(w->ctx);
      }
      if (linkat(AT_FDCWD, proc, AT_FDCWD, w->tmp, AT_SYMLINK_FOLLOW) == 0) break;
      int e = errno;
      free(w->tmp);
      w->tmp = NULL;
      if (e != EEXIST) {
        errno = e;
        return w_errno(w, "cannot name the output file", NULL);
      }
    }
    if (!w->tmp) {
      errno = EEXIST;
      return w_errno(w, "cannot name the output file", NULL);
    }
  }
  int fd = w->fd;
  w->fd = -1;
  if (close(fd) != 0) return w_errno(w, "cannot write (on close)", NULL);
  if (wi->mode != OUT_DIRECT) {
    if (rename(w->tmp, w->path) != 0) return w_errno(w, "cannot rename the output into place", NULL);
    free(w->tmp);
    w->tmp = NULL;
    /* Make the rename itself durable. Best effort: the data is synced and in place; a
     * filesystem that cannot sync directories has nothing more to offer. */
    int dfd = w->durable ? open(wi->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
  }
  w->committed = true;
  return 0;
}

void wbr_writer_set_durable(wbr_writer *w, int on) {
  if (w) w->durable = on != 0;
}

void wbr_writer_free(wbr_writer *w) {
  if (!w) return;
  writer_impl *wi = (writer_impl *)w;
  if (w->fmt && w->fmt->release) w->fmt->release(w);
  if (w->fd >= 0) close(w->fd); /* an O_TMPFILE file vanishes here */
  if (w->tmp) unlink(w->tmp);
  free(w->tmp);
  free(w->path);
  free(w->buf);
  free(w->state);
  free(wi->dir);
  free(wi->base);
  free(wi);
}
