/* pickle.c — the restricted pickle machine declared in pickle.h. It interprets the opcodes
 * torch.save emits (protocol 2, and 3-5 as newer Pythons write them) over a value stack, a mark
 * stack and a memo, like CPython's Unpickler, except that globals resolve only against the
 * allowlist below and "calls" (REDUCE) are interpreted by us for those few names: nothing is
 * ever imported or run. Every length is checked against the bytes left before it is used. */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h" /* wbr_json_show, wbr_utf8_valid */

/* Limits: generous for real checkpoints (a state dict costs ~15 values and ~12 memo slots per
 * tensor), small enough that a hostile pickle cannot exhaust memory. */
#define MAX_VALUES (1u << 23)
#define MAX_STACK (1u << 22)
#define MAX_MARKS 1000
#define MAX_MEMO (1u << 24)
#define MAX_GLOBAL_NAME 256
#define MAX_STORAGE_KEY 1024

/* ---- The allowlist -------------------------------------------------------------------------- */

typedef enum gkind {
  G_ORDERED_DICT,     /* collections.OrderedDict() -> an empty dict */
  G_REBUILD_V2,       /* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) */
  G_REBUILD_V1,       /* torch._utils._rebuild_tensor(storage, offset, size, stride) */
  G_REBUILD_PARAM,    /* torch._utils._rebuild_parameter(tensor, requires_grad, hooks) */
  G_REBUILD_PARAM_ST, /* torch._utils._rebuild_parameter_with_state(tensor, rg, hooks, state) */
  G_FROM_TYPE_V2,     /* torch._tensor._rebuild_from_type_v2(func, type, args, state) */
  G_TENSOR_CLASS,     /* torch.Tensor, torch.nn.parameter.Parameter: only as a type argument */
  G_STORAGE,          /* torch.FloatStorage ...: only inside a persistent id */
  G_BAD_STORAGE,      /* complex and quantized storages: known, refused */
  G_DTYPE,            /* torch.float32 ...: a plain value */
  G_CODECS_ENCODE     /* _codecs.encode(str, "latin1"): how protocol 2 pickles bytes */
} gkind;

typedef struct allowed {
  const char *module, *name, *full;
  gkind kind;
  int dtype;          /* G_STORAGE: the wbr_dtype; G_BAD_STORAGE: -1 */
  const char *torch;  /* G_BAD_STORAGE: the torch dtype, for the message */
} allowed;

#define ST(n, dt) {"torch", #n "Storage", "torch." #n "Storage", G_STORAGE, WBR_##dt, NULL}
#define BAD(n, tdt) {"torch", #n "Storage", "torch." #n "Storage", G_BAD_STORAGE, -1, tdt}
#define DT(n) {"torch", #n, "torch." #n, G_DTYPE, -1, NULL}

static const allowed ALLOWED[] = {
    {"collections", "OrderedDict", "collections.OrderedDict", G_ORDERED_DICT, -1, NULL},
    {"torch._utils", "_rebuild_tensor_v2", "torch._utils._rebuild_tensor_v2", G_REBUILD_V2, -1, NULL},
    {"torch._utils", "_rebuild_tensor", "torch._utils._rebuild_tensor", G_REBUILD_V1, -1, NULL},
    {"torch._utils", "_rebuild_parameter", "torch._utils._rebuild_parameter", G_REBUILD_PARAM, -1, NULL},
    {"torch._utils", "_rebuild_parameter_with_state", "torch._utils._rebuild_parameter_with_state",
     G_REBUILD_PARAM_ST, -1, NULL},
    {"torch._tensor", "_rebuild_from_type_v2", "torch._tensor._rebuild_from_type_v2", G_FROM_TYPE_V2, -1, NULL},
    {"torch", "Tensor", "torch.Tensor", G_TENSOR_CLASS, -1, NULL},
    {"torch._tensor", "Tensor", "torch._tensor.Tensor", G_TENSOR_CLASS, -1, NULL},
    {"torch.nn.parameter", "Parameter", "torch.nn.parameter.Parameter", G_TENSOR_CLASS, -1, NULL},
    {"_codecs", "encode", "_codecs.encode", G_CODECS_ENCODE, -1, NULL},
    ST(Double, F64), ST(Float, F32), ST(Half, F16), ST(BFloat16, BF16), ST(Long, I64), ST(Int, I32),
    ST(Short, I16), ST(Char, I8), ST(Byte, U8), ST(Bool, BOOL), ST(Float8_e4m3fn, F8_E4M3),
    ST(Float8_e5m2, F8_E5M2), ST(UInt16, U16), ST(UInt32, U32), ST(UInt64, U64), ST(Untyped, U8),
    {"torch.storage", "UntypedStorage", "torch.storage.UntypedStorage", G_STORAGE, WBR_U8, NULL},
    BAD(ComplexFloat, "complex64"), BAD(ComplexDouble, "complex128"), BAD(ComplexHalf, "complex32"),
    BAD(QInt8, "qint8"), BAD(QUInt8, "quint8"), BAD(QInt32, "qint32"), BAD(QUInt4x2, "quint4x2"),
    BAD(QUInt2x4, "quint2x4"),
    DT(float64), DT(double), DT(float32), DT(float), DT(float16), DT(half), DT(bfloat16),
    DT(int64), DT(long), DT(int32), DT(int), DT(int16), DT(short), DT(int8), DT(uint8), DT(bool),
    DT(complex64), DT(complex128), DT(float8_e4m3fn), DT(float8_e5m2),
};
#define NALLOWED (sizeof ALLOWED / sizeof ALLOWED[0])

