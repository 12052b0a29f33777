/* sharded.c — sharded checkpoints, as Hugging Face writes them: an index
 * NAME.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor: shard file}}) beside
 * shards NAME-0000K-of-0000N.safetensors, or the same index as NAME.bin.index.json beside
 * torch.save'd shards NAME-0000K-of-0000N.bin (save_pretrained(safe_serialization=False)).
 * Read: every shard is opened by its own format's reader and checked against the weight map;
 * the two kinds differ only in their shards' extensions. Written (safetensors shards only): the
 * format's hooks write the shards themselves (the generic writer's own file becomes the index),
 * each through the one atomic output of base/io.c, and rename them into place only when all
 * are complete, holding a lock on the directory from the first shard to the index's rename so
 * that concurrent writers of one output do not interleave. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "sharded.h"
#include "writer.h"

#define INDEX_EXT ".safetensors.index.json"
#define ST_MAX_HEADER UINT64_C(100000000) /* safetensors readers refuse larger headers */

/* What tells the two kinds of index apart: their shards. */
typedef struct sh_kind {
  const char *const *shard_exts; /* a shard's name ends with one of these */
  const char *help_index;        /* the index's shape, with a shard named as this kind names it */
  const char *help_shard_ext;
  const char *not_shard;         /* "a .safetensors file" */
} sh_kind;

static const char *const st_shard_exts[] = {".safetensors", NULL};
static const char *const pt_shard_exts[] = {".bin", ".pt", ".pth", NULL};

static const sh_kind kind_st = {
    st_shard_exts,
    "a sharded checkpoint's index is {\"metadata\": {...}, \"weight_map\": {\"TENSOR\": "
    "\"model-00001-of-00002.safetensors\", ...}}",
    "shards are .safetensors files", "a .safetensors file"};
static const sh_kind kind_pt = {
    pt_shard_exts,
    "a sharded PyTorch checkpoint's index is {\"metadata\": {...}, \"weight_map\": {\"TENSOR\": "
    "\"pytorch_model-00001-of-00002.bin\", ...}}",
    "the shards of a .bin.index.json are torch.save'd .bin (or .pt/.pth) files",
    "a PyTorch .bin/.pt/.pth file"};
static const char help_mismatch[] =
    "the index does not describe its shards; re-save the checkpoint, or fix \"weight_map\"";

/* ---- Reader ----------------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), l = strlen(suffix);
  return n > l && strcasecmp(s + n - l, suffix) == 0;
}

typedef struct shard {
  const char *file; /* the weight map's spelling (borrowed from the JSON tree) */
  wbr_tensorset *set; /* owned by the index's set once adopted */
} shard;

static bool ends_with_any(const char *s, const char *const *exts) {
  for (; *exts; exts++)
    if (ends_with(s, *exts)) return true;
  return false;
}

