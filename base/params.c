/* params.c — parameter names and the config key mapping (params.h). */
#include "params.h"

#include <string.h>

bool wbr_param_name_ok(const char *s, size_t n) {
  if (n == 0 || n > WBR_MAX_PARAM_NAME || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return false;
  return true;
}

/* docs/language.md's table, row for row. */
static const struct {
  const char *param;
  const char *const keys[4];
} mapping[] = {
    {"n_heads", {"num_attention_heads", "n_head", "n_heads", NULL}},
    {"n_kv_heads", {"num_key_value_heads", "n_kv_heads", NULL}},
    {"dim", {"hidden_size", "n_embd", "dim", NULL}},
    {"head_dim", {"head_dim", NULL}},
    {"ffn_dim", {"intermediate_size", "n_inner", "ffn_dim", NULL}},
    {"n_layers", {"num_hidden_layers", "n_layer", "n_layers", NULL}},
    {"n_experts", {"num_local_experts", "num_experts", "n_experts", NULL}},
    {"vocab_size", {"vocab_size", NULL}},
};

size_t wbr_config_nrows(void) { return sizeof mapping / sizeof mapping[0]; }

const char *wbr_config_row(size_t i, const char *const **keys) {
  *keys = mapping[i].keys;
  return mapping[i].param;
}

const char *wbr_config_key_for(const char *param) {
  for (size_t i = 0; i < wbr_config_nrows(); i++)
    if (strcmp(mapping[i].param, param) == 0) return mapping[i].keys[0];
  return param;
}
