/* npy.c — NumPy's .npy (one array, named after the file) and .npz (a zip of NAME.npy entries, as
 * np.savez writes them stored and np.savez_compressed deflated; names such as JAX/Flax's
 * "Transformer/encoderblock_0/MlpBlock_3/Dense_0/kernel" are kept as they are). Deflated,
 * big-endian and Fortran-order arrays are read only as far as their headers; their little-endian
 * row-major bytes are made when apply needs them (npy_fill). The .npz writer emits
 * a stored zip, one .npy entry per tensor, with each CRC-32 in a data descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "format.h"
#include "json.h"
#include "zip.h"

#define NPY_MAX_HEADER 65535u /* version 1's limit; longer headers are structured dtypes */

static const char help_corrupt[] = "the file is truncated, corrupt, or not a NumPy file";
static const char help_dtype[] =
    "weightbridge reads NumPy arrays of f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 (little- or "
    "big-endian); convert others with numpy first (a.astype(np.float32))";

/* ---- .npy header -------------------------------------------------------------------------- */

typedef struct npy_info {
  wbr_dtype dtype;
  int ndim;
  int64_t shape[WBR_MAX_DIMS];
  bool fortran, swap;
  size_t data_off;
  uint64_t nbytes;
} npy_info;

/* The header dict is a Python literal; we read exactly what numpy writes:
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces. */
typedef struct lit {
  const char *s;
  size_t n, i;
} lit;

static void lit_space(lit *l) {
  while (l->i < l->n && (l->s[l->i] == ' ' || l->s[l->i] == '\t' || l->s[l->i] == '\n' ||
                         l->s[l->i] == '\r'))
    l->i++;
}

static bool lit_peek(lit *l, char c) {
  lit_space(l);
  return l->i < l->n && l->s[l->i] == c;
}

/* A quoted string without escapes (numpy never writes any in these fields). */
static bool lit_str(lit *l, const char **s, size_t *n) {
  lit_space(l);
  if (l->i >= l->n || (l->s[l->i] != '\'' && l->s[l->i] != '"')) return false;
  char q = l->s[l->i++];
  size_t start = l->i;
  while (l->i < l->n && l->s[l->i] != q) {
    if (l->s[l->i] == '\\') return false;
    l->i++;
  }
  if (l->i >= l->n) return false;
  *s = l->s + start;
  *n = l->i - start;
  l->i++;
  return true;
}

static bool lit_word(lit *l, const char *w) {
  lit_space(l);
  size_t k = strlen(w);
  if (l->n - l->i < k || memcmp(l->s + l->i, w, k) != 0) return false;
  l->i += k;
  return true;
}

typedef enum { NPY_OK, NPY_SYNTAX, NPY_STRUCTURED, NPY_DIMS, NPY_BIG } npy_err;

static npy_err lit_shape(lit *l, npy_info *info) {
  if (!lit_peek(l, '(')) return NPY_SYNTAX;
  l->i++;
  info->ndim = 0;
  for (;;) {
    if (lit_peek(l, ')')) {
      l->i++;
      return NPY_OK;
    }
    if (l->i >= l->n || l->s[l->i] < '0' || l->s[l->i] > '9') return NPY_SYNTAX;
    uint64_t v = 0;
    while (l->i < l->n && l->s[l->i] >= '0' && l->s[l->i] <= '9') {
      if (v > (uint64_t)INT64_MAX / 10) return NPY_BIG;
      v = v * 10 + (uint64_t)(l->s[l->i++] - '0');
    }
    if (v > (UINT64_C(1) << 53)) return NPY_BIG; /* what JSON readers (manifests) hold exactly */
    if (l->i < l->n && l->s[l->i] == 'L') l->i++; /* Python 2's long */
    if (info->ndim == WBR_MAX_DIMS) return NPY_DIMS;
    info->shape[info->ndim++] = (int64_t)v;
    if (lit_peek(l, ',')) {
      l->i++;
    } else if (!lit_peek(l, ')')) {
      return NPY_SYNTAX;
    }
  }
}

