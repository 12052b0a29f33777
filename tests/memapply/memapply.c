/* memapply.c — wbr_plan_apply_memory against wbr_plan_apply, through the public header only.
 *   memapply RULES SRC OUT.safetensors   SRC a weight file, or "-" for a set built in memory
 * applies RULES both ways, reads OUT back with wbr_tensorset_read and prints "same N" when every
 * output's name, dtype, shape (wbr_plan_get) and bytes agree, else what differs (exit 1).
 *   memapply --errors DIR   prints "ok CASE" per refused input (NULL buffer, problems, manifest,
 * index out of range, a source tensor without bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weightbridge.h"

static float fa[24], fb[24], fc[6], fi[60];
static uint16_t fh[24];

static void on_diag(void *ud, const wbr_diag *d) {
  char *s = wbr_diag_format(d);
  if (s) fprintf(stderr, "%s\n", s);
  if (d->severity == WBR_SEV_ERROR && ud) snprintf(ud, 512, "%s", d->message);
  wbr_free(s);
}

/* a, b: F32 [4,6]; c: F32 [6]; h: F16 [4,6]; i: F32 [3,4,5]; values all distinct. */
static wbr_tensorset *memory_set(wbr_ctx *ctx) {
  for (int k = 0; k < 24; k++) fa[k] = (float)k, fb[k] = 100.0f + (float)k, fh[k] = (uint16_t)(0x3c00 + k);
  for (int k = 0; k < 6; k++) fc[k] = -1.0f - (float)k;
  for (int k = 0; k < 60; k++) fi[k] = 0.5f * (float)k;
  wbr_tensorset *ts;
  if (wbr_tensorset_new(&ts, ctx)) return NULL;
  static const struct {
    const char *name;
    wbr_dtype dt;
    int ndim;
    int64_t shape[3];
  } t[] = {{"a", WBR_F32, 2, {4, 6}}, {"b", WBR_F32, 2, {4, 6}}, {"c", WBR_F32, 1, {6}},
           {"h", WBR_F16, 2, {4, 6}}, {"i", WBR_F32, 3, {3, 4, 5}}};
  const void *data[] = {fa, fb, fc, fh, fi};
  for (int k = 0; k < 5; k++) wbr_tensorset_add(ts, t[k].name, t[k].dt, t[k].ndim, t[k].shape, data[k]);
  return ts;
}

typedef struct bufs {
  void **p;
  size_t n;
  long null_at; /* return NULL for this output (-1: never) */
} bufs;

static void *give(void *ud, size_t i, const wbr_tensor_info *info) {
  bufs *b = ud;
  if ((long)i == b->null_at || i >= b->n) return NULL;
  b->p[i] = malloc(info->nbytes ? (size_t)info->nbytes : 1);
  return b->p[i];
}

static wbr_plan *make_plan(wbr_ctx *ctx, const char *rules_path, wbr_program **prog,
                           const wbr_tensorset *src) {
  wbr_plan *plan = NULL;
  if (wbr_program_compile_file(prog, ctx, rules_path) == 0) wbr_plan_new(&plan, ctx, *prog, src, NULL);
  return plan;
}

static int compare(wbr_ctx *ctx, const wbr_plan *plan, void **mem, const char *out) {
  wbr_tensorset *back;
  if (wbr_tensorset_open(&back, ctx, out)) return 1;
  int bad = wbr_tensorset_count(back) != wbr_plan_count(plan);
  for (size_t i = 0; !bad && i < wbr_plan_count(plan); i++) {
    wbr_tensor_info p, f;
    wbr_plan_get(plan, i, &p);
    wbr_tensorset_get(back, i, &f);
    void *fb_ = malloc(f.nbytes ? (size_t)f.nbytes : 1);
    bad = strcmp(p.name, f.name) || p.dtype != f.dtype || p.ndim != f.ndim || p.nbytes != f.nbytes ||
          p.data != NULL || memcmp(p.shape, f.shape, (size_t)p.ndim * sizeof *p.shape) ||
          wbr_tensorset_read(back, ctx, i, fb_) || memcmp(fb_, mem[i], (size_t)p.nbytes);
    if (bad) printf("differs: output %zu '%s'\n", i, p.name);
    free(fb_);
  }
  if (!bad) printf("same %zu\n", wbr_plan_count(plan));
  wbr_tensorset_free(back);
  return bad;
}

