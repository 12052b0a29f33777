/* plan.c — weightbridge._native.Plan and match(): planning a program over tensor sets, applying
 * a plan into caller-provided buffers (wbr_plan_apply_memory) or to a file, and the matcher. The
 * GIL is released while the C runtime works; the sets involved are marked busy meanwhile so that
 * another thread cannot change them under it. */
#include "native.h"

#include <string.h>

typedef struct wbp_planobj {
  PyObject_HEAD
  wbr_plan *plan;
  wbp_ctx c;              /* the plan was made with it */
  PyObject *prog, *src, *target; /* kept alive while the plan lives (target may be NULL) */
  PyObject *diagnostics;  /* list of str: everything reported while planning */
} wbp_planobj;

static void plan_dealloc(PyObject *self) {
  wbp_planobj *p = (wbp_planobj *)self;
  wbr_plan_free(p->plan);
  wbp_ctx_close(&p->c);
  if (p->src) ((wbp_set *)p->src)->users--;
  if (p->target) ((wbp_set *)p->target)->users--;
  Py_XDECREF(p->prog);
  Py_XDECREF(p->src);
  Py_XDECREF(p->target);
  Py_XDECREF(p->diagnostics);
  Py_TYPE(self)->tp_free(self);
}

static void busy(wbp_set *a, wbp_set *b, int d) {
  a->busy += d;
  if (b) b->busy += d;
}

static void globs_free(char **g, size_t n) {
  for (size_t i = 0; g && i < n; i++) free(g[i]);
  free(g);
}

/* allow_missing: None or a sequence of str, copied (another thread may change the list while
 * the GIL is released). 0, or -1 with an exception set. */
static int allow_globs(PyObject *obj, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (obj == Py_None) return 0;
  if (PyUnicode_Check(obj) || !PySequence_Check(obj)) {
    PyErr_SetString(PyExc_TypeError, "allow_missing must be a list of glob patterns (str)");
    return -1;
  }
  PyObject *seq = PySequence_Fast(obj, "allow_missing must be a list of glob patterns (str)");
  if (!seq) return -1;
  Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
  char **g = calloc((size_t)k + 1, sizeof *g);
  if (!g) {
    Py_DECREF(seq);
    PyErr_NoMemory();
    return -1;
  }
  for (Py_ssize_t i = 0; i < k; i++) {
    PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
    const char *u = PyUnicode_Check(it) ? PyUnicode_AsUTF8(it) : NULL;
    if (!u) {
      if (!PyErr_Occurred())
        PyErr_Format(PyExc_TypeError, "allow_missing[%zd] is %.80s, expected a glob pattern (str)", i,
                     Py_TYPE(it)->tp_name);
    } else if (!(g[i] = strdup(u))) {
      PyErr_NoMemory();
    }
    if (!g[i]) {
      globs_free(g, (size_t)i);
      Py_DECREF(seq);
      return -1;
    }
  }
  Py_DECREF(seq);
  *out = g;
  *n = (size_t)k;
  return 0;
}

PyObject *wbp_plan(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self;
  static char *kws[] = {"program", "src", "target", "params", "allow_missing", NULL};
  PyObject *prog, *src, *target = Py_None, *params = Py_None, *allow = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O|OOO:plan", kws, &wbp_program_type, &prog, &src, &target, &params,
                                   &allow))
    return NULL;
  wbp_set *s = wbp_as_set(src, "src"), *t = target == Py_None ? NULL : wbp_as_set(target, "target");
  if (!s || (target != Py_None && !t)) return NULL;
  char **globs;
  size_t nglobs;
  if (allow_globs(allow, &globs, &nglobs)) return NULL;
  wbr_param_value *pv;
  size_t npv;
  if (wbp_params(params, &pv, &npv)) {
    globs_free(globs, nglobs);
    return NULL;
  }
  wbp_planobj *p = PyObject_New(wbp_planobj, &wbp_plan_type);
  if (!p) {
    wbp_params_free(pv, npv);
    globs_free(globs, nglobs);
    return NULL;
  }
  p->plan = NULL;
  p->prog = p->src = p->target = p->diagnostics = NULL;
  if (wbp_ctx_init(&p->c)) {
    wbp_params_free(pv, npv);
    globs_free(globs, nglobs);
    Py_DECREF(p);
    return NULL;
  }
  wbr_plan_options o = WBR_PLAN_OPTIONS_INIT;
  o.params = pv;
  o.nparams = npv;
  o.allow_missing = (const char *const *)globs;
  o.nallow_missing = nglobs;
  int rc;
  const wbr_program *cp = ((wbp_program *)prog)->p;
  busy(s, t, 1);
  Py_BEGIN_ALLOW_THREADS
  rc = wbr_plan_new_with(&p->plan, p->c.ctx, cp, s->ts, t ? t->ts : NULL, &o);
  Py_END_ALLOW_THREADS
  busy(s, t, -1);
  wbp_params_free(pv, npv);
  globs_free(globs, nglobs);
  if (rc) {
    wbp_raise(&p->c, rc);
    Py_DECREF(p);
    return NULL;
  }
  p->prog = Py_NewRef(prog);
  p->src = Py_NewRef(src);
  s->users++;
  if (t) {
    p->target = Py_NewRef(target);
    t->users++;
  }
  p->diagnostics = wbp_diags_list(&p->c.diags);
  wbp_diags_clear(&p->c.diags);
  if (!p->diagnostics) Py_CLEAR(p);
  return (PyObject *)p;
}