/* descr: byte order (<, >, |, = or none) then kind and size: '<f4', '|b1', '>i8'. */
static int npy_descr(wbr_ctx *ctx, const char *path, const char *who, const char *s, size_t n,
                     npy_info *info) {
  char shown[64];
  snprintf(shown, sizeof shown, "%.*s", (int)(n < 40 ? n : 40), s);
  for (char *p = shown; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
  char order = '=';
  size_t i = 0;
  if (n && strchr("<>|=", s[0])) order = s[i++];
  char kind = i < n ? s[i++] : 0;
  unsigned size = 0;
  bool digits = i < n;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || size > 1000) {
      digits = false;
      break;
    }
    size = size * 10 + (unsigned)(s[i] - '0');
  }
  int dt = -1;
  if (digits) {
    switch (kind) {
    case 'f': dt = size == 2 ? WBR_F16 : size == 4 ? WBR_F32 : size == 8 ? WBR_F64 : -1; break;
    case 'i':
      dt = size == 1 ? WBR_I8 : size == 2 ? WBR_I16 : size == 4 ? WBR_I32 : size == 8 ? WBR_I64 : -1;
      break;
    case 'u':
      dt = size == 1 ? WBR_U8 : size == 2 ? WBR_U16 : size == 4 ? WBR_U32 : size == 8 ? WBR_U64 : -1;
      break;
    case 'b': dt = size == 1 ? WBR_BOOL : -1; break;
    default: break;
    }
  }
  if (dt < 0) {
    const char *what = kind == 'c' ? " (complex)" : kind == 'O' ? " (Python objects)"
                     : kind == 'U' || kind == 'S' ? " (strings)" : kind == 'V' ? " (raw bytes)"
                     : kind == 'M' || kind == 'm' ? " (dates)" : "";
    return wbr_fail(ctx, WBR_EFORMAT, path, help_dtype, "%sunsupported dtype '%s'%s", who, shown,
                    what);
  }
  if (order == '|' && size > 1)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%sdtype '%s' has no byte order but %u-byte elements", who, shown, size);
  info->dtype = (wbr_dtype)dt;
  info->swap = order == '>' && size > 1;
  return 0;
}

/* Parse the header of a .npy of `total` bytes from its first bytes p[0..len) (len <= total: a
 * deflated entry is inflated only as far as its header). `who` prefixes messages ("array 'x': "). */
static int npy_parse(wbr_ctx *ctx, const char *path, const char *who, const uint8_t *p, size_t len,
                     uint64_t total, npy_info *info) {
  memset(info, 0, sizeof *info);
  if (len < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%snot a .npy array: it does not start with \"\\x93NUMPY\"", who);
  unsigned major = p[6], minor = p[7];
  size_t hlen, start;
  if (major == 1) {
    hlen = (size_t)p[8] | (size_t)p[9] << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12)
      return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "%s.npy header is truncated", who);
    hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
    start = 12;
  } else {
    return wbr_fail(ctx, WBR_EFORMAT, path, "re-save the array with numpy (format 1.0, 2.0 or 3.0)",
                    "%s.npy format version %u.%u is not supported", who, major, minor);
  }
  if (hlen > NPY_MAX_HEADER)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s.npy header of %zu bytes is longer than the %u bytes arrays need", who,
                    hlen, NPY_MAX_HEADER);
  if (hlen > len - start)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s.npy header of %zu bytes runs past the end of the data (%llu bytes)", who,
                    hlen, (unsigned long long)total);
  lit l = {(const char *)p + start, hlen, 0};
  bool have_descr = false, have_fortran = false, have_shape = false;
  const char *descr = NULL;
  size_t descr_n = 0;
  npy_err e = NPY_OK;
  if (!lit_peek(&l, '{')) e = NPY_SYNTAX;
  else l.i++;
  while (e == NPY_OK && !lit_peek(&l, '}')) {
    const char *k;
    size_t kn;
    if (!lit_str(&l, &k, &kn) || !lit_peek(&l, ':')) {
      e = NPY_SYNTAX;
      break;
    }
    l.i++;
    if (kn == 5 && memcmp(k, "descr", 5) == 0 && !have_descr) {
      have_descr = true;
      if (lit_peek(&l, '[')) e = NPY_STRUCTURED;
      else if (!lit_str(&l, &descr, &descr_n)) e = NPY_SYNTAX;
    } else if (kn == 13 && memcmp(k, "fortran_order", 13) == 0 && !have_fortran) {
      have_fortran = true;
      if (lit_word(&l, "True")) info->fortran = true;
      else if (!lit_word(&l, "False")) e = NPY_SYNTAX;
    } else if (kn == 5 && memcmp(k, "shape", 5) == 0 && !have_shape) {
      have_shape = true;
      e = lit_shape(&l, info);
    } else {
      char key[64];
      snprintf(key, sizeof key, "%.*s", (int)(kn < 40 ? kn : 40), k);
      for (char *q = key; *q; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f) *q = '?';
      return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                      "%s.npy header has an unexpected or repeated key '%s' (it holds exactly "
                      "'descr', 'fortran_order' and 'shape')",
                      who, key);
    }
    if (e != NPY_OK) break;
    if (lit_peek(&l, ',')) l.i++;
    else if (!lit_peek(&l, '}')) e = NPY_SYNTAX;
  }
  if (e == NPY_OK) {
    l.i++; /* the '}' */
    lit_space(&l);
    if (l.i != l.n) e = NPY_SYNTAX;
  }
  switch (e) {
  case NPY_OK: break;
  case NPY_SYNTAX:
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%s.npy header is not a dict of 'descr', 'fortran_order' and 'shape' (at "
                    "header byte %zu)",
                    who, l.i);
  case NPY_STRUCTURED:
    return wbr_fail(ctx, WBR_EFORMAT, path,
                    "save each field as its own array (np.savez(f, a=x['a'], ...))",
                    "%sstructured dtypes (a list of fields) are not supported", who);
  case NPY_DIMS:
    return wbr_fail(ctx, WBR_EFORMAT, path, "reshape the array to at most 8 dimensions",
                    "%sshape has more than %d dimensions", who, WBR_MAX_DIMS);
  case NPY_BIG:
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "%sa dimension is larger than 2^53",
                    who);
  }
  if (!have_descr || !have_fortran || !have_shape)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "%s.npy header lacks '%s'", who,
                    !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
  int rc = npy_descr(ctx, path, who, descr, descr_n, info);
  if (rc) return rc;
  uint64_t nelem;
  char sh[160];
  wbr_shape_str(sh, sizeof sh, info->ndim, info->shape);
  if (!wbr_shape_nelem(info->ndim, info->shape, &nelem) ||
      !wbr_mul_u64(nelem, wbr_dtype_size(info->dtype), &info->nbytes))
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%sshape %s needs more bytes than fit in 64 bits", who, sh);
  info->data_off = start + hlen;
  uint64_t have = total - info->data_off;
  if (have != info->nbytes)
    return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                    "%sholds %llu bytes of data, but shape %s of %s needs %llu", who,
                    (unsigned long long)have, sh, wbr_dtype_name(info->dtype),
                    (unsigned long long)info->nbytes);
  return 0;
}

