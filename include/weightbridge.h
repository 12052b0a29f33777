/* weightbridge.h — the one public header of libweightbridge.
 *
 * libweightbridge maps deep-learning weights between implementations of one architecture:
 * tensor sets (weight files and manifests), rule programs (.wbr source, .wbc bytecode), the
 * plan/apply runtime that runs a program over a tensor set, and the matcher that drafts rules.
 *
 * Formats (chosen by extension, the longest match first, or by name: wbr_tensorset_open_as,
 * wbr_writer_options.format; docs/formats*.md). Read and written: safetensors (.safetensors),
 * sharded safetensors (NAME.safetensors.index.json and its shards), JSON manifests (.json:
 * names, shapes, dtypes, no data), PyTorch torch.save checkpoints (.pt .pth .bin; FILE#KEY
 * selects a nested entry), GGUF (.gguf, quantized tensors carried opaque), NumPy (.npy, .npz).
 * Read only: sharded PyTorch checkpoints (NAME.bin.index.json and its .bin shards) and PyTorch
 * Lightning checkpoints (.ckpt: the tensors under "state_dict"). A Hugging Face model directory
 * (config.json beside model.safetensors, pytorch_model.bin or an index and its shards) is a
 * source or a target, and, as a path ending in '/' or an existing directory, an output written
 * as save_pretrained writes it (wbr_writer_options.copy_files for its other files).
 *
 * Ownership. Every object handed out through an output parameter (wbr_ctx, wbr_tensorset,
 * wbr_writer, wbr_program, wbr_plan, the strings of a wbr_match_result, and strings from
 * functions documented as "caller frees") belongs to the caller and is released with its own
 * free function (wbr_free for strings, wbr_match_result_free for a result); every free
 * function accepts NULL. Names, shapes and data pointers returned by accessors belong to the
 * object they came from and stay valid until that object is freed or modified. A tensor set
 * opened from a file keeps the file memory-mapped until it is freed. A wbr_ctx must outlive
 * every object created with it. Objects are not thread-safe; distinct objects may be used from
 * distinct threads.
 *
 * Errors. Functions that can fail return 0 on success or a negative wbr_error (counts, indexes
 * and yes/no answers are documented where declared). Every failure is reported once through
 * the context's diagnostic callback (one wbr_diag: where, what, what to do) and its
 * message is kept as the context's last error. The library never prints and never exits.
 * docs/api.md lists the codes.
 *
 * Versioned structs. The option and result structs the library may grow (wbr_writer_options,
 * wbr_apply_options, wbr_match_options, wbr_match_result) start with `unsigned version`. Make
 * each with its _INIT macro, which sets the version this header describes, then set the fields
 * you need:  wbr_match_options o = WBR_MATCH_OPTIONS_INIT;  o.explain = true;
 * A library reads only the fields of the version it is given, so a program built against an
 * older header keeps working with a newer library. A version of 0 (a struct not made with its
 * _INIT) or one newer than the library knows is refused with WBR_EUSAGE and a message.
 */
#ifndef WEIGHTBRIDGE_H
#define WEIGHTBRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(WBR_BUILDING)
#define WBR_API __attribute__((visibility("default")))
#else
#define WBR_API
#endif

/* The version as numbers for #if (WBR_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH,
 * so >= 100 means 0.1.0 or later; MINOR and PATCH stay below 100) and as the string WBR_VERSION,
 * spelled from the numbers so the two cannot drift. wbr_version() returns the library's string,
 * which differs from WBR_VERSION when a program runs with another library than it was built
 * against. */
#define WBR_VERSION_MAJOR 0
#define WBR_VERSION_MINOR 1
#define WBR_VERSION_PATCH 0
#define WBR_VERSION_NUMBER (WBR_VERSION_MAJOR * 10000 + WBR_VERSION_MINOR * 100 + WBR_VERSION_PATCH)
#define WBR_QUOTE_(x) #x
#define WBR_EXPAND_AND_QUOTE_(x) WBR_QUOTE_(x)
#define WBR_VERSION                                                                          \
  WBR_EXPAND_AND_QUOTE_(WBR_VERSION_MAJOR) "." WBR_EXPAND_AND_QUOTE_(WBR_VERSION_MINOR) "."  \
  WBR_EXPAND_AND_QUOTE_(WBR_VERSION_PATCH)
#define WBR_MAX_DIMS 8

/* Marks a name kept for one release after it was replaced; using it warns. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 6) /* attributes on enumerators */
#define WBR_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define WBR_DEPRECATED(msg)
#endif

/* What went wrong, by what the caller would fix. The four input codes say which input is bad;
 * the message through the ctx says where and how. Codes keep their values across releases. */
