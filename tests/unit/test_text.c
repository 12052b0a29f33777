/* test_text.c — base/text.c, the one UTF-8 validator and the one edit distance, and the
 * callers that used to carry their own copies: the JSON layer (names in safetensors and
 * manifests), the bytecode verifier (.wbc strings), the parser's keyword hints. */
#include <stdlib.h>

#include "../../base/text.h"
#include "../../bytecode/program.h"
#include "../../formats/json.h"
#include "harness.h"

/* One byte string and where it stops being UTF-8 (-1: it is UTF-8 to the end). */
typedef struct utf8_case {
  const char *s;
  size_t n;
  long bad;
} utf8_case;

#define U(lit, bad) {lit, sizeof lit - 1, bad}
static const utf8_case utf8_cases[] = {
    U("", -1), U("plain.ascii_name.0", -1),
    U("\xC2\x80", -1), U("\xDF\xBF", -1),                  /* U+0080, U+07FF */
    U("\xE0\xA0\x80", -1), U("\xEF\xBF\xBF", -1),          /* U+0800, U+FFFF */
    U("\xF0\x90\x80\x80", -1), U("\xF4\x8F\xBF\xBF", -1),  /* U+10000, U+10FFFF */
    U("\xED\x9F\xBF", -1), U("\xEE\x80\x80", -1),          /* either side of the surrogates */
    U("h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC \xF0\x9F\x98\x80", -1),
    /* overlong forms */
    U("\xC0\x80", 0), U("a\xC1\xBF", 1), U("ab\xE0\x9F\xBF", 2), U("\xE0\x80\xAF", 0),
    U("x\xF0\x8F\xBF\xBF", 1), U("\xF0\x80\x80\x80", 0),
    /* UTF-16 surrogates (high, low, CESU-8 pair) */
    U("\xED\xA0\x80", 0), U("q\xED\xBF\xBF", 1), U("\xED\xA0\xBD\xED\xB8\x80", 0),
    /* above U+10FFFF */
    U("\xF4\x90\x80\x80", 0), U("ok\xF5\x80\x80\x80", 2), U("\xF7\xBF\xBF\xBF", 0), U("\xFF", 0),
    /* cut short by the end, or by a byte that is no continuation */
    U("\xC3", 0), U("a\xE2\x82", 1), U("ab\xF0\x9F\x98", 2), U("\xE2\x28\xA1", 0),
    U("\xF0\x9F\x98x", 0), U("abc\xC3\xA9\xC3", 5),
    /* a continuation byte with no lead */
    U("a\x80" "b", 1), U("\xBF", 0),
};
#define NCASES (sizeof utf8_cases / sizeof utf8_cases[0])

TEST(text_utf8_valid_edge_cases) {
  for (size_t i = 0; i < NCASES; i++) {
    const utf8_case *c = &utf8_cases[i];
    size_t bad = 12345;
    bool ok = wbr_utf8_valid(c->s, c->n, &bad);
    if (ok != (c->bad < 0) || (!ok && (long)bad != c->bad))
      test_failed(__FILE__, __LINE__, "case %zu: valid %d, bad at %zu; expected %ld", i, ok, bad, c->bad);
    CHECK(wbr_utf8_valid(c->s, c->n, NULL) == ok); /* bad may be NULL */
  }
  /* A NUL byte is text to the validator (callers that refuse NUL say so themselves), and only
   * the first n bytes are looked at. */
  CHECK(wbr_utf8_valid("a\0b", 3, NULL));
  CHECK(wbr_utf8_valid("ab\xFF", 2, NULL));
}

/* The verifier: a .wbc string that is not UTF-8 is refused at the byte where it stops. */
TEST(text_utf8_verifier_strings) {
  for (size_t i = 0; i < NCASES; i++) {
    const utf8_case *c = &utf8_cases[i];
    char err[200];
    const char *why = wbr_check_str(c->s, c->n, err, sizeof err);
    if (c->bad < 0) {
      if (why) test_failed(__FILE__, __LINE__, "case %zu refused: %s", i, why);
      continue;
    }
    char want[200];
    snprintf(want, sizeof want, "invalid UTF-8 at offset %ld of a string", c->bad);
    if (!why || strcmp(why, want) != 0)
      test_failed(__FILE__, __LINE__, "case %zu: \"%s\", expected \"%s\"", i, why ? why : "(accepted)", want);
  }
}

/* The JSON layer (safetensors headers, manifests): a document that is not UTF-8 is refused
 * with the offset in the document. */
TEST(text_utf8_json_documents) {
  for (size_t i = 0; i < NCASES; i++) {
    const utf8_case *c = &utf8_cases[i];
    char doc[64];
    size_t n = (size_t)snprintf(doc, sizeof doc, "[\"");
    memcpy(doc + n, c->s, c->n);
    n += c->n;
    memcpy(doc + n, "\"]", 3);
    n += 2;
    wbr_json *j = NULL;
    size_t off = 0;
    char err[128];
    int rc = wbr_json_parse(&j, doc, n, &off, err, sizeof err);
    if (c->bad < 0) {
      if (rc != 0) test_failed(__FILE__, __LINE__, "case %zu refused: %s at %zu", i, err, off);
    } else if (rc != WBR_EFORMAT || strcmp(err, "invalid UTF-8") != 0 || off != (size_t)c->bad + 2) {
      test_failed(__FILE__, __LINE__, "case %zu: rc %d \"%s\" at %zu, expected invalid UTF-8 at %ld", i, rc,
                  err, off, c->bad + 2);
    }
    wbr_json_free(j);
  }
}

static size_t ed(const char *a, const char *b, unsigned flags) {
  return wbr_edit_distance(a, strlen(a), b, strlen(b), flags);
}

TEST(text_edit_distance) {
  enum { KW = WBR_EDIT_FOLD_CASE | WBR_EDIT_TRANSPOSE };
  CHECK_INT(ed("", "", 0), 0);
  CHECK_INT(ed("", "abc", 0), 3);
  CHECK_INT(ed("abc", "", KW), 3);
  CHECK_INT(ed("kitten", "sitting", 0), 3);
  CHECK_INT(ed("flaw", "lawn", 0), 2);
  /* A swap: one edit for the parser's keyword hints, two for the VM's name hints. */
  CHECK_INT(ed("renmae", "rename", KW), 1);
  CHECK_INT(ed("renmae", "rename", 0), 2);
  CHECK_INT(ed("ab", "ba", WBR_EDIT_TRANSPOSE), 1);
  /* Case: folded for keywords (ASCII letters only), exact for tensor names. */
  CHECK_INT(ed("RENAME", "rename", KW), 0);
  CHECK_INT(ed("ReName", "rename", 0), 2);
  CHECK_INT(ed("_", "\x7f", KW), 1);
  CHECK_INT(ed("h.0.attn.c_attn.weight", "h.0.attn.c_attn.bias", 0), 5);
  /* Texts past WBR_EDIT_MAX are not compared: the longer length comes back. */
  char *a = malloc(WBR_EDIT_MAX + 2), *b = malloc(WBR_EDIT_MAX + 1);
  memset(a, 'x', WBR_EDIT_MAX + 1);
  a[WBR_EDIT_MAX + 1] = 0;
  memset(b, 'x', WBR_EDIT_MAX);
  b[WBR_EDIT_MAX] = 0;
  CHECK_INT(ed(a, b, 0), WBR_EDIT_MAX + 1);
  CHECK_INT(ed(b, b, KW), 0);
  b[3] = 'y';
  CHECK_INT(ed(b, a + 1, 0), 1);
  free(a);
  free(b);
}
