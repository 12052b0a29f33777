/* _native.c — the weightbridge._native CPython module: the C library (include/weightbridge.h)
 * for the Python layer. This file holds the module, its exceptions (each carrying the library's
 * diagnostics formatted as the CLI prints them), the argument helpers and the small functions;
 * tensorset.c, program.c and plan.c hold the object types. */
#include "native.h"

#include <string.h>

static PyObject *err_base, *err_format, *err_rules, *err_bytecode, *err_mapping, *err_usage, *err_io,
    *err_internal;

/* ---- diagnostics ---- */

static void on_diag(void *ud, const wbr_diag *d) {
  wbp_diags *g = ud;
  if (g->n == g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 8;
    char **t = realloc(g->text, cap * sizeof *t);
    if (t) g->text = t;
    wbr_severity *s = t ? realloc(g->sev, cap * sizeof *s) : NULL;
    if (s) g->sev = s;
    if (!t || !s) {
      g->oom = 1;
      return;
    }
    g->cap = cap;
  }
  char *text = wbr_diag_format(d);
  if (!text) {
    g->oom = 1;
    return;
  }
  g->text[g->n] = text;
  g->sev[g->n++] = d->severity;
}

int wbp_ctx_init(wbp_ctx *c) {
  memset(c, 0, sizeof *c);
  if (wbr_ctx_new(&c->ctx, on_diag, &c->diags) != 0) {
    PyErr_NoMemory();
    return -1;
  }
  return 0;
}

void wbp_diags_clear(wbp_diags *d) {
  for (size_t i = 0; i < d->n; i++) wbr_free(d->text[i]);
  d->n = 0;
  d->oom = 0;
}

void wbp_ctx_close(wbp_ctx *c) {
  wbp_diags_clear(&c->diags);
  free(c->diags.text);
  free(c->diags.sev);
  wbr_ctx_free(c->ctx);
  memset(c, 0, sizeof *c);
}

PyObject *wbp_diags_list(const wbp_diags *d) {
  PyObject *l = PyList_New((Py_ssize_t)d->n);
  for (size_t i = 0; l && i < d->n; i++) {
    size_t len = strlen(d->text[i]);
    if (len && d->text[i][len - 1] == '\n') len--; /* joined by newlines in str(e) */
    PyObject *s = PyUnicode_DecodeUTF8(d->text[i], (Py_ssize_t)len, "replace");
    if (!s) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, s);
  }
  return l;
}

static PyObject *class_for(int rc, const char **kind) {
  switch ((wbr_error)rc) {
  case WBR_EFORMAT: *kind = "format"; return err_format;
  case WBR_EIO: *kind = "io"; return err_io;
  case WBR_ENOMEM: *kind = "memory"; return PyExc_MemoryError;
  case WBR_EUSAGE: *kind = "usage"; return err_usage;
  case WBR_ERULES: *kind = "rules"; return err_rules;
  case WBR_EBYTECODE: *kind = "bytecode"; return err_bytecode;
  case WBR_EMAPPING: *kind = "mapping"; return err_mapping;
  case WBR_OK:
  case WBR_EINTERNAL: break;
  }
  *kind = "internal";
  return err_internal;
}

/* Raise cls(message) with .code, .kind and .diagnostics (a list of str). */
static PyObject *raise_with(int rc, PyObject *diags, const char *fallback) {
  const char *kind;
  PyObject *cls = class_for(rc, &kind);
  if (cls == PyExc_MemoryError) {
    Py_XDECREF(diags);
    return PyErr_NoMemory();
  }
  if (!diags) return NULL;
  PyObject *msg = NULL, *nl = PyUnicode_FromString("\n");
  if (nl && PyList_GET_SIZE(diags) > 0) msg = PyUnicode_Join(nl, diags);
  else if (nl) msg = PyUnicode_FromString(fallback);
  Py_XDECREF(nl);
  PyObject *e = msg ? PyObject_CallOneArg(cls, msg) : NULL;
  Py_XDECREF(msg);
  PyObject *code = PyLong_FromLong(rc), *k = PyUnicode_FromString(kind);
  if (e && code && k && PyObject_SetAttrString(e, "code", code) == 0 &&
      PyObject_SetAttrString(e, "kind", k) == 0 && PyObject_SetAttrString(e, "diagnostics", diags) == 0)
    PyErr_SetObject(cls, e);
  Py_XDECREF(code);
  Py_XDECREF(k);
  Py_XDECREF(e);
  Py_DECREF(diags);
  return NULL;
}

