/* io.c — file I/O shared by the whole library (see io.h): regular-file reads that cannot block
 * on a FIFO, file identities, and the one atomic output writer with its registry of named
 * temporaries, which wbr_remove_temporaries (async-signal-safe) deletes when a signal ends the
 * process. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define MAX_WRITE (1u << 30) /* one write(2) at most: Linux caps a call near 2 GiB anyway */
#define MAX_LINKS 40         /* symlinks followed at most, as the kernel's ELOOP limit */

/* ---- Reading ------------------------------------------------------------------------------ */

int wbr_io_open_read(wbr_ctx *ctx, const char *path, const char *what, struct stat *st) {
  struct stat sb;
  if (!st) st = &sb;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (!ctx) return WBR_EIO;
    char msg[96];
    snprintf(msg, sizeof msg, "cannot open%s%s", what ? " the " : "", what ? what : "");
    return wbr_fail_errno(ctx, path, msg);
  }
  int rc = 0;
  if (!what) what = "file";
  if (fstat(fd, st) != 0) {
    rc = ctx ? wbr_fail_errno(ctx, path, "cannot stat") : WBR_EIO;
  } else if (!S_ISREG(st->st_mode)) {
    const char *kind = S_ISDIR(st->st_mode)    ? "a directory"
                       : S_ISFIFO(st->st_mode) ? "a FIFO (named pipe)"
                       : S_ISCHR(st->st_mode)  ? "a character device"
                       : S_ISBLK(st->st_mode)  ? "a block device"
                       : S_ISSOCK(st->st_mode) ? "a socket"
                                               : "a special file";
    rc = ctx ? wbr_fail(ctx, WBR_EFORMAT, path, "give the path of a regular file (copy a stream to a file first)",
                        "the %s is %s, not a regular file", what, kind)
             : WBR_EFORMAT;
  } else {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
      rc = ctx ? wbr_fail_errno(ctx, path, "cannot read") : WBR_EIO;
  }
  if (rc) {
    close(fd);
    return rc;
  }
  return fd;
}

static int grew(wbr_ctx *ctx, const char *path, const char *what, size_t max) {
  return ctx ? wbr_fail(ctx, WBR_EFORMAT, path, NULL, "the %s grew past the limit of %zu bytes while read",
                        what ? what : "file", max)
             : WBR_EFORMAT;
}

int wbr_io_read_file(wbr_ctx *ctx, const char *path, const char *what, size_t max, char **out,
                     size_t *len) {
  *out = NULL;
  *len = 0;
  struct stat st;
  int fd = wbr_io_open_read(ctx, path, what, &st);
  if (fd < 0) return fd;
  if ((uint64_t)st.st_size > max) {
    close(fd);
    return ctx ? wbr_fail(ctx, WBR_EFORMAT, path, NULL, "the %s is %lld bytes, over the limit of %zu",
                          what ? what : "file", (long long)st.st_size, max)
               : WBR_EFORMAT;
  }
  return wbr_io_read_fd(ctx, fd, (size_t)st.st_size, path, what, max, out, len);
}

int wbr_io_read_fd(wbr_ctx *ctx, int fd, size_t size, const char *path, const char *what, size_t max,
                   char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  /* Read to the end, not to st_size: the file may change while it is read (up to max). */
  size_t cap = size + 1, n = 0;
  char *buf = malloc(cap);
  int rc = buf ? 0 : (ctx ? wbr_oom(ctx) : WBR_ENOMEM);
  while (rc == 0) {
    char probe;
    bool full = n + 1 == cap; /* room for the NUL only: one byte more says whether it grew */
    ssize_t r = full ? read(fd, &probe, 1) : read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) rc = ctx ? wbr_fail_errno(ctx, path, "cannot read") : WBR_EIO;
    if (r <= 0) break;
    if (full) {
      char *nb = n < max ? realloc(buf, cap * 2) : NULL;
      if (!nb) {
        rc = n < max ? (ctx ? wbr_oom(ctx) : WBR_ENOMEM) : grew(ctx, path, what, max);
        break;
      }
      buf = nb;
      cap *= 2;
      buf[n] = probe;
    }
    n += (size_t)r;
  }
  close(fd);
  if (rc == 0 && n > max) rc = grew(ctx, path, what, max);
  if (rc) {
    free(buf);
    return rc;
  }
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

int wbr_read_file(wbr_ctx *ctx, const char *path, char **out, size_t *len) {
  if (!out || !len || !path) return wbr_fail(ctx, WBR_EUSAGE, path, NULL, "wbr_read_file: NULL argument");
  return wbr_io_read_file(ctx, path, NULL, (size_t)1 << 30, out, len);
}

