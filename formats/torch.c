/* torch.c — PyTorch checkpoints (.pt/.pth/.bin, and Lightning's .ckpt, whose tensors are under
 * "state_dict") as torch.save writes them since PyTorch 1.6: a
 * zip archive "ARCHIVE/data.pkl" (the pickled object), "ARCHIVE/data/KEY" (one entry per
 * storage), "ARCHIVE/version", optionally "ARCHIVE/byteorder". Reading runs data.pkl through the
 * restricted pickle machine (pickle.c) and maps each tensor onto its storage's bytes in place
 * (non-contiguous views are gathered only when apply needs them); writing streams a state dict
 * torch.load reads back. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "json.h" /* wbr_json_show */
#include "pickle.h"
#include "zip.h"

#define WHAT "PyTorch checkpoint"
#define MAX_NEST 32
/* Visits while looking for tensors: shared sub-objects (the memo) can make a small pickle a
 * huge tree, so the walk is budgeted. */
#define MAX_STEPS 20000000u
#define HELP_DAMAGED "the checkpoint is damaged or was not written by torch.save"

/* ---- Reading -------------------------------------------------------------------------------- */

typedef struct found {
  char *name;
  const wbr_pk_tensor *t;
} found;

typedef struct reader {
  wbr_ctx *ctx;
  const char *path;
  wbr_zip *zip;
  char *prefix; /* "archive" of "archive/data.pkl" */
  found *f;
  size_t nf, capf;
  uint64_t steps;
} reader;

static void reader_free(reader *r) {
  for (size_t i = 0; i < r->nf; i++) free(r->f[i].name);
  free(r->f);
  free(r->prefix);
  wbr_zip_free(r->zip);
}

/* Not a zip: say what it is instead, when we can tell. */
static int not_zip(wbr_ctx *ctx, const char *path, const uint8_t *b, size_t len) {
  /* First: a safetensors header of 128-255 bytes starts with 0x80 0x00, like a pickle. */
  if (len >= 9 && b[8] == '{' && (b[6] | b[7]) == 0)
    return wbr_fail(ctx, WBR_EFORMAT, path, "rename it to .safetensors (or read it with --from safetensors)",
                    "not a PyTorch checkpoint: it looks like a safetensors file");
  if (len >= 4 && b[0] == 0x80 && b[1] <= 5 && b[2] == 0x8a && b[3] == 0x0a)
    return wbr_fail(ctx, WBR_EFORMAT, path,
                    "re-save it with a current PyTorch: torch.save(torch.load(PATH), NEW_PATH) "
                    "(the zip format is the default since 1.6)",
                    "legacy torch.save format (PyTorch < 1.6, not a zip archive); it is not "
                    "supported");
  if (len >= 2 && b[0] == 0x80 && b[1] <= 5)
    return wbr_fail(ctx, WBR_EFORMAT, path, "save it with torch.save(state_dict, PATH)",
                    "a plain Python pickle, not a torch.save checkpoint");
  return wbr_fail(ctx, WBR_EFORMAT, path,
                  "pass a file written by torch.save (PyTorch 1.6 or later)",
                  "not a PyTorch checkpoint: it does not start with a zip header");
}

/* Keys of a dict, for messages: "model, optimizer, epoch". */
static void list_keys(wbr_buf *b, const wbr_pk_value *d, bool dicts_only) {
  size_t shown = 0;
  for (size_t i = 0; i < d->u.dict.n; i++) {
    const wbr_pk_value *k = d->u.dict.keys[i], *v = d->u.dict.vals[i];
    if (dicts_only && v->kind != WBR_PK_DICT) continue;
    if (shown == 12) {
      wbr_buf_puts(b, ", ...");
      break;
    }
    if (shown++) wbr_buf_puts(b, ", ");
    if (k->kind == WBR_PK_STR) wbr_buf_printf(b, "%.*s", (int)(k->u.str.n > 80 ? 80 : k->u.str.n), k->u.str.s);
    else if (k->kind == WBR_PK_INT) wbr_buf_printf(b, "%lld", (long long)k->u.i);
    else wbr_buf_printf(b, "<%s>", wbr_pk_kind_name(k));
  }
  if (!shown) wbr_buf_puts(b, "none");
}

/* True if v holds a tensor; also true once the step budget is spent or the nesting is too deep
 * to tell, so that walk() goes on and reports it. */
