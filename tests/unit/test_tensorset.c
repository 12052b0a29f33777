/* test_tensorset.c — the tensor set: order, lookup, duplicates, overflow, metadata; the
 * string map and buffer it stands on; diagnostics formatting; many metadata keys; FIFOs refused;
 * the identities of the files a set read. */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "../../base/tensorset.h"
#include "harness.h"

TEST(tensorset_keeps_order_and_finds_names) {
  wbr_ctx *ctx;
  wbr_tensorset *ts;
  CHECK_INT(wbr_ctx_new(&ctx, NULL, NULL), 0);
  CHECK_INT(wbr_tensorset_new(&ts, ctx), 0);
  char name[32];
  int64_t shape[2] = {3, 4};
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "layers.%d.weight", 999 - i);
    CHECK_INT(wbr_tensorset_add(ts, name, WBR_F16, 2, shape, NULL), 0);
  }
  CHECK_INT(wbr_tensorset_count(ts), 1000);
  wbr_tensor_info t;
  CHECK_INT(wbr_tensorset_get(ts, 0, &t), 0);
  CHECK_STR(t.name, "layers.999.weight");
  CHECK_INT(t.nelem, 12);
  CHECK_INT(t.nbytes, 24);
  CHECK_INT(wbr_tensorset_find(ts, "layers.0.weight"), 999);
  CHECK_INT(wbr_tensorset_find(ts, "layers.1000.weight"), -1);
  CHECK_INT(wbr_tensorset_get(ts, 1000, &t), WBR_EUSAGE);
  CHECK_INT(wbr_tensorset_has_data(ts), 0);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(tensorset_rejects_duplicates_and_overflow) {
  wbr_ctx *ctx;
  wbr_tensorset *ts;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset_new(&ts, ctx);
  int64_t s1[1] = {5};
  CHECK_INT(wbr_tensorset_add(ts, "a", WBR_F32, 1, s1, NULL), 0);
  CHECK_INT(wbr_tensorset_add(ts, "a", WBR_F32, 1, s1, NULL), WBR_EFORMAT);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), "tensor 'a' is already in the set");
  int64_t big[3] = {1ll << 30, 1ll << 30, 1ll << 30};
  CHECK_INT(wbr_tensorset_add(ts, "big", WBR_F32, 3, big, NULL), WBR_EFORMAT);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), "more elements than fit in 64 bits");
  int64_t neg[1] = {-1};
  CHECK_INT(wbr_tensorset_add(ts, "neg", WBR_F32, 1, neg, NULL), WBR_EFORMAT);
  CHECK_INT(wbr_tensorset_count(ts), 1);
  CHECK_INT(wbr_ctx_error_count(ctx), 3);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(tensorset_scalar_and_metadata) {
  /* Metadata leads the manifest so it survives a round trip. */
  wbr_ctx *ctx;
  wbr_tensorset *ts;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset_new(&ts, ctx);
  static const double one = 1.0;
  CHECK_INT(wbr_tensorset_add(ts, "scale", WBR_F64, 0, NULL, &one), 0);
  wbr_tensor_info t;
  wbr_tensorset_get(ts, 0, &t);
  CHECK_INT(t.nelem, 1);
  CHECK_INT(t.nbytes, 8);
  CHECK(t.data == &one);
  CHECK_INT(wbr_tensorset_has_data(ts), 1);
  CHECK_INT(wbr_tensorset_meta_set(ts, "format", "pt"), 0);
  CHECK_INT(wbr_tensorset_meta_set(ts, "b", "2"), 0);
  CHECK_INT(wbr_tensorset_meta_set(ts, "format", "np"), 0);
  CHECK_INT(wbr_tensorset_meta_count(ts), 2);
  const char *k, *v;
  wbr_tensorset_meta_get(ts, 0, &k, &v);
  CHECK_STR(k, "format");
  CHECK_STR(v, "np");
  char *m = wbr_tensorset_to_manifest(ts);
  CHECK_STR(m, "{\"metadata\": {\"format\": \"np\", \"b\": \"2\"},\n "
               "\"tensors\": {\n  \"scale\": {\"shape\": [], \"dtype\": \"F64\"}\n}}\n");
  free(m);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

TEST(open_unknown_extension_says_what_to_do) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset *ts = (wbr_tensorset *)1;
  CHECK_INT(wbr_tensorset_open(&ts, ctx, "model.xyz"), WBR_EFORMAT);
  CHECK(ts == NULL);
  CHECK_CONTAINS(wbr_ctx_last_error(ctx), "unknown file type");
  wbr_ctx_free(ctx);
}

TEST(dtype_names_sizes_parse) {
  wbr_dtype d;
  CHECK_INT(wbr_dtype_parse(&d, "bf16", 4), 0);
  CHECK_INT(d, WBR_BF16);
  CHECK_STR(wbr_dtype_name(d), "BF16");
  CHECK_INT(wbr_dtype_size(WBR_F8_E5M2), 1);
  CHECK_INT(wbr_dtype_size(WBR_I64), 8);
  CHECK_INT(wbr_dtype_parse(&d, "F3", 2), -1);
  CHECK_INT(wbr_dtype_parse(&d, "F32x", 4), -1);
  CHECK_STR(wbr_dtype_name(WBR_DTYPE_COUNT), "?");
}