static void swap_bytes(uint8_t *p, uint64_t n, size_t esz) {
  for (uint64_t i = 0; i + esz <= n; i += esz)
    for (size_t a = 0, b = esz - 1; a < b; a++, b--) {
      uint8_t t = p[i + a];
      p[i + a] = p[i + b];
      p[i + b] = t;
    }
}

/* Column-major src of `shape` into row-major dst. */
static void from_fortran(uint8_t *dst, const uint8_t *src, int ndim, const int64_t *shape,
                         uint64_t nelem, size_t esz) {
  int64_t idx[WBR_MAX_DIMS] = {0};
  uint64_t stride[WBR_MAX_DIMS]; /* column-major strides, in elements */
  uint64_t s = 1;
  for (int d = 0; d < ndim; d++) {
    stride[d] = s;
    s *= (uint64_t)shape[d];
  }
  uint64_t off = 0;
  for (uint64_t k = 0; k < nelem; k++) {
    memcpy(dst + k * esz, src + off * esz, esz);
    for (int d = ndim - 1; d >= 0; d--) { /* row-major order: the last index moves fastest */
      if (++idx[d] < shape[d]) {
        off += stride[d];
        break;
      }
      off -= stride[d] * (uint64_t)(shape[d] - 1);
      idx[d] = 0;
    }
  }
}

/* An array whose bytes need work (inflating, byte swapping, Fortran to C order), made only
 * when apply needs them. A deflated .npz is inflated at apply only while its arrays total at most
 * NPZ_INFLATE_SLACK + NPZ_INFLATE_RATIO times their compressed bytes (docs/formats-npz-gguf.md):
 * real weights deflate by a few times at most; a 3 MB file claiming gigabytes of zeros is refused. */
#define NPZ_INFLATE_SLACK (1ull << 30)
#define NPZ_INFLATE_RATIO 64

typedef struct npz_budget {
  const char *path; /* the set's copy */
  uint64_t inflated, compressed; /* over all deflated entries */
} npz_budget;

typedef struct npy_lazy {
  wbr_lazy lz;
  const npz_budget *all;
  const uint8_t *src; /* the .npy bytes (stored), or the deflated stream */
  wbr_zip_entry entry; /* sizes and CRC of a deflated entry (its name is not kept) */
  bool deflated, fortran, swap;
  uint64_t data_off;
} npy_lazy;

static bool over_budget(const npz_budget *b) {
  uint64_t lim;
  return !wbr_mul_u64(b->compressed, NPZ_INFLATE_RATIO, &lim) || !wbr_add_u64(lim, NPZ_INFLATE_SLACK, &lim) ||
         b->inflated > lim;
}