static int sh_read_kind(const sh_kind *kind, wbr_tensorset *ts, wbr_ctx *ctx, const char *path,
                        const char *key, const uint8_t *bytes, size_t len) {
  const char *help_index = kind->help_index;
  if (key) return wbr_format_no_key(ctx, path, key);
  wbr_json *j;
  size_t eoff;
  char err[160];
  int rc = wbr_json_parse(&j, (const char *)bytes, len, &eoff, err, sizeof err);
  if (rc == WBR_ENOMEM) return wbr_oom(ctx);
  if (rc)
    return wbr_fail(ctx, rc, path, help_index, "index is not valid JSON: %s at byte %zu", err, eoff);
  const cJSON *root = wbr_json_root(j), *meta = NULL, *map = NULL;
  char shown[256], file[256];
  if (!cJSON_IsObject(root)) {
    rc = wbr_fail(ctx, WBR_EFORMAT, path, help_index, "index is %s, expected an object",
                  wbr_json_kind(root));
    goto out;
  }
  /* Other top-level keys are ignored, as Hugging Face's loader does. */
  for (const cJSON *e = root->child; e; e = e->next) {
    const cJSON **slot = strcmp(e->string, "metadata") == 0     ? &meta
                         : strcmp(e->string, "weight_map") == 0 ? &map
                                                                : NULL;
    if (slot && *slot) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_index, "top-level key \"%s\" appears twice",
                    e->string);
      goto out;
    }
    if (slot) *slot = e;
  }
  if (!map) {
    rc = wbr_fail(ctx, WBR_EFORMAT, path, help_index, "index has no \"weight_map\"");
    goto out;
  }
  if (!cJSON_IsObject(map)) {
    rc = wbr_fail(ctx, WBR_EFORMAT, path, help_index,
                  "\"weight_map\" is %s, expected an object mapping tensor names to shard files",
                  wbr_json_kind(map));
    goto out;
  }
  if (meta && !cJSON_IsObject(meta)) {
    rc = wbr_fail(ctx, WBR_EFORMAT, path, help_index, "\"metadata\" is %s, expected an object",
                  wbr_json_kind(meta));
    goto out;
  }
  /* String metadata is kept; numbers such as "total_size" are Hugging Face's bookkeeping. */
  for (const cJSON *e = meta ? meta->child : NULL; e && rc == 0; e = e->next)
    if (cJSON_IsString(e)) rc = wbr_tensorset_meta_set(ts, e->string, e->valuestring);
  if (rc) goto out;

  /* Validate the weight map; collect the shards in order of first mention. */
  size_t count = 0;
  for (const cJSON *e = map->child; e; e = e->next) count++;
  shard *shards = calloc(count ? count : 1, sizeof *shards);
  size_t *which = calloc(count ? count : 1, sizeof *which); /* shard of each entry */
  wbr_map names, files;
  wbr_map_init(&names);
  wbr_map_init(&files);
  char *dir = wbr_io_dirname(path);
  size_t nshards = 0, k = 0;
  if (!shards || !which || !dir) rc = wbr_oom(ctx);
  for (const cJSON *e = map->child; e && rc == 0; e = e->next, k++) {
    wbr_json_show(shown, sizeof shown, e->string);
    if (!e->string[0]) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, "give every tensor a non-empty name",
                    "\"weight_map\" has a tensor with an empty name");
      break;
    }
    int r = wbr_map_put(&names, e->string, k, NULL);
    if (r < 0) {
      rc = wbr_oom(ctx);
      break;
    }
    if (r == 1) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, "list every tensor once",
                    "tensor '%s' appears twice in \"weight_map\"", shown);
      break;
    }
    if (!cJSON_IsString(e)) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_index,
                    "\"weight_map\": tensor '%s' maps to %s, expected a shard file name", shown,
                    wbr_json_kind(e));
      break;
    }
    const char *f = e->valuestring;
    wbr_json_show(file, sizeof file, f);
    if (!f[0] || strchr(f, '/') || strchr(f, '\\') || strcmp(f, ".") == 0 ||
        strcmp(f, "..") == 0) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path,
                    "shards are plain file names in the index's directory (no '/' or '..')",
                    "\"weight_map\": tensor '%s' maps to '%s', which is not a file name in the "
                    "index's directory",
                    shown, file);
      break;
    }
    if (!ends_with_any(f, kind->shard_exts)) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, kind->help_shard_ext,
                    "\"weight_map\": tensor '%s' maps to '%s', which is not %s", shown, file,
                    kind->not_shard);
      break;
    }
    size_t si;
    if (!wbr_map_get(&files, f, &si)) {
      si = nshards;
      if (wbr_map_put(&files, f, si, NULL) < 0) {
        rc = wbr_oom(ctx);
        break;
      }
      shards[nshards++].file = f;
    }
    which[k] = si;
  }

  /* Open every shard; each is checked by its own format's reader. */
  wbr_buf sp;
  wbr_buf_init(&sp);
  for (size_t s = 0; s < nshards && rc == 0; s++) {
    sp.len = 0;
    wbr_buf_printf(&sp, "%s/%s", dir, shards[s].file);
    if (sp.oom) {
      rc = wbr_oom(ctx);
      break;
    }
    struct stat sb;
    if (stat(sp.p, &sb) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
      wbr_json_show(file, sizeof file, shards[s].file);
      rc = wbr_fail(ctx, WBR_EFORMAT, path,
                    "every shard must be in the index's directory; download or copy the missing "
                    "ones",
                    "shard '%s' named in \"weight_map\" does not exist", file);
      break;
    }
    rc = wbr_tensorset_open(&shards[s].set, ctx, sp.p);
    if (rc) break;
    rc = wbr_ts_adopt(ts, shards[s].set); /* frees the shard on failure */
    if (rc) break;
  }
  wbr_buf_free(&sp);

  /* Tensors in weight-map order, from their shards. */
  k = 0;
  for (const cJSON *e = map->child; e && rc == 0; e = e->next, k++) {
    const shard *s = &shards[which[k]];
    long at = wbr_tensorset_find(s->set, e->string);
    wbr_json_show(shown, sizeof shown, e->string);
    wbr_json_show(file, sizeof file, s->file);
    if (at < 0) {
      rc = wbr_fail(ctx, WBR_EFORMAT, path, help_mismatch,
                    "\"weight_map\" puts tensor '%s' in '%s', which has no such tensor", shown,
                    file);
      break;
    }
    const wbr_tensor *t = &s->set->t[at];
    if (wbr_ts_append(ts, t->name, strlen(t->name), t->dtype, t->ndim, t->shape, t->data) != 0)
      rc = wbr_oom(ctx); /* names are unique and shapes valid: only memory can fail */
    else
      ts->t[ts->n - 1].lazy = t->lazy; /* a strided view of a .bin shard: owned by the shard */
  }
  /* Every shard tensor must be in the map, assigned to that shard. */
  for (size_t s = 0; s < nshards && rc == 0; s++) {
    const wbr_tensorset *c = shards[s].set;
    wbr_json_show(file, sizeof file, shards[s].file);
    for (size_t i = 0; i < c->n && rc == 0; i++) {
      size_t at;
      wbr_json_show(shown, sizeof shown, c->t[i].name);
      if (!wbr_map_get(&names, c->t[i].name, &at)) {
        rc = wbr_fail(ctx, WBR_EFORMAT, path, help_mismatch,
                      "shard '%s' holds tensor '%s', which \"weight_map\" does not list", file,
                      shown);
      } else if (which[at] != s) {
        char other[256];
        wbr_json_show(other, sizeof other, shards[which[at]].file);
        rc = wbr_fail(ctx, WBR_EFORMAT, path, help_mismatch,
                      "shard '%s' holds tensor '%s', which \"weight_map\" puts in '%s'", file,
                      shown, other);
      }
    }
    /* Shard metadata fills in what the index does not say (first shard wins). */
    for (size_t i = 0; i < c->nmeta && rc == 0; i++)
      if (wbr_ts_meta_find(ts, c->meta_key[i]) < 0)
        rc = wbr_tensorset_meta_set(ts, c->meta_key[i], c->meta_val[i]);
  }
  free(shards);
  free(which);
  free(dir);
  wbr_map_free(&names);
  wbr_map_free(&files);