const char *wbr_pk_storage_name(int dtype) {
  for (size_t i = 0; i < NALLOWED; i++)
    if (ALLOWED[i].kind == G_STORAGE && ALLOWED[i].dtype == dtype &&
        strcmp(ALLOWED[i].module, "torch") == 0 && strcmp(ALLOWED[i].name, "UntypedStorage") != 0)
      return ALLOWED[i].name;
  return NULL;
}

/* ---- The machine ------------------------------------------------------------------------------ */

#define BLOCK 4096

typedef struct vblock {
  struct vblock *next;
  size_t used;
  wbr_pk_value v[BLOCK];
} vblock;

struct wbr_pickle {
  wbr_ctx *ctx;
  const char *path, *what;
  const uint8_t *b;
  size_t len, pos, op_at;
  vblock *blocks;
  size_t nvalues;
  wbr_pk_value **stack;
  size_t sp, stack_cap;
  size_t marks[MAX_MARKS];
  size_t nmarks;
  wbr_pk_value **memo;
  size_t memo_cap, memo_set;
  bool inert; /* WBR_PICKLE_INERT */
};

#define HELP_RESAVE                                                                              \
  "weightbridge reads state dicts only (tensors in dicts), like torch.load(weights_only=True); " \
  "re-save it with torch.save(model.state_dict(), PATH)"
#define HELP_DAMAGED "the checkpoint is damaged or was not written by torch.save"

static int pk_fail(wbr_pickle *p, const char *help, const char *fmt, ...) WBR_PRINTF(3, 4);
static int pk_fail(wbr_pickle *p, const char *help, const char *fmt, ...) {
  char at[256];
  snprintf(at, sizeof at, "%s, byte %zu: ", p->what, p->op_at);
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = p->path, .message = at, .help = help};
  va_list ap;
  va_start(ap, fmt);
  int rc = wbr_vreport(p->ctx, WBR_EFORMAT, &d, fmt, ap);
  va_end(ap);
  return rc;
}

const char *wbr_pk_kind_name(const wbr_pk_value *v) {
  switch (v->kind) {
  case WBR_PK_NONE: return "None";
  case WBR_PK_BOOL: return "a bool";
  case WBR_PK_INT: return "an int";
  case WBR_PK_FLOAT: return "a float";
  case WBR_PK_STR: return "a string";
  case WBR_PK_BYTES: return "bytes";
  case WBR_PK_TUPLE: return "a tuple";
  case WBR_PK_LIST: return "a list";
  case WBR_PK_DICT: return "a dict";
  case WBR_PK_GLOBAL: return "a global";
  case WBR_PK_STORAGE: return "a storage";
  case WBR_PK_TENSOR: return "a tensor";
  case WBR_PK_OBJECT: return "a Python object";
  }
  return "a value";
}

static wbr_pk_value *newv(wbr_pickle *p, wbr_pk_kind kind, int *rc) {
  if (p->nvalues >= MAX_VALUES) {
    *rc = pk_fail(p, HELP_DAMAGED, "more than %u objects; refusing to build more", MAX_VALUES);
    return NULL;
  }
  if (!p->blocks || p->blocks->used == BLOCK) {
    vblock *nb = malloc(sizeof *nb);
    if (!nb) {
      *rc = wbr_oom_file(p->ctx, p->path);
      return NULL;
    }
    nb->next = p->blocks;
    nb->used = 0;
    p->blocks = nb;
  }
  wbr_pk_value *v = &p->blocks->v[p->blocks->used++];
  memset(v, 0, sizeof *v);
  v->kind = kind;
  p->nvalues++;
  return v;
}

void wbr_pickle_free(wbr_pickle *p) {
  if (!p) return;
  for (vblock *b = p->blocks, *next; b; b = next) {
    next = b->next;
    for (size_t i = 0; i < b->used; i++) {
      wbr_pk_value *v = &b->v[i];
      if (v->kind == WBR_PK_TUPLE || v->kind == WBR_PK_LIST) free(v->u.seq.items);
      if (v->kind == WBR_PK_DICT) {
        free(v->u.dict.keys);
        free(v->u.dict.vals);
      }
      if (v->kind == WBR_PK_TENSOR) free(v->u.tensor);
    }
    free(b);
  }
  free(p->stack);
  free(p->memo);
  free(p);
}

static int push(wbr_pickle *p, wbr_pk_value *v) {
  if (p->sp == p->stack_cap) {
    if (p->stack_cap >= MAX_STACK)
      return pk_fail(p, HELP_DAMAGED, "stack deeper than %u entries", MAX_STACK);
    if (!wbr_grow(&p->stack, &p->stack_cap, p->sp + 1, sizeof *p->stack, 256))
      return wbr_oom_file(p->ctx, p->path);
  }
  p->stack[p->sp++] = v;
  return 0;
}

static size_t top_mark(const wbr_pickle *p) { return p->nmarks ? p->marks[p->nmarks - 1] : 0; }

/* Pop one value (not across a mark). */
static int pop(wbr_pickle *p, wbr_pk_value **out, const char *op) {
  if (p->sp == 0 || p->sp <= top_mark(p)) {
    *out = NULL;
    return pk_fail(p, HELP_DAMAGED, "%s on an empty stack", op);
  }
  *out = p->stack[--p->sp];
  return 0;
}