typedef enum wbr_error {
  WBR_OK = 0,
  WBR_EFORMAT = -1,   /* a bad weight file or manifest: malformed, truncated, not a regular file,
                         changed while read, or unable to hold what is written to it */
  WBR_EIO = -2,       /* the operating system refused: open, read, write, rename */
  WBR_ENOMEM = -3,    /* out of memory */
  WBR_EUSAGE = -4,    /* the caller passed arguments that make no sense */
  WBR_EINTERNAL = -5, /* a bug in weightbridge */
  WBR_ERULES = -6,    /* bad rules: .wbr source that does not parse or check, a malformed --hint */
  WBR_EBYTECODE = -7, /* a bad .wbc: truncated, corrupt, of another version, or failing the
                         verifier (a .wbc is untrusted input) */
  WBR_EMAPPING = -8,  /* valid rules that do not map the source onto the target: the plan has
                         problems (see wbr_plan_problems) */
  /* The one input code before it was split in four; it has WBR_EFORMAT's value. Deprecated, kept
   * for one release: test WBR_IS_INPUT_ERROR(rc) for "any bad input". */
  WBR_EINPUT WBR_DEPRECATED("use WBR_EFORMAT, WBR_ERULES, WBR_EBYTECODE or WBR_EMAPPING") = -1
} wbr_error;

/* True for the four codes that mean bad input (what WBR_EINPUT covered; the CLI exits 1). */
#define WBR_IS_INPUT_ERROR(rc)                                                          \
  ((rc) == WBR_EFORMAT || (rc) == WBR_ERULES || (rc) == WBR_EBYTECODE || (rc) == WBR_EMAPPING)

/* ---- Context and diagnostics -------------------------------------------------------------- */

typedef enum wbr_severity { WBR_SEV_ERROR, WBR_SEV_WARNING, WBR_SEV_NOTE } wbr_severity;

typedef struct wbr_diag {
  wbr_severity severity;
  const char *file;        /* the file the diagnostic is about, or NULL */
  int line, col;           /* 1-based position in file; 0 when not about a position */
  const char *message;     /* one line, no trailing newline */
  const char *source_line; /* the text of that line (no newline), or NULL */
  int span;                /* columns to underline from col (>= 1) when source_line is set */
  const char *help;        /* what to do next, one line, or NULL */
} wbr_diag;

typedef void (*wbr_diag_fn)(void *userdata, const wbr_diag *diag);

typedef struct wbr_ctx wbr_ctx;

/* fn may be NULL: diagnostics are then only kept as the last error. */
WBR_API int wbr_ctx_new(wbr_ctx **out, wbr_diag_fn fn, void *userdata);
WBR_API void wbr_ctx_free(wbr_ctx *ctx);
/* Message of the last error reported through ctx ("" if none). */
WBR_API const char *wbr_ctx_last_error(const wbr_ctx *ctx);
/* Number of errors (not warnings) reported through ctx so far. */
WBR_API size_t wbr_ctx_error_count(const wbr_ctx *ctx);

/* Format a diagnostic the way the CLI prints it:
 *   file:line:col: error: message
 *     source line
 *     ^~~~
 *   help: what to do
 * Returns a string the caller frees with wbr_free, or NULL when out of memory. */
WBR_API char *wbr_diag_format(const wbr_diag *diag);

WBR_API void wbr_free(void *p);
WBR_API const char *wbr_version(void);

/* ---- Data types ------------------------------------------------------------------------------ */

/* The safetensors dtypes. Names are the safetensors spellings ("F32", "BF16", ...). */
#define WBR_DTYPE_LIST(X)                                                                  \
  X(F64, "F64", 8) X(F32, "F32", 4) X(F16, "F16", 2) X(BF16, "BF16", 2)                   \
  X(F8_E4M3, "F8_E4M3", 1) X(F8_E5M2, "F8_E5M2", 1)                                        \
  X(I64, "I64", 8) X(I32, "I32", 4) X(I16, "I16", 2) X(I8, "I8", 1)                       \
  X(U64, "U64", 8) X(U32, "U32", 4) X(U16, "U16", 2) X(U8, "U8", 1) X(BOOL, "BOOL", 1)

typedef enum wbr_dtype {
#define WBR_DT_ENUM(id, name, size) WBR_##id,
  WBR_DTYPE_LIST(WBR_DT_ENUM)
#undef WBR_DT_ENUM
  WBR_DTYPE_COUNT
} wbr_dtype;

WBR_API const char *wbr_dtype_name(wbr_dtype dt);      /* "F32"; "?" if out of range */
WBR_API size_t wbr_dtype_size(wbr_dtype dt);           /* bytes per element; 0 if out of range */
/* Parse a dtype name, case-insensitive ("f32", "BF16"). Returns 0, or -1 if unknown. */
WBR_API int wbr_dtype_parse(wbr_dtype *out, const char *name, size_t len);

