/* pool.h — apply's small thread pool: one task split into N parts, part 0 on the calling thread,
 * the others on workers, each under its own SIGBUS guard so that a worker reading a source that
 * shrank reports back instead of killing the process. Diagnostics stay with the caller. */
#ifndef WBR_POOL_H
#define WBR_POOL_H

#include <setjmp.h>
#include <stdbool.h>

typedef struct wbr_pool wbr_pool;

/* Part `part` of `nparts` of a task. */
typedef void (*wbr_task_fn)(void *arg, unsigned part, unsigned nparts);

/* A pool running tasks in n parts (n - 1 workers; n >= 1). NULL when out of memory or when no
 * thread can be started (the caller then works alone). */
wbr_pool *wbr_pool_new(unsigned n);
void wbr_pool_free(wbr_pool *p);
unsigned wbr_pool_size(const wbr_pool *p); /* 1 for NULL */

/* Run fn(arg, k, n) for every part k (p may be NULL: one part, here) and wait for all. Returns
 * false when a part took a SIGBUS (it stopped there; *fault holds the address). */
bool wbr_pool_run(wbr_pool *p, wbr_task_fn fn, void *arg, void **fault);

/* Set while a pool part runs: apply's SIGBUS handler jumps here before its own guard. */
extern _Thread_local sigjmp_buf *wbr_pool_jump;
extern _Thread_local void *volatile wbr_pool_fault;

/* The number of CPUs this process may run on (at least 1). */
unsigned wbr_cpu_count(void);

#endif