static int npy_fill(const wbr_lazy *lz, wbr_ctx *ctx, const wbr_tensor *t, uint8_t *dst) {
  const npy_lazy *a = (const npy_lazy *)lz;
  const uint8_t *raw = a->src + (a->deflated ? 0 : a->data_off);
  uint8_t *tmp = NULL;
  int rc = 0;
  if (a->deflated) {
    if (over_budget(a->all)) {
      char infl[32], comp[32];
      wbr_bytes_str(infl, sizeof infl, a->all->inflated);
      wbr_bytes_str(comp, sizeof comp, a->all->compressed);
      return wbr_fail(ctx, WBR_EFORMAT, a->all->path,
                      "re-save it uncompressed with np.savez (not savez_compressed)",
                      "array '%s': the compressed arrays would inflate to %s from %s, more than "
                      "the %d times (plus 1 GiB) weightbridge inflates", t->name, infl, comp,
                      NPZ_INFLATE_RATIO);
    }
    uint8_t *out = dst;
    if (a->fortran && !(out = tmp = malloc(t->nbytes ? (size_t)t->nbytes : 1)))
      return wbr_fail(ctx, WBR_ENOMEM, a->all->path, "free memory or convert the array to C order",
                      "array '%s': out of memory for a copy of %llu bytes", t->name,
                      (unsigned long long)t->nbytes);
    rc = wbr_zip_inflate(ctx, a->all->path, t->name, &a->entry, a->src, a->data_off, out, t->nbytes);
    raw = out;
  }
  size_t esz = wbr_dtype_size(t->dtype);
  if (rc == 0 && a->fortran) from_fortran(dst, raw, t->ndim, t->shape, t->nelem, esz);
  else if (rc == 0 && raw != dst) memcpy(dst, raw, (size_t)t->nbytes);
  if (rc == 0 && a->swap) swap_bytes(dst, t->nbytes, esz);
  free(tmp);
  return rc;
}

/* One array to add: its header's first bytes, and where its data is. */
typedef struct npy_src {
  const char *name;
  const uint8_t *head; /* the .npy's first head_len bytes */
  size_t head_len;
  uint64_t total;      /* bytes of the whole .npy */
  const uint8_t *src;  /* the .npy (stored) or its deflated stream */
  const wbr_zip_entry *entry; /* deflated: its sizes and CRC; else NULL */
} npy_src;

/* Append the array as tensor `name`: in place when its bytes are usable as they are, else with
 * a lazy description in *lz (from the set's block). */
static int npy_add(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const npy_src *in,
                   npy_lazy *lz) {
  char shown[256], who[300];
  wbr_json_show(shown, sizeof shown, in->name);
  snprintf(who, sizeof who, "array '%s': ", shown);
  npy_info info;
  int rc = npy_parse(ctx, path, who, in->head, in->head_len, in->total, &info);
  if (rc) return rc;
  bool fortran = info.fortran && info.ndim > 1;
  bool direct = !in->entry && !info.swap && !fortran;
  int r = wbr_ts_append(ts, in->name, strlen(in->name), info.dtype, info.ndim, info.shape,
                        direct ? in->src + info.data_off : NULL);
  if (r == 1)
    return wbr_fail(ctx, WBR_EFORMAT, path, "give every array a distinct name",
                    "array '%s' appears twice", shown);
  if (r == 2) return wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt, "%sshape too large", who);
  if (r < 0) return wbr_oom_file(ctx, path);
  if (direct) return 0;
  lz->lz.fill = npy_fill;
  lz->src = in->src;
  if (in->entry) lz->entry = *in->entry;
  lz->entry.name = NULL;
  lz->deflated = in->entry != NULL;
  lz->fortran = fortran;
  lz->swap = info.swap;
  lz->data_off = info.data_off;
  ts->t[ts->n - 1].lazy = &lz->lz;
  return 0;
}

/* The block holding the budget, n lazy descriptions and the path; NULL after reporting. */
static npy_lazy *lazy_block(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, size_t n,
                            npz_budget **budget) {
  size_t plen = strlen(path) + 1;
  uint8_t *blk = wbr_ts_own_block(ts, ctx, sizeof(npz_budget) + n * sizeof(npy_lazy) + plen);
  if (!blk) return NULL;
  *budget = (npz_budget *)blk;
  npy_lazy *lz = (npy_lazy *)(blk + sizeof(npz_budget));
  char *p = (char *)(lz + n);
  memcpy(p, path, plen);
  (*budget)->path = p;
  for (size_t i = 0; i < n; i++) lz[i].all = *budget;
  return lz;
}

