/* compile.c — the public compiler entry points: .wbr source (or a .wbr file) -> parse -> check
 * -> emit -> a verified wbr_program, and source -> parse -> check -> canonical text (`wbr fmt`).
 * Parsing keeps going after a syntax error and the checker still looks at the statements that
 * parsed, so one run reports every problem it can. */
#include <stdlib.h>

#include "emit.h"
#include "frontend.h"
#include "base/io.h"

#define WBR_MAX_SOURCE (64u << 20) /* a rule file larger than this is certainly not one */

int wbr_parse_checked(wbr_ast_file **out, wbr_ctx *ctx, const char *name, const char *src,
                      size_t len) {
  *out = NULL;
  if (!src && len) return wbr_fail(ctx, WBR_EUSAGE, name, NULL, "wbr_program_compile: NULL source");
  if (!name) name = "<memory>";
  if (len > WBR_MAX_SOURCE)
    return wbr_fail(ctx, WBR_ERULES, name, NULL, "rule file of %zu bytes exceeds the limit of %u",
                    len, WBR_MAX_SOURCE);
  wbr_ast_file *f = NULL;
  int prc = wbr_parse_partial(&f, ctx, name, src ? src : "", len);
  if (!f) return prc ? prc : wbr_oom(ctx);
  int crc = wbr_check(f, ctx);
  int rc = prc ? prc : crc;
  if (rc) wbr_ast_free(f);
  else *out = f;
  return rc;
}

int wbr_program_compile(wbr_program **out, wbr_ctx *ctx, const char *name, const char *src,
                        size_t len) {
  if (!out) return wbr_fail(ctx, WBR_EUSAGE, name, NULL, "wbr_program_compile: NULL argument");
  *out = NULL;
  wbr_ast_file *f = NULL;
  int rc = wbr_parse_checked(&f, ctx, name, src, len);
  if (rc == 0) rc = wbr_emit(out, ctx, f);
  wbr_ast_free(f);
  return rc;
}

int wbr_program_compile_file(wbr_program **out, wbr_ctx *ctx, const char *path) {
  if (!out || !path)
    return wbr_fail(ctx, WBR_EUSAGE, path, NULL, "wbr_program_compile_file: NULL argument");
  *out = NULL;
  /* A regular file only: a FIFO or a device named as the rules must not block the run. */
  char *src = NULL;
  size_t len = 0;
  int src_rc = wbr_io_read_file(ctx, path, "rule file", WBR_MAX_SOURCE, &src, &len);
  /* The reader refuses a file of the wrong kind or size as a bad file; here it is bad rules. */
  if (src_rc == WBR_EFORMAT) src_rc = WBR_ERULES;
  if (src_rc) return src_rc;
  int rc = wbr_program_compile(out, ctx, path, src, len);
  free(src);
  return rc;
}

/* `wbr fmt`: parse, check, print canonically (fmt.c). Here rather than in fmt.c, so that the
 * printer stays below the checker (check.c keys duplicates by canonical text). */
int wbr_rules_format(char **out, wbr_ctx *ctx, const char *name, const char *src, size_t len) {
  if (!out || (!src && len)) return WBR_EUSAGE;
  *out = NULL;
  wbr_ast_file *f = NULL;
  int rc = wbr_parse_partial(&f, ctx, name, src ? src : "", len);
  if (!f) return rc;
  /* Check what parsed even after a syntax error, so one run shows every problem. */
  int crc = wbr_check(f, ctx);
  if (rc == 0) rc = crc;
  if (rc == 0) {
    wbr_buf b;
    wbr_buf_init(&b);
    wbr_fmt_ast(f, &b);
    *out = wbr_buf_take(&b);
    if (!*out) rc = wbr_oom(ctx);
  }
  wbr_ast_free(f);
  return rc;
}
