/* writer.c — the generic streaming writer behind every weight format: bytes go through a buffer
 * that large writes bypass, are counted against the layout and framed per tensor for the
 * format's hooks. The file itself is the one atomic output of base/io.c (wbr_out): a
 * temporary renamed into place at commit, so OUT is either the old file or the whole new one;
 * a device or a pipe is written in place; an input is never replaced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h> /* FICLONERANGE */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/version.h"
#include "hfdir.h"
#include "json.h"
#include "writer.h"

#define OUT_BUF (1u << 20)      /* smaller writes are gathered into this buffer */

/* The public struct (format.h) first, so format hooks can take a wbr_writer *. */
typedef struct writer_impl {
  struct wbr_writer w;
  wbr_out out;         /* the file (w.fd is out.fd while it is open) */
  wbr_file_ids protect; /* inputs, by identity: no output file may be one of them */
  /* In-kernel copies of tensors that follow each other in the source are gathered into one
   * range (a rename-only job in source order: one copy of the data region). Only once a copy
   * from that source worked, so a fallback from memory only ever runs under apply's guard. */
  bool no_clone;
  int ok_fd; /* a source descriptor copy_file_range worked from, or -1 */
  int pend_fd;
  uint64_t pend_off, pend_len;
  size_t pend_cur; /* the range's first tensor, for messages */
  wbr_hfdir_out *dir; /* a directory output's copies and clean-up, or NULL */
} writer_impl;

static int flush_copy(wbr_writer *w);

static int w_errno(wbr_writer *w, const char *what, const char *help) {
  int e = errno;
  w->failed = true;
  if (e == ENOSPC || e == EDQUOT)
    help = "free some space (or choose another directory); nothing was written to the output";
  return wbr_fail(w->ctx, WBR_EIO, w->path, help, "%s: %s", what, strerror(e));
}

/* At most this much per write(2): on a VM, huge writes into new page cache measured 2-10x slower
 * than writes of 1 MiB (issue 14). */
#define WRITE_MAX (1u << 20)