PyObject *wbp_raise(wbp_ctx *c, int rc) {
  PyObject *d = wbp_diags_list(&c->diags);
  const char *last = c->ctx ? wbr_ctx_last_error(c->ctx) : "";
  char fallback[160];
  snprintf(fallback, sizeof fallback, "weightbridge error %d", rc);
  wbp_diags_clear(&c->diags);
  return raise_with(rc, d, last && *last ? last : fallback);
}

PyObject *wbp_raise_msg(int rc, const char *msg) {
  PyObject *d = PyList_New(0);
  return raise_with(rc, d, msg);
}

int wbp_warn(wbp_ctx *c) {
  int rc = 0;
  for (size_t i = 0; i < c->diags.n && rc == 0; i++)
    if (c->diags.sev[i] != WBR_SEV_ERROR) rc = PyErr_WarnEx(PyExc_RuntimeWarning, c->diags.text[i], 1);
  wbp_diags_clear(&c->diags);
  return rc;
}

PyObject *wbp_result(wbp_ctx *c, int rc, PyObject *obj) {
  if (rc == 0 && wbp_warn(c) == 0) return obj;
  if (rc) wbp_raise(c, rc);
  Py_DECREF(obj);
  return NULL;
}

/* ---- argument helpers ---- */

char *wbp_strdup(PyObject *s, const char *what) {
  if (!PyUnicode_Check(s)) {
    PyErr_Format(PyExc_TypeError, "%s must be a str, not %.80s", what, Py_TYPE(s)->tp_name);
    return NULL;
  }
  Py_ssize_t n;
  const char *u = PyUnicode_AsUTF8AndSize(s, &n);
  if (!u) return NULL;
  if ((size_t)n != strlen(u)) {
    PyErr_Format(PyExc_ValueError, "%s contains a NUL character", what);
    return NULL;
  }
  char *p = PyMem_Malloc((size_t)n + 1);
  if (!p) return (char *)PyErr_NoMemory();
  memcpy(p, u, (size_t)n + 1);
  return p;
}

void wbp_strv_free(char **v) {
  for (size_t i = 0; v && v[i]; i++) PyMem_Free(v[i]);
  PyMem_Free(v);
}

char **wbp_strv(PyObject *seq, const char *what, size_t *n) {
  if (PyUnicode_Check(seq)) {
    PyErr_Format(PyExc_TypeError, "%s must be a sequence of str, not one str", what);
    return NULL;
  }
  PyObject *fast = PySequence_Fast(seq, what);
  if (!fast) return NULL;
  Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
  char **v = PyMem_Calloc((size_t)len + 1, sizeof *v);
  if (!v) PyErr_NoMemory();
  for (Py_ssize_t i = 0; v && i < len; i++)
    if (!(v[i] = wbp_strdup(PySequence_Fast_GET_ITEM(fast, i), what))) {
      wbp_strv_free(v);
      v = NULL;
    }
  Py_DECREF(fast);
  if (v && n) *n = (size_t)len;
  return v;
}

void wbp_params_free(wbr_param_value *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) {
    PyMem_Free((char *)v[i].name);
    PyMem_Free((char *)v[i].key);
  }
  PyMem_Free(v);
}

static int param_int(PyObject *o, int64_t *out) {
  if (!PyLong_Check(o) || PyBool_Check(o)) {
    PyErr_Format(PyExc_TypeError, "a parameter value must be an int, not %.80s", Py_TYPE(o)->tp_name);
    return -1;
  }
  long long v = PyLong_AsLongLong(o);
  if (v == -1 && PyErr_Occurred()) return -1;
  *out = v;
  return 0;
}