out:
  wbr_json_free(j);
  return rc;
}

/* ---- Writer ----------------------------------------------------------------------------------- */

/* The generic writer's own file (w->fd) receives the index, in finish. The shards are written
 * by swapping w->fd to each shard's file while its tensors stream: the writer's buffered bytes
 * are flushed to the file they belong to before every swap. Each shard is a wbr_out (nameless
 * or hidden until every shard is complete, then renamed into place, the index last by the
 * generic commit). The state is one allocation (names included); what the shards' wbr_out hold
 * is given back by the release hook, before the generic writer frees the state. */
typedef struct sh_shard {
  wbr_out out;
  bool opened; /* out is open (and must be discarded) */
  char *final; /* DIR/NAME-0000K-of-0000N.safetensors */
  const char *base; /* the final name's last part, inside `final` */
  size_t first, end; /* tensors [first, end) */
  uint64_t bytes;
} sh_shard;

typedef struct sh_state {
  uint64_t max;
  bool planned;
  int index_fd;  /* the generic writer's file while w->fd points at a shard */
  int lock_fd;   /* the directory's flock, from the first shard to the index's rename */
  sh_shard *shards;
  size_t nshards;
  size_t *shard_of; /* per tensor */
  long cur;         /* open shard, or -1 */
  char *dir, *prefix;
  size_t name_cap;  /* bytes of each shard's final name buffer */
} sh_state;

static int sh_errno(wbr_writer *w, const char *file, const char *what) {
  int e = errno;
  const char *help = e == ENOSPC || e == EDQUOT
                         ? "free some space (or choose another directory); no shard was renamed "
                           "into place"
                         : "check the output directory (permissions, space, file system); no "
                           "shard was renamed into place";
  return wbr_fail(w->ctx, WBR_EIO, file, help, "%s: %s", what, strerror(e));
}

