/* apply.c — executes a plan: every output tensor's expression is evaluated and streamed to the
 * writer, one tensor at a time. Renames, reshapes, slices along leading axes and concatenations
 * along them are written straight from the source mapping; only permutes (and what feeds them)
 * need a buffer, so peak memory stays near the largest permuted tensor whatever the model size.
 * Casts convert through a small scratch buffer on the way out. A source file that shrinks while
 * it is read is reported as such (SIGBUS is caught around the reads), and nothing is written. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "../base/version.h"
#include "../formats/format.h"
#include "../formats/writer.h"
#include "kernels.h"
#include "meta.h"
#include "pipeline.h"
#include "vm/plan.h"

#define SCRATCH (1u << 20)
/* A permute reading straight from the mapping works in slabs of about this many bytes. */
#define PERMUTE_CHUNK (8u << 20)
/* Give mapped source pages back to the OS after this many bytes written, so resident memory
 * does not grow with the model. */
#define RELEASE_EVERY (64ull << 20)

typedef struct sink {
  wbr_emit_fn fn;
  void *ud;
} sink;

/* Big buffers are kept for the next tensor: a fresh one costs a page fault and a zeroed page
 * per 4 KiB, which would dominate a transpose-heavy apply. */
#define POOL 4
#define BIG (1u << 20)

typedef struct exec {
  wbr_ctx *ctx;
  const wbr_plan *plan;
  wbr_writer *w;
  uint8_t *buf[POOL];
  size_t cap[POOL];
  bool busy[POOL];
  /* Heap blocks of the tensor being written, so that a jump out of a fault (SIGBUS) frees them. */
  void **live;
  size_t nlive, caplive;
  const char *where; /* what errors name when there is no writer: the memory output's tensor */
  wbr_pipe pipe; /* permutes and casts of one mapped tensor, stripe by stripe */
} exec;

#define X_WHERE(x) ((x)->w ? (x)->w->path : (x)->where)

static void *x_malloc(exec *x, size_t n) {
  if (!wbr_grow(&x->live, &x->caplive, x->nlive + 1, sizeof *x->live, 16)) return NULL;
  void *p = malloc(n ? n : 1);
  if (p) x->live[x->nlive++] = p;
  return p;
}

static void x_free(exec *x, void *p) {
  if (!p) return;
  for (size_t i = x->nlive; i-- > 0;)
    if (x->live[i] == p) {
      x->live[i] = x->live[--x->nlive];
      break;
    }
  free(p);
}

static void big_free(uint8_t *p, size_t cap) {
  if (p) munmap(p, cap);
}

static uint8_t *big_alloc(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p; /* no MADV_HUGEPAGE: zeroing huge pages cost more than the faults */
}

/* A buffer of n bytes (contents undefined); give it back with buf_put. */
static uint8_t *buf_get(exec *x, size_t n) {
  if (n < BIG) return x_malloc(x, n);
  int best = -1, spare = -1;
  for (int i = 0; i < POOL; i++) {
    if (x->busy[i]) continue;
    if (x->cap[i] >= n && (best < 0 || x->cap[i] < x->cap[best])) best = i;
    if (spare < 0 || x->cap[i] < x->cap[spare]) spare = i;
  }
  if (best < 0 && spare >= 0) {
    /* Replace the smallest free buffer by one big enough. */
    big_free(x->buf[spare], x->cap[spare]);
    x->buf[spare] = big_alloc(n);
    x->cap[spare] = x->buf[spare] ? n : 0;
    best = x->buf[spare] ? spare : -1;
  }
  if (best < 0) return NULL;
  x->busy[best] = true;
  return x->buf[best];
}

static void buf_put(exec *x, uint8_t *p) {
  if (!p) return;
  for (int i = 0; i < POOL; i++)
    if (x->buf[i] == p) {
      x->busy[i] = false;
      return;
    }
  x_free(x, p);
}

/* Give back the source's mapped pages under [p, p+n): they were read and are not needed for
 * this tensor again, so resident memory stays near one buffer, not buffer + source. */
static void release_source(exec *x, const uint8_t *p, size_t n) { wbr_release_mapped(x->plan->src, p, n); }

static int emit_node(exec *x, const wbr_node *nd, sink s);

