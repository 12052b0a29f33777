/* meta.h — the metadata apply gives its output (apply/meta.c). */
#ifndef WBR_APPLY_META_H
#define WBR_APPLY_META_H

#include "base/tensorset.h"
#include "vm/plan.h"

/* Set layout's metadata for an output at path: the source's, then the target's (a later key
 * replaces an earlier one), then "format": "pt" for a safetensors output that has no "format"
 * yet (transformers refuses a file without one), then opts' --metadata entries; the
 * weightbridge.* keys are the caller's, set after these. 0, WBR_EUSAGE for a malformed entry
 * (reported) or WBR_ENOMEM. */
int wbr_apply_meta(wbr_tensorset *layout, wbr_ctx *ctx, const wbr_plan *plan, const char *path,
                   const wbr_apply_options *opts);

#endif