/* The values above the top mark: *items, *n; the mark is popped. */
static int pop_mark(wbr_pickle *p, wbr_pk_value ***items, size_t *n, const char *op) {
  if (!p->nmarks) return pk_fail(p, HELP_DAMAGED, "%s without a MARK", op);
  size_t m = p->marks[--p->nmarks];
  *items = p->stack ? p->stack + m : NULL; /* no stack yet: MARK on an empty one */
  *n = p->sp - m;
  p->sp = m;
  return 0;
}

static int seq_add(wbr_pickle *p, wbr_pk_value *s, wbr_pk_value *const *items, size_t n) {
  if (n == 0) return 0;
  if (n > s->u.seq.cap - s->u.seq.n) {
    size_t cap = s->u.seq.cap ? s->u.seq.cap : 4;
    while (cap - s->u.seq.n < n) cap *= 2;
    wbr_pk_value **ni = realloc(s->u.seq.items, cap * sizeof *ni);
    if (!ni) return wbr_oom_file(p->ctx, p->path);
    s->u.seq.items = ni;
    s->u.seq.cap = cap;
  }
  memcpy(s->u.seq.items + s->u.seq.n, items, n * sizeof *items);
  s->u.seq.n += n;
  return 0;
}

/* Dict insertion keeps order and does not look for an existing key: a state dict's keys are
 * unique, and a repeated tensor name is reported by the caller when it builds the set. */
static int dict_add(wbr_pickle *p, wbr_pk_value *d, wbr_pk_value *const *kv, size_t npairs) {
  if (npairs == 0) return 0;
  if (npairs > d->u.dict.cap - d->u.dict.n) {
    size_t cap = d->u.dict.cap ? d->u.dict.cap : 4;
    while (cap - d->u.dict.n < npairs) cap *= 2;
    wbr_pk_value **nk = realloc(d->u.dict.keys, cap * sizeof *nk);
    if (nk) d->u.dict.keys = nk;
    wbr_pk_value **nv = nk ? realloc(d->u.dict.vals, cap * sizeof *nv) : NULL;
    if (nv) d->u.dict.vals = nv;
    if (!nk || !nv) return wbr_oom_file(p->ctx, p->path);
    d->u.dict.cap = cap;
  }
  for (size_t i = 0; i < npairs; i++) {
    d->u.dict.keys[d->u.dict.n] = kv[2 * i];
    d->u.dict.vals[d->u.dict.n] = kv[2 * i + 1];
    d->u.dict.n++;
  }
  return 0;
}

static int make_seq(wbr_pickle *p, wbr_pk_kind kind, wbr_pk_value *const *items, size_t n) {
  int rc = 0;
  wbr_pk_value *v = newv(p, kind, &rc);
  if (!v) return rc;
  if (n && (rc = seq_add(p, v, items, n))) return rc;
  return push(p, v);
}

static uint64_t rdle(const uint8_t *b, int n) {
  uint64_t x = 0;
  for (int i = n - 1; i >= 0; i--) x = x << 8 | b[i];
  return x;
}

static int need(wbr_pickle *p, uint64_t n, const char *op) {
  if (n > p->len - p->pos)
    return pk_fail(p, HELP_DAMAGED, "%s needs %llu bytes, only %zu remain (truncated?)", op,
                   (unsigned long long)n, p->len - p->pos);
  return 0;
}

static int memo_put(wbr_pickle *p, uint64_t idx) {
  if (p->sp == 0 || p->sp <= top_mark(p)) return pk_fail(p, HELP_DAMAGED, "memo put on an empty stack");
  if (idx >= MAX_MEMO)
    return pk_fail(p, HELP_DAMAGED, "memo index %llu exceeds the limit of %u",
                   (unsigned long long)idx, MAX_MEMO);
  /* Picklers number memo entries 0, 1, 2, ...: each costs at least two bytes of pickle, so an
   * index past the pickle's length is forged, and would cost 8 bytes of memo per index. */
  if (idx > p->len)
    return pk_fail(p, HELP_DAMAGED, "memo index %llu is larger than a %zu-byte pickle can number",
                   (unsigned long long)idx, p->len);
  if (idx >= p->memo_cap) {
    size_t cap = p->memo_cap ? p->memo_cap : 64;
    while (cap <= idx) cap *= 2;
    wbr_pk_value **nm = realloc(p->memo, cap * sizeof *nm);
    if (!nm) return wbr_oom_file(p->ctx, p->path);
    memset(nm + p->memo_cap, 0, (cap - p->memo_cap) * sizeof *nm);
    p->memo = nm;
    p->memo_cap = cap;
  }
  if (!p->memo[idx]) p->memo_set++;
  p->memo[idx] = p->stack[p->sp - 1];
  return 0;
}

static int memo_get(wbr_pickle *p, uint64_t idx) {
  if (idx >= p->memo_cap || !p->memo[idx])
    return pk_fail(p, HELP_DAMAGED, "memo index %llu was never set", (unsigned long long)idx);
  return push(p, p->memo[idx]);
}

static int string_value(wbr_pickle *p, wbr_pk_kind kind, uint64_t n, const char *op) {
  int rc = need(p, n, op);
  if (rc) return rc;
  const uint8_t *s = p->b + p->pos;
  size_t bad;
  if (kind == WBR_PK_STR && !wbr_utf8_valid(s, (size_t)n, &bad))
    return pk_fail(p, HELP_DAMAGED, "%s: invalid UTF-8 at string byte %zu", op, bad);
  wbr_pk_value *v = newv(p, kind, &rc);
  if (!v) return rc;
  v->u.str.s = (const char *)s;
  v->u.str.n = (size_t)n;
  p->pos += (size_t)n;
  return push(p, v);
}

