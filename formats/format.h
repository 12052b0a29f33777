/* format.h — the one interface every weight-file format implements: a reader that fills a
 * tensor set from the file's bytes, and writer hooks driven by the generic streaming writer
 * (temporary file, buffering, byte accounting, atomic rename live in formats/writer.c). */
#ifndef WBR_FORMAT_H
#define WBR_FORMAT_H

#include "../base/tensorset.h"

typedef struct wbr_format {
  const char *name;        /* "safetensors" */
  const char *const *exts; /* NULL-terminated: ".safetensors"; matched case-insensitively at the
                              end of the path, longest first across formats */
  const char *what;        /* for messages: "weights", "manifest" */
  bool has_data;           /* false for manifests: the writer takes no tensor bytes */
  bool opaque_ok;          /* the writer can hold opaque tensors (GGUF's quantized blocks) */
  /* Fill ts from bytes[0..len). The bytes stay valid as long as ts (they are the mapping or the
   * set's own copy). `path` is only for diagnostics. `key` selects an entry inside a container
   * (FILE.pt#model) or is NULL; a format without entries refuses a key. Report every problem
   * through ctx. A format whose tensors live in other files (sharded checkpoints) opens them with
   * wbr_tensorset_open and keeps them with wbr_ts_adopt. */
  int (*read)(wbr_tensorset *ts, wbr_ctx *ctx, const char *path, const char *key,
              const uint8_t *bytes, size_t len);
  /* Writer hooks; any may be NULL. begin writes the header; tensor_begin/tensor_end frame each
   * tensor's bytes (which the writer copies to the file in between); finish writes trailers. */
  int (*begin)(wbr_writer *w);
  int (*tensor_begin)(wbr_writer *w, size_t i);
  /* Sees every chunk of tensor i's bytes, in order, before the writer copies it to the file
   * (for checksums). */
  int (*tensor_data)(wbr_writer *w, size_t i, const void *bytes, size_t len);
  int (*tensor_end)(wbr_writer *w, size_t i);
  int (*finish)(wbr_writer *w);
  /* Called once by wbr_writer_free, committed or not, before the output file is closed: give
   * back what the format holds (descriptors, temporary files). w->state is freed after it. */
  void (*release)(wbr_writer *w);
} wbr_format;

struct wbr_writer {
  wbr_ctx *ctx;
  const wbr_format *fmt;
  const wbr_tensorset *layout;
  char *path;   /* destination */
  char *tmp;    /* temporary file beside it */
  int fd;
  uint8_t *buf; /* output buffer */
  size_t buf_len, buf_cap;
  uint64_t offset;   /* bytes emitted to the file so far (buffered included) */
  size_t cur;        /* tensor whose bytes come next */
  uint64_t cur_done; /* bytes of it received */
  uint64_t written_back; /* bytes whose writeback to disk has been started */
  bool durable;      /* sync data and directory at commit (wbr_writer_options.durable) */
  uint64_t max_shard; /* wbr_writer_options.max_shard_bytes: 0 for the format's default */
  bool started, committed, failed;
  void *state;       /* format-private, freed by the format's finish or by free() */
};

/* ---- Bytes made on demand ------------------------------------------------------------------
 * A reader that would have to copy or compute a tensor's bytes (gather a strided view, inflate
 * a deflated entry, swap bytes) describes them instead: the tensor gets data == NULL and a
 * wbr_lazy, which the reader embeds first in its own struct. inspect, plan and check never
 * make them; apply and wbr_tensorset_write make one tensor's bytes at a time. */
typedef struct wbr_lazy wbr_lazy;
struct wbr_lazy {
  /* Write t's t->nbytes row-major bytes to dst, or report (naming the file and the tensor). */
  int (*fill)(const wbr_lazy *lz, wbr_ctx *ctx, const wbr_tensor *t, uint8_t *dst);
};

