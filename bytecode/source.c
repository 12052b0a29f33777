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
  if (len >= UINT32_MAX) return WBR_ERULES; /* spans are 32-bit offsets */
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
  p->text_end = strlen(t);
  p->spans = s;
  return 0;
}

/* The first byte of each line of text (lines split at '\n'; the text read up to its first NUL,
 * as a diagnostic shows it), into *out (caller frees); the count, or 0 when out of memory. */
static size_t line_starts(const char *text, size_t end, uint32_t **out) {
  size_t n = 1;
  for (const char *q = text; (q = memchr(q, '\n', (size_t)(text + end - q))); q++) n++;
  uint32_t *ls = malloc(n * sizeof *ls);
  *out = ls;
  if (!ls) return 0;
  ls[0] = 0;
  size_t k = 1;
  for (size_t i = 0; i < end; i++)
    if (text[i] == '\n') ls[k++] = (uint32_t)(i + 1);
  return n;
}

/* The byte offset of line:col, or WBR_NO_SPAN when the position is not on a character of a line
 * (lines: the starts of the nlines lines of a text of `end` bytes). */
static uint32_t offset_of(const uint32_t *lines, size_t nlines, size_t end, wbr_pos pos) {
  if (pos.line < 1 || pos.line > nlines || pos.col < 1) return WBR_NO_SPAN;
  size_t ls = lines[pos.line - 1], le = pos.line < nlines ? lines[pos.line] - 1 : end;
  if (pos.col - 1 >= le - ls) return WBR_NO_SPAN;
  return (uint32_t)(ls + pos.col - 1);
}

int wbr_program_attach_source(wbr_program *p, const char *text, size_t len) {
  if (!p || (!text && len)) return WBR_EUSAGE;
  if (!text) text = "";
  if (wbr_hash(text, len) != p->source_hash) return WBR_ERULES;
  if (p->text) return 0; /* compiled from this very text: its spans are already exact */
  if (len >= UINT32_MAX) return WBR_ERULES;
  uint32_t *lines = NULL;
  size_t end = strnlen(text, len), nlines = line_starts(text, end, &lines);
  wbr_src_span *spans = malloc((p->ncode ? p->ncode : 1) * sizeof *spans);
  int rc = WBR_ENOMEM;
  if (nlines && spans) {
    /* A .wbc records where each statement starts, not where it ends. */
    for (uint32_t i = 0; i < p->ncode; i++) {
      uint32_t at = offset_of(lines, nlines, end, p->pos[i]);
      spans[i] = (wbr_src_span){at, at};
    }
    rc = wbr_program_set_text(p, text, len, spans);
  }
  free(lines);
  free(spans);
  return rc;
}

const char *wbr_program_source_name(const wbr_program *p) { return p ? p->source : NULL; }

char *wbr_program_quote(const wbr_program *p, uint32_t i, int *caret) {
  if (!p->text || !p->spans || i >= p->ncode) return NULL;
  size_t start = p->spans[i].start, end = p->text_end;
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
