/* compile.c — the public compiler entry points: .wbr source (or a .wbr file) -> parse -> check
 * -> emit -> a verified wbr_program. Parsing keeps going after a syntax error and the checker
 * still looks at the statements that parsed, so one run reports every problem it can. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emit.h"
#include "frontend.h"

#define WBR_MAX_SOURCE (64u << 20) /* a rule file larger than this is certainly not one */

int wbr_program_compile(wbr_program **out, wbr_ctx *ctx, const char *name, const char *src,
                        size_t len) {
  if (!out) return wbr_fail(ctx, WBR_EUSAGE, name, NULL, "wbr_program_compile: NULL argument");
  *out = NULL;
  if (!src && len) return wbr_fail(ctx, WBR_EUSAGE, name, NULL, "wbr_program_compile: NULL source");
  if (!name) name = "<memory>";
  if (len > WBR_MAX_SOURCE)
    return wbr_fail(ctx, WBR_EINPUT, name, NULL, "rule file of %zu bytes exceeds the limit of %u",
                    len, WBR_MAX_SOURCE);
  wbr_ast_file *f = NULL;
  int prc = wbr_parse_partial(&f, ctx, name, src ? src : "", len);
  if (!f) return prc ? prc : wbr_oom(ctx);
  int crc = wbr_check(f, ctx);
  int rc = prc ? prc : crc;
  if (rc == 0) rc = wbr_emit(out, ctx, f);
  wbr_ast_free(f);
  return rc;
}

int wbr_program_compile_file(wbr_program **out, wbr_ctx *ctx, const char *path) {
  if (!out || !path)
    return wbr_fail(ctx, WBR_EUSAGE, path, NULL, "wbr_program_compile_file: NULL argument");
  *out = NULL;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return wbr_fail_errno(ctx, path, "cannot open the rule file");
  struct stat st;
  int src_rc = 0;
  if (fstat(fd, &st) != 0)
    src_rc = wbr_fail_errno(ctx, path, "cannot read the rule file");
  else if (!S_ISREG(st.st_mode))
    src_rc = wbr_fail(ctx, WBR_EINPUT, path, "give the path of a .wbr file",
                      S_ISDIR(st.st_mode) ? "is a directory, not a rule file"
                                          : "is not a regular file");
  if (src_rc) {
    close(fd);
    return src_rc;
  }
  if ((uint64_t)st.st_size > WBR_MAX_SOURCE) {
    close(fd);
    return wbr_fail(ctx, WBR_EINPUT, path, NULL, "rule file of %lld bytes exceeds the limit of %u",
                    (long long)st.st_size, WBR_MAX_SOURCE);
  }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *src = malloc(cap);
  if (!src) {
    close(fd);
    return wbr_oom(ctx);
  }
  for (;;) {
    ssize_t r = read(fd, src + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int rc = wbr_fail_errno(ctx, path, "cannot read the rule file");
      free(src);
      close(fd);
      return rc;
    }
    if (r == 0) break;
    len += (size_t)r;
    if (len == cap) { /* the file grew while we read it: that is as far as we go */
      if (cap > WBR_MAX_SOURCE) break;
      char *n = realloc(src, cap * 2);
      if (!n) {
        free(src);
        close(fd);
        return wbr_oom(ctx);
      }
      src = n;
      cap *= 2;
    }
  }
  close(fd);
  int rc = wbr_program_compile(out, ctx, path, src, len);
  free(src);
  return rc;
}