int wbr_io_write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t k = write(fd, b, n > MAX_WRITE ? MAX_WRITE : n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      if (k == 0) errno = EIO;
      return -1;
    }
    b += k;
    n -= (size_t)k;
  }
  return 0;
}

char *wbr_io_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return wbr_strdup(".");
  while (slash > path && slash[-1] == '/') slash--;
  if (slash == path) return wbr_strdup("/");
  return wbr_strndup(path, (size_t)(slash - path));
}

/* ---- File identities ---------------------------------------------------------------------- */

void wbr_file_ids_free(wbr_file_ids *ids) {
  for (size_t i = 0; i < ids->n; i++) free(ids->v[i].name);
  free(ids->v);
  ids->v = NULL;
  ids->n = ids->cap = 0;
}

int wbr_file_ids_add(wbr_file_ids *ids, dev_t dev, ino_t ino, const char *name) {
  if (wbr_file_ids_find(ids, dev, ino)) return 0;
  if (!wbr_grow(&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v, 8)) return -1;
  char *copy = wbr_strdup(name);
  if (!copy) return -1;
  ids->v[ids->n++] = (wbr_file_id){.dev = dev, .ino = ino, .name = copy};
  return 0;
}

int wbr_file_ids_add_path(wbr_file_ids *ids, const char *path) {
  struct stat st;
  if (stat(path, &st) == 0) return wbr_file_ids_add(ids, st.st_dev, st.st_ino, path);
  const char *hash = strrchr(path, '#');
  if (!hash) return 0;
  char *file = wbr_strndup(path, (size_t)(hash - path));
  if (!file) return -1;
  int rc = stat(file, &st) == 0 ? wbr_file_ids_add(ids, st.st_dev, st.st_ino, path) : 0;
  free(file);
  return rc;
}

const wbr_file_id *wbr_file_ids_find(const wbr_file_ids *ids, dev_t dev, ino_t ino) {
  for (size_t i = 0; ids && i < ids->n; i++)
    if (ids->v[i].dev == dev && ids->v[i].ino == ino) return &ids->v[i];
  return NULL;
}

int wbr_file_ids_check(wbr_ctx *ctx, const wbr_file_ids *ids, const char *path) {
  struct stat st;
  if (!ids || stat(path, &st) != 0) return 0;
  const wbr_file_id *in = wbr_file_ids_find(ids, st.st_dev, st.st_ino);
  if (!in) return 0;
  return wbr_fail(ctx, WBR_EUSAGE, path,
                  "write the output to a new file: the input is read while the output is written",
                  "the output is the same file as the input '%s'", in->name);
}

/* ---- Registry of named temporaries --------------------------------------------------------- */

/* A singly linked list the signal handler may walk at any moment: a node is complete before it
 * is linked, and unlinking is one atomic store. Threads serialise their changes on a spin
 * flag; the handler takes no lock. A node leaves the list only after its file was renamed or
 * removed, so the handler can at worst unlink a name that no longer exists. */
struct wbr_out_tmp {
  struct wbr_out_tmp *_Atomic next;
  char path[];
};

static struct wbr_out_tmp *_Atomic tmp_head;
static atomic_flag tmp_busy = ATOMIC_FLAG_INIT;

static void tmp_lock(void) {
  while (atomic_flag_test_and_set_explicit(&tmp_busy, memory_order_acquire)) {
  }
}
static void tmp_unlock(void) { atomic_flag_clear_explicit(&tmp_busy, memory_order_release); }

static wbr_out_tmp *tmp_register(const char *path) {
  size_t n = strlen(path) + 1;
  wbr_out_tmp *t = malloc(sizeof *t + n);
  if (!t) return NULL;
  memcpy(t->path, path, n);
  tmp_lock();
  atomic_store(&t->next, atomic_load(&tmp_head));
  atomic_store(&tmp_head, t);
  tmp_unlock();
  return t;
}

static void tmp_unregister(wbr_out_tmp *t) {
  if (!t) return;
  tmp_lock();
  struct wbr_out_tmp *_Atomic *pp = &tmp_head;
  for (wbr_out_tmp *c = atomic_load(pp); c; pp = &c->next, c = atomic_load(pp)) {
    if (c == t) {
      atomic_store(pp, atomic_load(&t->next));
      break;
    }
  }
  tmp_unlock();
  free(t);
}