static int to_writer(void *ud, const void *bytes, size_t len) { return wbr_writer_write(ud, bytes, len); }

typedef struct membuf {
  uint8_t *p;
  size_t len, cap;
} membuf;

static int to_memory(void *ud, const void *bytes, size_t len) {
  membuf *m = ud;
  if (len > m->cap - m->len) return WBR_EINTERNAL;
  memcpy(m->p + m->len, bytes, len);
  m->len += len;
  return 0;
}

typedef struct castsink {
  sink inner;
  wbr_dtype from, to;
  uint8_t *scratch;
} castsink;

static int to_cast(void *ud, const void *bytes, size_t len) {
  castsink *c = ud;
  size_t es = wbr_dtype_size(c->from);
  return wbr_cast_stream(c->inner.fn, c->inner.ud, c->to, bytes, c->from, len / es, c->scratch, SCRATCH);
}

static uint64_t node_bytes(const wbr_node *nd) {
  uint64_t n = 1;
  wbr_shape_nelem(nd->ndim, nd->shape, &n);
  return n * wbr_dtype_size(nd->dtype);
}

static int internal(exec *x, const char *what) {
  return wbr_fail(x->ctx, WBR_EINTERNAL, X_WHERE(x),
                  "please report this with the rules and `wbr inspect` of the source",
                  "internal error: %s", what);
}

/* Contiguous bytes of nd: a pointer into the source when no data moves, else a buffer
 * (*owned set; the caller gives it back with buf_put). */
static int materialize(exec *x, const wbr_node *nd, const uint8_t **out, uint8_t **owned) {
  *owned = NULL;
  if (nd->kind == WBR_N_SOURCE && !x->plan->src->t[nd->src].lazy) {
    *out = x->plan->src->t[nd->src].data;
    return 0;
  }
  if (nd->kind == WBR_N_RESHAPE) return materialize(x, nd->in[0], out, owned);
  uint64_t n = node_bytes(nd);
  membuf m = {.p = buf_get(x, (size_t)n), .cap = (size_t)n};
  if (!m.p) return wbr_fail(x->ctx, WBR_ENOMEM, X_WHERE(x), "free memory: a tensor that needs a copy must fit in it",
                            "out of memory allocating %llu bytes", (unsigned long long)n);
  int rc = nd->kind == WBR_N_SOURCE ? wbr_tensor_fill(x->ctx, &x->plan->src->t[nd->src], m.p)
                                    : emit_node(x, nd, (sink){to_memory, &m});
  if (nd->kind == WBR_N_SOURCE) m.len = rc ? 0 : n;
  if (rc == WBR_EINTERNAL || (rc == 0 && m.len != n)) rc = internal(x, "a tensor's bytes do not match its shape");
  if (rc) {
    buf_put(x, m.p);
    return rc;
  }
  *out = m.p;
  *owned = m.p;
  return 0;
}


/* ---- A source that changes while it is read ------------------------------------------------
 * The sources are mapped: if a file shrinks under us (re-downloaded, rewritten by another tool),
 * touching a page past its new end raises SIGBUS. apply catches it while it writes a tensor
 * (sigsetjmp in emit_guarded), reports the file, and abandons the output; before bytes are copied
 * in-kernel (which reads the file, not the mapping) and before commit, sizes are compared. */

static _Thread_local sigjmp_buf *bus_jump;
static _Thread_local void *volatile bus_addr;

/* The handler is process-wide: applies running at once in several threads share one
 * installation, made by the first and undone by the last, so none restores it under another. */
static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;
static int bus_users;
static struct sigaction bus_old;

static void on_sigbus(int sig, siginfo_t *si, void *uc);

static void bus_catch(bool on) {
  pthread_mutex_lock(&bus_lock);
  if (on && bus_users++ == 0) {
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &bus_old);
  } else if (!on && --bus_users == 0) {
    sigaction(SIGBUS, &bus_old, NULL);
  }
  pthread_mutex_unlock(&bus_lock);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  if (wbr_pool_jump) { /* a part of a pipeline stripe: it reports to its caller */
    wbr_pool_fault = si->si_addr;
    siglongjmp(*wbr_pool_jump, 1);
  }
  if (!bus_jump) { /* not ours (another thread, or outside a read): die as we would have */
    signal(sig, SIG_DFL);
    return;
  }
  bus_addr = si->si_addr;
  siglongjmp(*bus_jump, 1);
}