/* ---- Tensor sets ------------------------------------------------------------------------------- */

/* An ordered set of named tensors: definition order is kept, names are unique, lookup by name is
 * O(1). Each tensor has a dtype, a shape and, for weight files, its bytes (memory-mapped). A
 * manifest gives names, shapes and dtypes only (data == NULL). Bytes a reader would have to
 * copy or compute (a non-contiguous PyTorch view, a deflated, big-endian or Fortran-order NumPy
 * array) are made only when needed: such a tensor also has data == NULL, and wbr_plan_apply and
 * wbr_tensorset_write make its bytes as they write it, so opening any file stays cheap. */
typedef struct wbr_tensorset wbr_tensorset;

typedef struct wbr_tensor_info {
  const char *name;
  wbr_dtype dtype;
  int ndim;
  const int64_t *shape; /* ndim entries */
  uint64_t nelem;       /* product of shape (1 for a scalar) */
  uint64_t nbytes;      /* nelem * dtype size */
  const void *data;     /* nbytes bytes; NULL when the set has no data or they are made on demand */
  /* A quantized tensor carried as opaque blocks (GGUF Q4_K, Q8_0, ...): dtype is U8, shape is
   * [nbytes]; quantized names the type and quant_shape is the logical shape. NULL otherwise.
   * Rules may rename or drop it; anything that needs its values is refused. */
  const char *quantized;
  int quant_ndim;
  const int64_t *quant_shape;
} wbr_tensor_info;

/* Open a weight file or manifest; the format is chosen by the file name's extension (the list
 * at the top of this header; FILE#KEY selects the tensors under KEY of a PyTorch checkpoint
 * that nests them). A directory without such an extension is a Hugging Face model directory:
 * the first of model.safetensors, model.safetensors.index.json, pytorch_model.bin and
 * pytorch_model.bin.index.json in it is read (a directory without weights, or with a single file
 * and an index of one kind, is WBR_EFORMAT). Only the header is read; tensor bytes are mapped,
 * not loaded. A file that is malformed, of an unknown type or not a regular file is WBR_EFORMAT. */
WBR_API int wbr_tensorset_open(wbr_tensorset **out, wbr_ctx *ctx, const char *path);
/* wbr_tensorset_open with the format given by name instead of by extension (format NULL: by
 * extension). Names are the formats' names, "safetensors", "sharded-safetensors", "manifest",
 * "pytorch", "sharded-pytorch", "lightning", "gguf", "npy", "npz", or an extension ("pt",
 * "ckpt", "json", ...) or alias ("torch"), in any case; FILE#KEY works whatever the extension.
 * An unknown name is WBR_EUSAGE, reported with the list of names. */
WBR_API int wbr_tensorset_open_as(wbr_tensorset **out, wbr_ctx *ctx, const char *path,
                                  const char *format);
/* 0 if name names a format (as wbr_tensorset_open_as and wbr_writer_options.format take it);
 * otherwise WBR_EUSAGE, reported through ctx with the list of names. */
WBR_API int wbr_format_check(wbr_ctx *ctx, const char *name);
/* Parse from memory; `name` is used in diagnostics and picks the format by extension. The
 * bytes are copied if the format needs them after return. */
WBR_API int wbr_tensorset_open_memory(wbr_tensorset **out, wbr_ctx *ctx, const char *name,
                                      const void *bytes, size_t len);
WBR_API int wbr_tensorset_new(wbr_tensorset **out, wbr_ctx *ctx);
/* Append a tensor. `data` (nbytes of it) is borrowed: it must outlive the set; NULL for none. A
 * name already in the set, a negative dimension or more elements than 64 bits hold is
 * WBR_EFORMAT. */
WBR_API int wbr_tensorset_add(wbr_tensorset *ts, const char *name, wbr_dtype dtype, int ndim,
                              const int64_t *shape, const void *data);
WBR_API void wbr_tensorset_free(wbr_tensorset *ts);

WBR_API size_t wbr_tensorset_count(const wbr_tensorset *ts);
/* Fill *out for tensor i (0 <= i < count). Returns 0, or WBR_EUSAGE if i is out of range. */
WBR_API int wbr_tensorset_get(const wbr_tensorset *ts, size_t i, wbr_tensor_info *out);
/* Copy tensor i's bytes (nbytes of them) into dst, making them when the reader left them lazy
 * (data == NULL in a weight file: a strided .pt view, a deflated .npz member). WBR_EFORMAT for a
 * manifest or a tensor whose bytes cannot be made; SIGBUS-safe like apply. */
