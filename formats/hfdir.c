/* hfdir.c — Hugging Face model directories (a hub download, a save_pretrained output) as a
 * source, a target and an output. Read: the weight file transformers would load is opened by its
 * own reader. Written: model.safetensors, or model.safetensors.index.json and its shards when
 * the layout needs more than one, through the one atomic writer; --copy files staged before the
 * weights and published after them; stale weight files of an earlier save removed last. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hfdir.h"
#include "sharded.h"

/* In transformers' order of preference: safetensors first, one file before an index. */
static const struct {
  const char *file, *format;
} WEIGHTS[] = {
    {"model.safetensors", "Hugging Face directory (model.safetensors)"},
    {"model.safetensors.index.json", "Hugging Face directory (model.safetensors.index.json)"},
    {"pytorch_model.bin", "Hugging Face directory (pytorch_model.bin)"},
    {"pytorch_model.bin.index.json", "Hugging Face directory (pytorch_model.bin.index.json)"},
};
#define NWEIGHTS (sizeof WEIGHTS / sizeof WEIGHTS[0])

static const char LOOKED_FOR[] =
    "model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json";

/* DIR/NAME with DIR's trailing slashes dropped; NULL when out of memory. */
static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_printf(&b, "%.*s/%s", (int)n, dir, name);
  return wbr_buf_take(&b);
}

static bool present(const char *dir, const char *name) {
  char *p = join(dir, name);
  struct stat st;
  bool yes = p && stat(p, &st) == 0;
  free(p);
  return yes;
}

/* A weight file of another name in dir ("consolidated.safetensors"), for the help of a
 * directory without the names transformers loads; "" when there is none. */
static void other_weights(const char *dir, char *buf, size_t n) {
  buf[0] = 0;
  DIR *d = opendir(dir);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    const wbr_format *f = e->d_name[0] != '.' ? wbr_format_for_path(e->d_name) : NULL;
    if (f && f->has_data && (!buf[0] || strcmp(e->d_name, buf) < 0)) snprintf(buf, n, "%s", e->d_name);
  }
  closedir(d);
}

static int no_weights(wbr_ctx *ctx, const char *dir) {
  char other[256], help[512];
  if (present(dir, "adapter_model.safetensors"))
    return wbr_fail(ctx, WBR_EFORMAT, dir,
                    "an adapter is not the model: read it by its file name (DIR/adapter_model.safetensors), "
                    "or give the directory of the base model",
                    "this is a PEFT adapter directory (adapter_model.safetensors), not a model's weights");
  other_weights(dir, other, sizeof other);
  if (other[0])
    snprintf(help, sizeof help, "name the weight file itself, e.g. %s/%s", dir, other);
  else
    snprintf(help, sizeof help, "download the weights too (not only config.json and the tokenizer), or name a weight file");
  return wbr_fail(ctx, WBR_EFORMAT, dir, help, "no model weights in this directory: looked for %s", LOOKED_FOR);
}

/* The weights of the model directory `dir`, through the reader of the file chosen; the set is
 * that file's, its format named after the directory layout. */
static int hfdir_open(wbr_tensorset **out, wbr_ctx *ctx, const char *dir) {
  size_t k = 0;
  while (k < NWEIGHTS && !present(dir, WEIGHTS[k].file)) k++;
  if (k == NWEIGHTS) return no_weights(ctx, dir);
  /* One file and an index of the same kind: one of them is left from another save, and which
   * one is current cannot be told (transformers would take the single file silently). */
  if (k % 2 == 0 && present(dir, WEIGHTS[k + 1].file))
    return wbr_fail(ctx, WBR_EFORMAT, dir,
                    "one of them is left from an earlier save: remove it, or name the file to read "
                    "(DIR/FILE)",
                    "the directory holds both %s and %s", WEIGHTS[k].file, WEIGHTS[k + 1].file);
  char *path = join(dir, WEIGHTS[k].file);
  if (!path) return wbr_oom(ctx);
  int rc = wbr_tensorset_open(out, ctx, path);
  free(path);
  if (rc == 0) (*out)->format = WEIGHTS[k].format;
  return rc;
}

const wbr_dir_reader wbr_dir_hf = {.open = hfdir_open};

/* ---- Output --------------------------------------------------------------------------------- */

bool wbr_hfdir_is_output(const char *path) {
  size_t n = strlen(path);
  if (n == 0) return false;
  if (path[n - 1] == '/') return true;
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && !wbr_format_for_path(path);
}

struct wbr_hfdir_out {
  wbr_ctx *ctx;
  char *dir;      /* without trailing slashes */
  bool created;   /* made by this output: removed again if nothing is published */
  bool sharded;   /* the weights are an index and shards */
  size_t nshards;
  wbr_out *copies;
  const char **from; /* copy i's source, as given (the options outlive the open) */
  char **to;         /* copy i's destination (copies[i].path borrows it) */
  size_t ncopies;
  bool published;
};

/* The directory: an existing one (not a symlink: its files would land elsewhere than its name
 * says), or a new one in an existing parent. */
