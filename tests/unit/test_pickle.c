/* test_pickle.c — the restricted pickle machine (formats/pickle.h): every supported opcode
 * builds the value CPython would, memo and marks behave, protocol 4 framing works, and refusals
 * are exactly one error naming the opcode or global. The hostile-file table is in tests/torch/. */
#include <stdlib.h>
#include <string.h>

#include "formats/pickle.h"
#include "harness.h"
#include "weightbridge.h"

#define P(s) (const uint8_t *)(s), sizeof(s) - 1

TEST(pickle_values) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  /* {"a": [1, -2, 300, -70000, 2**40, 1.5, True, None, b"xy"], "b": (1,), "c": (1, 2, 3),
   *  "d": "é", "e": _codecs.encode("z", "latin1")} with memo reuse: "f" is "a" again. */
  static const char pk[] =
      "\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00" /* FRAME (a hint) */
      "}\x94(\x8c\x01" "a\x94]\x94(K\x01J\xfe\xff\xff\xffM\x2c\x01J\x90\xee\xfe\xff"
      "\x8a\x06\x00\x00\x00\x00\x00\x01" "G\x3f\xf8\x00\x00\x00\x00\x00\x00\x88NC\x02xye"
      "\x8c\x01" "bK\x01\x85\x8c\x01" "cK\x01K\x02K\x03\x87\x8c\x01" "dX\x02\x00\x00\x00" "\xc3\xa9"
      "\x8c\x01" "e\x8c\x07_codecs\x8c\x06" "encode\x93\x8c\x01z\x8c\x06latin1\x86R"
      "\x8c\x01" "fh\x02" "u.";
  wbr_pickle *p;
  const wbr_pk_value *r;
  CHECK_INT(wbr_pickle_load(&p, &r, ctx, "t.pt", "data.pkl", P(pk)), 0);
  CHECK_INT(g.n, 0);
  if (g.n) printf("    %s\n", g.last);
  if (!r) {
    wbr_ctx_free(ctx);
    return;
  }
  CHECK_INT(r->kind, WBR_PK_DICT);
  CHECK_INT(r->u.dict.n, 6);
  const wbr_pk_value *a = r->u.dict.vals[0];
  CHECK_INT(a->kind, WBR_PK_LIST);
  CHECK_INT(a->u.seq.n, 9);
  if (a->u.seq.n == 9) {
    CHECK_INT(a->u.seq.items[0]->u.i, 1);
    CHECK_INT(a->u.seq.items[1]->u.i, -2);
    CHECK_INT(a->u.seq.items[2]->u.i, 300);
    CHECK_INT(a->u.seq.items[3]->u.i, -70000);
    CHECK_INT(a->u.seq.items[4]->u.i, 1099511627776LL);
    CHECK(a->u.seq.items[5]->kind == WBR_PK_FLOAT && a->u.seq.items[5]->u.f == 1.5);
    CHECK(a->u.seq.items[6]->kind == WBR_PK_BOOL && a->u.seq.items[6]->u.b);
    CHECK_INT(a->u.seq.items[7]->kind, WBR_PK_NONE);
    CHECK(a->u.seq.items[8]->kind == WBR_PK_BYTES && a->u.seq.items[8]->u.str.n == 2);
  }
  CHECK_INT(r->u.dict.vals[1]->kind, WBR_PK_TUPLE);
  CHECK_INT(r->u.dict.vals[1]->u.seq.n, 1);
  CHECK_INT(r->u.dict.vals[2]->u.seq.n, 3);
  const wbr_pk_value *d = r->u.dict.vals[3];
  CHECK(d->kind == WBR_PK_STR && d->u.str.n == 2 && memcmp(d->u.str.s, "\xc3\xa9", 2) == 0);
  CHECK_INT(r->u.dict.vals[4]->kind, WBR_PK_BYTES);
  CHECK(r->u.dict.n == 6 && r->u.dict.keys[5]->u.str.s[0] == 'f' && r->u.dict.vals[5] == a);
  wbr_pickle_free(p);
  wbr_ctx_free(ctx);
}