void wbr_remove_temporaries(void) {
  for (wbr_out_tmp *t = atomic_load(&tmp_head); t; t = atomic_load(&t->next)) unlink(t->path);
}

/* ---- The atomic output writer ------------------------------------------------------------- */

/* The process umask without changing it (umask(2) can only be read by setting it, which would
 * race with other threads): Linux reports it in /proc/self/status. Without /proc, set and
 * restore it: a wrong guess could make a private file readable by others. */
static mode_t current_umask(void) {
  mode_t m = 022;
  FILE *f = fopen("/proc/self/status", "re");
  if (!f) {
    m = umask(077);
    umask(m);
    return m;
  }
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

static bool under_proc(const char *p) { return strncmp(p, "/proc/", 6) == 0; }

/* The file name's last extension ("" if none), for the link check of wbr_out_open. */
static const char *extension_of(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  const char *dot = strrchr(base, '.');
  return dot && dot != base ? dot : "";
}

/* Follow symlinks from path to the file a rename must replace (which need not exist: a
 * dangling link names the file to create). Sets *via_proc when a link leads into /proc (e.g.
 * /dev/stdout -> /proc/self/fd/1): such a destination is a descriptor, written in place. */
static int resolve_links(wbr_ctx *ctx, const char *path, char **out, bool *via_proc) {
  char *cur = wbr_strdup(path);
  *via_proc = under_proc(path);
  for (int hops = 0; cur; hops++) {
    struct stat st;
    if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
      *out = cur;
      return 0;
    }
    if (hops == MAX_LINKS) {
      free(cur);
      return wbr_fail(ctx, WBR_EUSAGE, path, "fix the symbolic links, or choose another output path",
                      "too many levels of symbolic links");
    }
    char target[PATH_MAX];
    ssize_t k = readlink(cur, target, sizeof target - 1);
    if (k < 0) {
      free(cur);
      return wbr_fail_errno(ctx, path, "cannot read the symbolic link");
    }
    target[k] = 0;
    char *next;
    if (target[0] == '/') {
      next = wbr_strdup(target);
    } else {
      char *d = wbr_io_dirname(cur);
      wbr_buf b;
      wbr_buf_init(&b);
      if (d) wbr_buf_printf(&b, "%s/%s", d, target);
      free(d);
      next = d ? wbr_buf_take(&b) : NULL;
    }
    free(cur);
    cur = next;
    if (cur && under_proc(cur)) *via_proc = true;
  }
  return wbr_oom(ctx);
}

static int out_errno(wbr_out *o, const char *what) {
  int e = errno;
  const char *help = e == ENOSPC || e == EDQUOT
                         ? "free some space (or choose another directory); nothing was written to the output"
                         : NULL;
  return wbr_fail(o->ctx, WBR_EIO, o->path, help, "%s: %s", what, strerror(e));
}

/* A fresh hidden name beside the destination: DIR/.BASE.XXXXXX.tmp. */
static char *tmp_name(const wbr_out *o, unsigned long salt) {
  static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  const char *slash = strrchr(o->dest, '/');
  const char *base = slash ? slash + 1 : o->dest;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t x = wbr_hash(base, strlen(base)) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
               ((uint64_t)salt * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)o;
  char suffix[7];
  for (int i = 0; i < 6; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    suffix[i] = digits[(x >> 33) % 36];
  }
  suffix[6] = 0;
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_printf(&b, "%s/.%s.%s.tmp", o->dir, base, suffix);
  return wbr_buf_take(&b);
}

/* Test-only: WBR_TEST_NO_TMPFILE=1 takes the named-temporary path as on a filesystem without
 * O_TMPFILE (tests/cli/outputs.sh checks that a signal removes the temporary). */
static bool tmpfile_allowed(void) {
  const char *t = getenv("WBR_TEST_NO_TMPFILE");
  if (t && *t == '1') return false;
  /* /proc is needed to give the file a name at commit (linkat of /proc/self/fd/N). */
  return access("/proc/self/fd", X_OK) == 0;
}

static int create_failed(wbr_out *o) {
  int e = errno;
  if (e == ENOENT)
    return wbr_fail(o->ctx, WBR_EIO, o->path, "create the directory first, or choose another output path",
                    "cannot write the output: directory '%s' does not exist", o->dir);
  if (e == ENOTDIR)
    return wbr_fail(o->ctx, WBR_EIO, o->path, "choose another output path",
                    "cannot write the output: '%s' is not a directory", o->dir);
  if (e == EACCES || e == EPERM || e == EROFS)
    return wbr_fail(o->ctx, WBR_EIO, o->path, "choose a directory you can write to",
                    "cannot write the output: no permission to create files in '%s' (%s)", o->dir,
                    strerror(e));
  return wbr_fail(o->ctx, WBR_EIO, o->path, NULL, "cannot create a temporary file in '%s': %s", o->dir,
                  strerror(e));
}

