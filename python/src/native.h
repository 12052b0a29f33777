/* native.h — what the files of the weightbridge._native extension share: the diagnostic
 * collector (filled by the library's callback, possibly while the GIL is released, and turned
 * into exceptions and warnings afterwards), the object types and the argument helpers. */
#ifndef WBR_PY_NATIVE_H
#define WBR_PY_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "weightbridge.h"

/* Formatted diagnostics (wbr_diag_format) reported through one wbr_ctx. Touched only by the
 * thread running the call that owns the ctx, so it needs no lock and no Python. */
typedef struct wbp_diags {
  char **text;
  wbr_severity *sev;
  size_t n, cap;
  int oom; /* a diagnostic could not be kept */
} wbp_diags;

/* A context with its collector: what every call of the library is given. */
typedef struct wbp_ctx {
  wbr_ctx *ctx;
  wbp_diags diags;
} wbp_ctx;

/* New context (0) or -1 with MemoryError set. */
int wbp_ctx_init(wbp_ctx *c);
void wbp_ctx_close(wbp_ctx *c);
void wbp_diags_clear(wbp_diags *d);
/* The collected diagnostics as a list of str (new reference) or NULL with an error set. */
PyObject *wbp_diags_list(const wbp_diags *d);
/* Raise the exception for rc (< 0) with c's diagnostics; returns NULL. */
PyObject *wbp_raise(wbp_ctx *c, int rc);
/* Issue c's warnings and notes through warnings.warn(RuntimeWarning) and clear them: 0, or -1 when
 * a warning was turned into an error. */
int wbp_warn(wbp_ctx *c);
/* obj (a new object made by a call that returned rc) once c's warnings are issued; or NULL with
 * the error raised and obj released. */
PyObject *wbp_result(wbp_ctx *c, int rc, PyObject *obj);
/* Raise an Error subclass for rc with one message of the module's own (no library call). */
PyObject *wbp_raise_msg(int rc, const char *msg);

/* ---- objects ---- */
typedef struct wbp_set {
  PyObject_HEAD
  wbr_tensorset *ts;
  wbp_ctx c;          /* the set was made with it (it must outlive the set) */
  Py_buffer **bufs;   /* borrowed data, released when the set dies */
  size_t nbufs, capbufs;
  void **made;        /* per tensor: bytes made for a lazy tensor by data(), or NULL */
  size_t nmade;
  int busy;           /* calls running with the GIL released that read the set */
  int users;          /* live plans over the set (its tensors may not change under them) */
} wbp_set;

typedef struct wbp_program {
  PyObject_HEAD
  wbr_program *p;
  wbp_ctx c;
} wbp_program;

extern PyTypeObject wbp_set_type, wbp_view_type, wbp_program_type, wbp_plan_type;

/* The set object of obj (a TensorSet) or NULL with TypeError naming what. */
wbp_set *wbp_as_set(PyObject *obj, const char *what);
/* A UTF-8 copy of a str argument without NUL bytes (caller frees with PyMem_Free), or NULL with
 * TypeError / ValueError set. */
char *wbp_strdup(PyObject *s, const char *what);
/* Paths from a sequence of str (NULL-terminated array, each PyMem_Malloc'd; free with
 * wbp_strv_free), or NULL with an error set. */
char **wbp_strv(PyObject *seq, const char *what, size_t *n);
void wbp_strv_free(char **v);
/* Parameters: a dict {name: int} (origin FLAG) or a sequence of (name, value, origin, key). */
int wbp_params(PyObject *obj, wbr_param_value **out, size_t *n);
void wbp_params_free(wbr_param_value *v, size_t n);

/* Module functions defined in the other files. */
PyObject *wbp_open(PyObject *self, PyObject *args);
PyObject *wbp_open_memory(PyObject *self, PyObject *args);
PyObject *wbp_compile(PyObject *self, PyObject *args);
PyObject *wbp_load_program(PyObject *self, PyObject *args);
PyObject *wbp_load_program_bytes(PyObject *self, PyObject *args);
PyObject *wbp_plan(PyObject *self, PyObject *args, PyObject *kw);
PyObject *wbp_match(PyObject *self, PyObject *args, PyObject *kw);

#endif