WBR_API int wbr_tensorset_read(const wbr_tensorset *ts, wbr_ctx *ctx, size_t i, void *dst);
/* Index of the tensor called name, or -1. */
WBR_API long wbr_tensorset_find(const wbr_tensorset *ts, const char *name);
/* 1 if the set carries tensor bytes (a weight file), 0 for a manifest. */
WBR_API int wbr_tensorset_has_data(const wbr_tensorset *ts);
/* Format name the set was read as ("safetensors", "sharded safetensors", "manifest",
 * "pytorch", "sharded pytorch", "lightning", "npy", "npz", "gguf"; "Hugging Face directory
 * (model.safetensors)" and so on for a model directory, naming the file read), or "memory" for a
 * set made with wbr_tensorset_new. */
WBR_API const char *wbr_tensorset_format(const wbr_tensorset *ts);

/* String metadata (safetensors __metadata__, GGUF key-values as text), in file order. */
WBR_API size_t wbr_tensorset_meta_count(const wbr_tensorset *ts);
WBR_API int wbr_tensorset_meta_get(const wbr_tensorset *ts, size_t i, const char **key,
                                   const char **value);
/* Set (replace or append) a metadata entry; both strings are copied. */
WBR_API int wbr_tensorset_meta_set(wbr_tensorset *ts, const char *key, const char *value);

/* The set as a JSON manifest ({"metadata": {...}, "tensors": {name: {"shape": [...], "dtype":
 * "F32"}}}, "metadata" only when there is some, one tensor per line, in order) — what
 * `wbr inspect --json` prints. Caller frees; NULL if out of memory. */
WBR_API char *wbr_tensorset_to_manifest(const wbr_tensorset *ts);
/* The table `wbr inspect` prints: "PATH: FORMAT, N tensors, ...", one row per tensor (name,
 * dtype, shape, bytes), then the metadata. Names and metadata come from the file and may be
 * hostile: control characters are shown as \xNN. Caller frees; NULL if out of memory. */
WBR_API char *wbr_tensorset_render(const wbr_tensorset *ts, const char *path);

/* Write the whole set to path, format by extension, atomically (see wbr_writer). A manifest
 * (.json) needs no data; a weight file needs every tensor's bytes. A path ending in '/' is a
 * model directory (see "Outputs"). */
WBR_API int wbr_tensorset_write(const wbr_tensorset *ts, wbr_ctx *ctx, const char *path);

/* ---- Streaming writer ------------------------------------------------------------------------ */

/* Writes a weight file tensor by tensor without holding it in memory. The names, dtypes, shapes
 * and metadata come from `layout` (its data is not used); the bytes of every tensor follow, in
 * layout order, through wbr_writer_write. Output goes to a temporary file in the destination's
 * directory; wbr_writer_commit checks the byte count, flushes and renames it into place (and
 * syncs first if the options ask for a durable output).
 * wbr_writer_free without a commit removes the temporary file: a failure never leaves a partial
 * output. `protect` is a NULL-terminated list of input paths (may be NULL; FILE#KEY means
 * FILE): opening fails (WBR_EUSAGE) if path, or a shard a sharded output will write, is the
 * same file (device and inode) as one of them. See "Outputs" below for devices, symlinks,
 * modes and signals. */
typedef struct wbr_writer wbr_writer;

/* How an output is written; given when the writer opens (and in wbr_apply_options). */
#define WBR_WRITER_OPTIONS_VERSION 2
typedef struct wbr_writer_options {
  unsigned version;         /* WBR_WRITER_OPTIONS_VERSION (WBR_WRITER_OPTIONS_INIT sets it) */
  bool durable;             /* sync the data and the rename to disk before commit returns, so OUT
                               survives a power loss too (a kill or an error never leaves a
                               partial OUT either way). Off by default: on a fast copy, waiting
                               for the disk can take longer than the work. */
  uint64_t max_shard_bytes; /* sharded outputs (NAME.safetensors.index.json): at most this many
                               bytes of tensor data per shard (a bigger tensor gets a shard of its
                               own); 0 for the default, 5 GB. Other formats ignore it. */
  /* version 2: */
  const char *format;       /* the output's format by name (as wbr_tensorset_open_as takes it),
                               whatever the path's extension; NULL: by extension */
  const char *const *copy_files; /* a directory output (a path ending in '/', or an existing
                                    directory): files copied into it beside the weights
                                    (config.json, tokenizer files), each under its own last
                                    name, published with the weights; or NULL */
  size_t ncopy_files;
} wbr_writer_options;
#define WBR_WRITER_OPTIONS_INIT {WBR_WRITER_OPTIONS_VERSION, false, 0, NULL, NULL, 0}

/* opts may be NULL (the defaults of WBR_WRITER_OPTIONS_INIT). */
WBR_API int wbr_writer_open(wbr_writer **out, wbr_ctx *ctx, const char *path,
                            const wbr_tensorset *layout, const char *const *protect,
                            const wbr_writer_options *opts);
