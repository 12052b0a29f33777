/* tensorset.c — weightbridge._native.TensorSet: a wbr_tensorset for Python. Tensors added from
 * Python borrow their buffers (zero-copy; the set keeps each Py_buffer until it dies); data()
 * hands out read-only memoryviews over the mapping or the borrowed bytes through a small exporter
 * object that keeps the set alive, and makes a lazy tensor's bytes once into a block it owns. */
#include "native.h"

#include <string.h>

/* ---- the exporter behind data()'s memoryviews ---- */

typedef struct wbp_view {
  PyObject_HEAD
  PyObject *owner; /* the TensorSet whose bytes these are */
  void *p;
  Py_ssize_t len;
} wbp_view;

static int view_getbuffer(PyObject *self, Py_buffer *view, int flags) {
  wbp_view *v = (wbp_view *)self;
  return PyBuffer_FillInfo(view, self, v->p, v->len, 1, flags);
}

static void view_dealloc(PyObject *self) {
  Py_XDECREF(((wbp_view *)self)->owner);
  Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs view_as_buffer = {view_getbuffer, NULL};

PyTypeObject wbp_view_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "weightbridge._native._Bytes",
    .tp_basicsize = sizeof(wbp_view),
    .tp_dealloc = view_dealloc,
    .tp_as_buffer = &view_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "read-only bytes of a tensor (keeps its TensorSet alive)",
};

static PyObject *memoryview_of(PyObject *owner, const void *p, uint64_t len) {
  static char empty[1];
  wbp_view *v = PyObject_New(wbp_view, &wbp_view_type);
  if (!v) return NULL;
  Py_INCREF(owner);
  v->owner = owner;
  v->p = len ? (void *)p : empty;
  v->len = (Py_ssize_t)len;
  PyObject *mv = PyMemoryView_FromObject((PyObject *)v);
  Py_DECREF(v);
  return mv;
}

/* ---- the set ---- */

wbp_set *wbp_as_set(PyObject *obj, const char *what) {
  if (!PyObject_TypeCheck(obj, &wbp_set_type)) {
    PyErr_Format(PyExc_TypeError, "%s must be a TensorSet, not %.80s", what, Py_TYPE(obj)->tp_name);
    return NULL;
  }
  return (wbp_set *)obj;
}

static wbp_set *set_alloc(PyTypeObject *type) {
  wbp_set *s = (wbp_set *)type->tp_alloc(type, 0);
  if (s && wbp_ctx_init(&s->c)) Py_CLEAR(s);
  return s;
}

static PyObject *set_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  if (!PyArg_ParseTuple(args, ":TensorSet") || (kw && PyDict_Size(kw) > 0)) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "TensorSet() takes no arguments");
    return NULL;
  }
  wbp_set *s = set_alloc(type);
  int rc = s ? wbr_tensorset_new(&s->ts, s->c.ctx) : 0;
  if (rc) {
    wbp_raise(&s->c, rc);
    Py_CLEAR(s);
  }
  return (PyObject *)s;
}

static void set_dealloc(PyObject *self) {
  wbp_set *s = (wbp_set *)self;
  wbr_tensorset_free(s->ts);
  for (size_t i = 0; i < s->nbufs; i++) {
    PyBuffer_Release(s->bufs[i]);
    PyMem_Free(s->bufs[i]);
  }
  PyMem_Free(s->bufs);
  for (size_t i = 0; i < s->nmade; i++) PyMem_Free(s->made[i]);
  PyMem_Free(s->made);
  wbp_ctx_close(&s->c);
  Py_TYPE(self)->tp_free(self);
}

/* Keep b (a Py_buffer the set now owns) until the set dies. */
static int keep_buffer(wbp_set *s, Py_buffer *b) {
  if (s->nbufs == s->capbufs) {
    size_t cap = s->capbufs ? s->capbufs * 2 : 8;
    Py_buffer **n = PyMem_Realloc(s->bufs, cap * sizeof *n);
    if (!n) return -1;
    s->bufs = n;
    s->capbufs = cap;
  }
  s->bufs[s->nbufs++] = b;
  return 0;
}

PyObject *wbp_open(PyObject *self, PyObject *args) {
  (void)self;
  const char *path;
  if (!PyArg_ParseTuple(args, "s:open", &path)) return NULL;
  wbp_set *s = set_alloc(&wbp_set_type);
  if (!s) return NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = wbr_tensorset_open(&s->ts, s->c.ctx, path);
  Py_END_ALLOW_THREADS
  return wbp_result(&s->c, rc, (PyObject *)s);
}

