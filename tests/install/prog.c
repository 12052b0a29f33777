/* prog.c — a user's program built against an installed libweightbridge with pkg-config: writes a
 * small safetensors file through the public API, reads it back, prints what it found (after the
 * version macros of the installed header and wbr_version() of the installed library). */
#include <stdio.h>
#include <string.h>
#include <weightbridge.h>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  wbr_ctx *ctx;
  wbr_tensorset *ts, *back;
  float w[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape[2] = {2, 3};
  if (wbr_ctx_new(&ctx, NULL, NULL) || wbr_tensorset_new(&ts, ctx)) return 1;
  if (wbr_tensorset_add(ts, "fc.weight", WBR_F32, 2, shape, w) ||
      wbr_tensorset_write(ts, ctx, argv[1]) || wbr_tensorset_open(&back, ctx, argv[1])) {
    fprintf(stderr, "failed: %s\n", wbr_ctx_last_error(ctx));
    return 1;
  }
  wbr_tensor_info t;
  wbr_tensorset_get(back, 0, &t);
  /* The installed header's macros next to what the installed library says. */
  printf("%s %d %s %s %zu %d\n", WBR_VERSION, WBR_VERSION_NUMBER, wbr_version(), t.name,
         wbr_tensorset_count(back), memcmp(t.data, w, sizeof w) == 0);
  wbr_tensorset_free(back);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
  return 0;
}
