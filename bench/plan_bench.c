/* plan_bench.c — the C driver of bench/run.sh (figures, not tests):
 *   plan_bench run RESULT CMD [ARG...]        run CMD once; write "wall_s maxrss_kib anon_peak_kib
 *                                             file_peak_kib exit" to RESULT (RSS split sampled
 *                                             from /proc every ~2 ms; maxrss from wait4)
 *   plan_bench time RESULT CMD [ARG...]       the same without sampling (exact wall time for
 *                                             short commands; the RSS split is 0)
 *   plan_bench memcpy BYTES RUNS              best memcpy of BYTES between touched buffers:
 *                                             "seconds GB/s" (GB/s counts bytes read + written)
 *   plan_bench phases RULES SRC TARGET RUNS   in-process best time of each plan/check phase (ms)
 * Build: cc -O2 -D_GNU_SOURCE -Iinclude bench/plan_bench.c BUILD/libweightbridge.a
 *        $(sh tools/ldlibs.sh) */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weightbridge.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
  fprintf(stderr, "plan_bench: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* RssAnon and RssFile (KiB) of a running process; false once it has exited. */
static int read_rss(pid_t pid, long *anon, long *file) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int got = 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "RssAnon: %ld", anon) == 1) got++;
    else if (sscanf(line, "RssFile: %ld", file) == 1) got++;
  }
  fclose(f);
  return got == 2;
}

static int cmd_run(const char *result, char **argv, int sample) {
  double t0 = now();
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    execvp(argv[0], argv);
    fprintf(stderr, "plan_bench: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  long anon_peak = 0, file_peak = 0;
  int status;
  struct rusage ru;
  for (;;) {
    pid_t r = wait4(pid, &status, sample ? WNOHANG : 0, &ru);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) die("wait4");
    long a = 0, f = 0;
    if (read_rss(pid, &a, &f)) {
      if (a > anon_peak) anon_peak = a;
      if (f > file_peak) file_peak = f;
    }
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  /* Waking every 2 ms can add up to 2 ms to the wall time: negligible for the seconds-long
   * applies this is used for. */
  double wall = now() - t0;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE *f = fopen(result, "w");
  if (!f) die(result);
  fprintf(f, "%.4f %ld %ld %ld %d\n", wall, ru.ru_maxrss, anon_peak, file_peak, code);
  if (fclose(f) != 0) die(result);
  return 0;
}

static int cmd_memcpy(size_t n, int runs) {
  unsigned char *a = malloc(n), *b = malloc(n);
  if (!a || !b) die("malloc");
  for (size_t i = 0; i < n; i++) a[i] = (unsigned char)(i * 2654435761u >> 24);
  memset(b, 1, n); /* fault every page in before timing */
  double best = 1e30;
  for (int r = 0; r < runs; r++) {
    double t = now();
    memcpy(b, a, n);
    t = now() - t;
    if (t < best) best = t;
  }
  volatile unsigned char sink = b[n / 3];
  (void)sink;
  printf("%.4f %.2f\n", best, 2.0 * (double)n / best / 1e9);
  free(a);
  free(b);
  return 0;
}

static void quiet(void *ud, const wbr_diag *d) {
  (void)ud;
  if (d->severity == WBR_SEV_ERROR) fprintf(stderr, "plan_bench: %s\n", d->message);
}

static int cmd_phases(const char *rules, const char *src, const char *target, int runs) {
  enum { COMPILE, OPEN_SRC, OPEN_TARGET, PLAN, RENDER, NPH };
  static const char *names[NPH] = {"compile rules", "open source manifest", "open target manifest",
                                   "plan (VM + compare)", "render text table"};
  double best[NPH], total_best = 1e30;
  for (int k = 0; k < NPH; k++) best[k] = 1e30;
  size_t problems = 0, count = 0;
  for (int r = 0; r < runs; r++) {
    wbr_ctx *ctx;
    wbr_program *prog = NULL;
    wbr_tensorset *s = NULL, *t = NULL;
    wbr_plan *plan = NULL;
    if (wbr_ctx_new(&ctx, quiet, NULL) != 0) die("wbr_ctx_new");
    double ph[NPH], t0 = now(), tt = t0;
    int rc = wbr_program_compile_file(&prog, ctx, rules);
    ph[COMPILE] = now() - tt, tt = now();
    if (rc == 0) rc = wbr_tensorset_open(&s, ctx, src);
    ph[OPEN_SRC] = now() - tt, tt = now();
    if (rc == 0) rc = wbr_tensorset_open(&t, ctx, target);
    ph[OPEN_TARGET] = now() - tt, tt = now();
    if (rc == 0) rc = wbr_plan_new(&plan, ctx, prog, s, t);
    ph[PLAN] = now() - tt, tt = now();
    char *txt = rc == 0 ? wbr_plan_render(plan, WBR_PLAN_TEXT) : NULL;
    ph[RENDER] = now() - tt;
    double total = now() - t0;
    if (rc != 0 || !txt) {
      fprintf(stderr, "plan_bench: building the plan failed (%d)\n", rc);
      return 1;
    }
    problems = wbr_plan_problems(plan);
    count = wbr_plan_count(plan);
    wbr_free(txt);
    wbr_plan_free(plan);
    wbr_tensorset_free(t);
    wbr_tensorset_free(s);
    wbr_program_free(prog);
    wbr_ctx_free(ctx);
    for (int k = 0; k < NPH; k++)
      if (ph[k] < best[k]) best[k] = ph[k];
    if (total < total_best) total_best = total;
  }
  for (int k = 0; k < NPH; k++) printf("  %-24s %8.1f ms\n", names[k], best[k] * 1e3);
  printf("  %-24s %8.1f ms  (%zu outputs, %zu problems)\n", "total in-process", total_best * 1e3, count,
         problems);
  return problems ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "run") == 0) return cmd_run(argv[2], argv + 3, 1);
  if (argc >= 4 && strcmp(argv[1], "time") == 0) return cmd_run(argv[2], argv + 3, 0);
  if (argc == 4 && strcmp(argv[1], "memcpy") == 0)
    return cmd_memcpy((size_t)strtoull(argv[2], NULL, 10), atoi(argv[3]));
  if (argc == 6 && strcmp(argv[1], "phases") == 0) return cmd_phases(argv[2], argv[3], argv[4], atoi(argv[5]));
  fputs("usage: plan_bench run|time RESULT CMD [ARG...] | memcpy BYTES RUNS | phases RULES SRC TARGET RUNS\n", stderr);
  return 2;
}