TEST(map_grows_and_finds) {
  wbr_map m;
  wbr_map_init(&m);
  static char keys[5000][16];
  for (int i = 0; i < 5000; i++) {
    snprintf(keys[i], sizeof keys[i], "k%d", i);
    CHECK_INT(wbr_map_put(&m, keys[i], (size_t)i, NULL), 0);
  }
  size_t v = 0, old = 0;
  CHECK_INT(wbr_map_put(&m, "k42", 7, &old), 1);
  CHECK_INT(old, 42);
  CHECK(wbr_map_get(&m, "k4999", &v) && v == 4999);
  CHECK(!wbr_map_get(&m, "k5000", &v));
  wbr_map_free(&m);
}

static void record(void *ud, const wbr_diag *d) {
  char **out = ud;
  free(*out);
  *out = wbr_diag_format(d);
}

TEST(diag_format_has_position_caret_and_help) {
  wbr_ctx *ctx;
  char *text = NULL;
  wbr_ctx_new(&ctx, record, &text);
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = "r.wbr", .line = 3, .col = 8,
                .message = "unknown statement 'renme'", .source_line = "  \tx = renme",
                .span = 5, .help = "did you mean 'rename'?"};
  CHECK_INT(wbr_report(ctx, WBR_EFORMAT, &d), WBR_EFORMAT);
  CHECK_STR(text, "r.wbr:3:8: error: unknown statement 'renme'\n"
                  "    \tx = renme\n"
                  "    \t    ^~~~~\n"
                  "  help: did you mean 'rename'?\n");
  CHECK_STR(wbr_ctx_last_error(ctx), "unknown statement 'renme'");
  free(text);
  wbr_ctx_free(ctx);
}

TEST(map_delete_keeps_every_other_key_findable) {
  /* Backward-shift deletion must never lose a key further down a probe run. */
  wbr_map m;
  wbr_map_init(&m);
  static char keys[3000][16];
  for (int i = 0; i < 3000; i++) {
    snprintf(keys[i], sizeof keys[i], "t%d", i);
    CHECK_INT(wbr_map_put(&m, keys[i], (size_t)i, NULL), 0);
  }
  for (int i = 0; i < 3000; i += 3) CHECK_INT(wbr_map_del(&m, keys[i]), 1);
  CHECK_INT(wbr_map_del(&m, keys[0]), 0);
  CHECK_INT(m.len, 2000);
  for (int i = 0; i < 3000; i++) {
    size_t v = 0;
    int found = wbr_map_get(&m, keys[i], &v);
    if (i % 3 == 0) CHECK(!found);
    else CHECK(found && v == (size_t)i);
  }
  wbr_map_free(&m);
}

/* Metadata insertion is O(1) (a hash map): 200,000 keys, replacements in place, order kept. */
TEST(tensorset_many_metadata_keys) {
  wbr_ctx *ctx;
  wbr_tensorset *ts;
  wbr_ctx_new(&ctx, NULL, NULL);
  wbr_tensorset_new(&ts, ctx);
  char k[32];
  clock_t t0 = clock();
  for (int i = 0; i < 200000; i++) {
    snprintf(k, sizeof k, "k%d", i);
    if (wbr_tensorset_meta_set(ts, k, "v") != 0) break;
  }
  CHECK_INT(wbr_tensorset_meta_set(ts, "k7", "seven"), 0);
  double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
  CHECK(s < 5.0); /* was minutes: every insertion scanned every key */
  CHECK_INT(wbr_tensorset_meta_count(ts), 200000);
  const char *key, *val;
  wbr_tensorset_meta_get(ts, 7, &key, &val);
  CHECK_STR(key, "k7");
  CHECK_STR(val, "seven");
  CHECK_INT(wbr_ts_meta_find(ts, "k199999"), 199999);
  CHECK_INT(wbr_ts_meta_find(ts, "nope"), -1);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}

/* Opening refuses a FIFO at once (O_NONBLOCK, fstat) instead of waiting for a writer; the set
 * records the identity of the file it read. */
TEST(tensorset_fifo_refused_identity_kept) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  const char *fifo = test_path("f.safetensors");
  CHECK_INT(mkfifo(fifo, 0600), 0);
  wbr_tensorset *ts = NULL;
  CHECK_INT(wbr_tensorset_open(&ts, ctx, fifo), WBR_EFORMAT);
  CHECK_STR(wbr_ctx_last_error(ctx), "the file is a FIFO (named pipe), not a regular file");
  char *text = NULL;
  size_t len = 0;
  CHECK_INT(wbr_read_file(ctx, fifo, &text, &len), WBR_EFORMAT);
  CHECK(text == NULL);
  const char *man = test_path("m.json");
  FILE *f = fopen(man, "w");
  if (f) {
    fputs("{\"tensors\": {\"a\": {\"shape\": [2], \"dtype\": \"F32\"}}}", f);
    fclose(f);
  }
  CHECK_INT(wbr_tensorset_open(&ts, ctx, man), 0);
  struct stat st;
  CHECK_INT(stat(man, &st), 0);
  wbr_file_ids ids = {0};
  CHECK_INT(wbr_ts_file_ids(ts, &ids), 0);
  CHECK_INT(ids.n, 1);
  CHECK(ids.n == 1 && ids.v[0].dev == st.st_dev && ids.v[0].ino == st.st_ino);
  wbr_file_ids_free(&ids);
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
}