PyObject *wbp_open_memory(PyObject *self, PyObject *args) {
  (void)self;
  const char *name;
  Py_buffer *b = PyMem_Malloc(sizeof *b);
  if (!b) return PyErr_NoMemory();
  if (!PyArg_ParseTuple(args, "sy*:open_memory", &name, b)) {
    PyMem_Free(b);
    return NULL;
  }
  wbp_set *s = set_alloc(&wbp_set_type);
  if (!s || keep_buffer(s, b)) { /* the set keeps the bytes whether or not the format copies them */
    PyBuffer_Release(b);
    PyMem_Free(b);
    Py_XDECREF(s);
    return s ? PyErr_NoMemory() : NULL;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = wbr_tensorset_open_memory(&s->ts, s->c.ctx, name, b->buf, (size_t)b->len);
  Py_END_ALLOW_THREADS
  return wbp_result(&s->c, rc, (PyObject *)s);
}

/* A shape tuple/list of non-negative ints: 0 with *ndim and dims filled, or -1 with an error. */
static int parse_shape(PyObject *shape, int *ndim, int64_t *dims) {
  PyObject *fast = PySequence_Check(shape) && !PyUnicode_Check(shape) && !PyBytes_Check(shape)
                       ? PySequence_Fast(shape, "shape must be a tuple of ints")
                       : NULL;
  if (!fast) {
    if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "shape must be a tuple of ints, not %.80s", Py_TYPE(shape)->tp_name);
    }
    return -1;
  }
  Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
  int rc = 0;
  if (n > WBR_MAX_DIMS) {
    PyErr_Format(PyExc_ValueError, "a tensor has at most %d dimensions, not %zd", WBR_MAX_DIMS, n);
    rc = -1;
  }
  for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
    PyObject *d = PySequence_Fast_GET_ITEM(fast, i);
    if (!PyLong_Check(d) || PyBool_Check(d)) {
      PyErr_Format(PyExc_TypeError, "shape entries must be ints, not %.80s", Py_TYPE(d)->tp_name);
      rc = -1;
      break;
    }
    long long v = PyLong_AsLongLong(d);
    if (v == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      PyErr_SetString(PyExc_ValueError, "a shape entry does not fit in 64 bits");
      rc = -1;
    } else if (v < 0) {
      PyErr_Format(PyExc_ValueError, "shape entries must be >= 0, not %lld", v);
      rc = -1;
    }
    dims[i] = v;
  }
  Py_DECREF(fast);
  *ndim = (int)n;
  return rc;
}

/* nelem * esize, or 0 with ValueError when it does not fit in 63 bits. */
static int shape_bytes(int ndim, const int64_t *dims, size_t esize, uint64_t *out) {
  uint64_t n = esize;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] && n > (uint64_t)INT64_MAX / (uint64_t)dims[i]) {
      PyErr_SetString(PyExc_ValueError, "the tensor's size does not fit in 64 bits");
      return -1;
    }
    n *= (uint64_t)dims[i];
  }
  *out = n;
  return 0;
}

static int refuse_busy(wbp_set *s, const char *what) {
  if (!s->busy) return 0;
  wbp_raise_msg(WBR_EUSAGE, what);
  return -1;
}

/* The data argument of add(): a C-contiguous buffer of exactly nbytes, kept by the set. */
static int borrow_data(wbp_set *s, PyObject *data, uint64_t nbytes, const void **out) {
  Py_buffer *b = PyMem_Malloc(sizeof *b);
  if (!b) return PyErr_NoMemory(), -1;
  if (PyObject_GetBuffer(data, b, PyBUF_FULL_RO) != 0) {
    PyMem_Free(b);
    if (PyErr_ExceptionMatches(PyExc_BufferError)) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "data must support the buffer protocol (%.80s does not)",
                   Py_TYPE(data)->tp_name);
    }
    return -1;
  }
  const char *why = !PyBuffer_IsContiguous(b, 'C') ? "data is not C-contiguous (copy it first)"
                    : (uint64_t)b->len != nbytes ? "data has the wrong size"
                                                 : NULL;
  if (why || keep_buffer(s, b)) {
    if (why) PyErr_Format(PyExc_ValueError, "%s: %zd bytes, the shape and dtype need %llu", why, b->len,
                          (unsigned long long)nbytes);
    else PyErr_NoMemory();
    PyBuffer_Release(b);
    PyMem_Free(b);
    return -1;
  }
  *out = b->buf;
  return 0;
}

