/* meta.c — the metadata of an apply's output, in one documented precedence: the source's < the
 * target's < "format": "pt" when nothing set a format < --metadata KEY=VALUE; the weightbridge.*
 * keys (version, rules hash, rules file) are set last by apply and cannot be given. */
#include <stdlib.h>
#include <string.h>

#include "../formats/format.h"
#include "../formats/hfdir.h"
#include "meta.h"

static bool own_key(const char *k) { return strncmp(k, "weightbridge.", 13) == 0; }

static int copy_meta(wbr_tensorset *layout, const wbr_tensorset *from) {
  int rc = 0;
  for (size_t i = 0; from && i < from->nmeta && rc == 0; i++)
    if (!own_key(from->meta_key[i])) rc = wbr_tensorset_meta_set(layout, from->meta_key[i], from->meta_val[i]);
  return rc;
}

/* True for the formats transformers reads with safe_open (a file or the shards of an index; a
 * model directory is written as one of them). */
static bool is_safetensors(const char *path) {
  if (wbr_hfdir_is_output(path)) return true;
  const wbr_format *f = wbr_format_for_path(path);
  return f && (f == &wbr_format_safetensors || f == &wbr_format_sharded);
}

static int user_meta(wbr_tensorset *layout, wbr_ctx *ctx, const wbr_apply_options *opts) {
  if (opts->version < 2 || opts->nmetadata == 0) return 0;
  if (!opts->metadata) return wbr_fail(ctx, WBR_EUSAGE, NULL, NULL, "wbr_apply_options.metadata is NULL with nmetadata %zu", opts->nmetadata);
  for (size_t i = 0; i < opts->nmetadata; i++) {
    const char *e = opts->metadata[i], *eq = e ? strchr(e, '=') : NULL;
    if (!eq || eq == e)
      return wbr_fail(ctx, WBR_EUSAGE, NULL, "give each entry as KEY=VALUE, e.g. format=pt",
                      "metadata entry '%s' is not KEY=VALUE", e ? e : "(null)");
    if (own_key(e))
      return wbr_fail(ctx, WBR_EUSAGE, NULL, "choose a key outside weightbridge.*",
                      "metadata key '%.*s': weightbridge.* keys record the conversion and are set by apply", (int)(eq - e), e);
    char *key = wbr_strndup(e, (size_t)(eq - e));
    if (!key) return wbr_oom(ctx);
    int rc = wbr_tensorset_meta_set(layout, key, eq + 1);
    free(key);
    if (rc) return rc;
  }
  return 0;
}

int wbr_apply_meta(wbr_tensorset *layout, wbr_ctx *ctx, const wbr_plan *plan, const char *path,
                   const wbr_apply_options *opts) {
  int rc = copy_meta(layout, plan->src);
  if (rc == 0) rc = copy_meta(layout, plan->target);
  bool has_format = false;
  for (size_t i = 0; i < layout->nmeta && !has_format; i++) has_format = strcmp(layout->meta_key[i], "format") == 0;
  if (rc == 0 && !has_format && is_safetensors(path)) rc = wbr_tensorset_meta_set(layout, "format", "pt");
  if (rc == 0) rc = user_meta(layout, ctx, opts);
  return rc;
}