/* The set (src or one of its shards) whose mapping holds addr, or NULL. */
static const wbr_tensorset *mapping_of(const wbr_tensorset *ts, const void *addr) {
  const uint8_t *a = addr, *b = ts->map_base;
  if (b && a >= b && a < b + ts->map_len) return ts;
  for (size_t i = 0; i < ts->nchildren; i++) {
    const wbr_tensorset *c = mapping_of(ts->children[i], addr);
    if (c) return c;
  }
  return NULL;
}

static int changed(exec *x, const wbr_tensorset *ts, const char *how) {
  return wbr_fail(x->ctx, WBR_EFORMAT, ts && ts->path ? ts->path : "the source",
                  "make sure nothing rewrites the source while apply reads it, then run apply again",
                  "the file changed while it was being read (%s); nothing was written", how);
}

/* The set (ts or a shard of it) whose file no longer has the size it was mapped with, or NULL;
 * its size now in *now. */
static const wbr_tensorset *shrunk(const wbr_tensorset *ts, uint64_t *now) {
  struct stat st;
  if (ts->map_base && ts->fd >= 0 && fstat(ts->fd, &st) == 0 && (uint64_t)st.st_size != ts->map_len) {
    *now = (uint64_t)st.st_size;
    return ts;
  }
  for (size_t i = 0; i < ts->nchildren; i++) {
    const wbr_tensorset *c = shrunk(ts->children[i], now);
    if (c) return c;
  }
  return NULL;
}

static int check_size(exec *x, const wbr_tensorset *ts, bool fault) {
  uint64_t now = 0;
  const wbr_tensorset *c = shrunk(ts, &now);
  if (!c && !fault) return 0;
  char how[128];
  if (c)
    snprintf(how, sizeof how, "%s%llu bytes when opened, %llu now", fault ? "a bus error reading it: " : "",
             (unsigned long long)c->map_len, (unsigned long long)now);
  else
    snprintf(how, sizeof how, "a bus error (SIGBUS) reading its mapping");
  return changed(x, c ? c : ts, how);
}

/* Write one output tensor (to the writer, or into dst when not NULL); a SIGBUS while reading
 * the sources' mappings ends it with an error. Heap blocks the jump skipped are freed from x->live; pool buffers are only marked free. */
static int emit_into(exec *x, const wbr_node *nd, uint8_t *dst);

static int emit_guarded(exec *x, const wbr_node *nd, uint8_t *dst) {
  sigjmp_buf jb;
  if (sigsetjmp(jb, 1)) {
    bus_jump = NULL;
    for (size_t i = 0; i < x->nlive; i++) free(x->live[i]);
    x->nlive = 0;
    for (int i = 0; i < POOL; i++) x->busy[i] = false;
    const wbr_tensorset *ts = mapping_of(x->plan->src, bus_addr);
    return check_size(x, ts ? ts : x->plan->src, true);
  }
  bus_jump = &jb;
  int rc = dst ? emit_into(x, nd, dst) : emit_node(x, nd, (sink){to_writer, x->w});
  bus_jump = NULL;
  return rc;
}

/* A permute or cast of one mapped tensor: stripe by stripe through the pipeline, to s or
 * straight into dst (the memory route) when not NULL. */
static int emit_piped(exec *x, const wbr_node *nd, sink s, uint8_t *dst) {
  int rc = dst ? wbr_pipe_make(&x->pipe, nd, dst) : wbr_pipe_emit(&x->pipe, nd, s.fn, s.ud);
  if (rc && x->pipe.own == WBR_EFORMAT) { /* a SIGBUS in a part, on any thread */
    const wbr_tensorset *ts = mapping_of(x->plan->src, x->pipe.fault);
    return check_size(x, ts ? ts : x->plan->src, true);
  }
  if (rc && x->pipe.own == WBR_ENOMEM) return wbr_oom_file(x->ctx, X_WHERE(x));
  if (rc && x->pipe.own) return internal(x, "permute or cast rejected by the kernel");
  return rc;
}