static int write_all(wbr_writer *w, const uint8_t *p, size_t n) {
  for (size_t k; n; p += k, n -= k) {
    k = n < WRITE_MAX ? n : WRITE_MAX;
    if (wbr_io_write_all(w->fd, p, k) != 0) return w_errno(w, "cannot write", NULL);
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
  int frc = flush_copy(w);
  if (frc) return frc;
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

/* A model directory (formats/hfdir.c): the weights' writer opens on the file chosen inside it,
 * once the directory is checked and the copies are staged. */
static int open_dir(wbr_writer **out, wbr_ctx *ctx, const char *path, const wbr_tensorset *layout,
                    const wbr_file_ids *protect, const wbr_writer_options *opts) {
  wbr_hfdir_out *d;
  char *file;
  int rc = wbr_hfdir_out_open(&d, ctx, path, layout, protect, opts, &file);
  if (rc) return rc;
  /* The weights' writer copies nothing (a version-1 struct is shorter: read only as such). */
  wbr_writer_options own = WBR_WRITER_OPTIONS_INIT;
  own.durable = opts->durable;
  own.max_shard_bytes = opts->max_shard_bytes;
  rc = wbr_writer_open_ids(out, ctx, file, layout, protect, &own);
  free(file);
  if (rc) {
    wbr_hfdir_out_free(d);
    return rc;
  }
  ((writer_impl *)*out)->dir = d;
  return 0;
}

int wbr_writer_open_ids(wbr_writer **out, wbr_ctx *ctx, const char *path,
                        const wbr_tensorset *layout, const wbr_file_ids *protect,
                        const wbr_writer_options *opts) {
  static const wbr_writer_options defaults = WBR_WRITER_OPTIONS_INIT;
  if (!out) return WBR_EUSAGE;
  *out = NULL;
  if (!path || !layout)
    return wbr_fail(ctx, WBR_EUSAGE, path, NULL, "wbr_writer_open needs a path and a layout");
  if (!opts) opts = &defaults;
  int vrc = WBR_CHECK_VERSION(ctx, "wbr_writer_open", opts, wbr_writer_options, WBR_WRITER_OPTIONS);
  if (vrc) return vrc;
  const char *named = opts->version >= 2 ? opts->format : NULL;
  if (!named && wbr_hfdir_is_output(path)) return open_dir(out, ctx, path, layout, protect, opts);
  if (opts->version >= 2 && opts->ncopy_files)
    return wbr_fail(ctx, WBR_EUSAGE, path, "give a directory as the output (a path ending in '/') to copy files beside the weights",
                    "files to copy (--copy) need a directory output; '%s' is a file", path);
  const wbr_format *fmt = named ? wbr_format_or_fail(ctx, named, "output") : wbr_format_for_path(path);
  if (!fmt && named) return WBR_EUSAGE;
  if (!fmt) {
    char exts[512], help[768];
    wbr_format_extensions(exts, sizeof exts);
    snprintf(help, sizeof help,
             "name the output with one of the extensions weightbridge writes, or a directory (a path "
             "ending in '/'): %s; or give its format (wbr: --to FORMAT)", exts);
    return wbr_fail(ctx, WBR_EUSAGE, path, help, "unknown output file type (by extension)");
  }
  if (!fmt->begin) /* read-only formats (formats/format.c) */
    return wbr_fail(ctx, WBR_EUSAGE, path,
                    "write a .safetensors, a sharded NAME.safetensors.index.json or a PyTorch "
                    ".pt/.bin instead",
                    "weightbridge reads %s files but does not write them", fmt->name);
  for (size_t i = 0; i < layout->n && !fmt->opaque_ok; i++)
    if (layout->t[i].opaque.type)
      return wbr_fail(ctx, WBR_EFORMAT, path, "write a .gguf, or drop the quantized tensors in the rules",
                      "tensor '%s' is quantized (%s): a %s file cannot hold it", layout->t[i].name,
                      layout->t[i].opaque.type, fmt->name);
  writer_impl *wi = calloc(1, sizeof *wi);
  if (!wi) return wbr_oom(ctx);
  wbr_writer *w = &wi->w;
  w->ctx = ctx;
  w->fmt = fmt;
  w->layout = layout;
  w->fd = -1;
  w->durable = opts->durable;
  w->max_shard = opts->max_shard_bytes;
  wi->out.fd = -1;
  wi->ok_fd = -1;
  w->path = wbr_strdup(path);
  w->buf = malloc(OUT_BUF);
  w->buf_cap = OUT_BUF;
  int rc = 0;
  for (size_t i = 0; protect && i < protect->n && !rc; i++)
    if (wbr_file_ids_add(&wi->protect, protect->v[i].dev, protect->v[i].ino, protect->v[i].name) != 0)
      rc = WBR_ENOMEM;
  if (rc || !w->path || !w->buf) {
    rc = wbr_oom(ctx);
  } else {
    rc = wbr_out_open(&wi->out, ctx, w->path, &wi->protect);
    w->fd = wi->out.fd;
    if (rc) w->failed = true;
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

int wbr_writer_open(wbr_writer **out, wbr_ctx *ctx, const char *path, const wbr_tensorset *layout,
                    const char *const *protect, const wbr_writer_options *opts) {
  wbr_file_ids ids = {0};
  for (size_t i = 0; protect && protect[i]; i++)
    if (wbr_file_ids_add_path(&ids, protect[i]) != 0) {
      wbr_file_ids_free(&ids);
      if (out) *out = NULL;
      return wbr_oom(ctx);
    }
  int rc = wbr_writer_open_ids(out, ctx, path, layout, &ids, opts);
  wbr_file_ids_free(&ids);
  return rc;
}

int wbr_write_file(wbr_ctx *ctx, const char *path, const void *bytes, size_t len,
                   const wbr_protect *protect) {
  if (!path || (!bytes && len)) return wbr_fail(ctx, WBR_EUSAGE, path, NULL, "wbr_write_file: NULL argument");
  wbr_file_ids ids = {0};
  int rc = 0;
  for (size_t i = 0; rc == 0 && protect && protect->sets && protect->sets[i]; i++)
    if (wbr_ts_file_ids(protect->sets[i], &ids) != 0) rc = wbr_oom(ctx);
  for (size_t i = 0; rc == 0 && protect && protect->paths && protect->paths[i]; i++)
    if (wbr_file_ids_add_path(&ids, protect->paths[i]) != 0) rc = wbr_oom(ctx);
  if (rc == 0) rc = wbr_io_write_atomic(ctx, path, bytes, len, &ids, true);
  wbr_file_ids_free(&ids);
  return rc;
}

const wbr_file_ids *wbr_writer_protected(const wbr_writer *w) {
  return &((const writer_impl *)w)->protect;
}

/* Reflink [in, in + len) of fd to the output's position when the file system can share blocks:
 * only the part between page boundaries (both offsets agree mod 4096: the safetensors header
 * is padded for it). Returns the bytes shared from `in` on (0 when it cannot: then never tried
 * again for this output); the caller copies what is left. */
static uint64_t clone_range(wbr_writer *w, int fd, uint64_t in, uint64_t len) {
  writer_impl *wi = (writer_impl *)w;
  off_t pos = wi->no_clone ? -1 : lseek(w->fd, 0, SEEK_CUR);
  if (pos < 0 || (uint64_t)pos % 4096 != in % 4096 || in % 4096 || len < 4096) return 0;
  struct file_clone_range r = {.src_fd = fd, .src_offset = in, .src_length = len & ~UINT64_C(4095),
                               .dest_offset = (uint64_t)pos};
  if (ioctl(w->fd, FICLONERANGE, &r) != 0 || lseek(w->fd, pos + (off_t)r.src_length, SEEK_SET) < 0) {
    wi->no_clone = true;
    return 0;
  }
  return r.src_length;
}

/* Copy [off, off + len) of fd to the output in the kernel (bytes is the same range in memory,
 * for file systems that cannot); tensor `who` names it in messages. */
static int copy_range(wbr_writer *w, int fd, uint64_t off, const void *bytes, uint64_t len, size_t who) {
  writer_impl *wi = (writer_impl *)w;
  loff_t in = (loff_t)off;
  uint64_t done = 0;
  while (done < len) { /* up to a page boundary, then whole blocks shared, then the rest */
    if (!wi->no_clone && (uint64_t)in % 4096 == 0) {
      uint64_t k = clone_range(w, fd, (uint64_t)in, len - done);
      in += (loff_t)k;
      done += k;
      if (done == len) break;
    }
    uint64_t want = len - done;
    if (!wi->no_clone && (uint64_t)in % 4096) want = want < 4096 - (uint64_t)in % 4096 ? want : 4096 - (uint64_t)in % 4096;
    ssize_t k = copy_file_range(fd, &in, w->fd, NULL, (size_t)want, 0);
    if (k < 0 && errno == EINTR) continue;
    struct stat sb;
    if (k == 0 && fstat(fd, &sb) == 0 && (uint64_t)sb.st_size < (uint64_t)in + (len - done)) {
      /* The source ends early: it shrank after it was opened (its mapping would fault too). */
      w->failed = true;
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                      "make sure nothing rewrites the source while apply reads it, then run apply again",
                      "tensor '%s': the source file changed while it was being read (it now ends "
                      "%llu bytes short of this tensor's bytes); nothing was written",
                      w->layout->t[who].name, (unsigned long long)((uint64_t)in + (len - done) - (uint64_t)sb.st_size));
    }
    if (k <= 0) {
      /* Not possible between these files: write the rest from memory (never for a gathered
       * range: those follow a copy that worked). The bytes copied so far are in the file. */
      if ((k < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP &&
           errno != EBADF) || !bytes)
        return w_errno(w, "cannot write", NULL);
      return write_all(w, (const uint8_t *)bytes + done, (size_t)(len - done));
    }
    wi->ok_fd = fd;
    done += (size_t)k;
  }
  return 0;
}

/* Write out the gathered range, if any. */
static int flush_copy(wbr_writer *w) {
  writer_impl *wi = (writer_impl *)w;
  if (!wi->pend_len) return 0;
  uint64_t len = wi->pend_len;
  wi->pend_len = 0;
  int rc = copy_range(w, wi->pend_fd, wi->pend_off, NULL, len, wi->pend_cur);
  if (rc) w->failed = true;
  else start_writeback(w);
  return rc;
}

int wbr_writer_copy(wbr_writer *w, int fd, uint64_t off, const void *bytes, size_t len) {
  writer_impl *wi = (writer_impl *)w;
  if (!w || fd < 0 || w->failed || w->committed || w->cur >= w->layout->n || w->fmt->tensor_begin ||
      w->fmt->tensor_end || w->fmt->tensor_data || w->cur_done != 0 || len != tensor_bytes(w, w->cur))
    return wbr_writer_write(w, bytes, len);
  bool joins = wi->pend_len && wi->pend_fd == fd && wi->pend_off + wi->pend_len == off;
  bool gather = wi->ok_fd == fd;
  if (!joins && !gather && len < w->buf_cap) return wbr_writer_write(w, bytes, len);
  int rc = joins ? 0 : flush_copy(w);
  if (!rc && !joins) rc = flush_buf(w);
  if (rc) {
    w->failed = true;
    return rc;
  }
  if (joins) {
    wi->pend_len += len;
  } else if (gather) { /* gather: written when something else comes, or at commit */
    wi->pend_fd = fd;
    wi->pend_off = off;
    wi->pend_len = len;
    wi->pend_cur = w->cur;
  } else {
    rc = copy_range(w, fd, off, bytes, len, w->cur);
    if (rc) return rc;
    start_writeback(w);
  }
  w->offset += len;
  w->cur++;
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
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path,
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

int wbr_writer_commit(wbr_writer *w) {
  if (!w) return WBR_EUSAGE;
  if (w->failed) return WBR_EIO;
  if (w->committed)
    return wbr_fail(w->ctx, WBR_EUSAGE, w->path, NULL, "the output was already committed");
  writer_impl *wi = (writer_impl *)w;
  if (w->cur < w->layout->n) {
    w->failed = true;
    const wbr_tensor *t = &w->layout->t[w->cur];
    return wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                    "give every tensor's bytes, in layout order, before committing",
                    "tensor '%s': got %llu bytes, expected %llu", t->name,
                    (unsigned long long)w->cur_done, (unsigned long long)t->nbytes);
  }
  int rc = flush_copy(w);
  if (!rc && w->fmt->finish) rc = w->fmt->finish(w);
  if (!rc) rc = flush_buf(w);
  w->fd = -1; /* the wbr_out closes its own descriptor */
  if (!rc) rc = wbr_out_commit(&wi->out, w->durable);
  if (rc) {
    w->failed = true;
    return rc;
  }
  w->committed = true;
  return wi->dir ? wbr_hfdir_out_commit(wi->dir, &wi->protect, w->durable) : 0;
}

void wbr_writer_free(wbr_writer *w) {
  if (!w) return;
  writer_impl *wi = (writer_impl *)w;
  if (w->fmt && w->fmt->release) w->fmt->release(w);
  wbr_out_discard(&wi->out); /* closes w->fd; removes an unpublished temporary */
  wbr_hfdir_out_free(wi->dir);
  wbr_file_ids_free(&wi->protect);
  free(w->tmp);
  free(w->path);
  free(w->buf);
  free(w->state);
  free(wi);
}

/* ---- Layout checks and whole-set writes (the writer's callers that need no kernel) -------- */

/* Write a lazy tensor's bytes: made in a buffer of its size, one tensor at a time. */
static int write_lazy(wbr_writer *w, wbr_ctx *ctx, const char *path, const wbr_tensor *t) {
  uint8_t *buf = t->nbytes <= SIZE_MAX ? malloc(t->nbytes ? (size_t)t->nbytes : 1) : NULL;
  if (!buf) {
    char sz[32];
    wbr_bytes_str(sz, sizeof sz, t->nbytes);
    return wbr_fail(ctx, WBR_ENOMEM, path, "free memory, or write the tensors to a smaller output",
                    "out of memory making the %s of tensor '%s'", sz, t->name);
  }
  int rc = wbr_tensor_fill(ctx, t, buf);
  if (rc == 0) rc = wbr_writer_write(w, buf, (size_t)t->nbytes);
  free(buf);
  return rc;
}

/* Dimensions a JSON reader holds exactly (the safetensors and manifest readers' limit). */
#define EXACT_DIM_MAX (INT64_C(1) << 53)

static int check_dims(wbr_writer *w, const wbr_name_rules *r, const char *shown, int nd,
                      const int64_t *shape) {
  for (int d = 0; d < nd; d++)
    if (shape[d] > EXACT_DIM_MAX)
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path, "check the reshape in the rules",
                      "cannot write tensor '%s' to %s: dimension %d is %lld, larger than 2^53 "
                      "(its readers refuse it)", shown, r->format, d, (long long)shape[d]);
  return 0;
}

int wbr_writer_check_layout(wbr_writer *w, const wbr_name_rules *r) {
  const wbr_tensorset *ts = w->layout;
  char shown[256];
  for (size_t i = 0; i < ts->n; i++) {
    const wbr_tensor *t = &ts->t[i];
    size_t nl = strlen(t->name), bad;
    wbr_json_show(shown, sizeof shown, t->name);
    char why[96] = "";
    if (r->unnamed) ;
    else if (nl == 0) snprintf(why, sizeof why, "its name is empty");
    else if (!wbr_utf8_valid((const uint8_t *)t->name, nl, &bad))
      snprintf(why, sizeof why, "its name is not UTF-8 (byte %zu)", bad);
    else if (r->max_name && nl > r->max_name)
      snprintf(why, sizeof why, "its name is %zu bytes, the format allows %zu", nl, r->max_name);
    else if (r->reserved && strcmp(t->name, r->reserved) == 0)
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path, "rename the tensor in the rules",
                      "cannot write a tensor named '%s' to %s", shown, r->format);
    if (why[0])
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path, "rename the tensor in the rules",
                      "cannot write tensor '%s' to %s: %s", shown, r->format, why);
    int rc = check_dims(w, r, shown, t->ndim, t->shape);
    if (!rc && t->opaque.type) rc = check_dims(w, r, shown, t->opaque.ndim, t->opaque.shape);
    if (rc) return rc;
  }
  return 0;
}

