/* io.h — the library's file I/O floor (ARCHITECTURE.md's base/io): opening and reading a file
 * that must be a regular one (a FIFO or a device never blocks or is read), write_all, file
 * identities (which files an output must never replace), and the one atomic output writer that
 * every output of the library goes through (weight files, shards, .wbc, text). */
#ifndef WBR_IO_H
#define WBR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util.h"

/* ---- Reading ------------------------------------------------------------------------------ */

/* Open path for reading if it is a regular file: O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_NOCTTY (so a
 * FIFO or a device cannot block the open), fstat, refuse anything that is not a regular file,
 * then clear O_NONBLOCK. Returns the descriptor (>= 0) and fills *st (if non-NULL). On failure
 * reports one error about `path` through ctx (nothing if ctx is NULL) and returns a negative
 * wbr_error. `what` names the file in messages ("rule file", "shard"); NULL for "file". */
int wbr_io_open_read(wbr_ctx *ctx, const char *path, const char *what, struct stat *st);

/* Read a whole regular file (opened as wbr_io_open_read does) into a NUL-terminated heap
 * buffer: *out (release with free) and *len (without the NUL). A file larger than `max` bytes
 * is refused (WBR_EFORMAT). ctx may be NULL: failures are then silent. */
int wbr_io_read_file(wbr_ctx *ctx, const char *path, const char *what, size_t max, char **out,
                     size_t *len);
/* The reading half of wbr_io_read_file, for a caller that opened the file itself (and checked
 * its size with messages of its own): reads fd to its end, `size` (the size fstat gave) being
 * the first guess, into *out / *len as above; over `max` bytes is refused. Closes fd. */
int wbr_io_read_fd(wbr_ctx *ctx, int fd, size_t size, const char *path, const char *what, size_t max,
                   char **out, size_t *len);

/* Write all n bytes (EINTR retried, large writes split). 0, or -1 with errno set. */
int wbr_io_write_all(int fd, const void *p, size_t n);

/* ---- File identities ---------------------------------------------------------------------- */

/* Files an output must never replace, by (st_dev, st_ino): how a path is spelled (a symlink,
 * a hard link, ./x, dir/../x, FILE#KEY) does not matter. `name` says which input it is. */
typedef struct wbr_file_id {
  dev_t dev;
  ino_t ino;
  char *name; /* which input (a copy), for the message */
} wbr_file_id;

typedef struct wbr_file_ids {
  wbr_file_id *v;
  size_t n, cap;
} wbr_file_ids;

void wbr_file_ids_free(wbr_file_ids *ids);
/* Add one identity. 0 or -1 (out of memory). */
int wbr_file_ids_add(wbr_file_ids *ids, dev_t dev, ino_t ino, const char *name);
/* Add the file `path` names (symlinks followed). A path that names no file is ignored, unless
 * it is FILE#KEY and FILE exists: then FILE is added. 0 or -1 (out of memory). */
int wbr_file_ids_add_path(wbr_file_ids *ids, const char *path);
/* The input that (dev, ino) is, or NULL. */
const wbr_file_id *wbr_file_ids_find(const wbr_file_ids *ids, dev_t dev, ino_t ino);
/* Refuse to write `path` if the file it names (symlinks followed) is one of ids: reports
 * "the output is the same file as the input ..." and returns WBR_EUSAGE; 0 otherwise. */
int wbr_file_ids_check(wbr_ctx *ctx, const wbr_file_ids *ids, const char *path);

/* ---- The one atomic output writer ---------------------------------------------------------- */

/* An output file being written. A regular (or new) destination is written to a temporary file
 * in its directory: nameless (O_TMPFILE) where the filesystem allows, else a hidden
 * DIR/.BASE.XXXXXX.tmp registered for wbr_remove_temporaries; wbr_out_commit renames it into
 * place, so the destination is the old file or the whole new one. A destination that exists
 * and is not a regular file (a device, a FIFO, /dev/stdout) is written in place, never
 * replaced. A symlink is written through: its final target is replaced, the link stays. A new
 * file gets 0666 & ~umask; a replaced one keeps its mode (and owner, where permitted). */
typedef struct wbr_out_tmp wbr_out_tmp; /* signal-cleanup registration (io.c) */

typedef struct wbr_out {
  wbr_ctx *ctx;
  const char *path; /* as given, for messages (borrowed) */
  char *dest;       /* the file renamed onto: path with symlinks resolved */
  char *dir;        /* dest's directory */
  char *tmp;        /* the temporary's hidden name, once it has one */
  int fd;           /* write here */
  bool direct;      /* not a regular file: written in place, commit only closes */
  bool nameless;    /* O_TMPFILE, no name until commit */
  mode_t mode;      /* the final permission bits */
  bool keep_owner;  /* replacing a file: give the new one its owner */
  uid_t uid;
  gid_t gid;
  wbr_out_tmp *reg; /* registration of tmp for signal cleanup, or NULL */
} wbr_out;

/* Resolve, check and create. `protect` (may be NULL): refuse (WBR_EUSAGE, the message above)
 * when the destination is one of those files. A directory, a missing directory and an
 * unwritable one are reported clearly. On failure *o needs no wbr_out_discard. */
int wbr_out_open(wbr_out *o, wbr_ctx *ctx, const char *path, const wbr_file_ids *protect);
/* First half of commit: sync (if durable), set the final mode, give a nameless file its hidden
 * name, close. Nothing is visible at the destination yet. */
int wbr_out_finish(wbr_out *o, bool durable);
/* Second half: rename onto the destination (and sync the directory if durable). */
int wbr_out_publish(wbr_out *o, bool durable);
/* finish + publish. */
int wbr_out_commit(wbr_out *o, bool durable);
/* Close and remove whatever was not published; release everything. Safe after a commit and
 * on a zeroed struct. */
void wbr_out_discard(wbr_out *o);

/* Write bytes to path atomically through a wbr_out (an existing file is replaced as above). */
int wbr_io_write_atomic(wbr_ctx *ctx, const char *path, const void *bytes, size_t len,
                        const wbr_file_ids *protect, bool durable);

/* Take an exclusive flock on the directory `dir`, waiting for another holder (kept from the
 * first file written to the last rename, so concurrent writers of one multi-file output do not
 * interleave). Returns the descriptor to pass to wbr_io_unlock, or a negative wbr_error
 * (reported). */
int wbr_io_lock_dir(wbr_ctx *ctx, const char *dir, const char *for_path);
void wbr_io_unlock(int fd);

/* The directory part of path ("." for a bare name, "/" for "/x"); NULL if out of memory. */
char *wbr_io_dirname(const char *path);

/* ---- Directories and whole-file copies ---------------------------------------------------- */

/* Copy the rest of `in` to `out` (both open descriptors); `from` and `to` name them in the one
 * error reported. 0 or a negative wbr_error. */
int wbr_io_copy_fd(wbr_ctx *ctx, int in, int out, const char *from, const char *to);
/* mkdir (0777 & ~umask), rmdir, unlink: 0, or -1 with errno set (the caller reports). */
int wbr_io_mkdir(const char *path);
int wbr_io_rmdir(const char *path);
int wbr_io_unlink(const char *path);
/* Sync a directory's entries to disk (a rename or a mkdir in it), best effort. */
void wbr_io_sync_dir(const char *dir);

#endif
