/* cmd_inspect.c — `wbr inspect FILE [--json]`: the tensors of a weight file or manifest, read
 * from the header only. --json prints a manifest usable as a target (`-t`). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A quantized tensor is shown with its type and logical shape (its bytes are U8 [nbytes]). */
static int shape_text(char *buf, size_t n, const wbr_tensor_info *t) {
  int nd = t->quantized ? t->quant_ndim : t->ndim;
  const int64_t *sh = t->quantized ? t->quant_shape : t->shape;
  int k = snprintf(buf, n, "[");
  for (int d = 0; d < nd && (size_t)k < n; d++)
    k += snprintf(buf + k, n - (size_t)k, "%s%" PRId64, d ? ", " : "", sh[d]);
  if ((size_t)k < n) k += snprintf(buf + k, n - (size_t)k, "]");
  return k;
}

static void print_table(const char *path, const wbr_tensorset *ts) {
  size_t n = wbr_tensorset_count(ts);
  int wname = 4, wshape = 5;
  uint64_t params = 0, bytes = 0;
  char shape[256];
  for (size_t i = 0; i < n; i++) {
    wbr_tensor_info t;
    wbr_tensorset_get(ts, i, &t);
    int l = (int)strlen(t.name);
    if (l > wname) wname = l;
    int k = shape_text(shape, sizeof shape, &t);
    if (k > wshape) wshape = k;
    uint64_t ne = t.nelem;
    if (t.quantized)
      for (int d = 0; d < t.quant_ndim; d++) ne = d ? ne * (uint64_t)t.quant_shape[d] : (uint64_t)t.quant_shape[0];
    params += ne;
    bytes += t.nbytes;
  }
  if (wname > 80) wname = 80;
  printf("%s: %s, %zu tensors, %" PRIu64 " parameters, %" PRIu64 " bytes\n", path,
         wbr_tensorset_format(ts), n, params, bytes);
  printf("%-*s  %-7s  %-*s  %12s\n", wname, "name", "dtype", wshape, "shape", "bytes");
  for (size_t i = 0; i < n; i++) {
    wbr_tensor_info t;
    wbr_tensorset_get(ts, i, &t);
    shape_text(shape, sizeof shape, &t);
    printf("%-*s  %-7s  %-*s  %12" PRIu64 "\n", wname, t.name, t.quantized ? t.quantized : wbr_dtype_name(t.dtype), wshape,
           shape, t.nbytes);
  }
  size_t nm = wbr_tensorset_meta_count(ts);
  for (size_t i = 0; i < nm; i++) {
    const char *k, *v;
    wbr_tensorset_meta_get(ts, i, &k, &v);
    printf("metadata: %s = %s\n", k, v);
  }
}

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0)
      json = true;
    else if (argv[i][0] == '-' && argv[i][1])
      return cli_usage("inspect", "unknown option '%s'", argv[i]);
    else if (path)
      return cli_usage("inspect", "one FILE only (got '%s' and '%s')", path, argv[i]);
    else
      path = argv[i];
  }
  if (!path) return cli_usage("inspect", "FILE is missing");
  wbr_ctx *ctx = cli_ctx();
  wbr_tensorset *ts;
  int rc = wbr_tensorset_open(&ts, ctx, path);
  if (rc == 0) {
    if (json) {
      char *s = wbr_tensorset_to_manifest(ts);
      if (s) fputs(s, stdout);
      else rc = WBR_ENOMEM, fputs("wbr: out of memory\n", stderr);
      wbr_free(s);
    } else {
      print_table(path, ts);
    }
  }
  wbr_tensorset_free(ts);
  wbr_ctx_free(ctx);
  if (fflush(stdout) != 0) {
    perror("wbr inspect: writing output");
    return EXIT_INPUT;
  }
  return cli_exit(rc);
}
