/* match.c — weightbridge._native.match(): the matcher (wbr_match_run) with the CLI's options,
 * its result as a dict. The GIL is released while it runs. */
#include "native.h"

#include <string.h>

typedef struct match_args {
  char **hints;
  size_t nhints;
  wbr_param_value *params;
  size_t nparams;
  char *update_name, *update_text, *src_layout, *target_layout, *src_label, *target_label;
  Py_ssize_t update_len;
} match_args;

static void args_free(match_args *a) {
  wbp_strv_free(a->hints);
  wbp_params_free(a->params, a->nparams);
  PyMem_Free(a->update_name);
  PyMem_Free(a->update_text);
  PyMem_Free(a->src_layout);
  PyMem_Free(a->target_layout);
  PyMem_Free(a->src_label);
  PyMem_Free(a->target_label);
}

/* An optional str argument (None: NULL) copied; 0 or -1. */
static int opt_str(PyObject *o, const char *what, char **out) {
  *out = NULL;
  if (!o || o == Py_None) return 0;
  return (*out = wbp_strdup(o, what)) ? 0 : -1;
}

static int parse_update(PyObject *update, match_args *a) {
  if (!update || update == Py_None) return 0;
  PyObject *name, *text;
  if (!PyTuple_Check(update) || PyTuple_GET_SIZE(update) != 2) {
    PyErr_SetString(PyExc_TypeError, "update must be (name, text) or None");
    return -1;
  }
  name = PyTuple_GET_ITEM(update, 0);
  text = PyTuple_GET_ITEM(update, 1);
  if (opt_str(name, "update's name", &a->update_name) || opt_str(text, "update's text", &a->update_text)) return -1;
  a->update_len = (Py_ssize_t)strlen(a->update_text);
  return 0;
}

static int set_item(PyObject *d, const char *key, PyObject *v) {
  if (!v) return -1;
  int rc = PyDict_SetItemString(d, key, v);
  Py_DECREF(v);
  return rc;
}

static PyObject *opt_text(const char *s) {
  return s ? PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace") : Py_NewRef(Py_None);
}

static PyObject *result_dict(const wbr_match_result *r) {
  PyObject *d = PyDict_New();
  if (!d) return NULL;
  const char *json = NULL;
#if WBR_MATCH_RESULT_VERSION >= 2
  json = r->json;
#endif
  if (set_item(d, "draft", opt_text(r->draft)) || set_item(d, "explain", opt_text(r->explain)) ||
      set_item(d, "complete", PyBool_FromLong(r->complete)) || set_item(d, "targets", PyLong_FromSize_t(r->ntargets)) ||
      set_item(d, "paired", PyLong_FromSize_t(r->npaired)) ||
      set_item(d, "ambiguous", PyLong_FromSize_t(r->nambiguous)) ||
      set_item(d, "unmatched", PyLong_FromSize_t(r->nunmatched)) ||
      set_item(d, "statements", PyLong_FromSize_t(r->nstmts)) || set_item(d, "dtype", PyLong_FromSize_t(r->ndtype)) ||
      set_item(d, "depth", PyLong_FromSize_t(r->ndepth)) ||
      set_item(d, "review_count", PyLong_FromSize_t(r->nreview)) || set_item(d, "review", opt_text(r->review)) ||
      set_item(d, "json", opt_text(json)))
    Py_CLEAR(d);
  return d;
}

/* The options from the parsed arguments; -1 with ValueError for layouts this library lacks. */
static int fill_options(wbr_match_options *o, const match_args *a, int explain) {
  o->src_label = a->src_label;
  o->target_label = a->target_label;
  o->hints = (const char *const *)a->hints;
  o->nhints = a->nhints;
  o->update_name = a->update_name;
  o->update_src = a->update_text;
  o->update_len = (size_t)a->update_len;
  o->explain = explain != 0;
  o->params = a->params;
  o->nparams = a->nparams;
#if WBR_MATCH_OPTIONS_VERSION >= 3
  o->src_layout = a->src_layout;
  o->target_layout = a->target_layout;
#else
  if (a->src_layout || a->target_layout) {
    PyErr_SetString(PyExc_ValueError, "this weightbridge library has no layout conventions (src_layout)");
    return -1;
  }
#endif
  return 0;
}

PyObject *wbp_match(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self;
  static char *kws[] = {"src", "target", "hints", "params", "update", "explain", "src_layout", "target_layout",
                        "src_label", "target_label", NULL};
  PyObject *src, *target, *hints = NULL, *params = NULL, *update = NULL, *sl = NULL, *tl = NULL, *sb = NULL,
                                                                          *tb = NULL;
  int explain = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOOpOOOO:match", kws, &src, &target, &hints, &params, &update,
                                   &explain, &sl, &tl, &sb, &tb))
    return NULL;
  wbp_set *s = wbp_as_set(src, "src"), *t = s ? wbp_as_set(target, "target") : NULL;
  if (!t) return NULL;
  match_args a = {0};
  if ((hints && hints != Py_None && !(a.hints = wbp_strv(hints, "hints", &a.nhints))) ||
      wbp_params(params, &a.params, &a.nparams) || parse_update(update, &a) ||
      opt_str(sl, "src_layout", &a.src_layout) || opt_str(tl, "target_layout", &a.target_layout) ||
      opt_str(sb, "src_label", &a.src_label) || opt_str(tb, "target_label", &a.target_label)) {
    args_free(&a);
    return NULL;
  }
  wbr_match_options o = WBR_MATCH_OPTIONS_INIT;
  wbp_ctx c;
  if (fill_options(&o, &a, explain) || wbp_ctx_init(&c)) {
    args_free(&a);
    return NULL;
  }
  wbr_match_result r = WBR_MATCH_RESULT_INIT;
  int rc;
  s->busy++;
  t->busy++;
  Py_BEGIN_ALLOW_THREADS
  rc = wbr_match_run(&r, c.ctx, s->ts, t->ts, &o);
  Py_END_ALLOW_THREADS
  s->busy--;
  t->busy--;
  PyObject *d = rc ? wbp_raise(&c, rc) : wbp_warn(&c) ? NULL : result_dict(&r);
  wbr_match_result_free(&r);
  wbp_ctx_close(&c);
  args_free(&a);
  return d;
}