/* Move the writer's buffered bytes to the file w->fd now refers to. */
static int sh_flush(wbr_writer *w, const char *file) {
  int rc = wbr_io_write_all(w->fd, w->buf, w->buf_len) == 0 ? 0 : sh_errno(w, file, "cannot write");
  if (rc) w->failed = true;
  w->buf_len = 0;
  return rc;
}

static void sh_free_state(sh_state *st) {
  for (size_t i = 0; i < st->nshards; i++) {
    if (st->shards[i].opened) wbr_out_discard(&st->shards[i].out);
    st->shards[i].opened = false;
  }
  st->nshards = 0;
  st->cur = -1;
}

static int sh_plan(wbr_writer *w, sh_state *st) {
  const wbr_tensorset *ts = w->layout;
  st->planned = true;
  size_t n = wbr_shard_assign(ts, st->max, st->shard_of);
  for (size_t i = 0; i < ts->n; i++) {
    sh_shard *s = &st->shards[st->shard_of[i]];
    if (i == 0 || st->shard_of[i] != st->shard_of[i - 1]) s->first = i;
    s->bytes += ts->t[i].nbytes;
    s->end = i + 1;
  }
  st->nshards = n;
  int rc = 0;
  for (size_t k = 0; k < n && rc == 0; k++) {
    snprintf(st->shards[k].final, st->name_cap, "%s/%s-%05zu-of-%05zu.safetensors", st->dir,
             st->prefix, k + 1, n);
    st->shards[k].base = st->shards[k].final + strlen(st->dir) + 1;
    /* Every shard name is checked before the first byte: none may replace an input. */
    rc = wbr_file_ids_check(w->ctx, wbr_writer_protected(w), st->shards[k].final);
  }
  if (rc == 0) {
    /* Waits while another writer holds the directory: its shards and index go in first. */
    st->lock_fd = wbr_io_lock_dir(w->ctx, st->dir, w->path);
    if (st->lock_fd < 0) rc = st->lock_fd;
  }
  if (rc) w->failed = true;
  return rc;
}

static bool utf8_ok(const char *s) { return wbr_utf8_valid((const uint8_t *)s, strlen(s), NULL); }

/* The shard's safetensors header: metadata, then its tensors with contiguous offsets, padded
 * with spaces to a multiple of 8 (the layout the safetensors writer produces). */
static int sh_header(wbr_writer *w, const sh_shard *s, wbr_buf *b) {
  const wbr_tensorset *ts = w->layout;
  wbr_buf_putc(b, '{');
  if (ts->nmeta) {
    wbr_buf_puts(b, "\"__metadata__\":{");
    for (size_t i = 0; i < ts->nmeta; i++) {
      if (i) wbr_buf_putc(b, ',');
      wbr_buf_json_str(b, ts->meta_key[i]);
      wbr_buf_putc(b, ':');
      wbr_buf_json_str(b, ts->meta_val[i]);
    }
    wbr_buf_putc(b, '}');
  }
  uint64_t off = 0;
  for (size_t i = s->first; i < s->end; i++) {
    const wbr_tensor *t = &ts->t[i];
    if (b->len > 1) wbr_buf_putc(b, ',');
    wbr_buf_json_str(b, t->name);
    wbr_buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", wbr_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
      wbr_buf_printf(b, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    wbr_buf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                   (unsigned long long)(off + t->nbytes));
    off += t->nbytes;
  }
  wbr_buf_putc(b, '}');
  while (b->len % 8) wbr_buf_putc(b, ' ');
  if (b->oom) return wbr_oom(w->ctx);
  if (b->len > ST_MAX_HEADER)
    return wbr_fail(w->ctx, WBR_EFORMAT, s->final, "use a larger --max-shard-size or fewer tensors",
                    "the shard's safetensors header would be %zu bytes, over the %llu-byte limit",
                    b->len, (unsigned long long)ST_MAX_HEADER);
  return 0;
}

/* Create shard k's file (nameless if the filesystem allows, else under a hidden name). */
static int sh_create(wbr_writer *w, sh_shard *s) {
  int rc = wbr_out_open(&s->out, w->ctx, s->final, wbr_writer_protected(w));
  if (rc) {
    w->failed = true;
    return rc;
  }
  s->opened = true;
  return 0;
}