static Py_ssize_t plan_len(PyObject *self) { return (Py_ssize_t)wbr_plan_count(((wbp_planobj *)self)->plan); }

static PyObject *plan_outputs(PyObject *self, PyObject *noargs) {
  (void)noargs;
  const wbr_plan *plan = ((wbp_planobj *)self)->plan;
  size_t n = wbr_plan_count(plan);
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    wbr_tensor_info t;
    wbr_plan_get(plan, i, &t);
    PyObject *shape = PyTuple_New(t.ndim);
    for (int d = 0; shape && d < t.ndim; d++) {
      PyObject *v = PyLong_FromLongLong((long long)t.shape[d]);
      if (!v) Py_CLEAR(shape);
      else PyTuple_SET_ITEM(shape, d, v);
    }
    PyObject *nm = shape ? PyUnicode_DecodeUTF8(t.name, (Py_ssize_t)strlen(t.name), "surrogateescape") : NULL;
    PyObject *row = nm ? Py_BuildValue("(NsNK)", nm, wbr_dtype_name(t.dtype), shape, (unsigned long long)t.nbytes)
                       : NULL;
    if (!row) {
      Py_XDECREF(shape);
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, row);
  }
  return l;
}

static PyObject *plan_render(PyObject *self, PyObject *args, PyObject *kw) {
  static char *kws[] = {"fmt", NULL};
  const char *fmt = "text";
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|s:render", kws, &fmt)) return NULL;
  wbr_plan_format f;
  if (strcmp(fmt, "text") == 0) f = WBR_PLAN_TEXT;
  else if (strcmp(fmt, "md") == 0) f = WBR_PLAN_MD;
  else if (strcmp(fmt, "json") == 0) f = WBR_PLAN_JSON;
  else return PyErr_Format(PyExc_ValueError, "fmt is 'text', 'md' or 'json', not '%s'", fmt);
  char *s = wbr_plan_render(((wbp_planobj *)self)->plan, f);
  if (!s) return PyErr_NoMemory();
  PyObject *r = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
  wbr_free(s);
  return r;
}

typedef struct bufset {
  Py_buffer *b;
  size_t n;
} bufset;

static void *give_buffer(void *ud, size_t i, const wbr_tensor_info *info) {
  bufset *bs = ud;
  if (i >= bs->n || (uint64_t)bs->b[i].len != info->nbytes) return NULL;
  return bs->b[i].buf;
}

/* The buffers of apply_memory: one writable C-contiguous buffer per output, each exactly its
 * nbytes; 0 with bs filled (release with release_buffers), or -1 with an error. */
static int get_buffers(const wbr_plan *plan, PyObject *seq, bufset *bs) {
  bs->n = 0;
  bs->b = NULL;
  PyObject *fast = PySequence_Fast(seq, "buffers must be a sequence of writable buffers");
  if (!fast) return -1;
  size_t n = wbr_plan_count(plan);
  Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
  bs->b = PyMem_Calloc(n ? n : 1, sizeof *bs->b);
  int rc = bs->b ? 0 : (PyErr_NoMemory(), -1);
  if (rc == 0 && (size_t)len != n) {
    PyErr_Format(PyExc_ValueError, "apply_memory needs %zu buffers (one per output), got %zd", n, len);
    rc = -1;
  }
  for (size_t i = 0; rc == 0 && i < n; i++) {
    wbr_tensor_info t;
    wbr_plan_get(plan, i, &t);
    if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, (Py_ssize_t)i), &bs->b[i], PyBUF_FULL) != 0) {
      if (PyErr_ExceptionMatches(PyExc_BufferError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "buffer %zu (for '%s') is not a writable buffer", i, t.name);
      }
      rc = -1;
      break;
    }
    bs->n = i + 1;
    if (!PyBuffer_IsContiguous(&bs->b[i], 'C') || (uint64_t)bs->b[i].len != t.nbytes) {
      PyErr_Format(PyExc_ValueError, "buffer %zu (for '%s') must be C-contiguous with %llu bytes (it has %zd%s)", i,
                   t.name, (unsigned long long)t.nbytes, bs->b[i].len,
                   PyBuffer_IsContiguous(&bs->b[i], 'C') ? "" : ", not contiguous");
      rc = -1;
    }
  }
  Py_DECREF(fast);
  return rc;
}

