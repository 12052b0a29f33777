"""adapt() end to end on real layouts: a torchvision-style ResNet-18 onto our timm-style naming
(forward pass equal), the torchvision and JAX ViT fixtures onto timm (values against the
fixtures' truth), GPT-2 Conv1D onto nn.Linear, bf16 / f16 inputs and casts, container and
tensor types kept, Undecided, hints (ours and the seed library's), cache=, hostile inputs."""
import collections
import os
import unittest

import numpy as np
import torch

import weightbridge as wb
from harness import Scratch, fixture, replay
from models import MyResNet18, TvResNet18, gpt2_conv1d, nanogpt_target


def rand_fixture(pair, seed=7):
    a, b, truth = fixture(pair)
    rng = np.random.default_rng(seed)
    src = {n: rng.standard_normal(d["shape"]).astype(np.float32) for n, d in a.items()}
    tgt = {n: np.empty(d["shape"], np.float32) for n, d in b.items()}
    return src, tgt, truth


def nest(flat, sep="/"):
    out = {}
    for k, v in flat.items():
        node = out
        parts = k.split(sep)
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def ambiguous():
    g = torch.Generator().manual_seed(3)
    theirs = {"x.weight": torch.randn(8, 8, generator=g), "y.weight": torch.randn(8, 8, generator=g)}
    mine = {"a.weight": torch.empty(8, 8), "b.weight": torch.empty(8, 8)}
    return theirs, mine


class ResNet(unittest.TestCase):
    def test_resnet18_forward_equal(self):
        tv = TvResNet18().eval()  # seeded weights and batch-norm statistics
        timm = MyResNet18().eval()
        new = wb.adapt(tv.state_dict(), timm.state_dict())
        self.assertIsInstance(new, collections.OrderedDict)
        self.assertEqual(list(new), list(timm.state_dict()))
        timm.load_state_dict(new, strict=True)
        x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            self.assertTrue(torch.equal(tv(x), timm(x)))

    def test_resnet18_module_in_numpy_out(self):
        tv = TvResNet18()
        mine = {k: v.numpy() for k, v in MyResNet18().state_dict().items()}
        new = wb.adapt(tv, mine)
        self.assertIs(type(new), dict)
        self.assertEqual(list(new), list(mine))
        sd = tv.state_dict()
        self.assertTrue(all(isinstance(v, np.ndarray) for v in new.values()))
        np.testing.assert_array_equal(new["head.proj.weight"], sd["fc.weight"].numpy())
        np.testing.assert_array_equal(new["stages.3.blocks.0.shortcut.norm.running_var"],
                                      sd["layer4.0.downsample.1.running_var"].numpy())
        self.assertEqual(new["stem.norm.num_batches_tracked"].dtype, np.int64)