static PyObject *set_add(PyObject *self, PyObject *args, PyObject *kw) {
  wbp_set *s = (wbp_set *)self;
  static char *kws[] = {"name", "dtype", "shape", "data", NULL};
  PyObject *name, *shape, *data = Py_None;
  const char *dts;
  Py_ssize_t dtlen;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "Us#O|O:add", kws, &name, &dts, &dtlen, &shape, &data)) return NULL;
  if (refuse_busy(s, "the set is being read by a running call; add tensors before or after it")) return NULL;
  if (s->users) return wbp_raise_msg(WBR_EUSAGE, "the set is the source or target of a live Plan: add tensors before planning");
  wbr_dtype dt;
  int ndim;
  int64_t dims[WBR_MAX_DIMS];
  uint64_t nbytes;
  if (wbr_dtype_parse(&dt, dts, (size_t)dtlen) != 0)
    return PyErr_Format(PyExc_ValueError, "unknown dtype '%s' (use the safetensors names: F32, BF16, I64, ...)", dts);
  if (parse_shape(shape, &ndim, dims) || shape_bytes(ndim, dims, wbr_dtype_size(dt), &nbytes)) return NULL;
  char *cname = wbp_strdup(name, "name");
  const void *bytes = NULL;
  if (!cname || (data != Py_None && borrow_data(s, data, nbytes, &bytes))) {
    PyMem_Free(cname);
    return NULL;
  }
  int rc = wbr_tensorset_add(s->ts, cname, dt, ndim, dims, bytes);
  PyMem_Free(cname);
  /* A refused tensor's buffer stays kept until the set dies: harmless, and never dangling. */
  if (rc) return wbp_raise(&s->c, rc);
  if (wbp_warn(&s->c)) return NULL;
  Py_RETURN_NONE;
}

static Py_ssize_t set_len(PyObject *self) { return (Py_ssize_t)wbr_tensorset_count(((wbp_set *)self)->ts); }

/* The index key names: an int in range or a name in the set; -1 with IndexError/KeyError. */
static Py_ssize_t key_index(wbp_set *s, PyObject *key) {
  size_t n = wbr_tensorset_count(s->ts);
  if (PyLong_Check(key)) {
    Py_ssize_t i = PyLong_AsSsize_t(key);
    if (i == -1 && PyErr_Occurred()) return -1;
    if (i < 0 || (size_t)i >= n) {
      PyErr_Format(PyExc_IndexError, "tensor index %zd out of range (the set has %zu)", i, n);
      return -1;
    }
    return i;
  }
  char *name = wbp_strdup(key, "a tensor key (index or name)");
  if (!name) return -1;
  long i = wbr_tensorset_find(s->ts, name);
  if (i < 0) PyErr_SetObject(PyExc_KeyError, key);
  PyMem_Free(name);
  return i < 0 ? -1 : (Py_ssize_t)i;
}

static PyObject *shape_tuple(int ndim, const int64_t *shape) {
  PyObject *t = PyTuple_New(ndim);
  for (int d = 0; t && d < ndim; d++) {
    PyObject *v = PyLong_FromLongLong((long long)shape[d]);
    if (!v) {
      Py_CLEAR(t);
      break;
    }
    PyTuple_SET_ITEM(t, d, v);
  }
  return t;
}

static PyObject *set_names(PyObject *self, PyObject *noargs) {
  (void)noargs;
  wbp_set *s = (wbp_set *)self;
  size_t n = wbr_tensorset_count(s->ts);
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    wbr_tensor_info t;
    wbr_tensorset_get(s->ts, i, &t);
    PyObject *v = PyUnicode_DecodeUTF8(t.name, (Py_ssize_t)strlen(t.name), "surrogateescape");
    if (!v) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, v);
  }
  return l;
}