static void release_buffers(bufset *bs) {
  for (size_t i = 0; i < bs->n; i++) PyBuffer_Release(&bs->b[i]);
  PyMem_Free(bs->b);
}

static wbp_set *target_of(wbp_planobj *p) { return p->target ? (wbp_set *)p->target : NULL; }

static PyObject *plan_apply_memory(PyObject *self, PyObject *arg) {
  wbp_planobj *p = (wbp_planobj *)self;
  bufset bs;
  if (get_buffers(p->plan, arg, &bs)) {
    release_buffers(&bs);
    return NULL;
  }
  wbp_ctx c;
  if (wbp_ctx_init(&c)) {
    release_buffers(&bs);
    return NULL;
  }
  int rc;
  busy((wbp_set *)p->src, target_of(p), 1);
  Py_BEGIN_ALLOW_THREADS
  rc = wbr_plan_apply_memory(p->plan, c.ctx, give_buffer, &bs, NULL);
  Py_END_ALLOW_THREADS
  busy((wbp_set *)p->src, target_of(p), -1);
  release_buffers(&bs);
  PyObject *r = rc ? wbp_raise(&c, rc) : wbp_warn(&c) ? NULL : Py_NewRef(Py_None);
  wbp_ctx_close(&c);
  return r;
}

static PyObject *plan_apply_file(PyObject *self, PyObject *args, PyObject *kw) {
  wbp_planobj *p = (wbp_planobj *)self;
  static char *kws[] = {"path", "protect", "durable", "max_shard_bytes", "threads", NULL};
  PyObject *path, *protect = NULL;
  int durable = 0;
  unsigned long long max_shard = 0;
  unsigned int threads = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "U|OpKI:apply_file", kws, &path, &protect, &durable, &max_shard,
                                   &threads))
    return NULL;
  char *cpath = wbp_strdup(path, "path");
  char **prot = cpath && protect ? wbp_strv(protect, "protect", NULL) : NULL;
  wbp_ctx c;
  if (!cpath || (protect && !prot) || wbp_ctx_init(&c)) {
    PyMem_Free(cpath);
    wbp_strv_free(prot);
    return NULL;
  }
  wbr_apply_options o = WBR_APPLY_OPTIONS_INIT;
  o.output.durable = durable != 0;
  o.output.max_shard_bytes = max_shard;
#if WBR_APPLY_OPTIONS_VERSION >= 2
  o.threads = threads;
#else
  (void)threads;
#endif
  int rc;
  busy((wbp_set *)p->src, target_of(p), 1);
  Py_BEGIN_ALLOW_THREADS
  rc = wbr_plan_apply(p->plan, c.ctx, cpath, (const char *const *)prot, &o);
  Py_END_ALLOW_THREADS
  busy((wbp_set *)p->src, target_of(p), -1);
  PyObject *r = rc ? wbp_raise(&c, rc) : wbp_warn(&c) ? NULL : Py_NewRef(Py_None);
  wbp_ctx_close(&c);
  PyMem_Free(cpath);
  wbp_strv_free(prot);
  return r;
}

static PyObject *plan_problems(PyObject *self, void *closure) {
  (void)closure;
  return PyLong_FromSize_t(wbr_plan_problems(((wbp_planobj *)self)->plan));
}

static PyObject *plan_diagnostics(PyObject *self, void *closure) {
  (void)closure;
  return PyList_GetSlice(((wbp_planobj *)self)->diagnostics, 0, PY_SSIZE_T_MAX);
}

static PyMethodDef plan_methods[] = {
    {"outputs", plan_outputs, METH_NOARGS, "outputs() -> [(name, dtype, shape, nbytes)] in plan order"},
    {"render", (PyCFunction)(void (*)(void))plan_render, METH_VARARGS | METH_KEYWORDS,
     "render(fmt='text'|'md'|'json') -> str"},
    {"apply_memory", plan_apply_memory, METH_O,
     "apply_memory(buffers): fill one writable C-contiguous buffer per output (exactly its nbytes)"},
    {"apply_file", (PyCFunction)(void (*)(void))plan_apply_file, METH_VARARGS | METH_KEYWORDS,
     "apply_file(path, protect=(), durable=False, max_shard_bytes=0, threads=0)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef plan_getset[] = {
    {"problems", plan_problems, NULL, "number of problems (0: the rules map the source exactly)", NULL},
    {"diagnostics", plan_diagnostics, NULL, "everything reported while planning (list of str)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PySequenceMethods plan_as_sequence = {.sq_length = plan_len};

PyTypeObject wbp_plan_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "weightbridge._native.Plan",
    .tp_basicsize = sizeof(wbp_planobj),
    .tp_dealloc = plan_dealloc,
    .tp_as_sequence = &plan_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a plan: a program run over a source (and a target); made by plan()",
    .tp_methods = plan_methods,
    .tp_getset = plan_getset,
};