class Fixtures(unittest.TestCase):
    def check_truth(self, src_flat, new, truth):
        for name, tr in truth.items():
            want = replay([src_flat[s] for s in tr["from"]], tr["ops"])
            got = np.asarray(new[name])
            self.assertEqual(got.shape, want.shape, name)
            self.assertEqual(got.tobytes(), want.tobytes(), name)

    def test_vit_torchvision_to_timm_fused_qkv(self):
        src, tgt, truth = rand_fixture("vit_tv_to_timm")
        theirs = {k: torch.from_numpy(v) for k, v in src.items()}
        mine = collections.OrderedDict((k, torch.from_numpy(v)) for k, v in tgt.items())
        new = wb.adapt(theirs, mine)
        self.assertEqual(list(new), list(mine))
        self.assertTrue(all(isinstance(v, torch.Tensor) for v in new.values()))
        self.check_truth(src, {k: v.numpy() for k, v in new.items()}, truth)

    def test_flax_nested_hwio_to_timm(self):
        src, tgt, truth = rand_fixture("vit_jax_to_timm")
        theirs = nest(src)  # Flax params: nested dicts, HWIO conv kernel, [in, out] dense kernels
        self.assertIn("kernel", theirs["embedding"])
        new = wb.adapt(theirs, {k: torch.from_numpy(v) for k, v in tgt.items()})
        self.check_truth(src, {k: v.numpy() for k, v in new.items()}, truth)

    def test_timm_to_flax_nested_rebuilt(self):
        src, tgt, truth = rand_fixture("vit_jax_to_timm")
        timm = {}
        for name, tr in truth.items():
            timm[name] = replay([src[s] for s in tr["from"]], tr["ops"])
        mine = nest({k: np.empty_like(v) for k, v in src.items()})
        new = wb.adapt(timm, mine)
        self.assertEqual(list(new), list(mine))
        self.assertEqual(list(new["Transformer"]), list(mine["Transformer"]))
        for k, v in src.items():
            node = new
            for p in k.split("/"):
                node = node[p]
            self.assertEqual(node.tobytes(), v.tobytes(), k)

    def test_in_out_format_flax_to_pytorch(self):
        g = np.random.default_rng(4)
        theirs = {"Conv_0": {"kernel": g.standard_normal((3, 3, 4, 8)).astype(np.float32),
                             "bias": g.standard_normal(8).astype(np.float32)},
                  "Dense_0": {"kernel": g.standard_normal((8, 5)).astype(np.float32),
                              "bias": g.standard_normal(5).astype(np.float32)}}
        mine = {"conv.weight": torch.empty(8, 4, 3, 3), "conv.bias": torch.empty(8),
                "fc.weight": torch.empty(5, 8), "fc.bias": torch.empty(5)}
        new = wb.adapt(theirs, mine, in_format="flax", out_format="pytorch")
        k = theirs["Conv_0"]["kernel"]
        np.testing.assert_array_equal(new["conv.weight"].numpy(), k.transpose(3, 2, 0, 1))
        np.testing.assert_array_equal(new["fc.weight"].numpy(), theirs["Dense_0"]["kernel"].T)
        np.testing.assert_array_equal(new["fc.bias"].numpy(), theirs["Dense_0"]["bias"])


class Gpt2AndDtypes(unittest.TestCase):
    def test_gpt2_conv1d_to_linear(self):
        sd = gpt2_conv1d()
        mine, want = nanogpt_target(sd)
        new = wb.adapt(sd, mine)
        for k, v in want.items():
            self.assertTrue(torch.equal(new[k], v), k)

    def cast_case(self, seed, src_dtype, dst_dtype):
        """GPT-2 in src_dtype onto nanoGPT in dst_dtype: the draft's casts give torch's .to()."""
        sd = {k: v.to(src_dtype) for k, v in gpt2_conv1d(seed=seed).items()}
        mine, want = nanogpt_target(sd)
        new = wb.adapt(sd, {k: v.to(dst_dtype) for k, v in mine.items()})
        for k, v in want.items():
            self.assertEqual(new[k].dtype, dst_dtype)
            self.assertTrue(torch.equal(new[k], v.float().to(dst_dtype)), k)

    def test_bf16_source_f32_target(self):
        self.cast_case(1, torch.bfloat16, torch.float32)

    def test_f16_source_bf16_target(self):
        self.cast_case(2, torch.float16, torch.bfloat16)

    def test_f32_source_f16_target(self):
        self.cast_case(8, torch.float32, torch.float16)

    def test_bf16_to_bf16_bit_exact(self):
        sd = {k: v.bfloat16() for k, v in gpt2_conv1d(seed=3).items()}
        mine, want = nanogpt_target(sd)
        new = wb.adapt(sd, mine)
        for k, v in want.items():
            self.assertTrue(torch.equal(new[k].view(torch.int16), v.view(torch.int16)), k)

    def test_non_contiguous_source_copied(self):
        sd = gpt2_conv1d(seed=4)
        wide = {k: torch.cat([v, v], dim=-1)[..., : v.shape[-1]] if v.dim() == 2 else v
                for k, v in sd.items()}
        self.assertFalse(wide["h.0.attn.c_attn.weight"].is_contiguous())
        mine, want = nanogpt_target(sd)
        new = wb.adapt(wide, mine)
        for k, v in want.items():
            self.assertTrue(torch.equal(new[k], v), k)

    def test_verbose_prints_summary_and_plan(self):
        import contextlib
        import io
        sd = gpt2_conv1d(layers=1)
        mine, _ = nanogpt_target(sd)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            wb.adapt(sd, mine, verbose=True)
        self.assertIn("match:", err.getvalue())
        self.assertIn("transformer.h.0.attn.c_attn.weight", err.getvalue())

    def test_requires_grad_parameters(self):
        lin = torch.nn.Linear(6, 3)
        theirs = {"proj.weight": lin.weight, "proj.bias": lin.bias}  # Parameters
        new = wb.adapt(theirs, {"out.weight": torch.empty(3, 6), "out.bias": torch.empty(3)})
        self.assertTrue(torch.equal(new["out.weight"], lin.weight.detach()))
        self.assertFalse(new["out.weight"].requires_grad)


