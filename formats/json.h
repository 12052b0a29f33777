/* json.h — the strict JSON layer shared by the safetensors and manifest readers: cJSON builds the
 * tree after a lexical pass of our own that gives exact error positions and reads integers
 * exactly from their digits. Implemented in json.c. */
#ifndef WBR_JSON_H
#define WBR_JSON_H

#include <cjson/cJSON.h>

#include "format.h"
#include "../base/text.h" /* wbr_utf8_valid, for every reader and writer of names */

typedef struct wbr_json wbr_json;
int wbr_json_parse(wbr_json **out, const char *text, size_t len, size_t *err_off, char *err,
                   size_t errlen);
const cJSON *wbr_json_root(const wbr_json *j);
void wbr_json_free(wbr_json *j);
const char *wbr_json_kind(const cJSON *v);
/* A non-negative integer up to 2^53, read exactly from its digits into *out; otherwise one error
 * "WHO: WHAT is <value>, expected ..." about path. */
int wbr_json_uint(const wbr_json *j, wbr_ctx *ctx, const char *path, const char *who,
                  const char *what, const cJSON *v, uint64_t *out, const char *help);
int wbr_json_shape(const wbr_json *j, wbr_ctx *ctx, const char *path, const char *who,
                   const cJSON *v, int64_t *shape, int *ndim, const char *help);
int wbr_json_meta(wbr_ctx *ctx, const char *path, const char *label, const cJSON *v,
                  wbr_tensorset *ts, const char *help);
void wbr_json_show(char *buf, size_t n, const char *s);
/* A non-negative integer up to 2^53 read exactly from its digits, without reporting: 0, -1 if v
 * is not one, -2 if it is larger. */
int wbr_json_exact_uint(const wbr_json *j, const cJSON *v, uint64_t *out);

#endif