static int check_dir(wbr_hfdir_out *d, const char *path) {
  struct stat st;
  const char *help = "give a directory for the output (a path ending in '/': it is created if its parent exists)";
  if (lstat(d->dir, &st) == 0) {
    if (S_ISLNK(st.st_mode))
      return wbr_fail(d->ctx, WBR_EUSAGE, path, "give the directory's real path as the output",
                      "the output directory is a symbolic link");
    if (!S_ISDIR(st.st_mode))
      return wbr_fail(d->ctx, WBR_EUSAGE, path, help, "the output names a directory, but '%s' is not one", d->dir);
    return 0;
  }
  if (errno != ENOENT) return wbr_fail_errno(d->ctx, path, "cannot use the output directory");
  if (wbr_io_mkdir(d->dir) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      char *parent = wbr_io_dirname(d->dir);
      int rc = wbr_fail(d->ctx, WBR_EUSAGE, path, "create the parent directory first",
                        "cannot create the output directory: '%s' does not exist", parent ? parent : "?");
      free(parent);
      return rc;
    }
    return wbr_fail_errno(d->ctx, path, "cannot create the output directory");
  }
  d->created = true;
  return 0;
}

/* The names the weights of a directory output may have (model.safetensors, its index, a shard
 * model-0000K-of-0000N.safetensors); *shard_of gets N for a shard, 0 otherwise. */
static bool weights_name(const char *name, unsigned *shard_of) {
  *shard_of = 0;
  if (strcmp(name, "model.safetensors") == 0 || strcmp(name, "model.safetensors.index.json") == 0) return true;
  unsigned k, n;
  int end = 0;
  if (strlen(name) != strlen("model-00001-of-00001.safetensors") ||
      sscanf(name, "model-%5u-of-%5u.safetensors%n", &k, &n, &end) != 2 || name[end] != 0)
    return false;
  for (const char *c = name + 6; c < name + 11; c++)
    if (*c < '0' || *c > '9') return false;
  *shard_of = n;
  return true;
}

static const char *last_name(const char *path) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  const char *s = path + n;
  while (s > path && s[-1] != '/') s--;
  return s;
}

/* Stage copy i: its bytes in a temporary beside DIR/NAME, published by commit. */
static int stage_copy(wbr_hfdir_out *d, const char *from, const wbr_file_ids *protect) {
  const char *name = last_name(from);
  unsigned nn;
  char help[320];
  if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return wbr_fail(d->ctx, WBR_EUSAGE, from, "--copy takes a file", "--copy: not a file name");
  if (weights_name(name, &nn))
    return wbr_fail(d->ctx, WBR_EUSAGE, from, "the output's weights are written by the conversion; copy only other files",
                    "--copy would put '%s' in the output directory, where the converted weights go", name);
  for (size_t i = 0; i < d->ncopies; i++)
    if (strcmp(last_name(d->from[i]), name) == 0)
      return wbr_fail(d->ctx, WBR_EUSAGE, from, "copy each file name once",
                      "--copy: '%s' is copied twice (from '%s' too)", name, d->from[i]);
  struct stat in_st, out_st;
  int in = wbr_io_open_read(d->ctx, from, "file to copy", &in_st);
  if (in < 0) return in;
  char *to = join(d->dir, name);
  int rc = to ? 0 : wbr_oom(d->ctx);
  if (rc == 0 && lstat(to, &out_st) == 0) {
    snprintf(help, sizeof help, "remove the link first, or copy into another directory");
    if (S_ISLNK(out_st.st_mode))
      rc = wbr_fail(d->ctx, WBR_EUSAGE, to, help, "--copy would replace a symbolic link (its target stays untouched)");
    else if (out_st.st_dev == in_st.st_dev && out_st.st_ino == in_st.st_ino)
      rc = wbr_fail(d->ctx, WBR_EUSAGE, to, "leave --copy out: the file is in the output directory already",
                    "--copy '%s' would copy the file onto itself", from);
  }
  wbr_out *o = &d->copies[d->ncopies];
  if (rc == 0) rc = wbr_out_open(o, d->ctx, to, protect);
  if (rc == 0) {
    d->from[d->ncopies] = from;
    d->to[d->ncopies++] = to;
    rc = wbr_io_copy_fd(d->ctx, in, o->fd, from, to);
  } else {
    free(to);
  }
  close(in);
  return rc;
}

/* A weight file of an earlier save that this one did not write: the other form (single file or
 * index), or a shard of another count. */
static bool stale(const wbr_hfdir_out *d, const char *name) {
  unsigned of;
  if (!weights_name(name, &of)) return false;
  if (of) return !d->sharded || of != d->nshards;
  return strcmp(name, d->sharded ? "model.safetensors" : "model.safetensors.index.json") == 0;
}

/* The stale weight files of an earlier save in the directory: removed (remove), or, before
 * anything is written, refused when one is an input (a source read from this directory) or not
 * a regular file (a symlink into the Hugging Face cache's blobs), which the save could neither
 * remove nor leave beside its own weights without making the directory unreadable. Only regular
 * files are ever removed. */