/* Make shard k the destination of the writer's bytes, finishing the shards before it. */
static int sh_switch(wbr_writer *w, sh_state *st, size_t k) {
  int rc = 0;
  while (rc == 0 && st->cur < (long)k) {
    if (st->cur >= 0) rc = sh_flush(w, st->shards[st->cur].final);
    if (rc) return rc;
    sh_shard *s = &st->shards[++st->cur];
    rc = sh_create(w, s);
    if (rc) return rc;
    w->fd = s->out.fd;
    wbr_buf b;
    wbr_buf_init(&b);
    rc = sh_header(w, s, &b);
    if (rc == 0) {
      uint8_t len8[8];
      for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)b.len >> (8 * i));
      rc = wbr_writer_emit(w, len8, 8);
      if (rc == 0) rc = wbr_writer_emit(w, b.p, b.len);
    }
    wbr_buf_free(&b);
  }
  return rc;
}

/* Put the generic writer back on its own file (the index) and release the shards: the writer
 * closes w->fd itself, and a failed output must leave no shard behind. */
static void sh_restore(wbr_writer *w, sh_state *st) {
  if (st->index_fd >= 0) w->fd = st->index_fd;
  sh_free_state(st);
}

static int sh_begin(wbr_writer *w) {
  struct stat sb;
  if (fstat(w->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
    return wbr_fail(w->ctx, WBR_EUSAGE, w->path, "give a file path in a directory for the shards",
                    "a sharded checkpoint's index must be a regular file");
  /* The shards are named after the index and live beside it: through a link they would land
   * beside the link while the index went to its target, and the target's index would not load. */
  if (lstat(w->path, &sb) == 0 && S_ISLNK(sb.st_mode))
    return wbr_fail(w->ctx, WBR_EUSAGE, w->path, "give the index's real path as the output",
                    "a sharded output's index may not be a symbolic link");
  const char *slash = strrchr(w->path, '/');
  const char *base = slash ? slash + 1 : w->path;
  char *dir = wbr_io_dirname(w->path);
  if (!dir) return wbr_oom(w->ctx);
  size_t n = w->layout->n ? w->layout->n : 1, dl = strlen(dir), pl = strlen(base) - strlen(INDEX_EXT);
  size_t name_cap = dl + pl + 64; /* "/" + NAME + "-00001-of-00001.safetensors" */
  size_t size = sizeof(sh_state) + n * sizeof(sh_shard) + n * sizeof(size_t) + n * name_cap +
                dl + pl + 2;
  sh_state *st = calloc(1, size);
  if (!st) {
    free(dir);
    return wbr_oom(w->ctx);
  }
  st->shards = (sh_shard *)(st + 1);
  st->shard_of = (size_t *)(st->shards + n);
  char *c = (char *)(st->shard_of + n);
  for (size_t i = 0; i < n; i++) {
    st->shards[i].final = c;
    c += name_cap;
  }
  st->dir = c;
  memcpy(st->dir, dir, dl + 1);
  st->prefix = c + dl + 1;
  memcpy(st->prefix, base, pl);
  st->prefix[pl] = 0;
  free(dir);
  st->name_cap = name_cap;
  st->max = w->max_shard ? w->max_shard : WBR_SHARD_DEFAULT_MAX;
  st->cur = -1;
  st->index_fd = w->fd;
  st->lock_fd = -1;
  w->state = st;
  for (size_t i = 0; i < w->layout->nmeta; i++) {
    if (!utf8_ok(w->layout->meta_key[i]) || !utf8_ok(w->layout->meta_val[i])) {
      char shown[256];
      wbr_json_show(shown, sizeof shown, w->layout->meta_key[i]);
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path, "safetensors headers are UTF-8 JSON",
                      "cannot write metadata '%s': it is not valid UTF-8", shown);
    }
  }
  /* The shards are safetensors: what their reader refuses (formats/format.c). */
  static const wbr_name_rules names = {.format = "safetensors", .reserved = "__metadata__"};
  return wbr_writer_check_layout(w, &names);
}

static int sh_tensor_begin(wbr_writer *w, size_t i) {
  sh_state *st = w->state;
  /* Zero-byte tensors at the start are framed while the writer opens: they need nothing
   * written, so the plan waits for the first tensor with bytes. */
  if (!st->planned && w->layout->t[i].nbytes == 0) return 0;
  int rc = st->planned ? 0 : sh_plan(w, st);
  if (rc == 0) rc = sh_switch(w, st, st->shard_of[i]);
  if (rc) sh_restore(w, st);
  return rc;
}

static int sh_finish(wbr_writer *w) {
  sh_state *st = w->state;
  const wbr_tensorset *ts = w->layout;
  int rc = st->planned ? 0 : sh_plan(w, st);
  if (rc == 0 && st->nshards) rc = sh_switch(w, st, st->nshards - 1);
  if (rc == 0 && st->cur >= 0) rc = sh_flush(w, st->shards[st->cur].final);
  if (rc) {
    sh_restore(w, st);
    return rc;
  }
  w->fd = st->index_fd;

  /* The index, in layout order. */
  uint64_t total = 0;
  for (size_t i = 0; i < ts->n; i++) total += ts->t[i].nbytes;
  wbr_buf b;
  wbr_buf_init(&b);
  wbr_buf_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %llu", (unsigned long long)total);
  for (size_t i = 0; i < ts->nmeta; i++) {
    if (strcmp(ts->meta_key[i], "total_size") == 0) continue;
    wbr_buf_puts(&b, ",\n    ");
    wbr_buf_json_str(&b, ts->meta_key[i]);
    wbr_buf_puts(&b, ": ");
    wbr_buf_json_str(&b, ts->meta_val[i]);
  }
  wbr_buf_puts(&b, "\n  },\n  \"weight_map\": {");
  for (size_t i = 0; i < ts->n; i++) {
    wbr_buf_puts(&b, i ? ",\n    " : "\n    ");
    wbr_buf_json_str(&b, ts->t[i].name);
    wbr_buf_puts(&b, ": ");
    wbr_buf_json_str(&b, st->shards[st->shard_of[i]].base);
  }
  wbr_buf_puts(&b, ts->n ? "\n  }\n}\n" : "}\n}\n");
  rc = b.oom ? wbr_oom(w->ctx) : wbr_writer_emit(w, b.p, b.len);
  wbr_buf_free(&b);

  /* Every shard is complete: make them durable if asked, name them, then rename them all. */
  for (size_t k = 0; k < st->nshards && rc == 0; k++) rc = wbr_out_finish(&st->shards[k].out, w->durable);
  for (size_t k = 0; k < st->nshards && rc == 0; k++) rc = wbr_out_publish(&st->shards[k].out, w->durable);
  if (rc) w->failed = true;
  sh_free_state(st);
  return rc;
}

/* Called by wbr_writer_free, after the index's rename when committed: close and remove the
 * shards written so far (given up before finish), and let the next writer in. */
static void sh_release(wbr_writer *w) {
  sh_state *st = w->state;
  if (!st) return;
  if (st->nshards) sh_restore(w, st);
  wbr_io_unlock(st->lock_fd);
  st->lock_fd = -1;
}

static int sh_read(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                   const uint8_t *bytes, size_t len) {
  return sh_read_kind(&kind_st, ts, ctx, path, key, bytes, len);
}

static int sh_read_pt(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                      const uint8_t *bytes, size_t len) {
  return sh_read_kind(&kind_pt, ts, ctx, path, key, bytes, len);
}

static const char *const sh_exts[] = {INDEX_EXT, NULL};
static const char *const sh_pt_exts[] = {".bin.index.json", ".pt.index.json", ".pth.index.json", NULL};

const wbr_format wbr_format_sharded = {
    .name = "sharded safetensors",
    .exts = sh_exts,
    .what = "sharded weights index",
    .has_data = true,
    .read = sh_read,
    .begin = sh_begin,
    .tensor_begin = sh_tensor_begin,
    .finish = sh_finish,
    .release = sh_release,
};

/* Read only: writing torch.save'd shards is not done (write a sharded safetensors or one .bin). */
const wbr_format wbr_format_sharded_torch = {
    .name = "sharded pytorch",
    .exts = sh_pt_exts,
    .what = "sharded PyTorch index",
    .has_data = true,
    .read = sh_read_pt,
};