int wbr_tensorset_write(const wbr_tensorset *ts, wbr_ctx *ctx, const char *path) {
  if (!ts || !path) return WBR_EUSAGE;
  /* A model directory holds safetensors. */
  const wbr_format *fmt = wbr_hfdir_is_output(path) ? &wbr_format_safetensors : wbr_format_for_path(path);
  if (fmt && fmt->has_data && ts->n && !ts->has_data)
    return wbr_fail(ctx, WBR_EFORMAT, path, "write a manifest (.json) instead, or read a weight file",
                    "cannot write a %s file: the tensor set has names and shapes but no data",
                    fmt->name);
  wbr_writer *w;
  int rc = wbr_writer_open(&w, ctx, path, ts, NULL, NULL);
  if (rc) return rc;
  if (fmt && fmt->has_data) {
    for (size_t i = 0; i < ts->n && rc == 0; i++) {
      const wbr_tensor *t = &ts->t[i];
      if (t->lazy)
        rc = write_lazy(w, ctx, path, t);
      else if (t->nbytes && !t->data)
        rc = wbr_fail(ctx, WBR_EFORMAT, path, "give every tensor its bytes (wbr_tensorset_add with data)",
                      "tensor '%s' has no data to write", t->name);
      else
        rc = wbr_writer_write(w, t->data, (size_t)t->nbytes);
    }
  }
  if (rc == 0) rc = wbr_writer_commit(w);
  wbr_writer_free(w);
  return rc;
}