static int emit_node(exec *x, const wbr_node *nd, sink s) {
  const uint8_t *bytes;
  uint8_t *owned = NULL;
  int rc = 0;
  if (wbr_pipe_takes(&x->pipe, nd)) return emit_piped(x, nd, s, NULL);
  switch (nd->kind) {
  case WBR_N_SOURCE: {
    const wbr_tensor *t = &x->plan->src->t[nd->src];
    const wbr_tensorset *src = x->plan->src;
    if (t->lazy) { /* made in a buffer first (a strided view, a deflated array) */
      rc = materialize(x, nd, &bytes, &owned);
      if (rc == 0) rc = s.fn(s.ud, bytes, (size_t)t->nbytes);
      buf_put(x, owned);
      return rc;
    }
    /* Straight into the output file: let the kernel copy (copy_file_range) when it can. It reads
     * the file, where a shrunk source gives short reads, not SIGBUS: compare the size first. */
    if (s.fn == to_writer && wbr_ts_in_mapping(src, t->data, t->nbytes))
      return (rc = check_size(x, src, false)) ? rc : wbr_writer_copy(s.ud, src->fd, (uint64_t)(t->data - (const uint8_t *)src->map_base), t->data,
                             (size_t)t->nbytes);
    return s.fn(s.ud, t->data, (size_t)t->nbytes);
  }
  case WBR_N_RESHAPE:
    return emit_node(x, nd->in[0], s);
  case WBR_N_CAST: {
    castsink c = {.inner = s, .from = nd->in[0]->dtype, .to = nd->dtype, .scratch = x_malloc(x, SCRATCH)};
    if (!c.scratch) return wbr_oom_file(x->ctx, X_WHERE(x));
    rc = emit_node(x, nd->in[0], (sink){to_cast, &c});
    x_free(x, c.scratch);
    return rc;
  }
  case WBR_N_SLICE: {
    const wbr_node *in = nd->in[0];
    rc = materialize(x, in, &bytes, &owned);
    if (rc == 0)
      rc = wbr_slice_stream(s.fn, s.ud, bytes, wbr_dtype_size(in->dtype), in->ndim, in->shape, nd->axis,
                            nd->start, nd->len);
    if (rc == WBR_EUSAGE) rc = internal(x, "slice rejected by the kernel");
    buf_put(x, owned);
    return rc;
  }
  case WBR_N_PERMUTE: {
    const wbr_node *in = nd->in[0];
    rc = materialize(x, in, &bytes, &owned);
    if (rc) return rc;
    uint64_t n = node_bytes(nd);
    size_t es = wbr_dtype_size(in->dtype);
    uint8_t *dst = buf_get(x, (size_t)n);
    if (!dst) rc = wbr_fail(x->ctx, WBR_ENOMEM, X_WHERE(x), "free memory: a permuted tensor must fit in it",
                            "out of memory permuting %llu bytes", (unsigned long long)n);
    if (rc == 0 && !owned && n > PERMUTE_CHUNK && in->ndim > 0 && in->shape[0] > 1) {
      /* Straight from the mapping: permute slab by slab along the source's first axis and give
       * each slab's pages back once it is placed. */
      int j = 0;
      while (nd->perm[j] != 0) j++;
      uint64_t row = n / (uint64_t)in->shape[0];
      int64_t rows = row >= PERMUTE_CHUNK ? 1 : (int64_t)(PERMUTE_CHUNK / row);
      int64_t part[WBR_MAX_DIMS];
      memcpy(part, in->shape, sizeof part);
      for (int64_t r = 0; r < in->shape[0] && rc == 0; r += rows) {
        part[0] = in->shape[0] - r < rows ? in->shape[0] - r : rows;
        const uint8_t *from = bytes + (uint64_t)r * row;
        if (wbr_permute_put(dst, nd->shape, j, r, from, es, in->ndim, part, nd->perm) != 0)
          rc = internal(x, "permute rejected by the kernel");
        release_source(x, from, (size_t)(row * (uint64_t)part[0]));
      }
    } else if (rc == 0 && wbr_permute(dst, bytes, es, in->ndim, in->shape, nd->perm) != 0) {
      rc = internal(x, "permute rejected by the kernel");
    }
    buf_put(x, owned);
    if (rc == 0) rc = s.fn(s.ud, dst, (size_t)n);
    buf_put(x, dst);
    return rc;
  }
  case WBR_N_CONCAT: {
    /* When every axis before the joined one has size 1, the parts follow each other: stream
     * them one by one. Otherwise interleave spans of all parts. */
    bool sequential = true;
    for (int d = 0; d < nd->axis; d++) sequential = sequential && nd->shape[d] == 1;
    if (sequential) {
      for (size_t i = 0; i < nd->nin && rc == 0; i++) rc = emit_node(x, nd->in[i], s);
      return rc;
    }
    const void **parts = x_malloc(x, nd->nin * sizeof *parts);
    uint8_t **owns = x_malloc(x, nd->nin * sizeof *owns);
    int64_t *lens = x_malloc(x, nd->nin * sizeof *lens);
    if (!parts || !owns || !lens) rc = wbr_oom_file(x->ctx, X_WHERE(x));
    else memset(owns, 0, nd->nin * sizeof *owns);
    for (size_t i = 0; i < nd->nin && rc == 0; i++) {
      const uint8_t *pb;
      rc = materialize(x, nd->in[i], &pb, &owns[i]);
      parts[i] = pb;
      lens[i] = nd->in[i]->shape[nd->axis];
    }
    if (rc == 0 && wbr_concat_stream(s.fn, s.ud, wbr_dtype_size(nd->dtype), nd->ndim, nd->shape, nd->axis,
                                     nd->nin, parts, lens) != 0)
      rc = internal(x, "concat rejected by the kernel");
    for (size_t i = 0; owns && i < nd->nin; i++) buf_put(x, owns[i]);
    x_free(x, (void *)parts);
    x_free(x, owns);
    x_free(x, lens);
    return rc;
  }
  }
  return internal(x, "unknown node");
}