static PyObject *set_info(PyObject *self, PyObject *key) {
  wbp_set *s = (wbp_set *)self;
  Py_ssize_t i = key_index(s, key);
  if (i < 0) return NULL;
  wbr_tensor_info t;
  wbr_tensorset_get(s->ts, (size_t)i, &t);
  PyObject *shape = shape_tuple(t.ndim, t.shape);
  if (!shape) return NULL;
  PyObject *q = t.quantized ? PyUnicode_FromString(t.quantized) : Py_NewRef(Py_None);
  PyObject *nm = PyUnicode_DecodeUTF8(t.name, (Py_ssize_t)strlen(t.name), "surrogateescape");
  if (!q || !nm) {
    Py_DECREF(shape);
    Py_XDECREF(q);
    Py_XDECREF(nm);
    return NULL;
  }
  return Py_BuildValue("(NsNKN)", nm, wbr_dtype_name(t.dtype), shape, (unsigned long long)t.nbytes, q);
}

static PyObject *set_find(PyObject *self, PyObject *arg) {
  char *name = wbp_strdup(arg, "name");
  if (!name) return NULL;
  long i = wbr_tensorset_find(((wbp_set *)self)->ts, name);
  PyMem_Free(name);
  return PyLong_FromLong(i);
}

/* The bytes of lazy tensor i, made once into a block the set owns. */
static void *made_bytes(wbp_set *s, size_t i, uint64_t nbytes) {
  size_t n = wbr_tensorset_count(s->ts);
  if (s->nmade < n) {
    void **m = PyMem_Realloc(s->made, n * sizeof *m);
    if (!m) return PyErr_NoMemory();
    memset(m + s->nmade, 0, (n - s->nmade) * sizeof *m);
    s->made = m;
    s->nmade = n;
  }
  if (s->made[i]) return s->made[i];
  void *p = PyMem_Malloc(nbytes ? (size_t)nbytes : 1);
  if (!p) return PyErr_NoMemory();
  int rc = wbr_tensorset_read(s->ts, s->c.ctx, i, p);
  if (rc) {
    PyMem_Free(p);
    wbp_raise(&s->c, rc);
    return NULL;
  }
  return s->made[i] = p;
}

static PyObject *set_data(PyObject *self, PyObject *key) {
  wbp_set *s = (wbp_set *)self;
  Py_ssize_t i = key_index(s, key);
  if (i < 0) return NULL;
  if (!wbr_tensorset_has_data(s->ts)) Py_RETURN_NONE;
  wbr_tensor_info t;
  wbr_tensorset_get(s->ts, (size_t)i, &t);
  if ((uint64_t)t.nbytes > (uint64_t)PY_SSIZE_T_MAX) return PyErr_NoMemory();
  const void *p = t.data;
  if (!p && t.nbytes && !(p = made_bytes(s, (size_t)i, t.nbytes))) return NULL;
  return memoryview_of(self, p, t.nbytes);
}

static PyObject *set_metadata(PyObject *self, PyObject *noargs) {
  (void)noargs;
  wbp_set *s = (wbp_set *)self;
  PyObject *d = PyDict_New();
  for (size_t i = 0; d && i < wbr_tensorset_meta_count(s->ts); i++) {
    const char *k, *v;
    wbr_tensorset_meta_get(s->ts, i, &k, &v);
    PyObject *pk = PyUnicode_DecodeUTF8(k, (Py_ssize_t)strlen(k), "replace");
    PyObject *pv = PyUnicode_DecodeUTF8(v, (Py_ssize_t)strlen(v), "replace");
    if (!pk || !pv || PyDict_SetItem(d, pk, pv) != 0) Py_CLEAR(d);
    Py_XDECREF(pk);
    Py_XDECREF(pv);
  }
  return d;
}

static PyObject *set_set_metadata(PyObject *self, PyObject *args) {
  wbp_set *s = (wbp_set *)self;
  PyObject *k, *v;
  if (!PyArg_ParseTuple(args, "UU:set_metadata", &k, &v)) return NULL;
  if (refuse_busy(s, "the set is being read by a running call")) return NULL;
  char *ck = wbp_strdup(k, "key"), *cv = ck ? wbp_strdup(v, "value") : NULL;
  int rc = cv ? wbr_tensorset_meta_set(s->ts, ck, cv) : 0;
  PyMem_Free(ck);
  PyMem_Free(cv);
  if (!cv) return NULL;
  if (rc) return wbp_raise(&s->c, rc);
  Py_RETURN_NONE;
}

/* A library string the caller frees, as str (NULL: MemoryError). */
static PyObject *owned_str(char *p) {
  if (!p) return PyErr_NoMemory();
  PyObject *r = PyUnicode_DecodeUTF8(p, (Py_ssize_t)strlen(p), "replace");
  wbr_free(p);
  return r;
}