static const allowed *find_allowed(const char *mod, size_t ml, const char *name, size_t nl) {
  for (size_t i = 0; i < NALLOWED; i++)
    if (strlen(ALLOWED[i].module) == ml && memcmp(ALLOWED[i].module, mod, ml) == 0 &&
        strlen(ALLOWED[i].name) == nl && memcmp(ALLOWED[i].name, name, nl) == 0)
      return &ALLOWED[i];
  return NULL;
}

/* An inert object named after the global (see WBR_PICKLE_INERT). */
static int push_object(wbr_pickle *p, const char *mod, size_t ml, const char *name, size_t nl) {
  int rc = 0;
  wbr_pk_value *v = newv(p, WBR_PK_OBJECT, &rc);
  if (!v) return rc;
  v->u.object.module = mod;
  v->u.object.module_len = ml < MAX_GLOBAL_NAME ? ml : MAX_GLOBAL_NAME;
  v->u.object.name = name;
  v->u.object.name_len = nl < MAX_GLOBAL_NAME ? nl : MAX_GLOBAL_NAME;
  return push(p, v);
}

/* The same object again, as the result of calling or instantiating it. */
static int push_object_of(wbr_pickle *p, const wbr_pk_value *cls) {
  return push_object(p, cls->u.object.module, cls->u.object.module_len, cls->u.object.name,
                     cls->u.object.name_len);
}

static int push_global(wbr_pickle *p, const char *mod, size_t ml, const char *name, size_t nl) {
  const allowed *a = find_allowed(mod, ml, name, nl);
  if (!a && p->inert) return push_object(p, mod, ml, name, nl);
  if (!a) {
    char shown[2 * MAX_GLOBAL_NAME + 8];
    snprintf(shown, sizeof shown, "%.*s.%.*s", (int)(ml < MAX_GLOBAL_NAME ? ml : MAX_GLOBAL_NAME),
             mod, (int)(nl < MAX_GLOBAL_NAME ? nl : MAX_GLOBAL_NAME), name);
    char clean[sizeof shown];
    wbr_json_show(clean, sizeof clean, shown);
    return pk_fail(p, HELP_RESAVE,
                   "global '%s' is not allowed (only tensors, storages, dicts and plain values "
                   "are read; nothing in the file is run)", clean);
  }
  if (a->kind == G_BAD_STORAGE)
    return pk_fail(p, "convert those tensors to a real dtype (float32, bfloat16, ...) before saving",
                   "tensors of dtype torch.%s (%s) are not supported", a->torch, a->full);
  int rc = 0;
  wbr_pk_value *v = newv(p, WBR_PK_GLOBAL, &rc);
  if (!v) return rc;
  v->u.global.id = (int)(a - ALLOWED);
  v->u.global.name = a->full;
  return push(p, v);
}

static int int_arg(wbr_pickle *p, const char *who, const char *what, const wbr_pk_value *v,
                   int64_t *out) {
  if (v->kind == WBR_PK_INT && v->u.i >= 0) {
    *out = v->u.i;
    return 0;
  }
  if (v->kind == WBR_PK_INT)
    return pk_fail(p, HELP_DAMAGED, "%s: %s is %lld, expected >= 0", who, what, (long long)v->u.i);
  return pk_fail(p, HELP_DAMAGED, "%s: %s is %s, expected an int", who, what, wbr_pk_kind_name(v));
}

static int dims_arg(wbr_pickle *p, const char *who, const char *what, const wbr_pk_value *v,
                    int64_t *out, int *ndim) {
  if (v->kind != WBR_PK_TUPLE && v->kind != WBR_PK_LIST)
    return pk_fail(p, HELP_DAMAGED, "%s: %s is %s, expected a tuple of ints", who, what,
                   wbr_pk_kind_name(v));
  if (v->u.seq.n > WBR_MAX_DIMS)
    return pk_fail(p, "reshape the tensor to at most 8 dimensions before saving",
                   "%s: %zu dimensions, at most %d are supported", who, v->u.seq.n, WBR_MAX_DIMS);
  for (size_t i = 0; i < v->u.seq.n; i++) {
    char w[64];
    snprintf(w, sizeof w, "%s[%zu]", what, i);
    int rc = int_arg(p, who, w, v->u.seq.items[i], &out[i]);
    if (rc) return rc;
  }
  *ndim = (int)v->u.seq.n;
  return 0;
}

static int rebuild_tensor(wbr_pickle *p, const char *who, wbr_pk_value *const *a, size_t n,
                          size_t min, size_t max, wbr_pk_value **out) {
  if (n < min || n > max)
    return pk_fail(p, HELP_DAMAGED, "%s takes %zu arguments, got %zu", who, min, n);
  if (a[0]->kind != WBR_PK_STORAGE)
    return pk_fail(p, HELP_DAMAGED, "%s: first argument is %s, expected a storage", who,
                   wbr_pk_kind_name(a[0]));
  wbr_pk_tensor *t = calloc(1, sizeof *t);
  if (!t) return wbr_oom_file(p->ctx, p->path);
  int nd2 = 0;
  t->storage = a[0];
  int rc = int_arg(p, who, "storage offset", a[1], &t->offset);
  if (!rc) rc = dims_arg(p, who, "size", a[2], t->size, &t->ndim);
  if (!rc) rc = dims_arg(p, who, "stride", a[3], t->stride, &nd2);
  if (!rc && nd2 != t->ndim)
    rc = pk_fail(p, HELP_DAMAGED, "%s: size has %d dimensions, stride %d", who, t->ndim, nd2);
  wbr_pk_value *v = rc ? NULL : newv(p, WBR_PK_TENSOR, &rc);
  if (!v) {
    free(t);
    return rc;
  }
  v->u.tensor = t;
  *out = v;
  return 0;
}