/* The temporary is created 0600, so nobody reads a half-written file; finish sets the mode. */
static int create_tmp(wbr_out *o) {
#ifdef O_TMPFILE
  if (tmpfile_allowed()) {
    o->fd = open(o->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (o->fd >= 0) {
      o->nameless = true;
      return 0;
    }
    /* Filesystems without O_TMPFILE say so in several ways; fall back to a named file. */
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOTSUP)
      return create_failed(o);
  }
#endif
  for (unsigned long salt = 0; salt < 100; salt++) {
    char *t = tmp_name(o, salt);
    if (!t) return wbr_oom(o->ctx);
    /* Registered before it exists: a signal in between finds no file, which is harmless. */
    wbr_out_tmp *reg = tmp_register(t);
    if (!reg) {
      free(t);
      return wbr_oom(o->ctx);
    }
    o->fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (o->fd >= 0) {
      o->tmp = t;
      o->reg = reg;
      return 0;
    }
    int e = errno;
    tmp_unregister(reg);
    free(t);
    errno = e;
    if (e != EEXIST) break;
  }
  return create_failed(o);
}

static int open_direct(wbr_out *o, const struct stat *st) {
  o->direct = true;
  /* A regular file reached through /proc (/dev/stdout redirected to a file) is truncated, as a
   * shell redirection would; devices and pipes are simply written. */
  int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | (S_ISREG(st->st_mode) ? O_TRUNC : 0);
  o->fd = open(o->path, flags);
  if (o->fd < 0) return out_errno(o, "cannot open the output");
  return 0;
}

int wbr_out_open(wbr_out *o, wbr_ctx *ctx, const char *path, const wbr_file_ids *protect) {
  memset(o, 0, sizeof *o);
  o->ctx = ctx;
  o->path = path;
  o->fd = -1;
  bool via_proc = false;
  int rc = resolve_links(ctx, path, &o->dest, &via_proc);
  if (rc) return rc;
  struct stat st;
  bool exists = stat(o->dest, &st) == 0 || (via_proc && stat(path, &st) == 0);
  if (exists && S_ISDIR(st.st_mode))
    rc = wbr_fail(ctx, WBR_EUSAGE, path, "give a file name for the output", "the output is a directory");
  /* Writing through a link must not change what kind of file is written: the caller checked
   * the name it was given (compile -o NAME.wbc), so the file replaced must carry that name's
   * extension too (vl.wbc -> model.safetensors would otherwise destroy a checkpoint). */
  if (!rc) rc = wbr_file_ids_check(ctx, protect, path);
  if (!rc && !via_proc && strcmp(o->dest, path) != 0 && (!exists || S_ISREG(st.st_mode)) &&
      strcmp(extension_of(path), extension_of(o->dest)) != 0)
    rc = wbr_fail(ctx, WBR_EUSAGE, path, "write to the link's target by its own name, or choose another output path",
                  "the output is a symbolic link to '%s', a file of another kind", o->dest);
  if (!rc && exists && (via_proc || !S_ISREG(st.st_mode))) {
    rc = open_direct(o, &st);
  } else if (!rc) {
    o->mode = exists ? st.st_mode & 07777 : 0666 & ~current_umask();
    o->keep_owner = exists;
    o->uid = st.st_uid;
    o->gid = st.st_gid;
    o->dir = wbr_io_dirname(o->dest);
    rc = o->dir ? create_tmp(o) : wbr_oom(ctx);
  }
  if (rc) wbr_out_discard(o);
  return rc;
}

