/* source.c — the rule text a program may carry, and where each instruction's statement sits in
 * it. The emitter hands over the text it compiled and the statements' byte ranges; a loaded .wbc
 * (which records only line and column) gets its text from whoever has it, checked against the
 * hash the program records. Diagnostics then quote the statement's line from here, so nothing
 * that runs a program opens a file named inside it. */
#include <stdlib.h>
#include <string.h>

#include "program.h"

/* Take a copy of text[0, len) and of one span per instruction as the program's own. */
int wbr_program_set_text(wbr_program *p, const char *text, size_t len, const wbr_src_span *spans) {
  if (len >= UINT32_MAX) return WBR_EINPUT; /* spans are 32-bit offsets */
  char *t = malloc(len + 1);
  wbr_src_span *s = malloc((p->ncode ? p->ncode : 1) * sizeof *s);
  if (!t || !s) {
    free(t);
    free(s);
    return WBR_ENOMEM;
  }
  if (len) memcpy(t, text, len);
  t[len] = 0;
  if (p->ncode) memcpy(s, spans, p->ncode * sizeof *s);
  free(p->text);
  free(p->spans);
  p->text = t;
  p->text_len = len;
  p->spans = s;
  return 0;
}

/* The byte offset of line:col in text (lines split at '\n', the text read up to its first NUL,
 * as a diagnostic shows it), or WBR_NO_SPAN when the position is not on a character of a line. */
static uint32_t offset_of(const char *text, size_t len, wbr_pos pos) {
  size_t end = strnlen(text, len), ls = 0;
  for (uint32_t l = 1; l < pos.line; l++) {
    const char *nl = memchr(text + ls, '\n', end - ls);
    if (!nl) return WBR_NO_SPAN;
    ls = (size_t)(nl - text) + 1;
  }
  const char *nl = memchr(text + ls, '\n', end - ls);
  size_t le = nl ? (size_t)(nl - text) : end;
  if (pos.col < 1 || pos.col - 1 >= le - ls) return WBR_NO_SPAN;
  return (uint32_t)(ls + pos.col - 1);
}

int wbr_program_attach_source(wbr_program *p, const char *text, size_t len) {
  if (!p || (!text && len)) return WBR_EUSAGE;
  if (!text) text = "";
  if (wbr_hash(text, len) != p->source_hash) return WBR_EINPUT;
  if (p->text) return 0; /* compiled from this very text: its spans are already exact */
  if (len >= UINT32_MAX) return WBR_EINPUT;
  wbr_src_span *spans = malloc((p->ncode ? p->ncode : 1) * sizeof *spans);
  if (!spans) return WBR_ENOMEM;
  /* A .wbc records where each statement starts, not where it ends. */
  for (uint32_t i = 0; i < p->ncode; i++) {
    uint32_t at = offset_of(text, len, p->pos[i]);
    spans[i] = (wbr_src_span){at, at};
  }
  int rc = wbr_program_set_text(p, text, len, spans);
  free(spans);
  return rc;
}

const char *wbr_program_source_name(const wbr_program *p) { return p ? p->source : NULL; }

char *wbr_program_quote(const wbr_program *p, uint32_t i, int *caret) {
  if (!p->text || !p->spans || i >= p->ncode) return NULL;
  size_t start = p->spans[i].start, end = strnlen(p->text, p->text_len);
  if (start >= end) return NULL;
  size_t ls = start, le = start;
  while (ls > 0 && p->text[ls - 1] != '\n') ls--;
  while (le < end && p->text[le] != '\n') le++;
  if (start >= le) return NULL;
  /* The statement's first word is underlined. */
  size_t e = start;
  while (e < le && p->text[e] != ' ' && p->text[e] != '\t') e++;
  *caret = e > start ? (int)(e - start) : 1;
  char *line = malloc(le - ls + 1);
  if (!line) return NULL;
  memcpy(line, p->text + ls, le - ls);
  line[le - ls] = 0;
  return line;
}