/* One (name, value, origin, key) entry of the list form. */
static int param_tuple(PyObject *t, wbr_param_value *p) {
  PyObject *name, *value, *origin, *key = Py_None;
  if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "OOO|O", &name, &value, &origin, &key)) {
    if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyErr_Clear();
      PyErr_SetString(PyExc_TypeError, "a parameter entry is (name, value, 'flag'|'config', key or None)");
    }
    return -1;
  }
  if (!(p->name = wbp_strdup(name, "a parameter name")) || param_int(value, &p->value)) return -1;
  char *o = wbp_strdup(origin, "a parameter origin");
  if (!o) return -1;
  int ok = strcmp(o, "flag") == 0 || strcmp(o, "config") == 0;
  p->origin = strcmp(o, "flag") == 0 ? WBR_PARAM_FLAG : WBR_PARAM_CONFIG;
  PyMem_Free(o);
  if (!ok) {
    PyErr_SetString(PyExc_ValueError, "a parameter origin is 'flag' or 'config'");
    return -1;
  }
  if (key != Py_None && !(p->key = wbp_strdup(key, "a parameter key"))) return -1;
  return 0;
}

int wbp_params(PyObject *obj, wbr_param_value **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!obj || obj == Py_None) return 0;
  PyObject *items = PyDict_Check(obj) ? PyDict_Items(obj) : PySequence_List(obj);
  if (!items) {
    PyErr_SetString(PyExc_TypeError, "params must be a dict {name: int} or a list of (name, value, origin, key)");
    return -1;
  }
  Py_ssize_t len = PyList_GET_SIZE(items);
  wbr_param_value *v = PyMem_Calloc(len ? (size_t)len : 1, sizeof *v);
  int rc = v ? 0 : (PyErr_NoMemory(), -1);
  for (Py_ssize_t i = 0; rc == 0 && i < len; i++) {
    PyObject *it = PyList_GET_ITEM(items, i);
    if (PyDict_Check(obj)) {
      v[i].origin = WBR_PARAM_FLAG;
      v[i].name = wbp_strdup(PyTuple_GET_ITEM(it, 0), "a parameter name");
      rc = v[i].name ? param_int(PyTuple_GET_ITEM(it, 1), &v[i].value) : -1;
    } else {
      rc = param_tuple(it, &v[i]);
    }
  }
  Py_DECREF(items);
  if (rc) {
    wbp_params_free(v, (size_t)len);
    return -1;
  }
  *out = v;
  *n = (size_t)len;
  return 0;
}

/* ---- small functions ---- */

static PyObject *py_version(PyObject *self, PyObject *noargs) {
  (void)self, (void)noargs;
  return PyUnicode_FromString(wbr_version());
}

static PyObject *params_to_list(const wbr_param_value *v, size_t n) {
  PyObject *l = PyList_New((Py_ssize_t)n);
  for (size_t i = 0; l && i < n; i++) {
    PyObject *t = Py_BuildValue("(sLz)", v[i].name, (long long)v[i].value, v[i].key);
    if (!t) {
      Py_CLEAR(l);
      break;
    }
    PyList_SET_ITEM(l, (Py_ssize_t)i, t);
  }
  return l;
}

/* config_params(path) or config_params_bytes(name, text). */
static PyObject *config_common(const char *path, const char *name, const char *text, Py_ssize_t len) {
  wbp_ctx c;
  if (wbp_ctx_init(&c)) return NULL;
  wbr_param_value *v = NULL;
  size_t n = 0;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = path ? wbr_config_params(c.ctx, path, &v, &n) : wbr_config_params_bytes(c.ctx, name, text, (size_t)len, &v, &n);
  Py_END_ALLOW_THREADS
  PyObject *r = rc ? wbp_raise(&c, rc) : wbp_warn(&c) ? NULL : params_to_list(v, n);
  wbr_free(v);
  wbp_ctx_close(&c);
  return r;
}

static PyObject *py_config_params(PyObject *self, PyObject *args) {
  (void)self;
  const char *path;
  if (!PyArg_ParseTuple(args, "s:config_params", &path)) return NULL;
  return config_common(path, NULL, NULL, 0);
}

static PyObject *py_config_params_bytes(PyObject *self, PyObject *args) {
  (void)self;
  const char *name, *text;
  Py_ssize_t len;
  if (!PyArg_ParseTuple(args, "ss#:config_params_bytes", &name, &text, &len)) return NULL;
  return config_common(NULL, name, text, len);
}

