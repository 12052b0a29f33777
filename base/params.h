/* params.h — what every layer knows about parameter names: the valid spelling, and the
 * documented mapping from model-config keys to parameters (docs/language.md, "Parameters"),
 * read by formats/config.c (wbr_config_params) and quoted by the VM's "no value" message. */
#ifndef WBR_BASE_PARAMS_H
#define WBR_BASE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#define WBR_MAX_PARAM_NAME 64 /* bytes of a parameter's name */

/* Whether s[0, n) is a valid parameter name: [a-z_][a-z0-9_]*, at most WBR_MAX_PARAM_NAME. */
bool wbr_param_name_ok(const char *s, size_t n);

/* Row i of the mapping (i < wbr_config_nrows()): the parameter, and its config keys in
 * precedence order, NULL-terminated. */
size_t wbr_config_nrows(void);
const char *wbr_config_row(size_t i, const char *const **keys);
/* The first config key that gives parameter `param` (num_attention_heads for n_heads), or the
 * parameter's own name when the mapping has none. */
const char *wbr_config_key_for(const char *param);

#endif
