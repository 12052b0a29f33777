/* driver.c — a command-line shell around the apply kernels for tests/ops/check.py: reads raw
 * input bytes from files, runs one kernel, writes the raw output. Inputs are loaded at an odd
 * address on purpose (the kernels must not assume alignment, as with a memory-mapped file).
 *   driver cast FROM TO IN OUT
 *   driver permute ESIZE SHAPE PERM IN OUT            SHAPE "2,3,4", PERM "2,0,1"
 *   driver slice ESIZE SHAPE AXIS START LEN IN OUT     (through wbr_slice_stream)
 *   driver concat ESIZE OUTSHAPE AXIS LENS OUT IN...   (through wbr_concat_stream)
 * Exit 0 on success, 1 when a kernel refuses, 2 on usage or I/O errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/kernels.h"

/* The file's bytes at an odd address; free with free(p - 1). */
static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)n + 2);
  if (!p || fread(p + 1, 1, (size_t)n, f) != (size_t)n) {
    perror(path);
    exit(2);
  }
  fclose(f);
  *len = (size_t)n;
  return p + 1; /* deliberately misaligned */
}

static int parse_list(int64_t *out, const char *s) {
  int n = 0;
  while (*s && n < WBR_MAX_DIMS) {
    char *end;
    out[n++] = strtoll(s, &end, 10);
    s = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') break;
  }
  return n;
}

static int dtype(const char *s) {
  wbr_dtype t;
  if (wbr_dtype_parse(&t, s, strlen(s)) != 0) {
    fprintf(stderr, "unknown dtype %s\n", s);
    exit(2);
  }
  return (int)t;
}

static int emit_file(void *ud, const void *bytes, size_t len) {
  return fwrite(bytes, 1, len, (FILE *)ud) == len ? 0 : WBR_EIO;
}

static void spit(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
    perror(path);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *op = argv[1];
  size_t len;
  if (!strcmp(op, "cast") && argc == 6) {
    wbr_dtype from = (wbr_dtype)dtype(argv[2]), to = (wbr_dtype)dtype(argv[3]);
    unsigned char *in = slurp(argv[4], &len);
    size_t n = len / wbr_dtype_size(from);
    unsigned char *out = malloc(n * wbr_dtype_size(to) + 1);
    int rc = wbr_cast(out + 1, to, in, from, n);
    if (rc == 0) spit(argv[5], out + 1, n * wbr_dtype_size(to));
    free(in - 1);
    free(out);
    return rc == 0 ? 0 : 1;
  }
  if (!strcmp(op, "permute") && argc == 7) {
    size_t es = (size_t)atoi(argv[2]);
    int64_t shape[WBR_MAX_DIMS], p64[WBR_MAX_DIMS];
    int nd = parse_list(shape, argv[3]), np = parse_list(p64, argv[4]);
    int perm[WBR_MAX_DIMS];
    for (int i = 0; i < np; i++) perm[i] = (int)p64[i];
    if (!strcmp(argv[3], "")) nd = 0, np = 0;
    if (nd != np) return 2;
    unsigned char *in = slurp(argv[5], &len);
    unsigned char *out = malloc(len + 1);
    int rc = wbr_permute(out + 1, in, es, nd, shape, perm);
    if (rc == 0) spit(argv[6], out + 1, len);
    free(in - 1);
    free(out);
    return rc == 0 ? 0 : 1;
  }
  if (!strcmp(op, "slice") && argc == 9) {
    size_t es = (size_t)atoi(argv[2]);
    int64_t shape[WBR_MAX_DIMS];
    int nd = parse_list(shape, argv[3]);
    unsigned char *in = slurp(argv[7], &len);
    FILE *f = fopen(argv[8], "wb");
    if (!f) return 2;
    int rc = wbr_slice_stream(emit_file, f, in, es, nd, shape, atoi(argv[4]), atoll(argv[5]),
                              atoll(argv[6]));
    free(in - 1);
    if (fclose(f) != 0) return 2;
    return rc == 0 ? 0 : 1;
  }
  if (!strcmp(op, "concat") && argc >= 8) {
    size_t es = (size_t)atoi(argv[2]);
    int64_t shape[WBR_MAX_DIMS], lens[WBR_MAX_DIMS];
    int nd = parse_list(shape, argv[3]);
    int nl = parse_list(lens, argv[5]);
    if (nl != argc - 7) return 2;
    const void *parts[WBR_MAX_DIMS];
    for (int i = 0; i < nl; i++) parts[i] = slurp(argv[7 + i], &len);
    FILE *f = fopen(argv[6], "wb");
    if (!f) return 2;
    int rc = wbr_concat_stream(emit_file, f, es, nd, shape, atoi(argv[4]), (size_t)nl, parts, lens);
    for (int i = 0; i < nl; i++) free((unsigned char *)parts[i] - 1);
    if (fclose(f) != 0) return 2;
    return rc == 0 ? 0 : 1;
  }
  fprintf(stderr, "usage: see driver.c\n");
  return 2;
}