static int scan_stale(wbr_hfdir_out *d, const wbr_file_ids *protect, bool remove) {
  DIR *dir = opendir(d->dir);
  if (!dir) return remove || errno != ENOENT ? wbr_fail_errno(d->ctx, d->dir, "cannot list the output directory") : 0;
  int rc = 0;
  for (struct dirent *e; rc == 0 && (e = readdir(dir));) {
    if (!stale(d, e->d_name)) continue;
    char *p = join(d->dir, e->d_name);
    struct stat st;
    const char *what = d->sharded ? "index and shards" : "model.safetensors";
    if (!p) rc = wbr_oom(d->ctx);
    else if (lstat(p, &st) != 0) ;
    else if (!S_ISREG(st.st_mode) && !remove)
      rc = wbr_fail(d->ctx, WBR_EUSAGE, p, "remove it, or write the output to another directory",
                    "the output directory holds %s of this name, which the new %s would leave stale beside "
                    "it (only regular files are removed)", S_ISLNK(st.st_mode) ? "a symbolic link" : "a non-file", what);
    else if (!S_ISREG(st.st_mode)) ;
    else if (wbr_file_ids_find(protect, st.st_dev, st.st_ino))
      rc = wbr_fail(d->ctx, WBR_EUSAGE, p, "write the output to another directory",
                    "the output directory holds this input, which the new %s would leave stale beside it", what);
    else if (remove && wbr_io_unlink(p) != 0 && errno != ENOENT)
      rc = wbr_fail_errno(d->ctx, p, "cannot remove a stale weight file of an earlier save");
    free(p);
  }
  closedir(dir);
  return rc;
}

int wbr_hfdir_out_open(wbr_hfdir_out **out, wbr_ctx *ctx, const char *path, const wbr_tensorset *layout,
                       const wbr_file_ids *protect, const wbr_writer_options *opts, char **file) {
  *out = NULL;
  *file = NULL;
  size_t ncopy = opts->version >= 2 ? opts->ncopy_files : 0;
  wbr_hfdir_out *d = calloc(1, sizeof *d);
  if (d) {
    d->copies = calloc(ncopy ? ncopy : 1, sizeof *d->copies);
    d->from = calloc(ncopy ? ncopy : 1, sizeof *d->from);
    d->to = calloc(ncopy ? ncopy : 1, sizeof *d->to);
    d->dir = wbr_strdup(path);
  }
  if (!d || !d->copies || !d->from || !d->to || !d->dir) {
    wbr_hfdir_out_free(d);
    return wbr_oom(ctx);
  }
  d->ctx = ctx;
  size_t n = strlen(d->dir);
  while (n > 1 && d->dir[n - 1] == '/') d->dir[--n] = 0;
  int rc = check_dir(d, path);
  uint64_t max = opts->max_shard_bytes ? opts->max_shard_bytes : WBR_SHARD_DEFAULT_MAX;
  d->nshards = wbr_shard_assign(layout, max, NULL);
  d->sharded = d->nshards > 1;
  if (rc == 0) rc = scan_stale(d, protect, false);
  for (size_t i = 0; rc == 0 && i < ncopy; i++) rc = stage_copy(d, opts->copy_files[i], protect);
  for (size_t i = 0; rc == 0 && i < d->ncopies; i++) rc = wbr_out_finish(&d->copies[i], opts->durable);
  if (rc == 0 && !(*file = join(d->dir, d->sharded ? "model.safetensors.index.json" : "model.safetensors")))
    rc = wbr_oom(ctx);
  if (rc) {
    wbr_hfdir_out_free(d);
    return rc;
  }
  *out = d;
  return 0;
}

int wbr_hfdir_out_commit(wbr_hfdir_out *d, const wbr_file_ids *protect, bool durable) {
  d->published = true;
  if (durable && d->created) {
    char *parent = wbr_io_dirname(d->dir); /* the new directory's own entry */
    if (parent) wbr_io_sync_dir(parent);
    free(parent);
  }
  int rc = 0;
  for (size_t i = 0; i < d->ncopies && rc == 0; i++) rc = wbr_out_publish(&d->copies[i], durable);
  /* A sharded writer holds the directory's lock until it is freed; a single file takes it here,
   * so that another writer of this directory does not see its files removed under it. */
  int lock = -1;
  if (rc == 0 && !d->sharded) {
    lock = wbr_io_lock_dir(d->ctx, d->dir, d->dir);
    if (lock < 0) return lock;
  }
  if (rc == 0) rc = scan_stale(d, protect, true);
  wbr_io_unlock(lock);
  return rc;
}

void wbr_hfdir_out_free(wbr_hfdir_out *d) {
  if (!d) return;
  for (size_t i = 0; i < d->ncopies; i++) {
    wbr_out_discard(&d->copies[i]);
    free(d->to[i]);
  }
  if (d->created && !d->published) (void)wbr_io_rmdir(d->dir);
  free(d->copies);
  free(d->from);
  free(d->to);
  free(d->dir);
  free(d);
}
