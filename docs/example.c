/* example.c — the public API end to end: open a checkpoint, compile rules, plan, apply.
 * Build against an installed library:  cc example.c $(pkg-config --cflags --libs weightbridge)
 * Run:  ./a.out RULES.wbr SRC.safetensors OUT.safetensors   (exit 0, or 1 with the diagnostics) */
#include <stdio.h>
#include <weightbridge.h>

static void print_diag(void *ud, const wbr_diag *d) {
  (void)ud;
  char *s = wbr_diag_format(d); /* "file:line:col: error: ..." as wbr prints it */
  fputs(s ? s : d->message, stderr);
  wbr_free(s);
}

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: %s RULES SRC OUT\n", argv[0]), 2;
  wbr_ctx *ctx = NULL;
  wbr_tensorset *src = NULL;
  wbr_program *prog = NULL;
  wbr_plan *plan = NULL;
  if (wbr_ctx_new(&ctx, print_diag, NULL)) return 1;
  int rc = wbr_tensorset_open(&src, ctx, argv[2]);
  if (!rc) rc = wbr_program_compile_file(&prog, ctx, argv[1]);
  if (!rc) rc = wbr_plan_new(&plan, ctx, prog, src, NULL); /* no target: just run the rules */
  if (!rc && wbr_plan_problems(plan)) rc = WBR_EMAPPING;   /* each was reported */
  if (!rc) rc = wbr_plan_apply(plan, ctx, argv[3], NULL, NULL);
  if (!rc) printf("wrote %s: %zu tensors\n", argv[3], wbr_plan_count(plan));
  wbr_plan_free(plan);
  wbr_program_free(prog);
  wbr_tensorset_free(src);
  wbr_ctx_free(ctx);
  return rc ? 1 : 0;
}