/* LONG1 sign extension at every width. */
TEST(pickle_long1) {
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, NULL, NULL);
  static const struct { const char *pk; size_t n; long long want; } cases[] = {
      {"\x80\x02\x8a\x00.", 5, 0},
      {"\x80\x02\x8a\x01\xff.", 6, -1},
      {"\x80\x02\x8a\x02\x00\x80.", 7, -32768},
      {"\x80\x02\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f.", 13, 9223372036854775807LL},
      {"\x80\x02\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80.", 13, (-9223372036854775807LL - 1)},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    wbr_pickle *p;
    const wbr_pk_value *r;
    CHECK_INT(wbr_pickle_load(&p, &r, ctx, "t", "pk", (const uint8_t *)cases[i].pk, cases[i].n), 0);
    if (r) CHECK_INT(r->u.i, cases[i].want);
    wbr_pickle_free(p);
  }
  wbr_ctx_free(ctx);
}

static void refused(const uint8_t *pk, size_t n, const char *msg) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_pickle *p = NULL;
  const wbr_pk_value *r = NULL;
  CHECK_INT(wbr_pickle_load(&p, &r, ctx, "t.pt", "data.pkl", pk, n), WBR_EFORMAT);
  CHECK(p == NULL && r == NULL);
  CHECK_INT(g.n, 1);
  CHECK_CONTAINS(g.last, msg);
  wbr_ctx_free(ctx);
}

TEST(pickle_refusals) {
  refused(P("\x80\x02" "cos\nsystem\n."), "data.pkl, byte 2: global 'os.system' is not allowed");
  refused(P("\x80\x02" "cnt\nsystem\n(X\x01\x00\x00\x00xtR."), "global 'nt.system' is not allowed");
  refused(P("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R."),
          "collections.OrderedDict called with 1 arguments");
  refused(P("\x80\x02" "ctorch\nfloat32\n)R."), "'torch.float32' cannot be called");
  refused(P("\x80\x02" "K\x01)R."), "REDUCE calls an int, not an allowed function");
  refused(P("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\nK\x01R."),
          "REDUCE arguments are an int, expected a tuple");
  refused(P("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n)R."),
          "torch._utils._rebuild_tensor_v2 takes 6 arguments, got 0");
  refused(P("\x80\x02" "ctorch._utils\n_rebuild_parameter\n(K\x01NNtR."),
          "_rebuild_parameter: first argument is an int, expected a tensor");
  refused(P("\x80\x02" "X\x01\x00\x00\x00" "aQ."), "persistent id is a string, expected");
  refused(P("\x80\x02" "S'x'\n."), "opcode STRING (0x53) is not supported");
  refused(P("\x80\x02" "I1\n."), "opcode INT (0x49) is not supported");
  refused(P("\x80\x02" "\x8b\x00\x00\x00\x00."), "opcode LONG4 (0x8b) is not supported");
  refused(P("\x80\x02" "K"), "BININT needs 1 bytes, only 0 remain");
  refused(P("\x80\x02" "\x85."), "TUPLE1 on a stack with fewer items");
  refused(P("\x80\x02" "N(\x85."), "TUPLE1 on a stack with fewer items");
  refused(P("\x80\x02" "t."), "TUPLE without a MARK");
  refused(P("\x80\x02" "h\x05."), "memo index 5 was never set");
  refused(P("\x80\x02" "\x93."), "STACK_GLOBAL on an empty stack");
  refused(P("\x80\x02" "NN\x93."), "STACK_GLOBAL needs two strings");
}

/* Three million empty lists on the stack: within the limits, accepted in linear time. */
TEST(pickle_limits) {
  size_t n = 3000000;
  uint8_t *pk = malloc(n + 3);
  pk[0] = 0x80;
  pk[1] = 2;
  memset(pk + 2, ']', n);
  pk[n + 2] = '.';
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  wbr_pickle *p;
  const wbr_pk_value *r;
  /* 3M values fit the limits (8M): accepted, the last list is the result. */
  CHECK_INT(wbr_pickle_load(&p, &r, ctx, "t", "pk", pk, n + 3), 0);
  wbr_pickle_free(p);
  free(pk);
  wbr_ctx_free(ctx);
}