class Undecided(Scratch):
    def test_undecided_message_and_draft(self):
        theirs, mine = ambiguous()
        with self.assertRaises(wb.Undecided) as cm:
            wb.adapt(theirs, mine)
        e = cm.exception
        self.assertIsInstance(e, ValueError)
        self.assertIsInstance(e, wb.Error)
        msg = str(e)
        for s in ("a.weight", "b.weight", "x.weight", "y.weight", "hint"):
            self.assertIn(s, msg)
        self.assertIn("weightbridge 1", e.draft)
        self.assertIn("UNRESOLVED", e.draft)
        targets = sorted(u["target"] for u in e.unresolved)
        self.assertEqual(targets, ["a.weight", "b.weight"])
        self.assertEqual(sorted(c["source"] for c in e.unresolved[0]["candidates"]),
                         ["x.weight", "y.weight"])

    def test_suggested_hint_settles_it(self):
        theirs, mine = ambiguous()
        try:
            wb.adapt(theirs, mine)
        except wb.Undecided as e:
            first, msg = e.unresolved[0], str(e)
        self.assertIn(first["hint"], msg)
        new = wb.adapt(theirs, mine, hints=[first["hint"]])  # one hint settles both
        src = first["hint"].split("=")[0]
        self.assertTrue(torch.equal(new[first["target"]], theirs[src]))

    def test_our_hints_settle_it(self):
        theirs, mine = ambiguous()
        new = wb.adapt(theirs, mine, hints=["y.weight=a.weight", ("x.*", "b.*")])
        self.assertTrue(torch.equal(new["a.weight"], theirs["y.weight"]))
        self.assertTrue(torch.equal(new["b.weight"], theirs["x.weight"]))

    def test_seed_substring_hints(self):
        theirs, mine = ambiguous()
        new = wb.adapt(theirs, mine, hints=[("a.", "y."), ("b.", "x.")])
        self.assertTrue(torch.equal(new["a.weight"], theirs["y.weight"]))
        self.assertTrue(torch.equal(new["b.weight"], theirs["x.weight"]))

    def test_rules_from_undecided_draft_edited(self):
        theirs, mine = ambiguous()
        try:
            wb.adapt(theirs, mine)
        except wb.Undecided as e:
            draft = e.draft
        rules = draft + '\nrename "x.weight" -> "a.weight"\nrename "y.weight" -> "b.weight"\n'
        new = wb.adapt(theirs, mine, rules=rules)
        self.assertTrue(torch.equal(new["a.weight"], theirs["x.weight"]))