static int call(wbr_pickle *p, const wbr_pk_value *fn, const wbr_pk_value *args,
                wbr_pk_value **out, bool nested) {
  if (fn->kind != WBR_PK_GLOBAL)
    return pk_fail(p, HELP_DAMAGED, "REDUCE calls %s, not an allowed function", wbr_pk_kind_name(fn));
  if (args->kind != WBR_PK_TUPLE)
    return pk_fail(p, HELP_DAMAGED, "REDUCE arguments are %s, expected a tuple",
                   wbr_pk_kind_name(args));
  const allowed *g = &ALLOWED[fn->u.global.id];
  wbr_pk_value *const *a = args->u.seq.items;
  size_t n = args->u.seq.n;
  int rc = 0;
  switch (g->kind) {
  case G_ORDERED_DICT:
    if (n != 0)
      return pk_fail(p, HELP_RESAVE, "collections.OrderedDict called with %zu arguments, "
                     "expected none", n);
    *out = newv(p, WBR_PK_DICT, &rc);
    return *out ? 0 : rc;
  case G_REBUILD_V2:
    return rebuild_tensor(p, g->full, a, n, 6, 7, out);
  case G_REBUILD_V1:
    return rebuild_tensor(p, g->full, a, n, 4, 4, out);
  case G_REBUILD_PARAM:
  case G_REBUILD_PARAM_ST: {
    size_t want = g->kind == G_REBUILD_PARAM ? 3 : 4;
    if (n != want)
      return pk_fail(p, HELP_DAMAGED, "%s takes %zu arguments, got %zu", g->full, want, n);
    if (a[0]->kind != WBR_PK_TENSOR)
      return pk_fail(p, HELP_DAMAGED, "%s: first argument is %s, expected a tensor", g->full,
                     wbr_pk_kind_name(a[0]));
    *out = a[0];
    return 0;
  }
  case G_FROM_TYPE_V2: {
    if (n != 4)
      return pk_fail(p, HELP_DAMAGED, "%s takes 4 arguments, got %zu", g->full, n);
    if (nested)
      return pk_fail(p, HELP_DAMAGED, "%s nested in itself", g->full);
    if (a[1]->kind != WBR_PK_GLOBAL || ALLOWED[a[1]->u.global.id].kind != G_TENSOR_CLASS)
      return pk_fail(p, HELP_RESAVE, "%s: tensor type is %s%s%s, only torch.Tensor and "
                     "torch.nn.Parameter are read", g->full,
                     a[1]->kind == WBR_PK_GLOBAL ? "'" : "",
                     a[1]->kind == WBR_PK_GLOBAL ? a[1]->u.global.name : wbr_pk_kind_name(a[1]),
                     a[1]->kind == WBR_PK_GLOBAL ? "'" : "");
    rc = call(p, a[0], a[2], out, true);
    if (rc) return rc;
    if ((*out)->kind != WBR_PK_TENSOR)
      return pk_fail(p, HELP_DAMAGED, "%s did not produce a tensor", g->full);
    return 0;
  }
  case G_CODECS_ENCODE:
    if (n != 2 || a[0]->kind != WBR_PK_STR || a[1]->kind != WBR_PK_STR)
      return pk_fail(p, HELP_DAMAGED, "_codecs.encode takes two strings");
    *out = newv(p, WBR_PK_BYTES, &rc);
    if (!*out) return rc;
    (*out)->u.str = a[0]->u.str; /* the text, not decoded: bytes are never looked into */
    return 0;
  case G_TENSOR_CLASS:
  case G_STORAGE:
  case G_BAD_STORAGE:
  case G_DTYPE:
    break;
  }
  return pk_fail(p, HELP_RESAVE, "'%s' cannot be called (REDUCE)", g->full);
}

static int persistent(wbr_pickle *p, const wbr_pk_value *pid) {
  static const char *const HELP = HELP_DAMAGED;
  if (pid->kind != WBR_PK_TUPLE || pid->u.seq.n != 5)
    return pk_fail(p, HELP, "persistent id is %s%s, expected ('storage', type, key, location, "
                   "numel)", wbr_pk_kind_name(pid), pid->kind == WBR_PK_TUPLE ? " of another length" : "");
  wbr_pk_value *const *a = pid->u.seq.items;
  if (a[0]->kind != WBR_PK_STR || a[0]->u.str.n != 7 || memcmp(a[0]->u.str.s, "storage", 7) != 0)
    return pk_fail(p, HELP, "persistent id is not a storage (its first item is not 'storage')");
  if (a[1]->kind != WBR_PK_GLOBAL || ALLOWED[a[1]->u.global.id].kind != G_STORAGE)
    return pk_fail(p, HELP, "persistent id: storage type is %s, expected a torch storage class",
                   a[1]->kind == WBR_PK_GLOBAL ? a[1]->u.global.name : wbr_pk_kind_name(a[1]));
  if (a[2]->kind != WBR_PK_STR || a[2]->u.str.n == 0 || a[2]->u.str.n > MAX_STORAGE_KEY ||
      memchr(a[2]->u.str.s, 0, a[2]->u.str.n) || memchr(a[2]->u.str.s, '/', a[2]->u.str.n))
    return pk_fail(p, HELP, "persistent id: storage key must be a short non-empty string "
                   "without '/' or NUL");
  int64_t numel;
  int rc = int_arg(p, "persistent id", "numel", a[4], &numel);
  if (rc) return rc;
  wbr_pk_value *v = newv(p, WBR_PK_STORAGE, &rc);
  if (!v) return rc;
  v->u.storage.dtype = ALLOWED[a[1]->u.global.id].dtype;
  v->u.storage.key = a[2]->u.str.s;
  v->u.storage.key_len = a[2]->u.str.n;
  v->u.storage.numel = (uint64_t)numel;
  return push(p, v);
}