int wbr_out_finish(wbr_out *o, bool durable) {
  if (o->direct || o->fd < 0) return 0;
  /* Character devices and pipes cannot be synced; that is not an error for them. */
  if (durable && fsync(o->fd) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
    return out_errno(o, "cannot sync the output to disk");
  if (o->keep_owner && (o->uid != geteuid() || o->gid != getegid()))
    (void)fchown(o->fd, o->uid, o->gid); /* best effort: only root may give files away */
  if (fchmod(o->fd, o->mode) != 0) return out_errno(o, "cannot set the output's mode");
  if (o->nameless) {
    /* Give the nameless file a hidden name, then rename it over the destination (linkat
     * cannot replace an existing file). */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
    for (unsigned long salt = 0; salt < 100 && !o->tmp; salt++) {
      char *t = tmp_name(o, salt + 1000);
      wbr_out_tmp *reg = t ? tmp_register(t) : NULL;
      if (!reg) {
        free(t);
        return wbr_oom(o->ctx);
      }
      if (linkat(AT_FDCWD, proc, AT_FDCWD, t, AT_SYMLINK_FOLLOW) == 0) {
        o->tmp = t;
        o->reg = reg;
        break;
      }
      int e = errno;
      tmp_unregister(reg);
      free(t);
      errno = e;
      if (e != EEXIST) break;
    }
    if (!o->tmp) return out_errno(o, "cannot name the output file");
    o->nameless = false;
  }
  int fd = o->fd;
  o->fd = -1;
  if (close(fd) != 0) return out_errno(o, "cannot write (on close)");
  return 0;
}

int wbr_out_publish(wbr_out *o, bool durable) {
  if (o->direct) {
    int fd = o->fd;
    o->fd = -1;
    if (fd >= 0 && close(fd) != 0) return out_errno(o, "cannot write (on close)");
    return 0;
  }
  if (!o->tmp || o->fd >= 0)
    return wbr_fail(o->ctx, WBR_EINTERNAL, o->path, NULL, "output published before it was finished");
  if (rename(o->tmp, o->dest) != 0) return out_errno(o, "cannot rename the output into place");
  free(o->tmp);
  o->tmp = NULL;
  tmp_unregister(o->reg); /* after the rename: until then a signal must remove the file */
  o->reg = NULL;
  /* Make the rename itself durable. Best effort: the data is synced and in place; a
   * filesystem that cannot sync directories has nothing more to offer. */
  if (durable) wbr_io_sync_dir(o->dir);
  return 0;
}

void wbr_io_sync_dir(const char *dir) {
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
}

int wbr_out_commit(wbr_out *o, bool durable) {
  int rc = wbr_out_finish(o, durable);
  return rc ? rc : wbr_out_publish(o, durable);
}

void wbr_out_discard(wbr_out *o) {
  if (o->fd >= 0) close(o->fd); /* an O_TMPFILE file vanishes here */
  o->fd = -1;
  if (o->tmp) unlink(o->tmp);
  tmp_unregister(o->reg);
  o->reg = NULL;
  free(o->tmp);
  o->tmp = NULL;
  free(o->dest);
  o->dest = NULL;
  free(o->dir);
  o->dir = NULL;
}

int wbr_io_write_atomic(wbr_ctx *ctx, const char *path, const void *bytes, size_t len,
                        const wbr_file_ids *protect, bool durable) {
  wbr_out o;
  int rc = wbr_out_open(&o, ctx, path, protect);
  if (rc) return rc;
  if (wbr_io_write_all(o.fd, bytes, len) != 0) rc = out_errno(&o, "cannot write");
  if (!rc) rc = wbr_out_commit(&o, durable);
  wbr_out_discard(&o);
  return rc;
}

/* ---- Directory lock ----------------------------------------------------------------------- */

int wbr_io_lock_dir(wbr_ctx *ctx, const char *dir, const char *for_path) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return wbr_fail_errno(ctx, for_path, "cannot open the output's directory");
  while (flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    /* A filesystem without locks (some network ones) cannot serialise writers: go on as
     * before; the run id in the index still lets a reader detect a mix. */
    if (errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOTSUP) break;
    int rc = wbr_fail_errno(ctx, for_path, "cannot lock the output's directory");
    close(fd);
    return rc;
  }
  return fd;
}

void wbr_io_unlock(int fd) {
  if (fd >= 0) close(fd); /* closing releases the flock */
}

/* ---- Directories and whole-file copies (model directories, formats/hfdir.c) ------------------ */

int wbr_io_copy_fd(wbr_ctx *ctx, int in, int out, const char *from, const char *to) {
  uint8_t buf[1 << 15]; /* on the stack: objects may be used from distinct threads */
  for (;;) {
    ssize_t k = read(in, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return wbr_fail_errno(ctx, from, "cannot read");
    if (k == 0) return 0;
    if (wbr_io_write_all(out, buf, (size_t)k) != 0) return wbr_fail_errno(ctx, to, "cannot write");
  }
}

int wbr_io_mkdir(const char *path) { return mkdir(path, 0777) == 0 ? 0 : -1; }

int wbr_io_rmdir(const char *path) { return rmdir(path) == 0 ? 0 : -1; }

int wbr_io_unlink(const char *path) { return unlink(path) == 0 ? 0 : -1; }