static int npy_read(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                    const uint8_t *bytes, size_t len) {
  if (key) return wbr_format_no_key(ctx, path, key);
  /* The tensor is named after the file: "dir/x.npy" -> "x". */
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t n = strlen(base) - 4;
  if (n == 0)
    return wbr_fail(ctx, WBR_EFORMAT, path, "name the file NAME.npy: the array is named after it",
                    "cannot name the array: the file name has nothing before '.npy'");
  char *name = wbr_strndup(base, n);
  if (!name) return wbr_oom_file(ctx, path);
  npz_budget *b;
  npy_lazy *lz = lazy_block(ts, ctx, path, 1, &b);
  npy_src in = {.name = name, .head = bytes, .head_len = len, .total = len, .src = bytes};
  int rc = lz ? npy_add(ts, ctx, path, &in, lz) : WBR_ENOMEM;
  free(name);
  return rc;
}

/* ---- .npz reader ---------------------------------------------------------------------------- */

/* Deflate cannot expand data more than about 1032:1; a larger claim is a forged size. */
#define DEFLATE_MAX_RATIO 1032
/* A deflated entry is inflated at read time only as far as its .npy header. */
#define NPY_HEAD_MAX (12u + NPY_MAX_HEADER)

/* Entry names become tensor names, which go into JSON (inspect --json, plans) and into every
 * output format: like safetensors and PyTorch names they must be UTF-8, without NUL. */
static int npz_name(wbr_ctx *ctx, const char *path, const wbr_zip_entry *e, const char *shown) {
  size_t bad;
  if (e->name_len <= 4 || strcmp(e->name + e->name_len - 4, ".npy") != 0)
    return wbr_fail(ctx, WBR_EFORMAT, path,
                    "an .npz holds only NAME.npy arrays, as np.savez writes them",
                    "entry '%s' is not a .npy array", shown);
  if (!wbr_utf8_valid((const uint8_t *)e->name, e->name_len, &bad))
    return wbr_fail(ctx, WBR_EFORMAT, path, "re-save the arrays under UTF-8 names",
                    "entry '%s': its name is not UTF-8 (byte %zu)", shown, bad);
  return 0;
}

static int npz_read_entry(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const wbr_zip *z,
                     const wbr_zip_entry *e, npy_lazy *lz, npz_budget *budget, uint8_t *head) {
  char shown[256];
  wbr_json_show(shown, sizeof shown, e->name);
  int rc = npz_name(ctx, path, e, shown);
  if (rc) return rc;
  char *name = wbr_strndup(e->name, e->name_len - 4);
  if (!name) return wbr_oom_file(ctx, path);
  npy_src in = {.name = name, .total = e->usize};
  if (e->method == WBR_ZIP_STORED) {
    rc = wbr_zip_stored(z, e, &in.src);
    in.head = in.src;
    in.head_len = (size_t)e->usize;
  } else if (e->usize / DEFLATE_MAX_RATIO > e->csize + 64) {
    rc = wbr_fail(ctx, WBR_EFORMAT, path, help_corrupt,
                  "entry '%s' claims %llu bytes from %llu compressed bytes, more than deflate "
                  "can produce",
                  shown, (unsigned long long)e->usize, (unsigned long long)e->csize);
  } else {
    /* The compressed bytes begin at the entry's data in the archive (zip_stored refuses a
     * deflated entry, so find them through the entry's offset). */
    in.src = wbr_zip_data(z, e);
    in.entry = e;
    in.head = head;
    in.head_len = e->usize < NPY_HEAD_MAX ? (size_t)e->usize : NPY_HEAD_MAX;
    rc = wbr_zip_inflate(ctx, path, shown, e, in.src, 0, head, in.head_len);
    if (rc == 0 && (!wbr_add_u64(budget->inflated, e->usize, &budget->inflated) ||
                    !wbr_add_u64(budget->compressed, e->csize, &budget->compressed)))
      budget->inflated = UINT64_MAX;
  }
  if (rc == 0) rc = npy_add(ts, ctx, path, &in, lz);
  free(name);
  return rc;
}

static int npz_read(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
                    const uint8_t *bytes, size_t len) {
  if (key) return wbr_format_no_key(ctx, path, key);
  wbr_zip *z;
  int rc = wbr_zip_open(&z, ctx, path, "npz file", bytes, len);
  if (rc) return rc;
  npz_budget *budget = NULL;
  size_t n = wbr_zip_count(z);
  npy_lazy *lz = lazy_block(ts, ctx, path, n, &budget);
  uint8_t *head = lz ? malloc(NPY_HEAD_MAX) : NULL;
  if (!lz) rc = WBR_ENOMEM;
  else if (!head) rc = wbr_oom_file(ctx, path);
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = npz_read_entry(ts, ctx, path, z, wbr_zip_entry_at(z, i), &lz[i], budget, head);
  free(head);
  wbr_zip_free(z);
  return rc;
}