WBR_API int wbr_writer_write(wbr_writer *w, const void *bytes, size_t len);
WBR_API int wbr_writer_commit(wbr_writer *w);
WBR_API void wbr_writer_free(wbr_writer *w);

/* ---- Outputs ------------------------------------------------------------------------------- */

/* Every output the library writes (wbr_writer and wbr_tensorset_write, wbr_plan_apply, the
 * shards of a sharded output, wbr_program_save, wbr_write_file) goes through one writer:
 * - a regular or new file is written to a temporary file in its directory and renamed into
 *   place at the end: OUT is the old file or the whole new one, never a partial one;
 * - an existing file that is not regular (a device such as /dev/null, a FIFO, /dev/stdout) is
 *   written in place and never replaced;
 * - a symbolic link is written through: its target is replaced, the link stays a link (a
 *   dangling link creates its target);
 * - a new file gets 0666 & ~umask, a replaced file keeps its permission bits;
 * - an output that is the same file (device and inode) as an input is refused with WBR_EUSAGE.
 * The temporary file has no name (O_TMPFILE) where the filesystem allows; elsewhere it is a
 * hidden DIR/.OUT.XXXXXX.tmp, which wbr_remove_temporaries deletes.
 * A path ending in '/' (or an existing directory whose name has no weight-file extension) is a
 * Hugging Face model directory, created if its parent exists (not a symbolic link), and written
 * as save_pretrained writes it: DIR/model.safetensors when the tensors fit one shard of
 * max_shard_bytes, else DIR/model.safetensors.index.json and DIR/model-0000K-of-0000N.safetensors.
 * The files of copy_files are staged before the weights and published after them. Once the
 * weights are in place, weight files of an earlier save (the other of the single file and the
 * index, shards of another count) are removed; an input among them is refused before anything
 * is written, and only regular files of those names are ever removed. */

/* The inputs an output must never replace, compared by device and inode, so that a symlink,
 * a hard link, ./x or FILE#KEY is recognised however it is spelled: files by path, and every
 * file the tensor sets read (FILE of FILE#KEY; a sharded checkpoint's index and shards). Both
 * lists are NULL-terminated; either may be NULL. */
typedef struct wbr_protect {
  const char *const *paths;
  const wbr_tensorset *const *sets;
} wbr_protect;

/* Write len bytes to path through the output writer above (synced before the rename); protect
 * may be NULL. WBR_EUSAGE if path is one of the protected inputs or a directory. */
WBR_API int wbr_write_file(wbr_ctx *ctx, const char *path, const void *bytes, size_t len,
                           const wbr_protect *protect);

/* Read a whole regular file (at most 1 GiB) into a NUL-terminated buffer the caller frees with
 * wbr_free; *len excludes the NUL. A FIFO, a device or a directory is refused at once (never
 * blocks), as is a larger file: WBR_EFORMAT. */
WBR_API int wbr_read_file(wbr_ctx *ctx, const char *path, char **out, size_t *len);

/* Remove every named temporary file the library is writing. Async-signal-safe: meant for a
 * program's SIGINT/SIGTERM/SIGHUP handler, which then re-raises the signal (the library
 * installs no handlers itself). Outputs in progress fail afterwards; none is left partial. */
WBR_API void wbr_remove_temporaries(void);

/* ---- Rule programs ---------------------------------------------------------------------------- */

/* A compiled rule program: the bytecode of one .wbr file, verified. */
typedef struct wbr_program wbr_program;

/* Parse, check and compile .wbr source. `name` is the file name used in diagnostics
 * (file:line:col). Every error found is reported (parsing recovers to report several); bad
 * rules are WBR_ERULES. */
WBR_API int wbr_program_compile(wbr_program **out, wbr_ctx *ctx, const char *name,
                                const char *src, size_t len);
/* Read and compile a .wbr file (a FIFO, a device or a directory is refused unread, as is a file
 * over the source limit: WBR_ERULES). */
WBR_API int wbr_program_compile_file(wbr_program **out, wbr_ctx *ctx, const char *path);
/* Load a .wbc bytecode file; every operand is verified (a .wbc is untrusted input): a file that
 * is not valid bytecode for this version is WBR_EBYTECODE. Needs only the runtime part of the
 * library. */
WBR_API int wbr_program_load(wbr_program **out, wbr_ctx *ctx, const char *path);
/* The same from memory; `name` is used in diagnostics. */
WBR_API int wbr_program_load_bytes(wbr_program **out, wbr_ctx *ctx, const char *name,
                                   const void *bytes, size_t len);
/* The name of the .wbr file p was compiled from, as recorded in it ("" when none). A loaded
 * .wbc's is untrusted: it names a path on the machine that compiled it. */