static const char *op_name(uint8_t op) {
  switch (op) {
  case 'I': return "INT";
  case 'L': return "LONG";
  case 'F': return "FLOAT";
  case 'S': return "STRING";
  case 'T': return "BINSTRING";
  case 'U': return "SHORT_BINSTRING";
  case 'V': return "UNICODE";
  case 'P': return "PERSID";
  case 'i': return "INST";
  case 'o': return "OBJ";
  case 'g': return "GET";
  case 'p': return "PUT";
  case 0x81: return "NEWOBJ";
  case 0x82: return "EXT1";
  case 0x83: return "EXT2";
  case 0x84: return "EXT4";
  case 0x8b: return "LONG4";
  case 0x8f: return "EMPTY_SET";
  case 0x90: return "ADDITEMS";
  case 0x91: return "FROZENSET";
  case 0x92: return "NEWOBJ_EX";
  case 0x96: return "BYTEARRAY8";
  case 0x97: return "NEXT_BUFFER";
  case 0x98: return "READONLY_BUFFER";
  default: return NULL;
  }
}

/* The top of the stack is an inert object: SETITEM(S) and APPEND(S) on it change nothing (a
 * dict or list subclass filling itself). */
static bool on_object(const wbr_pickle *p) {
  return p->sp > top_mark(p) && p->stack[p->sp - 1]->kind == WBR_PK_OBJECT;
}