/* ---- .npz writer ------------------------------------------------------------------------------ */

/* Entries are streamed: a local header (sizes and CRC zero, flag bit 3), the .npy header and
 * the tensor's bytes, then a data descriptor with the CRC. The format hooks do not see the bytes
 * the writer copies, so the CRC is computed by reading them back from the output file (through
 * a second descriptor of it) once they are written: one extra pass over the page cache. */
typedef struct npz_entry {
  uint64_t offset; /* of the local header */
  uint64_t data;   /* of the tensor's bytes */
  uint64_t size;   /* .npy header + bytes */
  uint32_t crc;
  bool zip64;      /* sizes need 8 bytes */
} npz_entry;

typedef struct npz_state {
  npz_entry *e;
} npz_state;

#define DOS_DATE 0x0021 /* 1980-01-01: a fixed time keeps outputs reproducible */

static void put16(wbr_buf *b, unsigned v) {
  wbr_buf_putc(b, (char)(v & 0xFF));
  wbr_buf_putc(b, (char)((v >> 8) & 0xFF));
}
static void put32(wbr_buf *b, uint32_t v) {
  put16(b, v & 0xFFFF);
  put16(b, v >> 16);
}
static void put64(wbr_buf *b, uint64_t v) {
  put32(b, (uint32_t)v);
  put32(b, (uint32_t)(v >> 32));
}

static const char *npy_descr_of(wbr_dtype dt) {
  switch (dt) {
  case WBR_F64: return "<f8";
  case WBR_F32: return "<f4";
  case WBR_F16: return "<f2";
  case WBR_I64: return "<i8";
  case WBR_I32: return "<i4";
  case WBR_I16: return "<i2";
  case WBR_I8: return "|i1";
  case WBR_U64: return "<u8";
  case WBR_U32: return "<u4";
  case WBR_U16: return "<u2";
  case WBR_U8: return "|u1";
  case WBR_BOOL: return "|b1";
  case WBR_BF16:
  case WBR_F8_E4M3:
  case WBR_F8_E5M2:
  case WBR_DTYPE_COUNT: break;
  }
  return NULL;
}

/* The .npy header numpy writes (format 1.0): the dict padded with spaces and a newline so the
 * data starts at a multiple of 64. */
static void npy_header(wbr_buf *b, const wbr_tensor *t) {
  size_t start = b->len;
  wbr_buf_put(b, "\x93NUMPY\x01\x00", 8);
  wbr_buf_put(b, "\0\0", 2);
  wbr_buf_printf(b, "{'descr': '%s', 'fortran_order': False, 'shape': (", npy_descr_of(t->dtype));
  for (int d = 0; d < t->ndim; d++)
    wbr_buf_printf(b, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
  wbr_buf_puts(b, t->ndim == 1 ? ",), }" : "), }");
  while ((b->len - start + 1) % 64) wbr_buf_putc(b, ' ');
  wbr_buf_putc(b, '\n');
  if (!b->oom) {
    size_t hlen = b->len - start - 10;
    b->p[start + 8] = (char)(hlen & 0xFF);
    b->p[start + 9] = (char)(hlen >> 8);
  }
}

static bool ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80) return false;
  return true;
}

static const wbr_name_rules npz_names = {.format = ".npz", .max_name = 65000};

static int npz_begin(wbr_writer *w) {
  const wbr_tensorset *ts = w->layout;
  char shown[256];
  int rc = wbr_writer_check_layout(w, &npz_names);
  if (rc) return rc;
  for (size_t i = 0; i < ts->n; i++) {
    const wbr_tensor *t = &ts->t[i];
    wbr_json_show(shown, sizeof shown, t->name);
    if (!npy_descr_of(t->dtype))
      return wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                      t->dtype == WBR_BF16
                          ? "numpy has no bfloat16; add `cast \"*\" f32` (or f16) to the rules"
                          : "numpy has no such dtype; cast the tensor in the rules",
                      "cannot write tensor '%s' to .npz: it is %s", shown,
                      wbr_dtype_name(t->dtype));
    wbr_buf h;
    wbr_buf_init(&h);
    npy_header(&h, t);
    size_t hl = h.len;
    bool oom = h.oom;
    wbr_buf_free(&h);
    if (oom) return wbr_oom_file(w->ctx, w->path);
    if (hl > NPY_MAX_HEADER) /* cannot happen with 8 dims; kept as a guard */
      return wbr_fail(w->ctx, WBR_EINTERNAL, w->path, "this is a bug in weightbridge: please report it",
                      "tensor '%s': .npy header too long",
                      shown);
  }
  /* One allocation: an abandoned writer releases the state with a plain free(). */
  size_t n = ts->n ? ts->n : 1;
  npz_state *st = calloc(1, sizeof *st + n * sizeof(npz_entry));
  if (!st) return wbr_oom_file(w->ctx, w->path);
  w->state = st;
  st->e = (npz_entry *)(st + 1);
  return 0;
}

