/* fuzz_pickle.c — libFuzzer target for the restricted pickle machine alone (formats/pickle.h),
 * so the fuzzer need not get through a zip first. Any input must give a value or exactly one
 * error; the value is walked (bounded, since the memo can make cycles) and every string read.
 * Each input is loaded strictly and with WBR_PICKLE_INERT. */
#include <stddef.h>
#include <stdint.h>

#include "formats/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned visit(const wbr_pk_value *v, int depth, unsigned *budget) {
  if (depth > 40 || *budget == 0) return 0;
  (*budget)--;
  unsigned h = (unsigned)v->kind;
  switch (v->kind) {
  case WBR_PK_STR:
  case WBR_PK_BYTES:
    for (size_t i = 0; i < v->u.str.n; i++) h += (uint8_t)v->u.str.s[i];
    break;
  case WBR_PK_TUPLE:
  case WBR_PK_LIST:
    for (size_t i = 0; i < v->u.seq.n; i++) h += visit(v->u.seq.items[i], depth + 1, budget);
    break;
  case WBR_PK_DICT:
    for (size_t i = 0; i < v->u.dict.n; i++)
      h += visit(v->u.dict.keys[i], depth + 1, budget) + visit(v->u.dict.vals[i], depth + 1, budget);
    break;
  case WBR_PK_STORAGE:
    for (size_t i = 0; i < v->u.storage.key_len; i++) h += (uint8_t)v->u.storage.key[i];
    break;
  case WBR_PK_TENSOR:
    if (v->u.tensor->storage->kind != WBR_PK_STORAGE || v->u.tensor->ndim > WBR_MAX_DIMS)
      __builtin_trap();
    for (int d = 0; d < v->u.tensor->ndim; d++)
      if (v->u.tensor->size[d] < 0 || v->u.tensor->stride[d] < 0) __builtin_trap();
    break;
  case WBR_PK_NONE:
  case WBR_PK_BOOL:
  case WBR_PK_INT:
  case WBR_PK_FLOAT:
  case WBR_PK_GLOBAL:
    break;
  case WBR_PK_OBJECT:
    for (size_t i = 0; i < v->u.object.name_len; i++) h += (uint8_t)v->u.object.name[i];
    break;
  }
  return h;
}

static void one(const uint8_t *data, size_t size, unsigned flags) {
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, NULL, NULL) != 0) return;
  wbr_pickle *p;
  const wbr_pk_value *root;
  if (wbr_pickle_load_flags(&p, &root, ctx, "fuzz.pt", "data.pkl", data, size, flags) == 0) {
    unsigned budget = 100000;
    volatile unsigned h = visit(root, 0, &budget);
    (void)h;
    wbr_pickle_free(p);
  } else if (wbr_ctx_error_count(ctx) != 1) {
    __builtin_trap();
  }
  wbr_ctx_free(ctx);
}

/* Each input twice: strict, and with unknown globals kept inert (Lightning checkpoints). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size, 0);
  one(data, size, WBR_PICKLE_INERT);
  return 0;
}
