/* tensorset.h — the tensor set's representation, shared by the runtime and the format readers.
 * A set owns its tensor names, its metadata strings and the memory its data points into (a
 * read-only mapping of the file, or a heap copy), so one free releases everything. */
#ifndef WBR_TENSORSET_H
#define WBR_TENSORSET_H

#include <sys/types.h>

#include "io.h"
#include "util.h"

struct wbr_lazy; /* formats/format.h */

/* Bytes in an encoding only their own format reads (GGUF's quantized blocks, "Q4_K"): the tensor
 * holds them as U8 [nbytes]; this names the encoding and gives the logical shape. Only rename
 * and drop are defined on such a tensor; the format that writes it back finds its own encoding
 * by the name. type == NULL: an ordinary tensor. */
typedef struct wbr_opaque {
  const char *type; /* static string */
  int ndim;
  int64_t shape[WBR_MAX_DIMS];
} wbr_opaque;

typedef struct wbr_tensor {
  char *name;
  wbr_dtype dtype;
  int ndim;
  int64_t shape[WBR_MAX_DIMS];
  uint64_t nelem;
  uint64_t nbytes;
  const uint8_t *data; /* NULL when the set has no data */
  wbr_opaque opaque; /* opaque.type: bytes in a format's own encoding (see wbr_opaque) */
  /* Bytes made only when needed (a strided PyTorch view, a deflated or converted NumPy array):
   * data is NULL and wbr_tensor_fill (formats/format.h) makes them; owned by the set. */
  const struct wbr_lazy *lazy;
} wbr_tensor;

struct wbr_tensorset {
  wbr_ctx *ctx;
  wbr_tensor *t;
  size_t n, cap;
  wbr_map index; /* name -> position in t */
  char **meta_key, **meta_val;
  size_t nmeta, meta_cap;
  wbr_map meta_index; /* metadata key -> position, so each insertion is O(1) */
  const char *format;  /* static string: "safetensors", "manifest", "memory" */
  bool has_data;
  void *map_base;      /* mmap'd file, unmapped on free */
  size_t map_len;
  void *owned;         /* heap bytes owned by the set, freed on free */
  int fd;              /* the file, kept open for in-kernel copies (copy_file_range); -1 if none */
  struct wbr_tensorset **children; /* sets whose data this one's tensors point into (shards) */
  size_t nchildren;
  /* The file this set was read from (FILE of FILE#KEY) and its identity, so that no output
   * replaces it; NULL for sets made in memory. */
  char *path;
  dev_t dev;
  ino_t ino;
  /* An output layout's hint (apply's): where tensor i's bytes sit in the source file, or
   * UINT64_MAX when they are made; a writer may pad its header so that the copies keep their
   * offset mod 4096 (in-kernel copies at the same alignment). NULL: none; not owned. */
  const uint64_t *src_offset;
};

/* Append a tensor without reporting: returns 0, 1 if the name exists already (nothing added),
 * -1 when out of memory. nelem/nbytes are computed; returns 2 (nothing added) if they overflow
 * 64 bits. The name is copied. */
int wbr_ts_append(wbr_tensorset *ts, const char *name, size_t name_len, wbr_dtype dtype, int ndim,
                  const int64_t *shape, const uint8_t *data);

/* Keep `child` alive as long as ts (its data is referenced by ts's tensors). 0 or WBR_ENOMEM;
 * on failure child is freed. */
int wbr_ts_adopt(wbr_tensorset *ts, wbr_tensorset *child);

/* True if [p, p+n) lies in ts's own mapping, so the bytes can be copied from ts->fd. */
bool wbr_ts_in_mapping(const wbr_tensorset *ts, const uint8_t *p, uint64_t n);

/* Position of metadata `key`, or -1. */
long wbr_ts_meta_find(const wbr_tensorset *ts, const char *key);

/* Add the identities of every file ts (and its children: shards) was read from. 0 or -1 (out
 * of memory). */
int wbr_ts_file_ids(const wbr_tensorset *ts, wbr_file_ids *ids);

/* Element count of a shape; false on overflow. */
bool wbr_shape_nelem(int ndim, const int64_t *shape, uint64_t *out);

#endif