WBR_API const char *wbr_program_source_name(const wbr_program *p);
/* Give a program its rule text, so that diagnostics about its statements show their source
 * lines (a .wbc holds no text; a compiled program already has it). The text is copied and used
 * only if it is the one p was compiled from (the hash p records): else WBR_ERULES and nothing
 * changes. Nothing is reported. 0, WBR_ERULES, WBR_ENOMEM or WBR_EUSAGE. */
WBR_API int wbr_program_attach_source(wbr_program *p, const char *text, size_t len);
/* Serialize to .wbc bytes (caller frees *out with wbr_free). */
WBR_API int wbr_program_serialize(const wbr_program *p, wbr_ctx *ctx, void **out, size_t *len);
/* Write a .wbc file atomically (see "Outputs"); never onto the rule file p was compiled from
 * (WBR_EUSAGE). */
WBR_API int wbr_program_save(const wbr_program *p, wbr_ctx *ctx, const char *path);
/* Readable listing: address, opcode, operands, meaning, source line. Caller frees. */
WBR_API char *wbr_program_disasm(const wbr_program *p);
WBR_API void wbr_program_free(wbr_program *p);

/* ---- Plans: a program run over a tensor set's names, shapes and dtypes ------------------------ */

/* A plan: for each output tensor, its sources, the operations with the shape after each, and
 * the rule lines that produced it. Building one reads no tensor data. */
typedef struct wbr_plan wbr_plan;

typedef enum wbr_plan_format { WBR_PLAN_TEXT, WBR_PLAN_MD, WBR_PLAN_JSON } wbr_plan_format;

/* ---- Parameters: the values of a program's `param` declarations (docs/language.md) ---- */

/* Where a value comes from; for one parameter, FLAG beats CONFIG beats the rules' default. */
typedef enum wbr_param_origin {
  WBR_PARAM_FLAG = 1,  /* --param NAME=INT: a name the rules do not declare is an error */
  WBR_PARAM_CONFIG = 2 /* --config FILE: a name the rules do not declare is ignored */
} wbr_param_origin;

typedef struct wbr_param_value {
  const char *name;        /* the parameter */
  int64_t value;
  wbr_param_origin origin;
  const char *key;         /* CONFIG: the config key it was read from (shown in plans); or NULL */
} wbr_param_value;

/* The parameter values a model config gives (a JSON object: Hugging Face config.json, Meta's
 * params.json, ...): the documented key mapping (num_attention_heads -> n_heads, ...), then
 * every other top-level non-negative integer key as a parameter of its own name; null is
 * absent. All entries have origin WBR_PARAM_CONFIG, in precedence order (for one name the first
 * wins). *out is one allocation (free with wbr_free); *n its entries. A mapped key with a value
 * that is not a non-negative integer, or a file that is not a JSON object, is WBR_EUSAGE. */
WBR_API int wbr_config_params(wbr_ctx *ctx, const char *path, wbr_param_value **out, size_t *n);
/* The same from memory (`name` is used in diagnostics). */
WBR_API int wbr_config_params_bytes(wbr_ctx *ctx, const char *name, const char *text, size_t len,
                                    wbr_param_value **out, size_t *n);

#define WBR_PLAN_OPTIONS_VERSION 2
typedef struct wbr_plan_options {
  unsigned version;               /* WBR_PLAN_OPTIONS_VERSION (WBR_PLAN_OPTIONS_INIT sets it) */
  const wbr_param_value *params;  /* values of the program's parameters; may be NULL */
  size_t nparams;
  /* version 2: glob patterns (the rule language's glob syntax) of target tensors that may be
   * left unproduced (left to the model's own initialisation): not a problem, listed in the plan
   * as "missing (allowed)"; apply writes everything else. */
  const char *const *allow_missing;
  size_t nallow_missing;
} wbr_plan_options;
#define WBR_PLAN_OPTIONS_INIT {WBR_PLAN_OPTIONS_VERSION, NULL, 0, NULL, 0}

/* Run prog over src (and compare with target, which may be NULL). Every problem is reported
 * through ctx: a statement that matched nothing, two tensors on one name, a shape that does
 * not fit, and with a target: tensors not produced, not wanted, or of the wrong shape or dtype.
 * Returns 0 when a plan was built, even one with problems (see wbr_plan_problems), or a
 * negative error. prog, src and target must outlive the plan. With a target, outputs come in
 * the target's order. */
WBR_API int wbr_plan_new(wbr_plan **out, wbr_ctx *ctx, const wbr_program *prog,
                         const wbr_tensorset *src, const wbr_tensorset *target);
