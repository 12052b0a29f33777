/* test_report.c — base/util.c's one diagnostic formatter, wbr_vreport, that wbr_fail, the
 * compiler, the VM and the loaders format through: the prefix in d->message comes first, every
 * other field of d is kept, a long message is cut at WBR_MSG_MAX - 1 bytes, and only errors
 * count and return the code. */
#include <stdarg.h>
#include <stdlib.h>

#include "../../base/util.h"
#include "harness.h"

typedef struct seen {
  int n;
  wbr_diag d;
  char msg[WBR_MSG_MAX + 8];
  char file[64], help[64];
} seen;

static void keep(void *ud, const wbr_diag *d) {
  seen *s = ud;
  s->n++;
  s->d = *d;
  snprintf(s->msg, sizeof s->msg, "%s", d->message);
  snprintf(s->file, sizeof s->file, "%s", d->file ? d->file : "(none)");
  snprintf(s->help, sizeof s->help, "%s", d->help ? d->help : "(none)");
}

static int report(wbr_ctx *ctx, int code, const wbr_diag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = wbr_vreport(ctx, code, d, fmt, ap);
  va_end(ap);
  return rc;
}

TEST(report_prefix_fields_and_codes) {
  seen s = {0};
  wbr_ctx *ctx;
  CHECK_INT(wbr_ctx_new(&ctx, keep, &s), 0);
  wbr_diag d = {.severity = WBR_SEV_ERROR, .file = "m.wbc", .line = 3, .col = 7, .span = 2,
                .message = "byte 42: ", .help = "recompile it"};
  CHECK_INT(report(ctx, WBR_EFORMAT, &d, "section %s ends early (%d left)", "code", 3), WBR_EFORMAT);
  CHECK_STR(s.msg, "byte 42: section code ends early (3 left)");
  CHECK_STR(s.file, "m.wbc");
  CHECK_STR(s.help, "recompile it");
  CHECK(s.d.line == 3 && s.d.col == 7 && s.d.span == 2);
  CHECK_STR(wbr_ctx_last_error(ctx), "byte 42: section code ends early (3 left)");
  /* No prefix; a note returns 0 and is not counted as an error. */
  wbr_diag n = {.severity = WBR_SEV_NOTE};
  CHECK_INT(report(ctx, WBR_EFORMAT, &n, "%zu tensors left over", (size_t)5), 0);
  CHECK_STR(s.msg, "5 tensors left over");
  CHECK_INT(wbr_ctx_error_count(ctx), 1);
  /* wbr_fail is the same formatter. */
  CHECK_INT(wbr_fail(ctx, WBR_EIO, "x.safetensors", NULL, "cannot read: %s", "gone"), WBR_EIO);
  CHECK_STR(s.msg, "cannot read: gone");
  CHECK_STR(s.file, "x.safetensors");
  CHECK_INT(s.n, 3);
  wbr_ctx_free(ctx);
  /* Without a context nothing is reported, the code still comes back. */
  CHECK_INT(report(NULL, WBR_EFORMAT, &d, "%s", "x"), WBR_EFORMAT);
}

TEST(report_long_message_is_cut) {
  seen s = {0};
  wbr_ctx *ctx;
  CHECK_INT(wbr_ctx_new(&ctx, keep, &s), 0);
  char *name = malloc(4000);
  memset(name, 'n', 3999);
  name[3999] = 0;
  wbr_diag d = {.severity = WBR_SEV_ERROR, .message = "p: "};
  report(ctx, WBR_EFORMAT, &d, "tensor '%s' is missing", name);
  CHECK_INT(strlen(s.msg), WBR_MSG_MAX - 1);
  CHECK(strncmp(s.msg, "p: tensor 'nnn", 14) == 0);
  /* A prefix that fills the buffer leaves no room and no overrun. */
  wbr_diag big = {.severity = WBR_SEV_ERROR, .message = name};
  report(ctx, WBR_EFORMAT, &big, "%s", "tail");
  CHECK_INT(strlen(s.msg), WBR_MSG_MAX - 1);
  CHECK(strstr(s.msg, "tail") == NULL);
  free(name);
  wbr_ctx_free(ctx);
}