static PyObject *set_manifest(PyObject *self, PyObject *noargs) {
  (void)noargs;
  return owned_str(wbr_tensorset_to_manifest(((wbp_set *)self)->ts));
}

static PyObject *set_render(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kws[] = {"path", NULL};
  const char *path = "";
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|s:render", kws, &path)) return NULL;
  return owned_str(wbr_tensorset_render(((wbp_set *)self)->ts, path));
}

/* write(path, protect=()): atomically, never onto a protected input (checked by opening a writer
 * with the list first; nothing is written by that writer). */
static PyObject *set_write(PyObject *self, PyObject *args, PyObject *kw) {
  wbp_set *s = (wbp_set *)self;
  static char *kws[] = {"path", "protect", NULL};
  PyObject *path, *protect = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "U|O:write", kws, &path, &protect)) return NULL;
  char *cpath = wbp_strdup(path, "path");
  char **prot = cpath && protect ? wbp_strv(protect, "protect", NULL) : NULL;
  if (!cpath || (protect && !prot)) {
    PyMem_Free(cpath);
    return NULL;
  }
  wbp_ctx c;
  if (wbp_ctx_init(&c)) {
    PyMem_Free(cpath);
    wbp_strv_free(prot);
    return NULL;
  }
  int rc = 0;
  s->busy++;
  Py_BEGIN_ALLOW_THREADS
  if (prot && prot[0]) {
    wbr_writer *w = NULL;
    rc = wbr_writer_open(&w, c.ctx, cpath, s->ts, (const char *const *)prot, NULL);
    wbr_writer_free(w);
  }
  if (rc == 0) rc = wbr_tensorset_write(s->ts, c.ctx, cpath);
  Py_END_ALLOW_THREADS
  s->busy--;
  PyObject *r = rc ? wbp_raise(&c, rc) : wbp_warn(&c) ? NULL : Py_NewRef(Py_None);
  wbp_ctx_close(&c);
  PyMem_Free(cpath);
  wbp_strv_free(prot);
  return r;
}

static PyObject *set_has_data(PyObject *self, void *closure) {
  (void)closure;
  return PyBool_FromLong(wbr_tensorset_has_data(((wbp_set *)self)->ts));
}

static PyObject *set_format(PyObject *self, void *closure) {
  (void)closure;
  return PyUnicode_FromString(wbr_tensorset_format(((wbp_set *)self)->ts));
}

static PyMethodDef set_methods[] = {
    {"add", (PyCFunction)(void (*)(void))set_add, METH_VARARGS | METH_KEYWORDS,
     "add(name, dtype, shape, data=None): append a tensor; data is borrowed (zero-copy)"},
    {"names", set_names, METH_NOARGS, "names() -> list of str, in order"},
    {"info", set_info, METH_O, "info(key) -> (name, dtype, shape, nbytes, quantized or None)"},
    {"find", set_find, METH_O, "find(name) -> index or -1"},
    {"data", set_data, METH_O, "data(key) -> read-only memoryview of the bytes, or None for a manifest"},
    {"metadata", set_metadata, METH_NOARGS, "metadata() -> dict"},
    {"set_metadata", set_set_metadata, METH_VARARGS, "set_metadata(key, value)"},
    {"manifest", set_manifest, METH_NOARGS, "manifest() -> JSON text (wbr inspect --json)"},
    {"render", (PyCFunction)(void (*)(void))set_render, METH_VARARGS | METH_KEYWORDS,
     "render(path='') -> the table wbr inspect prints"},
    {"write", (PyCFunction)(void (*)(void))set_write, METH_VARARGS | METH_KEYWORDS,
     "write(path, protect=()): write the set, format by extension, atomically"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef set_getset[] = {
    {"has_data", set_has_data, NULL, "True for a weight file, False for a manifest", NULL},
    {"format", set_format, NULL, "the format the set was read as ('memory' for a new set)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods set_as_sequence = {.sq_length = set_len};

PyTypeObject wbp_set_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "weightbridge._native.TensorSet",
    .tp_basicsize = sizeof(wbp_set),
    .tp_dealloc = set_dealloc,
    .tp_as_sequence = &set_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TensorSet(): an ordered set of named tensors (a weight file, a manifest, or built in memory)",
    .tp_methods = set_methods,
    .tp_getset = set_getset,
    .tp_new = set_new,
};