/* wbr_plan_new with options (opts may be NULL: no parameter values). The program's parameters
 * are bound first, each from opts->params (FLAG over CONFIG), else its default, evaluated in
 * declaration order; a parameter with no value, a FLAG value for a name the rules do not declare,
 * or an expression that cannot be evaluated (inexact division, overflow, a size that comes out
 * negative) is WBR_ERULES, reported, with no plan. */
WBR_API int wbr_plan_new_with(wbr_plan **out, wbr_ctx *ctx, const wbr_program *prog,
                              const wbr_tensorset *src, const wbr_tensorset *target,
                              const wbr_plan_options *opts);
/* Number of problems found: 0 means the rules map the source onto the target exactly. */
WBR_API size_t wbr_plan_problems(const wbr_plan *plan);
/* Number of output tensors. */
WBR_API size_t wbr_plan_count(const wbr_plan *plan);
/* The plan as a table: text for a terminal, md for a code review, json (stable, documented in
 * docs/plan.md). Caller frees; NULL when out of memory. */
WBR_API char *wbr_plan_render(const wbr_plan *plan, wbr_plan_format format);
/* Output i of the plan (0 <= i < wbr_plan_count), in plan order: name, dtype, ndim, shape,
 * nelem, nbytes (and quantized / quant_shape for an opaque tensor); data is NULL. Valid while
 * the plan lives. Returns 0 or WBR_EUSAGE for an index out of range. */
WBR_API int wbr_plan_get(const wbr_plan *plan, size_t i, wbr_tensor_info *out);

/* Called after each output tensor is written. */
typedef void (*wbr_progress_fn)(void *userdata, size_t done, size_t total, uint64_t bytes_done,
                                uint64_t bytes_total);

/* Version 3 embeds wbr_writer_options version 2 (three fields longer); a struct of version 1 or 2
 * is read with the layout it was built with (a version-1 wbr_writer_options inside). */
#define WBR_APPLY_OPTIONS_VERSION 3
typedef struct wbr_apply_options {
  unsigned version;           /* WBR_APPLY_OPTIONS_VERSION (WBR_APPLY_OPTIONS_INIT sets it) */
  wbr_writer_options output;  /* how the output is written: durable, max_shard_bytes */
  wbr_progress_fn progress;   /* may be NULL */
  void *userdata;             /* for progress */
  /* version 2: */
  unsigned threads;                /* worker threads for the kernels; 0 = the number of CPUs */
  const char *const *metadata;     /* "KEY=VALUE" entries to set in the output's metadata (where
                                      the format holds metadata), after the source's; or NULL */
  size_t nmetadata;
} wbr_apply_options;
#define WBR_APPLY_OPTIONS_INIT {WBR_APPLY_OPTIONS_VERSION, WBR_WRITER_OPTIONS_INIT, NULL, NULL, 0, NULL, 0}

/* Execute a plan without problems: read the source's data, write every output tensor in plan
 * order to path through the atomic streaming writer (see wbr_writer; `protect` as there, and
 * every file the plan's source and target sets read is protected as well). The output's
 * metadata keeps the source's and records the rules' hash and the tool version. opts may be
 * NULL (the defaults of WBR_APPLY_OPTIONS_INIT). While it reads mapped source bytes it installs
 * a SIGBUS handler (and restores the previous one before returning), so a source truncated by
 * another process is reported as an error ("the file changed while it was being read",
 * WBR_EFORMAT) instead of killing the program. A plan with problems is refused with
 * WBR_EMAPPING, a manifest as the source with WBR_EFORMAT. Nothing is written on any error. */
WBR_API int wbr_plan_apply(const wbr_plan *plan, wbr_ctx *ctx, const char *path,
                           const char *const *protect, const wbr_apply_options *opts);

/* Where wbr_plan_apply_memory puts output i: return a buffer of info->nbytes bytes (any
 * alignment) that stays valid until wbr_plan_apply_memory returns, or NULL to stop the apply
 * (then WBR_EUSAGE, reported). Called once per output, in plan order, on the calling thread,
 * before that output's bytes are made. */
typedef void *(*wbr_buffer_fn)(void *userdata, size_t i, const wbr_tensor_info *info);

/* Execute a plan without problems into memory: every output tensor's bytes go into the buffer
 * fn returns for it; no file is written. Same checks, errors and SIGBUS protection as
 * wbr_plan_apply; opts may be NULL (its output options are ignored; progress and threads are
 * used). Peak memory: the outputs (the caller's) plus the largest temporary. */
WBR_API int wbr_plan_apply_memory(const wbr_plan *plan, wbr_ctx *ctx, wbr_buffer_fn fn,
                                  void *userdata, const wbr_apply_options *opts);
WBR_API void wbr_plan_free(wbr_plan *plan);

/* ---- The matcher: draft rules mapping one tensor set onto another (`wbr match`) -------------- */

