/* ops_bench.c — throughput of the apply kernels (apply/kernels.c) against this machine's memcpy.
 * Not a test: prints one line per kernel with GB/s (bytes read + bytes written, per second) and
 * the ratio to memcpy's GB/s (also read + written), best of 5 runs. The quality bar is >= 50%
 * of memcpy for transposes and casts. Build and run: see bench/README.md. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply/kernels.h"

#define RUNS 5

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Allocate and touch every page so page faults are not timed; fill with a pattern that mixes
 * ordinary weights-like floats (no special values, like a real checkpoint). */
static void *alloc_filled(size_t n) {
  uint8_t *p = malloc(n);
  if (!p) {
    fprintf(stderr, "ops_bench: cannot allocate %zu bytes\n", n);
    exit(1);
  }
  uint32_t s = 12345;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    s = s * 1664525u + 1013904223u;
    /* an F32 in roughly +-[2^-8, 2^2): exponent 119..128, random mantissa and sign */
    uint32_t v = (s & 0x807fffffu) | ((119u + (s >> 24) % 10u) << 23);
    memcpy(p + i, &v, 4);
  }
  return p;
}

typedef struct job {
  const char *name;
  int kind; /* 0 memcpy, 1 permute, 2 cast */
  size_t esize;
  int ndim;
  int64_t shape[WBR_MAX_DIMS];
  int perm[WBR_MAX_DIMS];
  wbr_dtype from, to;
  size_t n;
} job;

static double run_job(const job *j, double *gbs) {
  size_t in_bytes, out_bytes;
  if (j->kind == 2) {
    in_bytes = j->n * wbr_dtype_size(j->from);
    out_bytes = j->n * wbr_dtype_size(j->to);
  } else if (j->kind == 1) {
    wbr_shape_bytes(&in_bytes, j->esize, j->ndim, j->shape);
    out_bytes = in_bytes;
  } else {
    in_bytes = out_bytes = j->n;
  }
  void *src = alloc_filled(in_bytes);
  if (j->kind == 2 && j->from != WBR_F32) {
    /* realistic values of the source dtype: the F32 pattern converted */
    void *f = alloc_filled(j->n * 4);
    wbr_cast(src, j->from, f, WBR_F32, j->n);
    free(f);
  }
  void *dst = alloc_filled(out_bytes);
  double best = 1e30;
  for (int r = 0; r < RUNS; r++) {
    double t0 = now();
    int rc = 0;
    if (j->kind == 0) memcpy(dst, src, j->n);
    else if (j->kind == 1) rc = wbr_permute(dst, src, j->esize, j->ndim, j->shape, j->perm);
    else rc = wbr_cast(dst, j->to, src, j->from, j->n);
    double t = now() - t0;
    if (rc != 0) {
      fprintf(stderr, "ops_bench: %s failed (%d)\n", j->name, rc);
      exit(1);
    }
    if (t < best) best = t;
  }
  /* keep the result observable so nothing is optimised away */
  volatile uint8_t sink = ((uint8_t *)dst)[out_bytes / 2];
  (void)sink;
  free(src);
  free(dst);
  *gbs = (double)(in_bytes + out_bytes) / best / 1e9;
  return best;
}

int main(void) {
  const size_t M = 1u << 20;
  job jobs[] = {
      {.name = "memcpy 256 MiB", .kind = 0, .n = 256 * M},
      {.name = "transpose F32 4096x4096", .kind = 1, .esize = 4, .ndim = 2,
       .shape = {4096, 4096}, .perm = {1, 0}},
      {.name = "transpose F16 8192x8192", .kind = 1, .esize = 2, .ndim = 2,
       .shape = {8192, 8192}, .perm = {1, 0}},
      {.name = "transpose BF16 4096x11008", .kind = 1, .esize = 2, .ndim = 2,
       .shape = {4096, 11008}, .perm = {1, 0}},
      {.name = "permute F32 HWIO->OIHW [3,3,512,512]", .kind = 1, .esize = 4, .ndim = 4,
       .shape = {3, 3, 512, 512}, .perm = {3, 2, 0, 1}},
      {.name = "permute F32 OIHW->HWIO [512,512,3,3]", .kind = 1, .esize = 4, .ndim = 4,
       .shape = {512, 512, 3, 3}, .perm = {2, 3, 1, 0}},
      {.name = "permute F32 [768,12,64]->[12,64,768]", .kind = 1, .esize = 4, .ndim = 3,
       .shape = {768, 12, 64}, .perm = {1, 2, 0}},
      {.name = "permute F16 [64,197,12,64] (0,2,1,3)", .kind = 1, .esize = 2, .ndim = 4,
       .shape = {64, 197, 12, 64}, .perm = {0, 2, 1, 3}},
      {.name = "cast F32->BF16 64M", .kind = 2, .from = WBR_F32, .to = WBR_BF16, .n = 64 * M},
      {.name = "cast F32->F16 64M", .kind = 2, .from = WBR_F32, .to = WBR_F16, .n = 64 * M},
      {.name = "cast BF16->F32 64M", .kind = 2, .from = WBR_BF16, .to = WBR_F32, .n = 64 * M},
      {.name = "cast F16->F32 64M", .kind = 2, .from = WBR_F16, .to = WBR_F32, .n = 64 * M},
      {.name = "cast F16->BF16 64M", .kind = 2, .from = WBR_F16, .to = WBR_BF16, .n = 64 * M},
      {.name = "cast F64->F32 16M", .kind = 2, .from = WBR_F64, .to = WBR_F32, .n = 16 * M},
  };
  double memcpy_gbs = 0;
  printf("%-40s %10s %8s %9s\n", "kernel", "time ms", "GB/s", "/memcpy");
  for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
    double gbs;
    double t = run_job(&jobs[i], &gbs);
    if (i == 0) memcpy_gbs = gbs;
    printf("%-40s %10.2f %8.2f %8.0f%%\n", jobs[i].name, t * 1e3, gbs, 100.0 * gbs / memcpy_gbs);
    fflush(stdout);
  }
  return 0;
}