static int both_ways(const char *rules, const char *srcpath, const char *out) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, on_diag, NULL);
  wbr_tensorset *src = NULL;
  if (strcmp(srcpath, "-") == 0) src = memory_set(ctx);
  else wbr_tensorset_open(&src, ctx, srcpath);
  wbr_program *prog = NULL;
  wbr_plan *plan = src ? make_plan(ctx, rules, &prog, src) : NULL;
  int rc = 1;
  if (plan && wbr_plan_apply(plan, ctx, out, NULL, NULL) == 0) {
    size_t n = wbr_plan_count(plan);
    bufs b = {calloc(n ? n : 1, sizeof(void *)), n, -1};
    if (wbr_plan_apply_memory(plan, ctx, give, &b, NULL) == 0) rc = compare(ctx, plan, b.p, out);
    for (size_t i = 0; i < n; i++) free(b.p[i]);
    free(b.p);
  }
  wbr_plan_free(plan);
  wbr_program_free(prog);
  wbr_tensorset_free(src);
  wbr_ctx_free(ctx);
  return rc;
}

static void expect(const char *id, int rc, int want, const char *msg, const char *sub) {
  if (rc == want && strstr(msg, sub)) printf("ok %s\n", id);
  else printf("FAILED %s: rc %d (want %d), message '%s' (want '%s')\n", id, rc, want, msg, sub);
}

/* Apply rules text over src into memory with output null_at refused; rc and the message. */
static int try_apply(wbr_ctx *ctx, const char *dir, const char *text, const wbr_tensorset *src, long null_at) {
  char path[1024];
  snprintf(path, sizeof path, "%s/r.wbr", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -99;
  fputs(text, f);
  fclose(f);
  wbr_program *prog = NULL;
  wbr_plan *plan = make_plan(ctx, path, &prog, src);
  int rc = -99;
  void *p[8] = {0};
  bufs b = {p, 8, null_at};
  if (plan) rc = wbr_plan_apply_memory(plan, ctx, give, &b, NULL);
  for (int i = 0; i < 8; i++) free(p[i]);
  wbr_plan_free(plan);
  wbr_program_free(prog);
  return rc;
}

static int errors(const char *dir) {
  char msg[512] = "";
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, on_diag, msg);
  wbr_tensorset *src = memory_set(ctx);
  expect("null-buffer", try_apply(ctx, dir, "weightbridge 1\nrename \"a\" -> \"x\"\n", src, 1), WBR_EUSAGE, msg,
         "no buffer for output 2 of 5");
  msg[0] = 0;
  expect("problems", try_apply(ctx, dir, "weightbridge 1\nrename \"nothing\" -> \"x\"\n", src, -1), WBR_EMAPPING,
         msg, "the plan has 1 problem");
  /* A manifest: names and shapes, no bytes. */
  char path[1024];
  snprintf(path, sizeof path, "%s/m.json", dir);
  wbr_tensorset_write(src, ctx, path);
  wbr_tensorset *man = NULL;
  wbr_tensorset_open(&man, ctx, path);
  msg[0] = 0;
  expect("manifest", man ? try_apply(ctx, dir, "weightbridge 1\n", man, -1) : -99, WBR_EFORMAT, msg,
         "no tensor data");
  float dst[64];
  msg[0] = 0;
  expect("read-manifest", man ? wbr_tensorset_read(man, ctx, 0, dst) : -99, WBR_EFORMAT, msg, "has no data");
  wbr_tensor_info info;
  expect("read-out-of-range", wbr_tensorset_read(src, ctx, 5, dst), WBR_EUSAGE, "", "");
  expect("read-memory-set", wbr_tensorset_read(src, ctx, 2, dst) == 0 && memcmp(dst, fc, sizeof fc) == 0, 1,
         "", "");
  /* One tensor added without bytes in a set that has some: refused before any output is made. */
  int64_t s6[1] = {6};
  wbr_tensorset_add(src, "nobytes", WBR_F32, 1, s6, NULL);
  msg[0] = 0;
  expect("source-without-bytes", try_apply(ctx, dir, "weightbridge 1\nrename \"nobytes\" -> \"y\"\n", src, -1),
         WBR_EFORMAT, msg, "source tensor 'nobytes' has no data");
  wbr_program *prog = NULL;
  snprintf(path, sizeof path, "%s/r.wbr", dir);
  wbr_plan *plan = make_plan(ctx, path, &prog, src);
  expect("plan-get-out-of-range", plan ? wbr_plan_get(plan, wbr_plan_count(plan), &info) : -99, WBR_EUSAGE, "",
         "");
  wbr_apply_options bad = WBR_APPLY_OPTIONS_INIT;
  bad.version = 0;
  msg[0] = 0;
  expect("options-version", plan ? wbr_plan_apply_memory(plan, ctx, give, NULL, &bad) : -99, WBR_EUSAGE, msg,
         "wbr_plan_apply_memory");
  wbr_plan_free(plan);
  wbr_program_free(prog);
  wbr_tensorset_free(man);
  wbr_tensorset_free(src);
  wbr_ctx_free(ctx);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--errors") == 0) return errors(argv[2]);
  if (argc != 4) {
    fprintf(stderr, "usage: memapply RULES SRC|- OUT.safetensors | memapply --errors DIR\n");
    return 2;
  }
  return both_ways(argv[1], argv[2], argv[3]);
}