class Cache(Scratch):
    def cached(self, seed):
        """A GPT-2 pair adapted once with cache=: (theirs, mine, expected, the cache's path)."""
        sd = gpt2_conv1d(seed=seed)
        mine, want = nanogpt_target(sd)
        c = self.path("gpt2.wbr")
        wb.adapt(sd, mine, cache=c)
        return sd, mine, want, c

    def test_cache_written_when_complete(self):
        sd, mine, _, c = self.cached(5)
        text = open(c).read()
        self.assertIn("weightbridge 1", text)
        self.assertIn("transpose", text)
        wb.check(c, sd, mine)  # the written file is a real, checked rule file

    def test_cache_reused_not_redrafted(self):
        # A hand-written cache for a pair the matcher cannot decide: used as it is (a match
        # run would raise Undecided), and the file is not rewritten.
        theirs, mine = ambiguous()
        c = self.path("amb.wbr")
        text = ('weightbridge 1\n# reviewed by hand\nrename "x.weight" -> "b.weight"\n'
                'rename "y.weight" -> "a.weight"\n')
        open(c, "w").write(text)
        new = wb.adapt(theirs, mine, cache=c)
        self.assertTrue(torch.equal(new["b.weight"], theirs["x.weight"]))
        self.assertTrue(torch.equal(new["a.weight"], theirs["y.weight"]))
        self.assertEqual(open(c).read(), text)

    def test_cache_edit_kept(self):
        sd, mine, want, c = self.cached(6)
        edited = open(c).read() + "# my review note\n"
        open(c, "w").write(edited)
        new = wb.adapt(sd, mine, cache=c)
        self.assertEqual(open(c).read(), edited)
        for k, v in want.items():
            self.assertTrue(torch.equal(new[k], v), k)

    def test_cache_rechecked_inputs_changed(self):
        _, _, _, c = self.cached(7)
        before = open(c).read()
        sd3 = gpt2_conv1d(layers=3, seed=7)
        mine3, _ = nanogpt_target(sd3)
        del mine3["transformer.h.2.ln_1.bias"]
        with self.assertRaises(wb.MappingError) as cm:
            wb.adapt(sd3, mine3, cache=c)
        self.assertIn(c, str(cm.exception))
        self.assertIn("delete", str(cm.exception))
        self.assertEqual(open(c).read(), before)

    def test_cache_not_written_when_undecided(self):
        theirs, mine = ambiguous()
        c = self.path("amb.wbr")
        with self.assertRaises(wb.Undecided):
            wb.adapt(theirs, mine, cache=c)
        self.assertFalse(os.path.exists(c))


class Hostile(Scratch):
    def test_wrong_types(self):
        sd = gpt2_conv1d(layers=1)
        mine, _ = nanogpt_target(sd)
        for theirs, my in ((5, mine), (sd, 5), ([1, 2], mine), ({"a": "text"}, mine),
                           (sd, {"a": object()}), ({1: torch.zeros(2)}, mine),
                           ({"a": np.array([object()])}, mine)):
            with self.assertRaises((TypeError, ValueError), msg=repr(type(theirs))):
                wb.adapt(theirs, my)

    def test_bad_rules_text(self):
        sd = gpt2_conv1d(layers=1)
        mine, _ = nanogpt_target(sd)
        with self.assertRaises(wb.RulesError) as cm:
            wb.adapt(sd, mine, rules='weightbridge 1\nrenam "a" -> "b"\n')
        self.assertIsInstance(cm.exception, ValueError)
        self.assertIn(":2:", str(cm.exception))

    def test_rules_that_do_not_map(self):
        sd = gpt2_conv1d(layers=1)
        mine, _ = nanogpt_target(sd)
        with self.assertRaises(wb.MappingError):
            wb.adapt(sd, mine, rules='weightbridge 1\nrename "*" -> "transformer.*"\n')

    def test_bad_hint(self):
        theirs, mine = ambiguous()
        for h in (["no-equals-sign"], [("a", "b", "c")], [42]):
            with self.assertRaises((TypeError, ValueError)):
                wb.adapt(theirs, mine, hints=h)


if __name__ == "__main__":
    unittest.main()