/* Threads for the pipeline's kernels: the options' (0, or options of version 1: the CPUs), at
 * most WBR_PIPE_MAX_THREADS. */
static unsigned apply_threads(const wbr_apply_options *opts) {
  unsigned n = opts->version >= 2 ? opts->threads : 0;
  if (n == 0) n = wbr_cpu_count();
  return n < WBR_PIPE_MAX_THREADS ? n : WBR_PIPE_MAX_THREADS;
}

/* wbr_apply_options of versions 1 and 2, as callers built against those headers lay them out:
 * they embed wbr_writer_options version 1, which has no `format` (version 1 ends at userdata). */
typedef struct writer_options_v1 {
  unsigned version;
  bool durable;
  uint64_t max_shard_bytes;
} writer_options_v1;
typedef struct apply_options_v2 {
  unsigned version;
  writer_options_v1 output;
  wbr_progress_fn progress;
  void *userdata;
  unsigned threads; /* version 2 */
  const char *const *metadata;
  size_t nmetadata;
} apply_options_v2;

/* The options in this header's layout: *opts itself, or an older struct copied into *tmp. The
 * embedded writer options' version tells the layouts apart (both start with the same fields):
 * only headers of wbr_writer_options version 1 laid out apply options of version 1 and 2 that
 * way; a newer caller that lowered the version keeps this layout. */
static const wbr_apply_options *apply_opts_now(const wbr_apply_options *opts, wbr_apply_options *tmp) {
  if (opts->version == 0 || opts->version >= 3 || opts->output.version != 1) return opts;
  const apply_options_v2 *old = (const apply_options_v2 *)(const void *)opts;
  *tmp = (wbr_apply_options)WBR_APPLY_OPTIONS_INIT;
  tmp->version = old->version;
  tmp->output.version = 1;
  tmp->output.durable = old->output.durable;
  tmp->output.max_shard_bytes = old->output.max_shard_bytes;
  tmp->progress = old->progress;
  tmp->userdata = old->userdata;
  if (old->version >= 2) {
    tmp->threads = old->threads;
    tmp->metadata = old->metadata;
    tmp->nmetadata = old->nmetadata;
  }
  return tmp;
}

