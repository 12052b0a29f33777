/* pickle.h — a restricted reader for the pickles inside PyTorch checkpoints (data.pkl), in the
 * spirit of torch.load(weights_only=True): it understands protocol 2-5 opcodes for plain data
 * (dicts, lists, tuples, numbers, strings), tensor rebuild calls and storages by persistent id,
 * and nothing else. No code is ever executed: a global is only a name compared against a fixed
 * allowlist, and anything outside it is refused with the opcode or global named (or, when the
 * caller asks for it, kept as an inert WBR_PK_OBJECT that the caller refuses where it needs
 * values: a Lightning checkpoint's hyper-parameters beside its state dict). Hard limits on
 * values, stack, marks and memo keep a hostile pickle from exhausting memory or time. */
#ifndef WBR_PICKLE_H
#define WBR_PICKLE_H

#include "../base/util.h"

typedef enum wbr_pk_kind {
  WBR_PK_NONE,
  WBR_PK_BOOL,
  WBR_PK_INT,
  WBR_PK_FLOAT,
  WBR_PK_STR,     /* UTF-8 text, s/n point into the pickle's bytes (not NUL-terminated) */
  WBR_PK_BYTES,   /* s/n as for STR */
  WBR_PK_TUPLE,
  WBR_PK_LIST,
  WBR_PK_DICT,    /* dict or collections.OrderedDict: keys/vals in insertion order */
  WBR_PK_GLOBAL,  /* an allowlisted global used as a value (a dtype, a storage type, a class) */
  WBR_PK_STORAGE, /* a storage from a persistent id ('storage', type, key, location, numel) */
  WBR_PK_TENSOR,  /* a tensor rebuilt from a storage (also nn.Parameter) */
  WBR_PK_OBJECT   /* WBR_PICKLE_INERT only: a global outside the allowlist, or what calling,
                     instantiating or setting the state of one gave; nothing is known of it
                     but the global's name */
} wbr_pk_kind;

typedef struct wbr_pk_value wbr_pk_value;

typedef struct wbr_pk_tensor {
  const wbr_pk_value *storage; /* a WBR_PK_STORAGE value */
  int64_t offset;              /* in elements of the storage */
  int ndim;
  int64_t size[WBR_MAX_DIMS];
  int64_t stride[WBR_MAX_DIMS]; /* in elements; >= 0 */
} wbr_pk_tensor;

struct wbr_pk_value {
  wbr_pk_kind kind;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      const char *s;
      size_t n;
    } str; /* STR, BYTES */
    struct {
      wbr_pk_value **items;
      size_t n, cap;
    } seq; /* TUPLE, LIST */
    struct {
      wbr_pk_value **keys, **vals;
      size_t n, cap;
    } dict;
    struct {
      int id;           /* internal allowlist index */
      const char *name; /* "torch.FloatStorage", static */
    } global;
    struct {
      const char *module, *name; /* OBJECT: the global's, pointing into the pickle's bytes */
      size_t module_len, name_len;
    } object;
    struct {
      int dtype;        /* a wbr_dtype */
      const char *key;  /* the entry's key, "0": data lives in ARCHIVE/data/<key> */
      size_t key_len;
      uint64_t numel;   /* storage length in elements of dtype */
    } storage;
    wbr_pk_tensor *tensor;
  } u;
};

typedef struct wbr_pickle wbr_pickle;

/* Run the pickle in bytes[0..len) (which must outlive the result). `path` names the file and
 * `what` the pickle inside it ("data.pkl") for messages, which give the byte position. On success
 * *root is the unpickled object, owned by *out. One error through ctx otherwise. */
int wbr_pickle_load(wbr_pickle **out, const wbr_pk_value **root, wbr_ctx *ctx, const char *path,
                    const char *what, const uint8_t *bytes, size_t len);
/* Flags of wbr_pickle_load_flags. INERT: a global outside the allowlist becomes a
 * WBR_PK_OBJECT instead of an error, and so does calling it (REDUCE), instantiating it (NEWOBJ,
 * NEWOBJ_EX); BUILD, SETITEM(S) and APPEND(S) on an object are accepted and change nothing.
 * Nothing is resolved or run either way; the caller must refuse an object wherever it needs
 * the values (a tensor could hide inside one). */
enum { WBR_PICKLE_INERT = 1 };
int wbr_pickle_load_flags(wbr_pickle **out, const wbr_pk_value **root, wbr_ctx *ctx,
                          const char *path, const char *what, const uint8_t *bytes, size_t len,
                          unsigned flags);
void wbr_pickle_free(wbr_pickle *p);

/* Describe a value's kind for messages: "a tensor", "a dict", "an int", ... */
const char *wbr_pk_kind_name(const wbr_pk_value *v);

/* The storage-type name PyTorch pickles for a dtype ("FloatStorage"), or NULL if PyTorch has no
 * storage type for it. Used by the writer. */
const char *wbr_pk_storage_name(int dtype);

#endif
