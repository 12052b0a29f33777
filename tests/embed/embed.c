/* embed.c — what an engine embedding weightbridge does: load a .wbc with nothing but the
 * runtime library (no parser), print its listing, and show that a corrupt file is refused with
 * one error. Built by tests/embed/run.sh against libweightbridge-runtime.a only. */
#include <stdio.h>
#include <stdlib.h>

#include "weightbridge.h"

static void on_diag(void *ud, const wbr_diag *d) {
  (void)ud;
  char *s = wbr_diag_format(d);
  fputs(s ? s : d->message, stderr);
  wbr_free(s);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: embed RULES.wbc\n", stderr);
    return 2;
  }
  wbr_ctx *ctx;
  if (wbr_ctx_new(&ctx, on_diag, NULL) != 0) return 1;
  wbr_program *p;
  int rc = wbr_program_load(&p, ctx, argv[1]);
  if (rc == 0) {
    char *text = wbr_program_disasm(p);
    if (text) fputs(text, stdout);
    wbr_free(text);
    /* Round trip through memory too. */
    void *bytes;
    size_t len;
    wbr_program *q = NULL;
    rc = wbr_program_serialize(p, ctx, &bytes, &len);
    if (rc == 0) rc = wbr_program_load_bytes(&q, ctx, "copy.wbc", bytes, len);
    if (rc == 0) {
      ((unsigned char *)bytes)[len / 2] ^= 1;
      wbr_program *r = NULL;
      if (wbr_program_load_bytes(&r, ctx, "flipped.wbc", bytes, len) == 0) rc = 1;
      wbr_program_free(r);
    }
    wbr_free(bytes);
    wbr_program_free(q);
    wbr_program_free(p);
  }
  wbr_ctx_free(ctx);
  return rc == 0 ? 0 : 1;
}