static bool has_tensor(reader *r, const wbr_pk_value *v, int depth) {
  if (++r->steps > MAX_STEPS || depth > MAX_NEST) return true;
  switch (v->kind) {
  case WBR_PK_TENSOR: return true;
  case WBR_PK_OBJECT: return true; /* it may hide one: walk() refuses it */
  case WBR_PK_DICT:
    for (size_t i = 0; i < v->u.dict.n; i++)
      if (has_tensor(r, v->u.dict.vals[i], depth + 1)) return true;
    return false;
  case WBR_PK_TUPLE:
  case WBR_PK_LIST:
    for (size_t i = 0; i < v->u.seq.n; i++)
      if (has_tensor(r, v->u.seq.items[i], depth + 1)) return true;
    return false;
  case WBR_PK_NONE:
  case WBR_PK_BOOL:
  case WBR_PK_INT:
  case WBR_PK_FLOAT:
  case WBR_PK_STR:
  case WBR_PK_BYTES:
  case WBR_PK_GLOBAL:
  case WBR_PK_STORAGE:
    return false;
  }
  return false;
}

static int add_found(reader *r, const wbr_buf *name, const wbr_pk_tensor *t) {
  if (!wbr_grow(&r->f, &r->capf, r->nf + 1, sizeof *r->f, 64)) return wbr_oom_file(r->ctx, r->path);
  char *s = wbr_strndup(name->p ? name->p : "", name->len);
  if (!s) return wbr_oom_file(r->ctx, r->path);
  r->f[r->nf].name = s;
  r->f[r->nf].t = t;
  r->nf++;
  return 0;
}

/* Collect the tensors under v, named by their path of keys joined with '.'. Plain values (ints,
 * strings, None...) are skipped: checkpoints keep such things beside their tensors. */
static int walk(reader *r, const wbr_pk_value *v, wbr_buf *name, int depth) {
  if (depth > MAX_NEST)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "select a sub-dict with FILE#KEY",
                    "'%s': nested deeper than %d levels", name->p ? name->p : "", MAX_NEST);
  if (++r->steps > MAX_STEPS)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "save a plain state dict",
                    "looking for tensors took more than %u steps: the checkpoint's objects "
                    "refer to each other too often (shared or self-referencing containers)",
                    MAX_STEPS);
  size_t base = name->len;
  int rc = 0;
  switch (v->kind) {
  case WBR_PK_OBJECT: {
    char cls[600], shown[600];
    snprintf(cls, sizeof cls, "%.*s.%.*s", (int)v->u.object.module_len, v->u.object.module,
             (int)v->u.object.name_len, v->u.object.name);
    wbr_json_show(shown, sizeof shown, cls); /* the name comes from the file */
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path,
                    "select the entry that holds the tensors with FILE#KEY, or save a plain state "
                    "dict",
                    "'%s' is a Python object (%s), which weightbridge does not read (nothing in "
                    "the file is run)",
                    name->len ? name->p : "the selected entry", shown);
  }
  case WBR_PK_TENSOR:
    if (name->len == 0)
      return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "save a dict of tensors (a state dict)",
                      "the checkpoint holds a single tensor, not a dict of named tensors");
    return add_found(r, name, v->u.tensor);
  case WBR_PK_DICT:
    for (size_t i = 0; i < v->u.dict.n && !rc; i++) {
      const wbr_pk_value *k = v->u.dict.keys[i], *x = v->u.dict.vals[i];
      if (!has_tensor(r, x, 0)) continue;
      if (base) wbr_buf_putc(name, '.');
      if (k->kind == WBR_PK_STR) {
        if (memchr(k->u.str.s, 0, k->u.str.n))
          return wbr_fail(r->ctx, WBR_EFORMAT, r->path, HELP_DAMAGED,
                          "a tensor name contains a NUL byte");
        wbr_buf_put(name, k->u.str.s, k->u.str.n);
      } else if (k->kind == WBR_PK_INT) {
        wbr_buf_printf(name, "%lld", (long long)k->u.i);
      } else {
        return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "use string keys for tensors",
                        "'%s': a dict key holding tensors is %s, not a string",
                        name->p ? name->p : "", wbr_pk_kind_name(k));
      }
      if (name->oom) return wbr_oom_file(r->ctx, r->path);
      rc = walk(r, x, name, depth + 1);
      name->len = base;
      if (name->p) name->p[base] = 0;
    }
    return rc;
  case WBR_PK_TUPLE:
  case WBR_PK_LIST:
    for (size_t i = 0; i < v->u.seq.n && !rc; i++) {
      if (!has_tensor(r, v->u.seq.items[i], 0)) continue;
      wbr_buf_printf(name, "%s%zu", base ? "." : "", i);
      if (name->oom) return wbr_oom_file(r->ctx, r->path);
      rc = walk(r, v->u.seq.items[i], name, depth + 1);
      name->len = base;
      if (name->p) name->p[base] = 0;
    }
    return rc;
  case WBR_PK_NONE:
  case WBR_PK_BOOL:
  case WBR_PK_INT:
  case WBR_PK_FLOAT:
  case WBR_PK_STR:
  case WBR_PK_BYTES:
  case WBR_PK_GLOBAL:
  case WBR_PK_STORAGE:
    return 0;
  }
  return 0;
}