#define WBR_MATCH_OPTIONS_VERSION 3
typedef struct wbr_match_options {
  unsigned version;             /* WBR_MATCH_OPTIONS_VERSION (WBR_MATCH_OPTIONS_INIT sets it) */
  const char *src_label;        /* how the draft names the source (file path), or NULL */
  const char *target_label;     /* how it names the target, or NULL */
  const char *const *hints;     /* "A=B" strings from --hint (globs allowed), may be NULL */
  size_t nhints;
  const char *update_name;      /* --update: file name of existing rules, or NULL */
  const char *update_src;       /* ... and its text */
  size_t update_len;
  bool explain;                 /* fill result->explain */
  /* version 2: */
  const wbr_param_value *params; /* --param and --config values (wbr_config_params), or NULL */
  size_t nparams;
  /* version 3: the layout convention of each side when names do not say it: NULL (from the
   * names, as before), "pytorch", "flax", "haiku" or "tensorflow"; anything else is WBR_EUSAGE. */
  const char *src_layout;
  const char *target_layout;
} wbr_match_options;
#define WBR_MATCH_OPTIONS_INIT \
  {WBR_MATCH_OPTIONS_VERSION, NULL, NULL, NULL, 0, NULL, NULL, 0, false, NULL, 0, NULL, NULL}
/* The old name, from before the version field; deprecated, kept for one release. */
typedef wbr_match_options wbr_match_opts
    WBR_DEPRECATED("use wbr_match_options and WBR_MATCH_OPTIONS_INIT");

/* Filled by wbr_match_run; the caller makes it with WBR_MATCH_RESULT_INIT, which says which
 * fields it has room for. */
#define WBR_MATCH_RESULT_VERSION 2
typedef struct wbr_match_result {
  unsigned version;     /* WBR_MATCH_RESULT_VERSION (WBR_MATCH_RESULT_INIT sets it) */
  char *draft;          /* the rule file, canonical (wbr fmt) form */
  char *explain;        /* evidence per pairing (only with opts.explain), or NULL */
  bool complete;        /* every target paired, nothing ambiguous, draft proven */
  size_t ntargets;      /* target tensors */
  size_t npaired;       /* targets with a decided source */
  size_t nambiguous;    /* targets left undecided between several candidates */
  size_t nunmatched;    /* targets with no candidate at all */
  size_t nstmts;        /* statements in the draft (without kept --update statements) */
  size_t ndtype;        /* of nambiguous + nunmatched: targets whose only fitting sources have
                           another dtype (no hint helps: the target's dtype is probably wrong) */
  size_t ndepth;        /* of nambiguous + nunmatched: targets refused because a numbered family
                           has another depth on the other side (settled by hints or drops) */
  size_t nreview;       /* decided pairs that rest on names or order alone among same-shape
                           candidates: the REVIEW list */
  char *review;         /* what exit 0 proves, then the REVIEW list: lines of text, each ending
                           in a newline; the draft's header says the same (NULL without pairs) */
  /* version 2: */
  char *json;           /* the verdict as one JSON object, exactly what `wbr match --json` prints:
                           the counts, "unresolved" (each target with its candidates and a --hint
                           that settles it, or null), "review" and "draft"; schema in
                           docs/matcher.md (stable) */
} wbr_match_result;
#define WBR_MATCH_RESULT_INIT \
  {WBR_MATCH_RESULT_VERSION, NULL, NULL, false, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}

/* Run the matcher. result is made with WBR_MATCH_RESULT_INIT; opts may be NULL (defaults).
 * Returns 0 when a draft was produced (complete or not: see result->complete), WBR_ERULES for a
 * malformed hint or --update file, WBR_EMAPPING when the --update rules do not run over src,
 * WBR_EFORMAT for a tensor name no rule file can spell, WBR_EUSAGE for a struct of an unknown
 * version (each reported through ctx), WBR_ENOMEM.
 * The draft is proven: when result->complete is true, compiling and planning it maps src onto
 * target exactly, each target from the sources the matcher paired it with. */
WBR_API int wbr_match_run(wbr_match_result *result, wbr_ctx *ctx, const wbr_tensorset *src,
                          const wbr_tensorset *target, const wbr_match_options *opts);
/* Free what the result holds and clear it, keeping its version: it can be passed again. */
WBR_API void wbr_match_result_free(wbr_match_result *result);


/* Canonical formatting of .wbr source (`wbr fmt`): comments kept, idempotent. On success *out
 * is the formatted text (caller frees); on a parse error nothing is returned. */
WBR_API int wbr_rules_format(char **out, wbr_ctx *ctx, const char *name, const char *src,
                             size_t len);

#ifdef __cplusplus
}
#endif
#endif /* WEIGHTBRIDGE_H */