/* The entry's CRC-32 grows as the tensor's bytes pass to the file. */
static int npz_tensor_data(wbr_writer *w, size_t i, const void *bytes, size_t len) {
  npz_state *st = w->state;
  npz_entry *e = &st->e[i];
  /* zlib's crc32 takes an unsigned int length: feed big chunks in pieces. */
  const uint8_t *p = bytes;
  while (len) {
    size_t k = len > (1u << 30) ? (1u << 30) : len;
    e->crc = (uint32_t)crc32(e->crc, p, (uInt)k);
    p += k;
    len -= k;
  }
  return 0;
}

static int npz_tensor_begin(wbr_writer *w, size_t i) {
  npz_state *st = w->state;
  const wbr_tensor *t = &w->layout->t[i];
  npz_entry *e = &st->e[i];
  wbr_buf b;
  wbr_buf_init(&b);
  npy_header(&b, t);
  size_t hl = b.len;
  e->offset = w->offset;
  e->size = hl + t->nbytes;
  e->zip64 = e->size >= 0xFFFFFFFFu;
  e->crc = (uint32_t)crc32(0L, (const Bytef *)b.p, (uInt)hl);
  size_t nl = strlen(t->name) + 4;
  wbr_buf lh;
  wbr_buf_init(&lh);
  put32(&lh, 0x04034b50);
  put16(&lh, e->zip64 ? 45 : 20);
  put16(&lh, 8u | (ascii(t->name) ? 0 : 0x800u)); /* bit 3: data descriptor; bit 11: UTF-8 */
  put16(&lh, 0);                                    /* stored */
  put16(&lh, 0);
  put16(&lh, DOS_DATE);
  put32(&lh, 0);
  put32(&lh, e->zip64 ? 0xFFFFFFFFu : 0);
  put32(&lh, e->zip64 ? 0xFFFFFFFFu : 0);
  put16(&lh, (unsigned)nl);
  put16(&lh, e->zip64 ? 20 : 0);
  wbr_buf_puts(&lh, t->name);
  wbr_buf_puts(&lh, ".npy");
  if (e->zip64) {
    put16(&lh, 1);
    put16(&lh, 16);
    put64(&lh, 0);
    put64(&lh, 0);
  }
  int rc = lh.oom || b.oom ? wbr_oom_file(w->ctx, w->path) : wbr_writer_emit(w, lh.p, lh.len);
  if (rc == 0) rc = wbr_writer_emit(w, b.p, b.len);
  e->data = w->offset;
  wbr_buf_free(&lh);
  wbr_buf_free(&b);
  return rc;
}

static int npz_tensor_end(wbr_writer *w, size_t i) {
  npz_state *st = w->state;
  npz_entry *e = &st->e[i];
  wbr_buf d;
  wbr_buf_init(&d);
  put32(&d, 0x08074b50);
  put32(&d, e->crc);
  if (e->zip64) {
    put64(&d, e->size);
    put64(&d, e->size);
  } else {
    put32(&d, (uint32_t)e->size);
    put32(&d, (uint32_t)e->size);
  }
  int rc = d.oom ? wbr_oom_file(w->ctx, w->path) : wbr_writer_emit(w, d.p, d.len);
  wbr_buf_free(&d);
  if (rc) w->failed = true;
  return rc;
}