static const wbr_pk_value *dict_get(const wbr_pk_value *d, const char *k, size_t kl) {
  for (size_t i = 0; i < d->u.dict.n; i++) {
    const wbr_pk_value *x = d->u.dict.keys[i];
    if (x->kind == WBR_PK_STR && x->u.str.n == kl && memcmp(x->u.str.s, k, kl) == 0)
      return d->u.dict.vals[i];
    if (x->kind == WBR_PK_INT) {
      char num[32];
      int l = snprintf(num, sizeof num, "%lld", (long long)x->u.i);
      if ((size_t)l == kl && memcmp(num, k, kl) == 0) return d->u.dict.vals[i];
    }
  }
  return NULL;
}

/* Item "3" of a list or tuple (the key path a/0/b steps through lists by index), or NULL. */
static const wbr_pk_value *seq_get(const wbr_pk_value *v, const char *k, size_t kl) {
  if ((v->kind != WBR_PK_LIST && v->kind != WBR_PK_TUPLE) || kl == 0 || kl > 9) return NULL;
  size_t i = 0;
  for (size_t c = 0; c < kl; c++) {
    if (k[c] < '0' || k[c] > '9') return NULL;
    i = i * 10 + (size_t)(k[c] - '0');
  }
  return i < v->u.seq.n ? v->u.seq.items[i] : NULL;
}

/* FILE.pt#KEY: the entry KEY of the top-level dict; KEY may be a path "a/b" into nested dicts
 * when no top-level key is literally "a/b". A Lightning checkpoint without #KEY reads its
 * "state_dict" (the model; epoch, optimizer_states, callbacks... are training state), or, when
 * it has none, is read as a plain checkpoint. */
static int select_root(reader *r, const wbr_pk_value *root, const char *key, bool lightning,
                       const wbr_pk_value **out) {
  if (root->kind != WBR_PK_DICT)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "save a dict of tensors (a state dict)",
                    "the checkpoint holds %s, not a dict of tensors", wbr_pk_kind_name(root));
  if (!key && lightning) {
    const wbr_pk_value *sd = dict_get(root, "state_dict", 10);
    if (sd && sd->kind == WBR_PK_DICT) {
      *out = sd;
      return 0;
    }
  }
  if (!key) {
    bool direct = false, nested = false;
    for (size_t i = 0; i < root->u.dict.n; i++) {
      const wbr_pk_value *v = root->u.dict.vals[i];
      if (v->kind == WBR_PK_TENSOR) direct = true;
      else if (v->kind == WBR_PK_DICT && has_tensor(r, v, 0)) nested = true;
    }
    if (!direct && nested) {
      wbr_buf keys, help;
      wbr_buf_init(&keys);
      wbr_buf_init(&help);
      list_keys(&keys, root, true);
      const wbr_pk_value *first = NULL;
      for (size_t i = 0; i < root->u.dict.n && !first; i++)
        if (root->u.dict.vals[i]->kind == WBR_PK_DICT && root->u.dict.keys[i]->kind == WBR_PK_STR)
          first = root->u.dict.keys[i];
      wbr_buf_printf(&help, "pick one with FILE.pt#%.*s (keys: %s)",
                     first ? (int)(first->u.str.n > 80 ? 80 : first->u.str.n) : 5,
                     first ? first->u.str.s : "model", keys.p ? keys.p : "");
      int rc = wbr_fail(r->ctx, WBR_EFORMAT, r->path, help.p,
                        "this checkpoint nests its tensors in sub-dicts (%s); select one with "
                        "'#KEY' after the file name", keys.p ? keys.p : "");
      wbr_buf_free(&keys);
      wbr_buf_free(&help);
      return rc;
    }
    *out = root;
    return 0;
  }
  const wbr_pk_value *v = dict_get(root, key, strlen(key));
  if (!v && strchr(key, '/')) {
    v = root;
    for (const char *s = key; v && *s;) {
      const char *e = strchr(s, '/');
      size_t l = e ? (size_t)(e - s) : strlen(s);
      v = v->kind == WBR_PK_DICT ? dict_get(v, s, l) : seq_get(v, s, l);
      s += l + (e ? 1 : 0);
    }
  }
  if (!v) {
    wbr_buf keys, help;
    wbr_buf_init(&keys);
    wbr_buf_init(&help);
    list_keys(&keys, root, false);
    wbr_buf_printf(&help, "the checkpoint's top-level keys are: %s", keys.p ? keys.p : "");
    int rc = wbr_fail(r->ctx, WBR_EFORMAT, r->path, help.p, "no entry '%s' in the checkpoint", key);
    wbr_buf_free(&keys);
    wbr_buf_free(&help);
    return rc;
  }
  /* A list holds tensors too: Lightning's "optimizer_states" is one dict per optimizer. */
  bool seq = v->kind == WBR_PK_LIST || v->kind == WBR_PK_TUPLE;
  if (v->kind != WBR_PK_DICT && !(seq && has_tensor(r, v, 0)))
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "select an entry that holds tensors",
                    "entry '%s' is %s, not a dict of tensors", key, wbr_pk_kind_name(v));
  *out = v;
  return 0;
}