int wbr_plan_apply(const wbr_plan *plan, wbr_ctx *ctx, const char *path, const char *const *protect,
                   const wbr_apply_options *opts) {
  static const wbr_apply_options defaults = WBR_APPLY_OPTIONS_INIT;
  if (!opts) opts = &defaults;
  if (!plan || !path) return WBR_EUSAGE;
  wbr_apply_options tmp;
  opts = apply_opts_now(opts, &tmp);
  int vrc = WBR_CHECK_VERSION(ctx, "wbr_plan_apply", opts, wbr_apply_options, WBR_APPLY_OPTIONS);
  if (!vrc) vrc = WBR_CHECK_VERSION(ctx, "wbr_plan_apply", &opts->output, wbr_writer_options, WBR_WRITER_OPTIONS);
  if (vrc) return vrc;
  if (plan->problems)
    return wbr_fail(ctx, WBR_EMAPPING, path, "fix the problems reported by `wbr check` first",
                    "not writing: the plan has %zu problem%s", plan->problems, plan->problems == 1 ? "" : "s");
  if (!plan->src->has_data)
    return wbr_fail(ctx, WBR_EFORMAT, path, "give a weight file as the source, not a manifest",
                    "the source has names and shapes but no tensor data to convert");
  wbr_tensorset *layout;
  int rc = wbr_tensorset_new(&layout, ctx);
  if (rc) return rc;
  uint64_t total = 0;
  for (size_t i = 0; i < plan->nout && rc == 0; i++) {
    const wbr_value *v = &plan->out[i];
    rc = wbr_tensorset_add(layout, v->name, v->node->dtype, v->node->ndim, v->node->shape, NULL);
    if (rc == 0 && v->node->kind == WBR_N_SOURCE && plan->src->t[v->node->src].opaque.type) {
      /* Opaque bytes pass through: the output keeps their encoding and logical shape. */
      layout->t[layout->n - 1].opaque = plan->src->t[v->node->src].opaque;
    }
    total += node_bytes(v->node);
  }
  uint64_t *src_offset = rc == 0 ? wbr_copy_offsets(plan) : NULL; /* the writer's alignment hint */
  layout->src_offset = src_offset;
  if (rc == 0) rc = wbr_apply_meta(layout, ctx, plan, path, opts); /* source < target < --metadata */
  char hash[32];
  snprintf(hash, sizeof hash, "%016llx", (unsigned long long)wbr_program_hash(plan->prog));
  const char *rules = wbr_program_source(plan->prog);
  if (rc == 0) rc = wbr_tensorset_meta_set(layout, "weightbridge.version", WBR_VERSION);
  if (rc == 0) rc = wbr_tensorset_meta_set(layout, "weightbridge.rules_hash", hash);
  /* The file name only: a local path would leak into published checkpoints. */
  const char *base = rules ? strrchr(rules, '/') : NULL;
  base = base ? base + 1 : rules;
  if (rc == 0 && base && *base) rc = wbr_tensorset_meta_set(layout, "weightbridge.rules", base);
  /* Every file the source and target sets read (shards, FILE of FILE#KEY) and the caller's
   * paths, by identity: the output replaces none of them. */
  wbr_file_ids ids = {0};
  if (rc == 0 && (wbr_ts_file_ids(plan->src, &ids) != 0 || wbr_ts_file_ids(plan->target, &ids) != 0))
    rc = wbr_oom(ctx);
  for (size_t i = 0; rc == 0 && protect && protect[i]; i++)
    if (wbr_file_ids_add_path(&ids, protect[i]) != 0) rc = wbr_oom(ctx);
  wbr_writer *w = NULL;
  if (rc == 0) rc = wbr_writer_open_ids(&w, ctx, path, layout, &ids, &opts->output);
  wbr_file_ids_free(&ids);
  /* After open, so that naming an input as the output is reported as such first. */
  if (rc == 0 && !w->fmt->has_data)
    rc = wbr_fail(ctx, WBR_EFORMAT, path, "name the output .safetensors; for a manifest of the result use `wbr inspect OUT --json`",
                  "a %s holds no tensor data: cannot write the converted weights to it", w->fmt->name);
  exec x = {.ctx = ctx, .plan = plan, .w = w, .pipe = {.src = plan->src, .threads = apply_threads(opts)}};
  bool caught = rc == 0;
  if (caught) bus_catch(true);
  if (rc == 0) rc = check_size(&x, plan->src, false);
  uint64_t done = 0, since_release = 0;
  for (size_t i = 0; i < plan->nout && rc == 0; i++) {
    const wbr_value *v = &plan->out[i];
    rc = emit_guarded(&x, v->node, NULL);
    uint64_t n = node_bytes(v->node);
    done += n;
    since_release += n;
    if ((since_release >= RELEASE_EVERY || n >= RELEASE_EVERY / 4) && plan->src->map_base) {
      madvise(plan->src->map_base, plan->src->map_len, MADV_DONTNEED);
      since_release = 0;
    }
    if (rc == 0 && opts->progress) opts->progress(opts->userdata, i + 1, plan->nout, done, total);
  }
  if (rc == 0) rc = check_size(&x, plan->src, false);
  if (caught) bus_catch(false);
  if (rc == 0) rc = wbr_writer_commit(w);
  wbr_writer_free(w);
  for (int i = 0; i < POOL; i++) big_free(x.buf[i], x.cap[i]);
  wbr_pipe_free(&x.pipe);
  free(x.live);
  wbr_tensorset_free(layout);
  free(src_offset);
  return rc;
}