/* t's bytes into dst[0..t->nbytes): copied from t->data, or made by t->lazy. */
int wbr_tensor_fill(wbr_ctx *ctx, const wbr_tensor *t, uint8_t *dst);

/* n zeroed bytes that live as long as ts (for readers' converted data and lazy descriptions);
 * NULL after reporting. */
void *wbr_ts_own_block(wbr_tensorset *ts, wbr_ctx *ctx, size_t n);

/* ---- What a writer may write: what its own reader reads back --------------------------------- */
typedef struct wbr_name_rules {
  const char *format;  /* for messages: "safetensors", ".npz" */
  size_t max_name;     /* longest name in bytes; 0 for no limit */
  const char *reserved; /* a name the format keeps for itself ("__metadata__"), or NULL */
  bool unnamed;        /* the file keeps no names (.npy): only dimensions are checked */
} wbr_name_rules;

/* Refuse, before anything is written, a layout the format's reader would refuse: an empty
 * name, one that is not UTF-8 or too long, a dimension above 2^53 (the JSON readers' limit,
 * kept for every format so that `inspect --json` of any output reads back). Each writer's begin
 * hook calls it first; dtypes stay the format's own check. 0 or an error naming the tensor. */
int wbr_writer_check_layout(wbr_writer *w, const wbr_name_rules *r);

/* Out of memory while reading or writing `path`: the file named, and what to do. */
int wbr_oom_file(wbr_ctx *ctx, const char *path);

/* Refuse a #key for a format without entries (one shared message). */
int wbr_format_no_key(wbr_ctx *ctx, const char *path, const char *key);

/* The format for a path, by extension, or NULL (the caller reports). */
const wbr_format *wbr_format_for_path(const char *path);
/* The supported extensions, for messages: ".safetensors (weights), .json (manifest)". */
void wbr_format_extensions(char *buf, size_t n);
/* The format a user's name for it stands for ("pytorch", "torch", "pt", "sharded-safetensors",
 * "ckpt": its name, an extension or an alias, any case, '-' '_' ' ' alike), or NULL. */
const wbr_format *wbr_format_named(const char *name);
/* The formats' names with their extensions, for messages: "safetensors (.safetensors), ...". */
void wbr_format_names(char *buf, size_t n);
/* wbr_format_named, or NULL after reporting WBR_EUSAGE "unknown WHAT format" with the list. */
const wbr_format *wbr_format_or_fail(wbr_ctx *ctx, const char *name, const char *what);

/* Write the rest of the current tensor, `len` bytes that are also at offset `off` of file `fd`
 * (the source's descriptor), with copy_file_range: the kernel, or the filesystem by reflink,
 * moves them without a trip through user space. `bytes` are the same bytes in memory, used when
 * an in-kernel copy is not possible (another filesystem, a format whose hooks must see the data,
 * a partial tensor). */
int wbr_writer_copy(wbr_writer *w, int fd, uint64_t off, const void *bytes, size_t len);

/* Emit raw bytes to the output (formats use this from their hooks). */
int wbr_writer_emit(wbr_writer *w, const void *bytes, size_t len);

/* The reader of model directories (formats/hfdir.c), reached through this table so that the
 * registry calls no reader directly (tests/layout: no call cycle between files). */
typedef struct wbr_dir_reader {
  /* Open the weights of the directory `dir` (see wbr_tensorset_open). */
  int (*open)(wbr_tensorset **out, wbr_ctx *ctx, const char *dir);
} wbr_dir_reader;
extern const wbr_dir_reader wbr_dir_hf;

extern const wbr_format wbr_format_safetensors;
extern const wbr_format wbr_format_manifest;
extern const wbr_format wbr_format_torch;
extern const wbr_format wbr_format_gguf;
extern const wbr_format wbr_format_sharded;
extern const wbr_format wbr_format_sharded_torch;
extern const wbr_format wbr_format_lightning;
extern const wbr_format wbr_format_npy;
extern const wbr_format wbr_format_npz;

#endif