static int find_pickle(reader *r, const wbr_zip_entry **pkl) {
  *pkl = NULL;
  for (size_t i = 0; i < wbr_zip_count(r->zip); i++) {
    const wbr_zip_entry *e = wbr_zip_entry_at(r->zip, i);
    const char *slash = strchr(e->name, '/');
    if (slash && strcmp(slash, "/data.pkl") == 0) {
      *pkl = e;
      break;
    }
  }
  if (!*pkl)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, "pass a file written by torch.save",
                    "zip archive without ARCHIVE/data.pkl: not a torch.save checkpoint");
  r->prefix = wbr_strndup((*pkl)->name, (size_t)(strchr((*pkl)->name, '/') - (*pkl)->name));
  if (!r->prefix) return wbr_oom_file(r->ctx, r->path);
  wbr_buf n;
  wbr_buf_init(&n);
  wbr_buf_printf(&n, "%s/constants.pkl", r->prefix);
  bool script = n.p && wbr_zip_find(r->zip, n.p);
  wbr_buf_free(&n);
  if (script)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path,
                    "load it with torch.jit.load and save model.state_dict() with torch.save",
                    "a TorchScript archive (torch.jit.save), not a torch.save checkpoint");
  return 0;
}

static int check_byteorder(reader *r) {
  wbr_buf n;
  wbr_buf_init(&n);
  wbr_buf_printf(&n, "%s/byteorder", r->prefix);
  const wbr_zip_entry *e = n.p ? wbr_zip_find(r->zip, n.p) : NULL;
  wbr_buf_free(&n);
  if (!e) return 0; /* PyTorch before 2.1 writes none: little-endian */
  const uint8_t *d;
  int rc = wbr_zip_stored(r->zip, e, &d);
  if (rc) return rc;
  if (e->usize == 6 && memcmp(d, "little", 6) == 0) return 0;
  if (e->usize == 3 && memcmp(d, "big", 3) == 0)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path,
                    "load and re-save it with torch.save on a little-endian machine",
                    "the checkpoint was saved big-endian; only little-endian is supported");
  return wbr_fail(r->ctx, WBR_EFORMAT, r->path, HELP_DAMAGED,
                  "the byteorder entry is neither 'little' nor 'big'");
}

/* Where tensor t's bytes are: in place (*copy false) or gathered from strides (*copy true). */
typedef struct placed {
  const uint8_t *base; /* the storage's bytes */
  wbr_dtype dtype;
  bool copy;
  uint64_t nbytes, storage_bytes;
} placed;

static int place(reader *r, const found *f, placed *pl) {
  const wbr_pk_tensor *t = f->t;
  const wbr_pk_value *s = t->storage;
  wbr_buf n;
  wbr_buf_init(&n);
  wbr_buf_printf(&n, "%s/data/%.*s", r->prefix, (int)s->u.storage.key_len, s->u.storage.key);
  const wbr_zip_entry *e = n.p ? wbr_zip_find(r->zip, n.p) : NULL;
  wbr_buf_free(&n);
  if (!e)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, HELP_DAMAGED,
                    "tensor '%s': its storage data/%.*s is missing from the archive", f->name,
                    (int)s->u.storage.key_len, s->u.storage.key);
  int rc = wbr_zip_stored(r->zip, e, &pl->base);
  if (rc) return rc;
  pl->dtype = (wbr_dtype)s->u.storage.dtype;
  uint64_t es = wbr_dtype_size(pl->dtype), need;
  if (!wbr_mul_u64(s->u.storage.numel, es, &need) || need != e->usize)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, HELP_DAMAGED,
                    "tensor '%s': storage data/%.*s holds %llu bytes, but the pickle says %llu "
                    "elements of %s", f->name, (int)s->u.storage.key_len, s->u.storage.key,
                    (unsigned long long)e->usize, (unsigned long long)s->u.storage.numel,
                    wbr_dtype_name(pl->dtype));
  pl->storage_bytes = need;
  uint64_t nelem;
  if (!wbr_shape_nelem(t->ndim, t->size, &nelem) || !wbr_mul_u64(nelem, es, &pl->nbytes))
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, HELP_DAMAGED,
                    "tensor '%s': its size overflows 64 bits", f->name);
  pl->copy = false;
  if (nelem == 0) return 0;
  /* The last element's index must lie in the storage; overflow is as bad as out of range. */
  uint64_t last = (uint64_t)t->offset, expect = 1;
  bool ok = true, contiguous = true;
  for (int d = t->ndim - 1; d >= 0; d--) {
    uint64_t span;
    ok = ok && wbr_mul_u64((uint64_t)(t->size[d] - 1), (uint64_t)t->stride[d], &span) &&
         wbr_add_u64(last, span, &last);
    if (t->size[d] != 1 && (uint64_t)t->stride[d] != expect) contiguous = false;
    ok = ok && wbr_mul_u64(expect, (uint64_t)t->size[d], &expect);
  }
  if (!ok || last >= s->u.storage.numel)
    return wbr_fail(r->ctx, WBR_EFORMAT, r->path, HELP_DAMAGED,
                    "tensor '%s': its view (offset %lld and strides) reaches past the end of its "
                    "storage data/%.*s (%llu elements)", f->name, (long long)t->offset,
                    (int)s->u.storage.key_len, s->u.storage.key,
                    (unsigned long long)s->u.storage.numel);
  if (contiguous) pl->base += (uint64_t)t->offset * es;
  else pl->copy = true;
  return 0;
}