static int run(wbr_pickle *p, const wbr_pk_value **root) {
  int rc = 0;
  while (!rc) {
    if (p->pos >= p->len) {
      p->op_at = p->pos;
      return pk_fail(p, HELP_DAMAGED, "ends without STOP (truncated?)");
    }
    p->op_at = p->pos;
    uint8_t op = p->b[p->pos++];
    wbr_pk_value *v = NULL, *k = NULL, **items = NULL;
    size_t n = 0;
    switch (op) {
    case 0x80: /* PROTO */
      if (!(rc = need(p, 1, "PROTO")) && p->b[p->pos] > 5)
        rc = pk_fail(p, "save with pickle protocol 5 or lower", "pickle protocol %u is not "
                     "supported (at most 5)", p->b[p->pos]);
      p->pos++;
      break;
    case 0x95: /* FRAME: a length hint only */
      if (!(rc = need(p, 8, "FRAME"))) {
        uint64_t fl = rdle(p->b + p->pos, 8);
        p->pos += 8;
        rc = need(p, fl, "FRAME");
      }
      break;
    case '.': /* STOP */
      if (p->sp == 0 || p->sp <= top_mark(p)) return pk_fail(p, HELP_DAMAGED, "STOP with an empty stack");
      *root = p->stack[p->sp - 1];
      return 0;
    case '(': /* MARK */
      if (p->nmarks == MAX_MARKS)
        return pk_fail(p, HELP_DAMAGED, "nested deeper than %d levels (MARK)", MAX_MARKS);
      p->marks[p->nmarks++] = p->sp;
      break;
    case '0': /* POP */
      if (p->sp > top_mark(p)) p->sp--;
      else if (p->nmarks) p->nmarks--;
      else rc = pk_fail(p, HELP_DAMAGED, "POP on an empty stack");
      break;
    case '1': /* POP_MARK */
      rc = pop_mark(p, &items, &n, "POP_MARK");
      break;
    case '2': /* DUP */
      if (p->sp == 0 || p->sp <= top_mark(p)) rc = pk_fail(p, HELP_DAMAGED, "DUP on an empty stack");
      else rc = push(p, p->stack[p->sp - 1]);
      break;
    case '}': /* EMPTY_DICT */
      if ((v = newv(p, WBR_PK_DICT, &rc))) rc = push(p, v);
      break;
    case ']': /* EMPTY_LIST */
      if ((v = newv(p, WBR_PK_LIST, &rc))) rc = push(p, v);
      break;
    case ')': /* EMPTY_TUPLE */
      rc = make_seq(p, WBR_PK_TUPLE, NULL, 0);
      break;
    case 'd': /* DICT */
      if ((rc = pop_mark(p, &items, &n, "DICT"))) break;
      if (n % 2) {
        rc = pk_fail(p, HELP_DAMAGED, "DICT with an odd number of items (%zu)", n);
        break;
      }
      if ((v = newv(p, WBR_PK_DICT, &rc)) && !(rc = dict_add(p, v, items, n / 2))) rc = push(p, v);
      break;
    case 'l': /* LIST */
    case 't': /* TUPLE */
      if (!(rc = pop_mark(p, &items, &n, op == 'l' ? "LIST" : "TUPLE")))
        rc = make_seq(p, op == 'l' ? WBR_PK_LIST : WBR_PK_TUPLE, items, n);
      break;
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
      n = (size_t)(op - 0x84);
      if (p->sp < n || p->sp - n < top_mark(p)) {
        rc = pk_fail(p, HELP_DAMAGED, "TUPLE%zu on a stack with fewer items", n);
        break;
      }
      p->sp -= n;
      rc = make_seq(p, WBR_PK_TUPLE, p->stack + p->sp, n);
      break;
    case 's': /* SETITEM */
      if ((rc = pop(p, &v, "SETITEM")) || (rc = pop(p, &k, "SETITEM"))) break;
      if (on_object(p)) break;
      if (p->sp == 0 || p->sp <= top_mark(p) || p->stack[p->sp - 1]->kind != WBR_PK_DICT) {
        rc = pk_fail(p, HELP_DAMAGED, "SETITEM on something that is not a dict");
        break;
      }
      {
        wbr_pk_value *kv[2] = {k, v};
        rc = dict_add(p, p->stack[p->sp - 1], kv, 1);
      }
      break;
    case 'u': /* SETITEMS */
      if ((rc = pop_mark(p, &items, &n, "SETITEMS"))) break;
      if (n % 2) rc = pk_fail(p, HELP_DAMAGED, "SETITEMS with an odd number of items (%zu)", n);
      else if (on_object(p)) break;
      else if (p->sp == 0 || p->sp <= top_mark(p) || p->stack[p->sp - 1]->kind != WBR_PK_DICT)
        rc = pk_fail(p, HELP_DAMAGED, "SETITEMS on something that is not a dict");
      else rc = dict_add(p, p->stack[p->sp - 1], items, n / 2);
      break;
    case 'a': /* APPEND */
      if ((rc = pop(p, &v, "APPEND")) || on_object(p)) break;
      if (p->sp == 0 || p->sp <= top_mark(p) || p->stack[p->sp - 1]->kind != WBR_PK_LIST)
        rc = pk_fail(p, HELP_DAMAGED, "APPEND to something that is not a list");
      else rc = seq_add(p, p->stack[p->sp - 1], &v, 1);
      break;
    case 'e': /* APPENDS */
      if ((rc = pop_mark(p, &items, &n, "APPENDS")) || on_object(p)) break;
      if (p->sp == 0 || p->sp <= top_mark(p) || p->stack[p->sp - 1]->kind != WBR_PK_LIST)
        rc = pk_fail(p, HELP_DAMAGED, "APPENDS to something that is not a list");
      else rc = seq_add(p, p->stack[p->sp - 1], items, n);
      break;
    case 'J': /* BININT */
    case 'K': /* BININT1 */
    case 'M': /* BININT2 */
    {
      int w = op == 'J' ? 4 : op == 'K' ? 1 : 2;
      if ((rc = need(p, (uint64_t)w, "BININT"))) break;
      uint64_t x = rdle(p->b + p->pos, w);
      p->pos += (size_t)w;
      if ((v = newv(p, WBR_PK_INT, &rc))) {
        v->u.i = op == 'J' ? (int64_t)(int32_t)(uint32_t)x : (int64_t)x;
        rc = push(p, v);
      }
      break;
    }
    case 0x8a: /* LONG1 */
    {
      if ((rc = need(p, 1, "LONG1"))) break;
      int w = p->b[p->pos++];
      if (w > 8) {
        rc = pk_fail(p, HELP_DAMAGED, "integer of %d bytes does not fit in 64 bits", w);
        break;
      }
      if ((rc = need(p, (uint64_t)w, "LONG1"))) break;
      uint64_t x = w ? rdle(p->b + p->pos, w) : 0;
      if (w && w < 8 && (p->b[p->pos + w - 1] & 0x80)) x |= ~UINT64_C(0) << (8 * w);
      p->pos += (size_t)w;
      if ((v = newv(p, WBR_PK_INT, &rc))) {
        memcpy(&v->u.i, &x, sizeof x);
        rc = push(p, v);
      }
      break;
    }
    case 'G': /* BINFLOAT, big-endian */
    {
      if ((rc = need(p, 8, "BINFLOAT"))) break;
      uint64_t x = 0;
      for (int i = 0; i < 8; i++) x = x << 8 | p->b[p->pos + i];
      p->pos += 8;
      if ((v = newv(p, WBR_PK_FLOAT, &rc))) {
        memcpy(&v->u.f, &x, sizeof x);
        rc = push(p, v);
      }
      break;
    }
    case 'X':    /* BINUNICODE */
    case 0x8d:   /* BINUNICODE8 */
    case 0x8c:   /* SHORT_BINUNICODE */
    case 'B':    /* BINBYTES */
    case 'C':    /* SHORT_BINBYTES */
    case 0x8e: { /* BINBYTES8 */
      int w = (op == 'X' || op == 'B') ? 4 : (op == 0x8d || op == 0x8e) ? 8 : 1;
      const char *nm = op == 'X' ? "BINUNICODE" : op == 0x8d ? "BINUNICODE8"
                     : op == 0x8c ? "SHORT_BINUNICODE" : op == 'B' ? "BINBYTES"
                     : op == 'C' ? "SHORT_BINBYTES" : "BINBYTES8";
      if ((rc = need(p, (uint64_t)w, nm))) break;
      uint64_t len = rdle(p->b + p->pos, w);
      p->pos += (size_t)w;
      bool text = op == 'X' || op == 0x8d || op == 0x8c;
      rc = string_value(p, text ? WBR_PK_STR : WBR_PK_BYTES, len, nm);
      break;
    }
    case 'N': /* NONE */
      if ((v = newv(p, WBR_PK_NONE, &rc))) rc = push(p, v);
      break;
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
      if ((v = newv(p, WBR_PK_BOOL, &rc))) {
        v->u.b = op == 0x88;
        rc = push(p, v);
      }
      break;
    case 'q': /* BINPUT */
    case 'r': /* LONG_BINPUT */
    case 'h': /* BINGET */
    case 'j': /* LONG_BINGET */
    {
      int w = (op == 'q' || op == 'h') ? 1 : 4;
      if ((rc = need(p, (uint64_t)w, "memo"))) break;
      uint64_t idx = rdle(p->b + p->pos, w);
      p->pos += (size_t)w;
      rc = (op == 'q' || op == 'r') ? memo_put(p, idx) : memo_get(p, idx);
      break;
    }
    case 0x94: /* MEMOIZE */
      rc = memo_put(p, p->memo_set);
      break;
    case 'c': /* GLOBAL: "module\nname\n" */
    {
      const char *s = (const char *)p->b + p->pos;
      size_t left = p->len - p->pos, lim = left < 2 * MAX_GLOBAL_NAME + 2 ? left : 2 * MAX_GLOBAL_NAME + 2;
      const char *nl1 = memchr(s, '\n', lim);
      const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', lim - (size_t)(nl1 + 1 - s)) : NULL;
      if (!nl2) {
        rc = pk_fail(p, HELP_DAMAGED, "GLOBAL is not two short newline-terminated lines");
        break;
      }
      p->pos += (size_t)(nl2 + 1 - s);
      rc = push_global(p, s, (size_t)(nl1 - s), nl1 + 1, (size_t)(nl2 - nl1 - 1));
      break;
    }
    case 0x93: /* STACK_GLOBAL */
      if ((rc = pop(p, &v, "STACK_GLOBAL")) || (rc = pop(p, &k, "STACK_GLOBAL"))) break;
      if (v->kind != WBR_PK_STR || k->kind != WBR_PK_STR)
        rc = pk_fail(p, HELP_DAMAGED, "STACK_GLOBAL needs two strings");
      else rc = push_global(p, k->u.str.s, k->u.str.n, v->u.str.s, v->u.str.n);
      break;
    case 'R': /* REDUCE */
    {
      wbr_pk_value *res = NULL;
      if ((rc = pop(p, &v, "REDUCE")) || (rc = pop(p, &k, "REDUCE"))) break;
      if (k->kind == WBR_PK_OBJECT) rc = push_object_of(p, k); /* inert: nothing is called */
      else if (!(rc = call(p, k, v, &res, false))) rc = push(p, res);
      break;
    }
    case 'b': /* BUILD: set an object's state; only OrderedDict's _metadata is expected */
      if ((rc = pop(p, &v, "BUILD"))) break;
      if (p->sp == 0 || p->sp <= top_mark(p)) {
        rc = pk_fail(p, HELP_DAMAGED, "BUILD on an empty stack");
        break;
      }
      k = p->stack[p->sp - 1];
      if (k->kind != WBR_PK_DICT && k->kind != WBR_PK_TENSOR && k->kind != WBR_PK_OBJECT)
        rc = pk_fail(p, HELP_RESAVE, "BUILD (setting object state) on %s", wbr_pk_kind_name(k));
      break;
    case 0x81: /* NEWOBJ: cls.__new__(cls, *args), inert only */
    case 0x92: /* NEWOBJ_EX: with kwargs */
      if (!p->inert) return pk_fail(p, HELP_RESAVE, "opcode %s (0x%02x) is not supported", op_name(op), op);
      if (op == 0x92 && (rc = pop(p, &v, "NEWOBJ_EX"))) break;
      if ((rc = pop(p, &v, op_name(op))) || (rc = pop(p, &k, op_name(op)))) break;
      if (k->kind != WBR_PK_OBJECT)
        rc = pk_fail(p, HELP_RESAVE, "%s of %s, not of a class", op_name(op), wbr_pk_kind_name(k));
      else rc = push_object_of(p, k);
      break;
    case 'Q': /* BINPERSID */
      if (!(rc = pop(p, &v, "BINPERSID"))) rc = persistent(p, v);
      break;
    default: {
      const char *nm = op_name(op);
      if (nm)
        return pk_fail(p, HELP_RESAVE, "opcode %s (0x%02x) is not supported", nm, op);
      return pk_fail(p, HELP_DAMAGED, "unknown opcode 0x%02x", op);
    }
    }
  }
  return rc;
}

int wbr_pickle_load(wbr_pickle **out, const wbr_pk_value **root, wbr_ctx *ctx, const char *path,
                    const char *what, const uint8_t *bytes, size_t len) {
  return wbr_pickle_load_flags(out, root, ctx, path, what, bytes, len, 0);
}

int wbr_pickle_load_flags(wbr_pickle **out, const wbr_pk_value **root, wbr_ctx *ctx,
                          const char *path, const char *what, const uint8_t *bytes, size_t len,
                          unsigned flags) {
  if (!out || !root) return WBR_EUSAGE;
  *out = NULL;
  *root = NULL;
  wbr_pickle *p = calloc(1, sizeof *p);
  if (!p) return wbr_oom_file(ctx, path);
  p->ctx = ctx;
  p->path = path;
  p->what = what ? what : "pickle";
  p->b = bytes;
  p->len = len;
  p->inert = (flags & WBR_PICKLE_INERT) != 0;
  int rc = run(p, root);
  if (rc) {
    wbr_pickle_free(p);
    *root = NULL;
    return rc;
  }
  *out = p;
  return 0;
}
