/* program.c — weightbridge._native.Program: a compiled rule program (.wbr compiled, or .wbc
 * loaded and verified), with its listing, its bytecode and save. */
#include "native.h"

#include <string.h>

static void program_dealloc(PyObject *self) {
  wbp_program *p = (wbp_program *)self;
  wbr_program_free(p->p);
  wbp_ctx_close(&p->c);
  Py_TYPE(self)->tp_free(self);
}

/* path: compile or load a file (by extension); else name + bytes (compile when `compile`). */
static PyObject *make(const char *path, const char *name, const char *bytes, Py_ssize_t len, int compile) {
  wbp_program *p = PyObject_New(wbp_program, &wbp_program_type);
  if (!p) return NULL;
  p->p = NULL;
  if (wbp_ctx_init(&p->c)) {
    Py_DECREF(p);
    return NULL;
  }
  size_t n = path ? strlen(path) : 0;
  int wbc = path && n >= 4 && strcmp(path + n - 4, ".wbc") == 0;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  if (path) rc = wbc ? wbr_program_load(&p->p, p->c.ctx, path) : wbr_program_compile_file(&p->p, p->c.ctx, path);
  else if (compile) rc = wbr_program_compile(&p->p, p->c.ctx, name, bytes, (size_t)len);
  else rc = wbr_program_load_bytes(&p->p, p->c.ctx, name, bytes, (size_t)len);
  Py_END_ALLOW_THREADS
  return wbp_result(&p->c, rc, (PyObject *)p);
}

PyObject *wbp_compile(PyObject *self, PyObject *args) {
  (void)self;
  const char *name, *text;
  Py_ssize_t len;
  if (!PyArg_ParseTuple(args, "ss#:compile", &name, &text, &len)) return NULL;
  return make(NULL, name, text, len, 1);
}

PyObject *wbp_load_program(PyObject *self, PyObject *args) {
  (void)self;
  const char *path;
  if (!PyArg_ParseTuple(args, "s:load_program", &path)) return NULL;
  return make(path, NULL, NULL, 0, 0);
}

PyObject *wbp_load_program_bytes(PyObject *self, PyObject *args) {
  (void)self;
  const char *name;
  Py_buffer b;
  if (!PyArg_ParseTuple(args, "sy*:load_program_bytes", &name, &b)) return NULL;
  PyObject *r = make(NULL, name, b.buf, b.len, 0);
  PyBuffer_Release(&b);
  return r;
}

static PyObject *program_disasm(PyObject *self, PyObject *noargs) {
  (void)noargs;
  char *s = wbr_program_disasm(((wbp_program *)self)->p);
  if (!s) return PyErr_NoMemory();
  PyObject *r = PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
  wbr_free(s);
  return r;
}

static PyObject *program_serialize(PyObject *self, PyObject *noargs) {
  (void)noargs;
  wbp_program *p = (wbp_program *)self;
  void *out = NULL;
  size_t len = 0;
  int rc = wbr_program_serialize(p->p, p->c.ctx, &out, &len);
  if (rc) return wbp_raise(&p->c, rc);
  PyObject *r = PyBytes_FromStringAndSize(out, (Py_ssize_t)len);
  wbr_free(out);
  return r;
}

static PyObject *program_save(PyObject *self, PyObject *args) {
  wbp_program *p = (wbp_program *)self;
  const char *path;
  if (!PyArg_ParseTuple(args, "s:save", &path)) return NULL;
  wbp_ctx c;
  if (wbp_ctx_init(&c)) return NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = wbr_program_save(p->p, c.ctx, path);
  Py_END_ALLOW_THREADS
  PyObject *r = rc ? wbp_raise(&c, rc) : wbp_warn(&c) ? NULL : Py_NewRef(Py_None);
  wbp_ctx_close(&c);
  return r;
}

static PyObject *program_source_name(PyObject *self, void *closure) {
  (void)closure;
  const char *s = wbr_program_source_name(((wbp_program *)self)->p);
  return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyMethodDef program_methods[] = {
    {"disasm", program_disasm, METH_NOARGS, "disasm() -> the listing wbr disasm prints"},
    {"serialize", program_serialize, METH_NOARGS, "serialize() -> .wbc bytes"},
    {"save", program_save, METH_VARARGS, "save(path): write a .wbc atomically"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef program_getset[] = {
    {"source_name", program_source_name, NULL, "the .wbr file the program was compiled from", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject wbp_program_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "weightbridge._native.Program",
    .tp_basicsize = sizeof(wbp_program),
    .tp_dealloc = program_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a compiled rule program (made by compile, load_program or load_program_bytes)",
    .tp_methods = program_methods,
    .tp_getset = program_getset,
};
