"""match -> Draft, plan rows, check reports and MappingError, apply into memory, convert file to
file, manifest's real dtypes, the forms rules= takes, and diagnostics text equal to the CLI's."""
import json
import os
import subprocess
import unittest

import numpy as np
import torch

import weightbridge as wb
from harness import Scratch
from models import MyResNet18, TvResNet18, gpt2_conv1d, nanogpt_target

RULES = 'weightbridge 1\nrename "*" -> "transformer.*"\ntranspose "transformer.h.{i}.attn.{p}.weight"\ntranspose "transformer.h.{i}.mlp.{p}.weight"\n'


class Api(Scratch):
    def setUp(self):
        super().setUp()
        self.sd = gpt2_conv1d(seed=9)
        self.mine, self.want = nanogpt_target(self.sd)

    def test_match_draft(self):
        d = wb.match(self.sd, self.mine)
        self.assertIsInstance(d, wb.Draft)
        self.assertTrue(d.complete)
        self.assertEqual(d.unresolved, [])
        self.assertIn("weightbridge 1", d.text)
        p = self.path("d.wbr")
        d.save(p)
        self.assertEqual(open(p).read(), d.text)
        self.assertTrue(all(torch.equal(v, self.want[k])
                            for k, v in wb.apply(d, self.sd, self.mine).items()))

    def test_match_review_list(self):
        d = wb.match(TvResNet18(), MyResNet18())
        self.assertTrue(d.complete)
        self.assertTrue(d.review)
        pairs = {r["target"]: r["source"] for r in d.review}
        self.assertEqual(pairs.get("stages.0.blocks.0.norm_a.running_var"),
                         "layer1.0.bn1.running_var")
        self.assertTrue(all("order" in r["why"] or "name" in r["why"] for r in d.review))

    def test_match_files_like_cli(self):
        src, tgt = self.path("src.pt"), self.path("mine.json")
        torch.save(self.sd, src)
        json.dump(wb.manifest(self.mine), open(tgt, "w"))
        d = wb.match(src, tgt)
        r = subprocess.run([os.environ["WBR"], "match", src, tgt], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(d.text, r.stdout)

    def test_plan_rows(self):
        rows = wb.plan(RULES, self.sd, self.mine)
        self.assertEqual(rows.problems, 0)
        self.assertEqual(len(rows), len(self.mine))
        row = {r["name"]: r for r in rows}["transformer.h.0.attn.c_attn.weight"]
        self.assertEqual(row["from"], ["h.0.attn.c_attn.weight"])
        self.assertEqual(row["ops"][0]["op"], "permute")

    def test_check_ok_and_mapping_error(self):
        rep = wb.check(RULES, self.sd, self.mine)
        self.assertEqual(rep.targets, len(self.mine))
        bad = dict(self.mine)
        bad["transformer.extra"] = torch.empty(3)
        with self.assertRaises(wb.MappingError) as cm:
            wb.check(RULES, self.sd, bad)
        self.assertIsInstance(cm.exception, ValueError)
        self.assertIn("transformer.extra", str(cm.exception))

    def test_allow_missing(self):
        mine = dict(self.mine)
        mine["transformer.extra.weight"] = torch.empty(3)
        with self.assertRaises(wb.MappingError) as cm:
            wb.check(RULES, self.sd, mine)
        self.assertIn("transformer.extra.weight", str(cm.exception))
        rep = wb.check(RULES, self.sd, mine, allow_missing=["transformer.extra.*"])
        self.assertEqual(rep.targets, len(self.mine))
        self.assertEqual([m["name"] for m in rep.rows.json.get("missing_allowed", [])],
                         ["transformer.extra.weight"])
        wb.check(RULES, self.sd, mine, allow_missing="transformer.extra.*")  # one pattern as a str
        out = wb.apply(RULES, self.sd, mine, allow_missing=("transformer.extra.*",))
        self.assertNotIn("transformer.extra.weight", out)
        self.assertEqual(len(out), len(self.mine))
        for k in out:
            self.assertTrue(torch.equal(out[k], self.want[k]), k)

    def test_allow_missing_bad(self):
        for bad, exc in ((["ok.*", 3], TypeError), (7, TypeError), (["head.{"], ValueError)):
            with self.assertRaises(exc, msg=repr(bad)) as cm:
                wb.check(RULES, self.sd, self.mine, allow_missing=bad)
            if exc is ValueError:
                self.assertIn("--allow-missing pattern 'head.{'", str(cm.exception))

    def test_apply_without_target(self):
        out = wb.apply('weightbridge 1\nrename "h.{i}.*" -> "blocks.{i}.*"\n', self.sd)
        self.assertEqual(len(out), len(self.sd))
        self.assertTrue(torch.equal(out["blocks.1.mlp.c_fc.weight"], self.sd["h.1.mlp.c_fc.weight"]))
        self.assertIsInstance(out["wte.weight"], torch.Tensor)

    def test_rules_forms(self):
        wbr = self.path("r.wbr")
        open(wbr, "w").write(RULES)
        prog = wb._native.compile("r.wbr", RULES)
        wbc = self.path("r.wbc")
        prog.save(wbc)
        for rules in (wbr, RULES, prog, wbc, wb.match(self.sd, self.mine)):
            out = wb.apply(rules, self.sd, self.mine)
            for k, v in self.want.items():
                self.assertTrue(torch.equal(out[k], v), (type(rules), k))

    def test_convert_file_to_file(self):
        src, out, tgt = self.path("src.pt"), self.path("out.safetensors"), self.path("mine.json")
        torch.save(self.sd, src)
        json.dump(wb.manifest(self.mine), open(tgt, "w"))
        wb.convert(RULES, src, out, target=tgt)
        back = wb.load(out, torch=True)
        self.assertEqual(list(back), list(self.mine))
        for k, v in self.want.items():
            self.assertTrue(torch.equal(back[k], v), k)
        with self.assertRaises(wb.Error):
            wb.convert(RULES, src, src)  # never the input
        self.assertTrue(torch.equal(torch.load(src)["wte.weight"], self.sd["wte.weight"]))

    def test_manifest_real_dtypes(self):
        m = wb.manifest(TvResNet18())
        self.assertEqual(m["tensors"]["bn1.num_batches_tracked"], {"shape": [], "dtype": "I64"})
        self.assertEqual(m["tensors"]["conv1.weight"]["dtype"], "F32")
        nested = wb.manifest({"Dense_0": {"kernel": np.zeros((2, 3), np.float16)}})
        self.assertEqual(nested, {"tensors": {"Dense_0/kernel": {"shape": [2, 3], "dtype": "F16"}}})
        self.assertEqual(wb.manifest({"b": torch.zeros(2, dtype=torch.bfloat16)})["tensors"]["b"]["dtype"], "BF16")

    def test_diagnostics_like_cli(self):
        text = 'weightbridge 1\nrename "a" -> \n'
        p = self.path("bad.wbr")
        open(p, "w").write(text)
        with self.assertRaises(wb.RulesError) as cm:
            wb.plan(p, self.sd)
        r = subprocess.run([os.environ["WBR"], "compile", p, "-o", self.path("bad.wbc")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        first = r.stderr.splitlines()[0]
        self.assertIn(first, str(cm.exception))
        self.assertEqual(cm.exception.kind, "rules")

    def test_version(self):
        self.assertTrue(wb.__version__[0].isdigit())


if __name__ == "__main__":
    unittest.main()
