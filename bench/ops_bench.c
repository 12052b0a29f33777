/* ops_bench.c — throughput of the apply kernels (apply/kernels.c, kernels_x86.c) against this
 * machine's memcpy. Not a test: prints one line per kernel with GB/s (bytes read + bytes written,
 * per second) and the ratio to memcpy's GB/s (also read + written), best of 5 runs, on 1 thread
 * and on 2 (each thread does a half: its half of the elements, of the output rows through
 * wbr_permute_rows, or of the memcpy). The quality bar is >= 50% of memcpy for transposes and
 * casts. The CPU level is the best one unless WBR_CPU says. Arguments select kernels by a part of
 * their name (`ops_bench F16 BF16`); memcpy always runs. Build and run: bench/README.md. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <pthread.h>
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

/* One thread's share: part `part` of `parts` of the job. */
typedef struct share {
  const job *j;
  void *dst;
  const void *src;
  int part, parts, rc;
} share;

static void *run_share(void *arg) {
  share *h = arg;
  const job *j = h->j;
  if (j->kind == 1) {
    int64_t first = j->shape[j->perm[0]], r0 = first * h->part / h->parts;
    int64_t r1 = first * (h->part + 1) / h->parts;
    size_t row = j->esize;
    for (int i = 1; i < j->ndim; i++) row *= (size_t)j->shape[j->perm[i]];
    h->rc = wbr_permute_rows((uint8_t *)h->dst + (size_t)r0 * row, h->src, j->esize, j->ndim,
                             j->shape, j->perm, r0, r1 - r0);
    return NULL;
  }
  size_t ss = j->kind == 2 ? wbr_dtype_size(j->from) : 1;
  size_t ds = j->kind == 2 ? wbr_dtype_size(j->to) : 1;
  size_t e0 = j->n * (size_t)h->part / (size_t)h->parts;
  size_t e1 = j->n * (size_t)(h->part + 1) / (size_t)h->parts;
  uint8_t *d = (uint8_t *)h->dst + e0 * ds;
  const uint8_t *s = (const uint8_t *)h->src + e0 * ss;
  if (j->kind == 0) memcpy(d, s, e1 - e0);
  else h->rc = wbr_cast(d, j->to, s, j->from, e1 - e0);
  return NULL;
}

/* Run the job split over nthreads (1 or 2; the first share runs on the calling thread). */
static int run_split(const job *j, void *dst, const void *src, int nthreads) {
  share sh[2];
  pthread_t t;
  for (int i = 0; i < nthreads; i++) sh[i] = (share){j, dst, src, i, nthreads, 0};
  if (nthreads > 1 && pthread_create(&t, NULL, run_share, &sh[1]) != 0) return -1;
  run_share(&sh[0]);
  if (nthreads > 1) pthread_join(t, NULL);
  return sh[0].rc ? sh[0].rc : nthreads > 1 ? sh[1].rc : 0;
}

static void run_job(const job *j, double *ms, double *gbs) {
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
  for (int nt = 1; nt <= 2; nt++) {
    double best = 1e30;
    for (int r = 0; r < RUNS; r++) {
      double t0 = now();
      int rc = run_split(j, dst, src, nt);
      double t = now() - t0;
      if (rc != 0) {
        fprintf(stderr, "ops_bench: %s failed (%d)\n", j->name, rc);
        exit(1);
      }
      if (t < best) best = t;
    }
    ms[nt - 1] = best * 1e3;
    gbs[nt - 1] = (double)(in_bytes + out_bytes) / best / 1e9;
  }
  /* keep the result observable so nothing is optimised away */
  volatile uint8_t sink = ((uint8_t *)dst)[out_bytes / 2];
  (void)sink;
  free(src);
  free(dst);
}

/* With arguments, only memcpy and the kernels whose name contains one of them run. */
static int selected(const char *name, int argc, char **argv) {
  if (argc < 2) return 1;
  for (int i = 1; i < argc; i++)
    if (strstr(name, argv[i])) return 1;
  return 0;
}

int main(int argc, char **argv) {
  const size_t M = 1u << 20;
  job jobs[] = {
      {.name = "memcpy 256 MiB", .kind = 0, .n = 256 * M},
      {.name = "transpose F32 4096x4096", .kind = 1, .esize = 4, .ndim = 2,
       .shape = {4096, 4096}, .perm = {1, 0}},
      {.name = "transpose F16 8192x8192", .kind = 1, .esize = 2, .ndim = 2,
       .shape = {8192, 8192}, .perm = {1, 0}},
      {.name = "transpose BF16 4096x11008", .kind = 1, .esize = 2, .ndim = 2,
       .shape = {4096, 11008}, .perm = {1, 0}},
      {.name = "transpose F64 2048x4096", .kind = 1, .esize = 8, .ndim = 2,
       .shape = {2048, 4096}, .perm = {1, 0}},
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
      {.name = "cast BF16->F16 64M", .kind = 2, .from = WBR_BF16, .to = WBR_F16, .n = 64 * M},
      {.name = "cast F64->F32 16M", .kind = 2, .from = WBR_F64, .to = WBR_F32, .n = 16 * M},
      {.name = "cast F32->F64 16M", .kind = 2, .from = WBR_F32, .to = WBR_F64, .n = 16 * M},
      {.name = "cast F64->F16 16M", .kind = 2, .from = WBR_F64, .to = WBR_F16, .n = 16 * M},
      {.name = "cast F16->F64 16M", .kind = 2, .from = WBR_F16, .to = WBR_F64, .n = 16 * M},
      {.name = "cast F64->BF16 16M", .kind = 2, .from = WBR_F64, .to = WBR_BF16, .n = 16 * M},
      {.name = "cast BF16->F64 16M", .kind = 2, .from = WBR_BF16, .to = WBR_F64, .n = 16 * M},
  };
  double memcpy_gbs[2] = {0, 0};
  printf("cpu level: %s (WBR_CPU=portable|sse2|avx2|avx512 lowers it)\n",
         wbr_cpu_level_name(wbr_cpu_level()));
  printf("%-40s %9s %7s %8s | %9s %7s %8s\n", "kernel", "1T ms", "GB/s", "/memcpy", "2T ms",
         "GB/s", "/memcpy");
  for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
    double ms[2], gbs[2];
    if (i > 0 && !selected(jobs[i].name, argc, argv)) continue;
    run_job(&jobs[i], ms, gbs);
    if (i == 0) memcpy_gbs[0] = gbs[0], memcpy_gbs[1] = gbs[1];
    printf("%-40s %9.2f %7.2f %7.0f%% | %9.2f %7.2f %7.0f%%\n", jobs[i].name, ms[0], gbs[0],
           100.0 * gbs[0] / memcpy_gbs[0], ms[1], gbs[1], 100.0 * gbs[1] / memcpy_gbs[1]);
    fflush(stdout);
  }
  return 0;
}