/* ---- In-memory outputs (wbr_plan_apply_memory, wbr_tensorset_read) ------------------------
 * The same nodes as above, but each output goes into the caller's buffer. A permute or a lazy
 * source that is the output's last step is made straight there (no full-size temporary); any
 * other node streams into it through the memory sink. */

static int emit_into(exec *x, const wbr_node *nd, uint8_t *dst) {
  if (nd->kind == WBR_N_RESHAPE) return emit_into(x, nd->in[0], dst);
  if (wbr_pipe_takes(&x->pipe, nd)) return emit_piped(x, nd, (sink){NULL, NULL}, dst);
  if (nd->kind == WBR_N_SOURCE && x->plan->src->t[nd->src].lazy)
    return wbr_tensor_fill(x->ctx, &x->plan->src->t[nd->src], dst);
  if (nd->kind == WBR_N_PERMUTE) {
    const wbr_node *in = nd->in[0];
    const uint8_t *bytes;
    uint8_t *owned;
    int rc = materialize(x, in, &bytes, &owned);
    if (rc == 0 && wbr_permute(dst, bytes, wbr_dtype_size(in->dtype), in->ndim, in->shape, nd->perm) != 0)
      rc = internal(x, "permute rejected by the kernel");
    buf_put(x, owned);
    return rc;
  }
  uint64_t n = node_bytes(nd);
  membuf m = {.p = dst, .cap = (size_t)n};
  int rc = emit_node(x, nd, (sink){to_memory, &m});
  if (rc == WBR_EINTERNAL || (rc == 0 && m.len != n)) rc = internal(x, "a tensor's bytes do not match its shape");
  return rc;
}

/* The first source tensor under nd that has neither bytes nor a way to make them (a set built
 * with wbr_tensorset_add where some tensors got NULL data), or NULL. */
static const wbr_tensor *without_data(const wbr_tensorset *src, const wbr_node *nd) {
  if (nd->kind == WBR_N_SOURCE) {
    const wbr_tensor *t = &src->t[nd->src];
    return t->nbytes && !t->data && !t->lazy ? t : NULL;
  }
  for (size_t i = 0; i < nd->nin; i++) {
    const wbr_tensor *t = without_data(src, nd->in[i]);
    if (t) return t;
  }
  return NULL;
}

int wbr_plan_get(const wbr_plan *plan, size_t i, wbr_tensor_info *out) {
  if (!plan || !out || i >= plan->nout) return WBR_EUSAGE;
  const wbr_value *v = &plan->out[i];
  const wbr_node *nd = v->node;
  memset(out, 0, sizeof *out);
  out->name = v->name;
  out->dtype = nd->dtype;
  out->ndim = nd->ndim;
  out->shape = nd->shape;
  out->nelem = 1;
  wbr_shape_nelem(nd->ndim, nd->shape, &out->nelem);
  out->nbytes = node_bytes(nd);
  if (nd->kind == WBR_N_SOURCE && plan->src->t[nd->src].opaque.type) {
    const wbr_opaque *q = &plan->src->t[nd->src].opaque;
    out->quantized = q->type;
    out->quant_ndim = q->ndim;
    out->quant_shape = q->shape;
  }
  return 0;
}