/* WBR_PICKLE_INERT (Lightning checkpoints): an unknown global is an inert object, and so is
 * what calling (REDUCE), instantiating (NEWOBJ, NEWOBJ_EX) or building it gives; SETITEMS and
 * APPENDS on one change nothing; the dict around it and its tensors are read as usual. Without
 * the flag the same bytes are refused at the global. */
TEST(pickle_inert_objects) {
  test_diags g = {0};
  wbr_ctx *ctx;
  wbr_ctx_new(&ctx, test_on_diag, &g);
  /* {"a": os.system("x"), "b": argparse.Namespace.__new__(Namespace) with state {"k": 1},
   *  "c": collections.defaultdict(list) filled by SETITEMS and an APPENDS-filled list subclass,
   *  "d": NEWOBJ_EX of pathlib.Path, "e": 7} */
  static const char pk[] =
      "\x80\x04}(\x8c\x01" "a" "cos\nsystem\n\x8c\x01x\x85R"
      "\x8c\x01" "b" "cargparse\nNamespace\n)\x81}\x8c\x01kK\x01s" "b"
      "\x8c\x01" "c" "ccollections\ndefaultdict\ncbuiltins\nlist\n\x85R(\x8c\x01zK\x02u"
      "cmylib\nMyList\n)\x81(K\x01K\x02" "e\x86"
      "\x8c\x01" "d" "cpathlib\nPath\n)}\x92"
      "\x8c\x01" "eK\x07u.";
  wbr_pickle *p = NULL;
  const wbr_pk_value *r = NULL;
  CHECK_INT(wbr_pickle_load_flags(&p, &r, ctx, "t.ckpt", "data.pkl", P(pk), WBR_PICKLE_INERT), 0);
  if (g.n) printf("    %s\n", g.last);
  if (r) {
    CHECK_INT(r->kind, WBR_PK_DICT);
    CHECK_INT(r->u.dict.n, 5);
    if (r->u.dict.n == 5) {
      const wbr_pk_value *a = r->u.dict.vals[0], *b = r->u.dict.vals[1], *c = r->u.dict.vals[2];
      CHECK(a->kind == WBR_PK_OBJECT && a->u.object.module_len == 2 && memcmp(a->u.object.module, "os", 2) == 0 &&
            a->u.object.name_len == 6 && memcmp(a->u.object.name, "system", 6) == 0);
      CHECK(b->kind == WBR_PK_OBJECT && memcmp(b->u.object.name, "Namespace", 9) == 0);
      CHECK(c->kind == WBR_PK_TUPLE && c->u.seq.n == 2 && c->u.seq.items[0]->kind == WBR_PK_OBJECT &&
            c->u.seq.items[1]->kind == WBR_PK_OBJECT);
      CHECK_INT(r->u.dict.vals[3]->kind, WBR_PK_OBJECT);
      CHECK(r->u.dict.vals[4]->kind == WBR_PK_INT && r->u.dict.vals[4]->u.i == 7);
    }
  }
  wbr_pickle_free(p);
  CHECK_INT(g.n, 0);
  refused(P(pk), "global 'os.system' is not allowed");
  /* still refused when inert: calling an allowed non-function, NEWOBJ of a non-class, and the
   * opcodes that stay unsupported */
  p = NULL;
  CHECK_INT(wbr_pickle_load_flags(&p, &r, ctx, "t.ckpt", "data.pkl", P("\x80\x02K\x01)\x81."), WBR_PICKLE_INERT),
            WBR_EFORMAT);
  CHECK_CONTAINS(g.last, "NEWOBJ of an int, not of a class");
  CHECK_INT(wbr_pickle_load_flags(&p, &r, ctx, "t.ckpt", "data.pkl", P("\x80\x02" "ctorch\nfloat32\n)R."),
                                  WBR_PICKLE_INERT),
            WBR_EFORMAT);
  CHECK_CONTAINS(g.last, "'torch.float32' cannot be called");
  CHECK_INT(wbr_pickle_load_flags(&p, &r, ctx, "t.ckpt", "data.pkl", P("\x80\x02(iposix\nsystem\n."), WBR_PICKLE_INERT),
            WBR_EFORMAT);
  CHECK_CONTAINS(g.last, "opcode INST (0x69) is not supported");
  CHECK(p == NULL);
  wbr_ctx_free(ctx);
}