static PyObject *py_format_rules(PyObject *self, PyObject *args) {
  (void)self;
  const char *name, *text;
  Py_ssize_t len;
  if (!PyArg_ParseTuple(args, "ss#:format_rules", &name, &text, &len)) return NULL;
  wbp_ctx c;
  if (wbp_ctx_init(&c)) return NULL;
  char *out = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = wbr_rules_format(&out, c.ctx, name, text, (size_t)len);
  Py_END_ALLOW_THREADS
  PyObject *r = rc ? wbp_raise(&c, rc) : wbp_warn(&c) ? NULL : PyUnicode_FromString(out);
  wbr_free(out);
  wbp_ctx_close(&c);
  return r;
}

static PyMethodDef methods[] = {
    {"version", py_version, METH_NOARGS, "version() -> str: the library's version"},
    {"open", wbp_open, METH_VARARGS, "open(path) -> TensorSet (every format; FILE.pt#KEY)"},
    {"open_memory", wbp_open_memory, METH_VARARGS, "open_memory(name, data) -> TensorSet"},
    {"compile", wbp_compile, METH_VARARGS, "compile(name, text) -> Program"},
    {"load_program", wbp_load_program, METH_VARARGS, "load_program(path) -> Program (.wbr or .wbc)"},
    {"load_program_bytes", wbp_load_program_bytes, METH_VARARGS, "load_program_bytes(name, data) -> Program"},
    {"config_params", py_config_params, METH_VARARGS, "config_params(path) -> [(name, value, key)]"},
    {"config_params_bytes", py_config_params_bytes, METH_VARARGS, "config_params_bytes(name, text)"},
    {"format_rules", py_format_rules, METH_VARARGS, "format_rules(name, text) -> str (wbr fmt)"},
    {"plan", (PyCFunction)(void (*)(void))wbp_plan, METH_VARARGS | METH_KEYWORDS,
     "plan(program, src, target=None, params=None, allow_missing=None) -> Plan"},
    {"match", (PyCFunction)(void (*)(void))wbp_match, METH_VARARGS | METH_KEYWORDS,
     "match(src, target, hints=(), ...) -> dict"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "weightbridge._native",
                                    "The weightbridge C library (libweightbridge) for Python.", -1, methods,
                                    NULL, NULL, NULL, NULL};

/* Add exception `name` (subclass of base and extra) to m; NULL on failure. */
static PyObject *new_error(PyObject *m, const char *name, PyObject *extra) {
  char full[96];
  snprintf(full, sizeof full, "weightbridge._native.%s", name);
  PyObject *bases = extra ? PyTuple_Pack(2, err_base, extra) : NULL;
  PyObject *e = PyErr_NewException(full, extra ? bases : PyExc_Exception, NULL);
  Py_XDECREF(bases);
  if (e && PyModule_AddObjectRef(m, name, e) != 0) Py_CLEAR(e);
  return e;
}

static int add_errors(PyObject *m) {
  err_base = new_error(m, "Error", NULL);
  if (!err_base) return -1;
  err_format = new_error(m, "FormatError", PyExc_ValueError);
  err_rules = new_error(m, "RulesError", PyExc_ValueError);
  err_bytecode = new_error(m, "BytecodeError", PyExc_ValueError);
  err_mapping = new_error(m, "MappingError", PyExc_ValueError);
  err_usage = new_error(m, "UsageError", PyExc_ValueError);
  err_io = new_error(m, "WbrIOError", PyExc_OSError);
  err_internal = new_error(m, "InternalError", PyExc_RuntimeError);
  return err_format && err_rules && err_bytecode && err_mapping && err_usage && err_io && err_internal ? 0 : -1;
}

static int add_type(PyObject *m, PyTypeObject *t, const char *name) {
  if (PyType_Ready(t) < 0) return -1;
  return name ? PyModule_AddObjectRef(m, name, (PyObject *)t) : 0;
}

PyMODINIT_FUNC PyInit__native(void);
PyMODINIT_FUNC PyInit__native(void) {
  PyObject *m = PyModule_Create(&module);
  if (!m) return NULL;
  if (add_errors(m) || add_type(m, &wbp_set_type, "TensorSet") || add_type(m, &wbp_view_type, NULL) ||
      add_type(m, &wbp_program_type, "Program") || add_type(m, &wbp_plan_type, "Plan") ||
      PyModule_AddStringConstant(m, "__version__", wbr_version()) ||
      PyModule_AddIntConstant(m, "MAX_DIMS", WBR_MAX_DIMS)) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
