/* config.c — wbr_config_params: the parameter values a model config gives. A config is a JSON
 * object (Hugging Face config.json, Meta's params.json, a file of one's own); each mapped
 * parameter takes the first of its keys that is present and not null, and every other top-level
 * non-negative integer key gives the parameter of its own name. Whether the rules declare a name
 * is for the VM to decide (it ignores the rest), so one config serves any rule file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/io.h"
#include "base/params.h"
#include "json.h"

#define CONFIG_MAX_BYTES (16u << 20)
#define NMAP 64 /* rows of the mapping at most */

static bool mapped_param(const char *name) {
  const char *const *keys;
  for (size_t i = 0; i < wbr_config_nrows(); i++)
    if (strcmp(wbr_config_row(i, &keys), name) == 0) return true;
  return false;
}

/* The entries before they are packed into one allocation. */
typedef struct entries {
  const char *name[NMAP + 1024];
  const char *key[NMAP + 1024];
  int64_t value[NMAP + 1024];
  size_t n, bytes;
} entries;

static void add(entries *e, const char *name, const char *key, int64_t v) {
  if (e->n >= sizeof e->name / sizeof e->name[0]) return; /* more keys than parameters can use */
  for (size_t i = 0; i < e->n; i++)
    if (strcmp(e->name[i], name) == 0) return; /* the first wins */
  e->name[e->n] = name;
  e->key[e->n] = key;
  e->value[e->n++] = v;
  e->bytes += strlen(name) + strlen(key) + 2;
}

/* The mapped parameters: their first key present and not null; any other value is an error. */
static int add_mapped(entries *e, const wbr_json *j, wbr_ctx *ctx, const char *name) {
  const cJSON *root = wbr_json_root(j);
  for (size_t i = 0; i < wbr_config_nrows(); i++) {
    const char *const *keys;
    const char *param = wbr_config_row(i, &keys);
    for (int k = 0; keys[k]; k++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
      if (!v || cJSON_IsNull(v)) continue;
      uint64_t x;
      char what[80];
      snprintf(what, sizeof what, "key \"%s\"", keys[k]);
      if (wbr_json_uint(j, ctx, name, "config", what, v, &x,
                        "the config's sizes are non-negative integers; or give the value with --param") != 0)
        return WBR_EUSAGE;
      add(e, param, keys[k], (int64_t)x);
      break;
    }
  }
  return 0;
}

/* Every other top-level integer key whose name could be a parameter. */
static void add_plain(entries *e, const wbr_json *j) {
  for (const cJSON *v = wbr_json_root(j)->child; v; v = v->next) {
    uint64_t x;
    if (!v->string || mapped_param(v->string) || !wbr_param_name_ok(v->string, strlen(v->string)) ||
        wbr_json_exact_uint(j, v, &x) != 0)
      continue;
    add(e, v->string, v->string, (int64_t)x);
  }
}

/* One allocation: the array, then the strings it points at. */
static int pack(const entries *e, wbr_ctx *ctx, wbr_param_value **out, size_t *n) {
  size_t head = (e->n ? e->n : 1) * sizeof **out;
  char *mem = malloc(head + e->bytes + 1);
  if (!mem) return wbr_oom(ctx);
  wbr_param_value *pv = (wbr_param_value *)(void *)mem;
  char *s = mem + head;
  for (size_t i = 0; i < e->n; i++) {
    size_t ln = strlen(e->name[i]) + 1, lk = strlen(e->key[i]) + 1;
    memcpy(s, e->name[i], ln);
    memcpy(s + ln, e->key[i], lk);
    pv[i] = (wbr_param_value){.name = s, .value = e->value[i], .origin = WBR_PARAM_CONFIG, .key = s + ln};
    s += ln + lk;
  }
  *out = pv;
  *n = e->n;
  return 0;
}

int wbr_config_params_bytes(wbr_ctx *ctx, const char *name, const char *text, size_t len,
                            wbr_param_value **out, size_t *n) {
  if (!out || !n || (!text && len))
    return wbr_fail(ctx, WBR_EUSAGE, name, NULL, "wbr_config_params: NULL argument");
  *out = NULL;
  *n = 0;
  size_t off = 0;
  char err[200];
  wbr_json *j = NULL;
  if (wbr_json_parse(&j, text ? text : "", len, &off, err, sizeof err) != 0)
    return wbr_fail(ctx, WBR_EUSAGE, name, "give a model config: a JSON object such as config.json",
                    "not valid JSON at byte %zu: %s", off, err);
  if (!cJSON_IsObject(wbr_json_root(j))) {
    int rc = wbr_fail(ctx, WBR_EUSAGE, name, "give a model config: a JSON object such as config.json",
                      "the config is %s, not a JSON object", wbr_json_kind(wbr_json_root(j)));
    wbr_json_free(j);
    return rc;
  }
  entries *e = calloc(1, sizeof *e);
  int rc = e ? add_mapped(e, j, ctx, name) : wbr_oom(ctx);
  if (rc == 0) {
    add_plain(e, j);
    rc = pack(e, ctx, out, n);
  }
  free(e);
  wbr_json_free(j);
  return rc;
}

int wbr_config_params(wbr_ctx *ctx, const char *path, wbr_param_value **out, size_t *n) {
  if (!path || !out || !n) return wbr_fail(ctx, WBR_EUSAGE, path, NULL, "wbr_config_params: NULL argument");
  char *text = NULL;
  size_t len = 0;
  int rc = wbr_io_read_file(ctx, path, "config", CONFIG_MAX_BYTES, &text, &len);
  if (rc) return rc;
  rc = wbr_config_params_bytes(ctx, path, text, len, out, n);
  free(text);
  return rc;
}