/* The checks wbr_plan_apply makes before it writes anything, for the memory route. */
static int memory_refusals(const wbr_plan *plan, wbr_ctx *ctx) {
  if (plan->problems)
    return wbr_fail(ctx, WBR_EMAPPING, "memory output", "fix the problems reported by `wbr check` first",
                    "not applying: the plan has %zu problem%s", plan->problems, plan->problems == 1 ? "" : "s");
  if (!plan->src->has_data)
    return wbr_fail(ctx, WBR_EFORMAT, "memory output", "give a weight file as the source, not a manifest",
                    "the source has names and shapes but no tensor data to convert");
  for (size_t i = 0; i < plan->nout; i++) {
    const wbr_tensor *t = without_data(plan->src, plan->out[i].node);
    if (t)
      return wbr_fail(ctx, WBR_EFORMAT, plan->out[i].name, "give every source tensor its bytes",
                      "source tensor '%s' has no data", t->name);
  }
  return 0;
}

int wbr_plan_apply_memory(const wbr_plan *plan, wbr_ctx *ctx, wbr_buffer_fn fn, void *userdata,
                          const wbr_apply_options *opts) {
  static const wbr_apply_options defaults = WBR_APPLY_OPTIONS_INIT;
  if (!opts) opts = &defaults;
  if (!plan || !fn) return WBR_EUSAGE;
  wbr_apply_options tmp;
  opts = apply_opts_now(opts, &tmp);
  int rc = WBR_CHECK_VERSION(ctx, "wbr_plan_apply_memory", opts, wbr_apply_options, WBR_APPLY_OPTIONS);
  if (rc == 0) rc = memory_refusals(plan, ctx);
  if (rc) return rc;
  uint64_t total = 0, done = 0;
  for (size_t i = 0; i < plan->nout; i++) total += node_bytes(plan->out[i].node);
  exec x = {.ctx = ctx, .plan = plan, .where = "memory output",
            .pipe = {.src = plan->src, .threads = apply_threads(opts)}};
  bus_catch(true);
  rc = check_size(&x, plan->src, false);
  for (size_t i = 0; i < plan->nout && rc == 0; i++) {
    wbr_tensor_info info;
    wbr_plan_get(plan, i, &info);
    x.where = info.name;
    uint8_t *dst = fn(userdata, i, &info);
    if (!dst) {
      rc = wbr_fail(ctx, WBR_EUSAGE, info.name, "the buffer callback returned NULL",
                    "apply stopped: no buffer for output %zu of %zu", i + 1, plan->nout);
      break;
    }
    if (info.nbytes) rc = emit_guarded(&x, plan->out[i].node, dst);
    done += info.nbytes;
    if (rc == 0 && opts->progress) opts->progress(opts->userdata, i + 1, plan->nout, done, total);
  }
  if (rc == 0) rc = check_size(&x, plan->src, false);
  bus_catch(false);
  for (int i = 0; i < POOL; i++) big_free(x.buf[i], x.cap[i]);
  wbr_pipe_free(&x.pipe);
  free(x.live);
  return rc;
}

int wbr_tensorset_read(const wbr_tensorset *ts, wbr_ctx *ctx, size_t i, void *dst) {
  if (!ts || !dst || i >= ts->n) return WBR_EUSAGE;
  const wbr_tensor *t = &ts->t[i];
  if (!t->nbytes) return 0;
  if (!t->data && !t->lazy)
    return wbr_fail(ctx, WBR_EFORMAT, ts->path, "read the tensors from a weight file, not a manifest",
                    "tensor '%s' has no data", t->name);
  wbr_plan fake = {.src = ts};
  exec x = {.ctx = ctx, .plan = &fake, .where = ts->path};
  sigjmp_buf jb;
  bus_catch(true);
  int rc;
  if (sigsetjmp(jb, 1)) {
    bus_jump = NULL;
    const wbr_tensorset *m = mapping_of(ts, bus_addr);
    rc = check_size(&x, m ? m : ts, true);
  } else {
    bus_jump = &jb;
    rc = wbr_tensor_fill(ctx, t, dst);
    bus_jump = NULL;
  }
  bus_catch(false);
  return rc;
}