static int npz_finish(wbr_writer *w) {
  npz_state *st = w->state;
  const wbr_tensorset *ts = w->layout;
  uint64_t cd_start = w->offset;
  wbr_buf b;
  wbr_buf_init(&b);
  for (size_t i = 0; i < ts->n; i++) {
    const npz_entry *e = &st->e[i];
    bool big_off = e->offset >= 0xFFFFFFFFu;
    unsigned extra = (e->zip64 ? 16 : 0) + (big_off ? 8 : 0);
    put32(&b, 0x02014b50);
    put16(&b, 45);                            /* made by: MS-DOS, spec 4.5 */
    put16(&b, e->zip64 || big_off ? 45 : 20); /* needed */
    put16(&b, 8u | (ascii(ts->t[i].name) ? 0 : 0x800u));
    put16(&b, 0);
    put16(&b, 0);
    put16(&b, DOS_DATE);
    put32(&b, e->crc);
    put32(&b, e->zip64 ? 0xFFFFFFFFu : (uint32_t)e->size);
    put32(&b, e->zip64 ? 0xFFFFFFFFu : (uint32_t)e->size);
    put16(&b, (unsigned)strlen(ts->t[i].name) + 4);
    put16(&b, extra ? extra + 4 : 0);
    put16(&b, 0); /* comment */
    put16(&b, 0); /* disk */
    put16(&b, 0); /* internal attributes */
    put32(&b, 0); /* external attributes */
    put32(&b, big_off ? 0xFFFFFFFFu : (uint32_t)e->offset);
    wbr_buf_puts(&b, ts->t[i].name);
    wbr_buf_puts(&b, ".npy");
    if (extra) {
      put16(&b, 1);
      put16(&b, extra);
      if (e->zip64) {
        put64(&b, e->size);
        put64(&b, e->size);
      }
      if (big_off) put64(&b, e->offset);
    }
  }
  uint64_t cd_size = b.len, cd_end = cd_start + cd_size;
  bool z64 = ts->n >= 0xFFFF || cd_start >= 0xFFFFFFFFu || cd_size >= 0xFFFFFFFFu;
  if (z64) {
    put32(&b, 0x06064b50); /* zip64 end of central directory */
    put64(&b, 44);
    put16(&b, 45);
    put16(&b, 45);
    put32(&b, 0);
    put32(&b, 0);
    put64(&b, ts->n);
    put64(&b, ts->n);
    put64(&b, cd_size);
    put64(&b, cd_start);
    put32(&b, 0x07064b50); /* its locator */
    put32(&b, 0);
    put64(&b, cd_end);
    put32(&b, 1);
  }
  put32(&b, 0x06054b50);
  put16(&b, 0);
  put16(&b, 0);
  put16(&b, z64 ? 0xFFFF : (unsigned)ts->n);
  put16(&b, z64 ? 0xFFFF : (unsigned)ts->n);
  put32(&b, z64 ? 0xFFFFFFFFu : (uint32_t)cd_size);
  put32(&b, z64 ? 0xFFFFFFFFu : (uint32_t)cd_start);
  put16(&b, 0);
  int rc = b.oom ? wbr_oom_file(w->ctx, w->path) : wbr_writer_emit(w, b.p, b.len);
  wbr_buf_free(&b);
  return rc;
}

/* ---- .npy writer: one tensor ---------------------------------------------------------------- */

static int npy_begin(wbr_writer *w) {
  const wbr_tensorset *ts = w->layout;
  if (ts->n != 1)
    return wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                    "write an .npz for several tensors (or drop all but one in the rules)",
                    "an .npy file holds one array, the output has %zu tensors", ts->n);
  static const wbr_name_rules npy_names = {.format = ".npy", .unnamed = true};
  int rc = wbr_writer_check_layout(w, &npy_names);
  if (rc) return rc;
  const wbr_tensor *t = &ts->t[0];
  if (!npy_descr_of(t->dtype)) {
    char shown[256];
    wbr_json_show(shown, sizeof shown, t->name);
    return wbr_fail(w->ctx, WBR_EFORMAT, w->path,
                    t->dtype == WBR_BF16
                        ? "numpy has no bfloat16; add `cast \"*\" f32` (or f16) to the rules"
                        : "numpy has no such dtype; cast the tensor in the rules",
                    "cannot write tensor '%s' to .npy: it is %s", shown, wbr_dtype_name(t->dtype));
  }
  wbr_buf b;
  wbr_buf_init(&b);
  npy_header(&b, t);
  rc = b.oom ? wbr_oom_file(w->ctx, w->path) : wbr_writer_emit(w, b.p, b.len);
  wbr_buf_free(&b);
  return rc;
}

static const char *const npy_exts[] = {".npy", NULL};
static const char *const npz_exts[] = {".npz", NULL};

const wbr_format wbr_format_npy = {
    .name = "npy",
    .exts = npy_exts,
    .what = "one NumPy array",
    .has_data = true,
    .read = npy_read,
    .begin = npy_begin,
};

const wbr_format wbr_format_npz = {
    .name = "npz",
    .exts = npz_exts,
    .what = "NumPy arrays",
    .has_data = true,
    .read = npz_read,
    .begin = npz_begin,
    .tensor_begin = npz_tensor_begin,
    .tensor_data = npz_tensor_data,
    .tensor_end = npz_tensor_end,
    .finish = npz_finish,
};
