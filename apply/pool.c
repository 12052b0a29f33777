/* pool.c — the thread pool behind apply's threads: workers wait for a task generation, run their
 * part under a SIGBUS guard (sigsetjmp; apply's handler jumps to wbr_pool_jump), count down and
 * wake the caller. One task at a time; the caller runs part 0 under the same kind of guard, so
 * no part is still running when wbr_pool_run returns, whatever faulted. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"

_Thread_local sigjmp_buf *wbr_pool_jump;
_Thread_local void *volatile wbr_pool_fault;

struct wbr_pool {
  pthread_mutex_t lock;
  pthread_cond_t go, done;
  unsigned n, started;   /* parts; workers running */
  unsigned long gen;     /* task generation: a worker runs each one once */
  unsigned pending;      /* worker parts of this generation not finished */
  bool quit;
  wbr_task_fn fn;
  void *arg;
  void *fault;           /* the first fault's address, or NULL */
  bool faulted;
  pthread_t *th;
};

typedef struct worker {
  wbr_pool *p;
  unsigned part;
} worker;

/* Run one part under a SIGBUS guard; false (and *addr) when it faulted. */
static bool guarded(wbr_task_fn fn, void *arg, unsigned part, unsigned n, void **addr) {
  sigjmp_buf jb;
  if (sigsetjmp(jb, 1)) {
    wbr_pool_jump = NULL;
    *addr = wbr_pool_fault;
    return false;
  }
  wbr_pool_jump = &jb;
  fn(arg, part, n);
  wbr_pool_jump = NULL;
  return true;
}

static void *work(void *v) {
  wbr_pool *p = ((worker *)v)->p;
  unsigned part = ((worker *)v)->part;
  free(v);
  unsigned long seen = 0;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->quit && p->gen == seen) pthread_cond_wait(&p->go, &p->lock);
    if (p->quit) break;
    seen = p->gen;
    wbr_task_fn fn = p->fn;
    void *arg = p->arg;
    unsigned n = p->n;
    pthread_mutex_unlock(&p->lock);
    void *addr = NULL;
    bool ok = guarded(fn, arg, part, n, &addr);
    pthread_mutex_lock(&p->lock);
    if (!ok && !p->faulted) p->faulted = true, p->fault = addr;
    if (--p->pending == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

wbr_pool *wbr_pool_new(unsigned n) {
  if (n < 1) n = 1;
  wbr_pool *p = calloc(1, sizeof *p);
  if (!p || !(p->th = calloc(n, sizeof *p->th))) {
    free(p);
    return NULL;
  }
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->go, NULL);
  pthread_cond_init(&p->done, NULL);
  p->n = 1;
  for (unsigned k = 1; k < n; k++) {
    worker *w = malloc(sizeof *w);
    if (!w) break;
    *w = (worker){p, k};
    if (pthread_create(&p->th[k], NULL, work, w) != 0) {
      free(w);
      break;
    }
    p->started++;
    p->n++;
  }
  return p;
}

void wbr_pool_free(wbr_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  p->quit = true;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->lock);
  for (unsigned k = 1; k <= p->started; k++) pthread_join(p->th[k], NULL);
  pthread_cond_destroy(&p->go);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->lock);
  free(p->th);
  free(p);
}

unsigned wbr_pool_size(const wbr_pool *p) { return p ? p->n : 1; }

bool wbr_pool_run(wbr_pool *p, wbr_task_fn fn, void *arg, void **fault) {
  *fault = NULL;
  if (!p || p->n == 1) return guarded(fn, arg, 0, 1, fault);
  pthread_mutex_lock(&p->lock);
  p->fn = fn;
  p->arg = arg;
  p->faulted = false;
  p->fault = NULL;
  p->pending = p->n - 1;
  p->gen++;
  pthread_cond_broadcast(&p->go);
  pthread_mutex_unlock(&p->lock);
  void *addr = NULL;
  bool ok = guarded(fn, arg, 0, p->n, &addr);
  pthread_mutex_lock(&p->lock);
  while (p->pending) pthread_cond_wait(&p->done, &p->lock);
  if (!ok && !p->faulted) p->faulted = true, p->fault = addr;
  ok = !p->faulted;
  *fault = p->fault;
  pthread_mutex_unlock(&p->lock);
  return ok;
}

unsigned wbr_cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return (unsigned)CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}