/* Copy a strided view into dst, row-major. */
static void gather(uint8_t *dst, const uint8_t *src, int nd, const int64_t *size,
                   const int64_t *stride, uint64_t offset, size_t es) {
  int64_t idx[WBR_MAX_DIMS] = {0};
  const uint8_t *row = src + offset * es;
  int64_t inner = nd ? size[nd - 1] : 1;
  uint64_t inner_stride = nd ? (uint64_t)stride[nd - 1] * es : 0;
  for (;;) {
    const uint8_t *p = row;
    if (inner_stride == es) {
      memcpy(dst, p, (size_t)inner * es);
      dst += (size_t)inner * es;
    } else {
      for (int64_t i = 0; i < inner; i++, p += inner_stride, dst += es) memcpy(dst, p, es);
    }
    /* Advance the outer indices like an odometer. */
    int d = nd - 2;
    for (; d >= 0; d--) {
      row += (uint64_t)stride[d] * es;
      if (++idx[d] < size[d]) break;
      row -= (uint64_t)stride[d] * es * (uint64_t)size[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/* A non-contiguous view, gathered only when apply needs its bytes. A view can hold more bytes
 * than its storage only when its strides overlap (expand() gives stride 0): a 455-byte file can
 * describe gigabytes that way, so such views are gathered only while, all together, they add at
 * most TORCH_EXPAND_MAX bytes beyond their storages (docs/formats-torch.md). */
#define TORCH_EXPAND_MAX (256ull << 20)

typedef struct views {
  const char *path; /* the set's copy */
  uint64_t expanded; /* bytes all views hold beyond their storages */
} views;

typedef struct view {
  wbr_lazy lz;
  const views *all;
  const uint8_t *storage;
  uint64_t storage_bytes, offset;
  int ndim;
  int64_t size[WBR_MAX_DIMS], stride[WBR_MAX_DIMS];
} view;

static int view_fill(const wbr_lazy *lz, wbr_ctx *ctx, const wbr_tensor *t, uint8_t *dst) {
  const view *v = (const view *)lz;
  if (t->nbytes > v->storage_bytes && v->all->expanded > TORCH_EXPAND_MAX) {
    char have[32], extra[32], lim[32];
    wbr_bytes_str(have, sizeof have, v->storage_bytes);
    wbr_bytes_str(extra, sizeof extra, v->all->expanded);
    wbr_bytes_str(lim, sizeof lim, TORCH_EXPAND_MAX);
    return wbr_fail(ctx, WBR_EFORMAT, v->all->path,
                    "save materialized tensors: {k: v.contiguous() for k, v in sd.items()}",
                    "tensor '%s': a view of %llu bytes over a storage of %s (overlapping strides, "
                    "as expand() makes); the checkpoint's views add %s beyond their storages, "
                    "more than the %s weightbridge gathers", t->name,
                    (unsigned long long)t->nbytes, have, extra, lim);
  }
  if (t->nelem) gather(dst, v->storage, v->ndim, v->size, v->stride, v->offset, wbr_dtype_size(t->dtype));
  return 0;
}

/* One block owned by the set: the views' descriptions and the path they report. */
static int describe_views(reader *r, wbr_tensorset *ts, const placed *pl, view **out) {
  size_t nv = 0, plen = strlen(r->path) + 1;
  uint64_t expanded = 0;
  for (size_t i = 0; i < r->nf; i++) {
    if (!pl[i].copy) continue;
    nv++;
    if (pl[i].nbytes <= pl[i].storage_bytes) continue;
    uint64_t extra = pl[i].nbytes - pl[i].storage_bytes;
    expanded = extra > UINT64_MAX - expanded ? UINT64_MAX : expanded + extra;
  }
  *out = NULL;
  if (!nv) return 0;
  uint8_t *blk = wbr_ts_own_block(ts, r->ctx, sizeof(views) + nv * sizeof(view) + plen);
  if (!blk) return WBR_ENOMEM;
  views *all = (views *)blk;
  *out = (view *)(blk + sizeof(views));
  char *path = (char *)(*out + nv);
  memcpy(path, r->path, plen);
  all->path = path;
  all->expanded = expanded;
  view *v = *out;
  for (size_t i = 0; i < r->nf; i++) {
    if (!pl[i].copy) continue;
    const wbr_pk_tensor *t = r->f[i].t;
    v->lz.fill = view_fill;
    v->all = all;
    v->storage = pl[i].base;
    v->storage_bytes = pl[i].storage_bytes;
    v->offset = (uint64_t)t->offset;
    v->ndim = t->ndim;
    memcpy(v->size, t->size, sizeof v->size);
    /* A dimension of size 1 is never stepped along, so its stride is never checked against the
     * storage (place): any value is valid there, even 2^62, which the gather's pointer steps
     * must not see. */
    for (int d = 0; d < t->ndim; d++) v->stride[d] = t->size[d] == 1 ? 0 : t->stride[d];
    v++;
  }
  return 0;
}

static int read_checkpoint(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                           bool lightning, const uint8_t *bytes, size_t len) {
  if (!wbr_zip_sniff(bytes, len)) return not_zip(ctx, path, bytes, len);
  reader r = {.ctx = ctx, .path = path};
  wbr_pickle *pk = NULL;
  placed *pl = NULL;
  wbr_buf name;
  wbr_buf_init(&name);
  const wbr_zip_entry *pkl = NULL;
  const wbr_pk_value *root = NULL, *sel = NULL;
  const uint8_t *pb = NULL;
  int rc = wbr_zip_open(&r.zip, ctx, path, WHAT, bytes, len);
  if (!rc) rc = find_pickle(&r, &pkl);
  if (!rc) rc = check_byteorder(&r);
  if (!rc) rc = wbr_zip_stored(r.zip, pkl, &pb);
  /* A Lightning checkpoint keeps Python objects beside its state dict (an optimizer class, an
   * OmegaConf config, numpy scalars in hyper_parameters): they are kept inert and refused only
   * where tensors are read. A plain checkpoint refuses them at once. */
  if (!rc) rc = wbr_pickle_load_flags(&pk, &root, ctx, path, "data.pkl", pb, (size_t)pkl->usize,
                                      lightning ? WBR_PICKLE_INERT : 0);
  if (!rc) rc = select_root(&r, root, key, lightning, &sel);
  if (!rc) rc = walk(&r, sel, &name, 0);
  if (!rc && r.nf && !(pl = calloc(r.nf, sizeof *pl))) rc = wbr_oom_file(ctx, path);
  for (size_t i = 0; i < r.nf && !rc; i++) rc = place(&r, &r.f[i], &pl[i]);
  /* Non-contiguous views are described, not gathered: reading stays proportional to the file. */
  view *v = NULL;
  if (!rc) rc = describe_views(&r, ts, pl, &v);
  for (size_t i = 0; i < r.nf && !rc; i++) {
    const wbr_pk_tensor *t = r.f[i].t;
    int a = wbr_ts_append(ts, r.f[i].name, strlen(r.f[i].name), pl[i].dtype, t->ndim, t->size,
                          pl[i].copy ? NULL : pl[i].base);
    if (a == 0 && pl[i].copy) ts->t[ts->n - 1].lazy = &(v++)->lz;
    if (a == 1)
      rc = wbr_fail(ctx, WBR_EFORMAT, path, "rename one of them before saving",
                    "tensor name '%s' appears twice", r.f[i].name);
    else if (a == 2)
      rc = wbr_fail(ctx, WBR_EFORMAT, path, HELP_DAMAGED, "tensor '%s': its size overflows 64 bits",
                    r.f[i].name);
    else if (a < 0)
      rc = wbr_oom_file(ctx, path);
  }
  free(pl);
  wbr_buf_free(&name);
  wbr_pickle_free(pk);
  reader_free(&r);
  return rc;
}

static int torch_read(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                      const uint8_t *bytes, size_t len) {
  return read_checkpoint(ts, ctx, path, key, false, bytes, len);
}

static int ckpt_read(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                     const uint8_t *bytes, size_t len) {
  return read_checkpoint(ts, ctx, path, key, true, bytes, len);
}

/* ---- Writing -------------------------------------------------------------------------------- */

/* Writer state. The zip writer keeps the central directory; tensor bytes go to the file through
 * the generic writer untouched, and their CRC-32 is computed as they pass (tensor_data). */
typedef struct torch_w {
  wbr_zipw *zip;
  char *prefix;
  uint64_t tensor_start;
  uint32_t crc; /* of the current tensor's bytes so far */
} torch_w;


static void tw_free(wbr_writer *w) {
  torch_w *s = w->state;
  if (!s) return;
  wbr_zipw_free(s->zip);
  free(s->prefix);
  free(s);
  w->state = NULL;
}

static int emit_cb(void *sink, const void *bytes, size_t len) {
  return wbr_writer_emit(sink, bytes, len);
}

/* The archive name torch uses: the output file's name without directory and extension. */
static char *archive_name(const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  const char *dot = strrchr(b, '.');
  size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
  if (n == 0) return wbr_strdup("archive");
  char *s = wbr_strndup(b, n);
  /* A '/' cannot occur; keep the name printable so the archive lists cleanly. */
  for (char *p = s; p && *p; p++)
    if ((unsigned char)*p < 0x20 || *p == '\\') *p = '_';
  return s;
}

static void pk_int(wbr_buf *b, int64_t v) {
  if (v >= 0 && v < 256) {
    wbr_buf_putc(b, 'K');
    wbr_buf_putc(b, (char)v);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    uint32_t u = (uint32_t)(int32_t)v;
    char x[5] = {'J', (char)u, (char)(u >> 8), (char)(u >> 16), (char)(u >> 24)};
    wbr_buf_put(b, x, 5);
  } else {
    uint64_t u = (uint64_t)v;
    char x[11] = {(char)0x8a, 8};
    for (int i = 0; i < 8; i++) x[2 + i] = (char)(u >> (8 * i));
    wbr_buf_put(b, x, 10);
  }
}

static void pk_str(wbr_buf *b, const char *s, size_t n) {
  uint32_t u = (uint32_t)n;
  char x[5] = {'X', (char)u, (char)(u >> 8), (char)(u >> 16), (char)(u >> 24)};
  wbr_buf_put(b, x, 5);
  wbr_buf_put(b, s, n);
}

static void pk_tuple(wbr_buf *b, int n, const int64_t *v) {
  if (n == 0) {
    wbr_buf_putc(b, ')');
    return;
  }
  if (n > 3) wbr_buf_putc(b, '(');
  for (int i = 0; i < n; i++) pk_int(b, v[i]);
  wbr_buf_putc(b, n > 3 ? 't' : (char)(0x84 + n));
}

/* data.pkl for the layout: an OrderedDict of _rebuild_tensor_v2 calls, each on its own storage
 * "data/<i>" — the same program torch.save emits for a state dict of contiguous tensors. */
static int write_pickle(wbr_writer *w, wbr_buf *b) {
  const wbr_tensorset *l = w->layout;
  wbr_buf_put(b, "\x80\x02", 2);
  static const char head[] = "ccollections\nOrderedDict\nq\x00)R"; /* memo 0: OrderedDict */
  static const char rebuild[] = "ctorch._utils\n_rebuild_tensor_v2\nq\x01"; /* memo 1 */
  static const char tail[] = "\x89h\x00)RtR"; /* requires_grad=False, hooks=OrderedDict() */
  wbr_buf_put(b, head, sizeof head - 1);
  for (size_t i = 0; i < l->n; i++) {
    const wbr_tensor *t = &l->t[i];
    const char *st = wbr_pk_storage_name(t->dtype);
    if (!st)
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path, "cast it with a 'cast' rule first",
                      "tensor '%s': PyTorch has no storage type for %s", t->name,
                      wbr_dtype_name(t->dtype));
    if (i % 1000 == 0) wbr_buf_putc(b, '(');
    pk_str(b, t->name, strlen(t->name));
    if (i == 0) wbr_buf_put(b, rebuild, sizeof rebuild - 1);
    else wbr_buf_put(b, "h\x01", 2);
    wbr_buf_put(b, "((", 2);
    pk_str(b, "storage", 7);
    wbr_buf_printf(b, "ctorch\n%s\n", st);
    char key[32];
    int kl = snprintf(key, sizeof key, "%zu", i);
    pk_str(b, key, (size_t)kl);
    pk_str(b, "cpu", 3);
    pk_int(b, (int64_t)t->nelem);
    wbr_buf_put(b, "tQ", 2);
    pk_int(b, 0);
    pk_tuple(b, t->ndim, t->shape);
    int64_t stride[WBR_MAX_DIMS];
    int64_t acc = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
      stride[d] = acc;
      acc *= t->shape[d] > 1 ? t->shape[d] : 1;
    }
    pk_tuple(b, t->ndim, stride);
    wbr_buf_put(b, tail, sizeof tail - 1);
    if (i % 1000 == 999 || i + 1 == l->n) wbr_buf_putc(b, 'u');
  }
  wbr_buf_putc(b, '.');
  return b->oom ? wbr_oom_file(w->ctx, w->path) : 0;
}

/* torch.load reads any name, but our reader needs a non-empty one (an empty key reads as a lone
 * tensor), and pickles strings as UTF-8. */
static const wbr_name_rules torch_names = {.format = "PyTorch"};

static int torch_begin(wbr_writer *w) {
  int rc = wbr_writer_check_layout(w, &torch_names);
  if (rc) return rc;
  torch_w *s = calloc(1, sizeof *s);
  if (!s) return wbr_oom_file(w->ctx, w->path);
  w->state = s;
  s->prefix = archive_name(w->path);
  if (!s->prefix) return wbr_oom_file(w->ctx, w->path);
  rc = wbr_zipw_new(&s->zip, w->ctx, w->path, emit_cb, w, w->offset);
  if (rc) return rc;
  wbr_buf pkl, n;
  wbr_buf_init(&pkl);
  wbr_buf_init(&n);
  rc = write_pickle(w, &pkl);
  wbr_buf_printf(&n, "%s/data.pkl", s->prefix);
  if (!rc && n.oom) rc = wbr_oom_file(w->ctx, w->path);
  if (!rc) rc = wbr_zipw_add(s->zip, n.p, pkl.p, pkl.len, WBR_ZIP_STORED, 64);
  n.len = 0;
  wbr_buf_printf(&n, "%s/byteorder", s->prefix);
  if (!rc && n.oom) rc = wbr_oom_file(w->ctx, w->path);
  if (!rc) rc = wbr_zipw_add(s->zip, n.p, "little", 6, WBR_ZIP_STORED, 64);
  wbr_buf_free(&pkl);
  wbr_buf_free(&n);
  if (rc) tw_free(w);
  return rc;
}

static int torch_tensor_begin(wbr_writer *w, size_t i) {
  torch_w *s = w->state;
  wbr_buf n;
  wbr_buf_init(&n);
  wbr_buf_printf(&n, "%s/data/%zu", s->prefix, i);
  int rc = n.oom ? wbr_oom_file(w->ctx, w->path)
                 : wbr_zipw_begin(s->zip, n.p, w->layout->t[i].nbytes, WBR_ZIP_STORED, 64);
  wbr_buf_free(&n);
  s->tensor_start = w->offset;
  s->crc = 0;
  if (rc) tw_free(w);
  return rc;
}

static int torch_tensor_data(wbr_writer *w, size_t i, const void *bytes, size_t len) {
  torch_w *s = w->state;
  (void)i;
  s->crc = wbr_zip_crc32(s->crc, bytes, len);
  return 0;
}

static int torch_tensor_end(wbr_writer *w, size_t i) {
  torch_w *s = w->state;
  (void)i;
  int rc = wbr_zipw_data_external(s->zip, w->offset - s->tensor_start, s->crc);
  if (!rc) rc = wbr_zipw_end(s->zip);
  if (rc) tw_free(w);
  return rc;
}

static int torch_finish(wbr_writer *w) {
  torch_w *s = w->state;
  wbr_buf n;
  wbr_buf_init(&n);
  wbr_buf_printf(&n, "%s/version", s->prefix);
  int rc = n.oom ? wbr_oom_file(w->ctx, w->path) : wbr_zipw_add(s->zip, n.p, "3\n", 2, WBR_ZIP_STORED, 64);
  wbr_buf_free(&n);
  if (!rc) rc = wbr_zipw_finish(s->zip);
  tw_free(w);
  return rc;
}

static const char *const torch_exts[] = {".pt", ".pth", ".bin", NULL};

const wbr_format wbr_format_torch = {
    .name = "pytorch",
    .exts = torch_exts,
    .what = "weights",
    .has_data = true,
    .read = torch_read,
    .begin = torch_begin,
    .tensor_begin = torch_tensor_begin,
    .tensor_data = torch_tensor_data,
    .tensor_end = torch_tensor_end,
    .finish = torch_finish,
    .release = tw_free, /* also on an abandoned write */
};

/* Read only: a Lightning checkpoint is training state (optimizer, loops, callbacks) that
 * weightbridge does not make; a converted model is a plain state dict (.pt) or safetensors. */
static const char *const ckpt_exts[] = {".ckpt", NULL};

const wbr_format wbr_format_lightning = {
    .name = "lightning",
    .exts = ckpt_exts,
    .what = "PyTorch Lightning checkpoint",
    .has_data = true,
    .read = ckpt_read,
};
