"""load / save / manifest: round trips through every format the CLI writes and a model directory
(DIR/), values read back by weightbridge and, where one exists, by an independent reader
(torch.load, numpy.load); FILE.pt#KEY, torch=True (bf16 through a 16-bit view), zero-copy
views, hostile files."""
import json
import os
import unittest

import numpy as np
import torch

import weightbridge as wb
from harness import Scratch


def sample(dtypes):
    g = torch.Generator().manual_seed(11)
    make = {"F32": lambda: torch.randn(3, 4, generator=g),
            "F16": lambda: torch.randn(5, generator=g).half(),
            "BF16": lambda: torch.randn(2, 3, generator=g).bfloat16(),
            "F64": lambda: torch.randn(2, generator=g).double(),
            "I64": lambda: torch.arange(6).reshape(2, 3),
            "I32": lambda: torch.arange(4, dtype=torch.int32),
            "I8": lambda: torch.arange(-3, 3, dtype=torch.int8),
            "U8": lambda: torch.arange(7, dtype=torch.uint8),
            "BOOL": lambda: torch.tensor([True, False, True])}
    return {"t.%s" % d.lower(): make[d]() for d in dtypes}


ALL = ["F32", "F16", "BF16", "F64", "I64", "I32", "I8", "U8", "BOOL"]


class RoundTrip(Scratch):
    def roundtrip(self, ext, dtypes, oracle=None):
        sd = sample(dtypes)
        p = self.path("w" + ext)
        wb.save(sd, p)
        back = wb.load(p, torch=True)
        self.assertEqual(list(back), list(sd))
        for k, v in sd.items():
            self.assertEqual(back[k].dtype, v.dtype, k)
            self.assertTrue(torch.equal(back[k], v), k)
        if oracle:
            got = oracle(p)
            self.assertEqual(sorted(got), sorted(sd))
            for k, v in sd.items():
                g = got[k] if isinstance(got[k], torch.Tensor) else torch.from_numpy(got[k])
                self.assertEqual(g.dtype, v.dtype, k)
                self.assertTrue(torch.equal(g, v), k)
        return back

    def test_safetensors(self):
        self.roundtrip(".safetensors", ALL)

    def test_sharded_index(self):
        self.roundtrip(".safetensors.index.json", ALL)
        self.assertTrue(any(f.endswith(".safetensors") for f in os.listdir(self.d)))

    def test_pt(self):
        self.roundtrip(".pt", ALL, oracle=lambda p: torch.load(p, weights_only=True))

    def test_model_directory(self):
        # "DIR/" is a Hugging Face model directory: save writes DIR/model.safetensors (the
        # layout save_pretrained writes), load reads it back by the directory's name.
        back = self.roundtrip("dir/", ALL)
        self.assertEqual(os.listdir(self.path("wdir")), ["model.safetensors"])

    def test_npz(self):
        self.roundtrip(".npz", ["F32", "F16", "F64", "I64", "I32", "I8", "U8", "BOOL"],
                       oracle=lambda p: dict(np.load(p)))

    def test_npy_single(self):
        sd = {"only": torch.randn(4, 5, generator=torch.Generator().manual_seed(1))}
        p = self.path("one.npy")
        wb.save(sd, p)
        self.assertTrue(np.array_equal(np.load(p), sd["only"].numpy()))
        back = wb.load(p)
        self.assertEqual(len(back), 1)
        self.assertTrue(np.array_equal(next(iter(back.values())), sd["only"].numpy()))

    def test_gguf(self):
        self.roundtrip(".gguf", ["F32", "F16", "BF16", "I32", "I8"])

    def test_manifest_json(self):
        sd = sample(ALL)
        p = self.path("m.json")
        wb.save(sd, p)
        doc = json.load(open(p))
        self.assertEqual(doc, wb.manifest(sd))
        back = wb.load(p)
        self.assertEqual(back["t.bf16"], wb.TensorSpec("BF16", (2, 3)))

    def test_metadata_and_file_to_file(self):
        sd = sample(["F32", "BF16"])
        p, q = self.path("w.pt"), self.path("w.safetensors")
        torch.save(sd, p)
        wb.save(wb.load(p), q, metadata={"origin": "test"})
        back = wb.load(q, torch=True)
        self.assertEqual(back.metadata().get("origin"), "test")
        for k, v in sd.items():
            self.assertTrue(torch.equal(back[k], v), k)

    def test_numpy_mapping_saved(self):
        d = {"a": np.arange(12, dtype=np.float32).reshape(3, 4),
             "b": np.arange(5, dtype=np.int64)[::2]}  # a strided view: copied once
        p = self.path("n.safetensors")
        wb.save(d, p)
        back = wb.load(p)
        for k, v in d.items():
            np.testing.assert_array_equal(back[k], v)
            self.assertEqual(back[k].dtype, v.dtype)


class Load(Scratch):
    def test_pt_key(self):
        sd = sample(["F32", "I64"])
        p = self.path("ckpt.pt")
        torch.save({"model": sd, "epoch": 3}, p)
        back = wb.load(p + "#model", torch=True)
        self.assertEqual(sorted(back), sorted(sd))
        for k, v in sd.items():
            self.assertTrue(torch.equal(back[k], v))

    def test_zero_copy_read_only(self):
        sd = sample(["F32"])
        p = self.path("w.safetensors")
        wb.save(sd, p)
        back = wb.load(p)
        a = back["t.f32"]
        self.assertFalse(a.flags.writeable)
        self.assertFalse(a.flags.owndata)
        with self.assertRaises((ValueError, TypeError)):
            a[0, 0] = 1.0
        info = back.info("t.f32")
        self.assertEqual((info[0], info[1], tuple(info[2]), info[3]), ("t.f32", "F32", (3, 4), 48))

    def test_array_outlives_mapping(self):
        sd = sample(["F32"])
        p = self.path("w.safetensors")
        wb.save(sd, p)
        a = wb.load(p)["t.f32"]
        import gc
        gc.collect()
        np.testing.assert_array_equal(a, sd["t.f32"].numpy())

    def test_torch_bf16_view(self):
        sd = sample(["BF16"])
        p = self.path("w.safetensors")
        wb.save(sd, p)
        t = wb.load(p, torch=True)["t.bf16"]
        self.assertEqual(t.dtype, torch.bfloat16)
        self.assertTrue(torch.equal(t, sd["t.bf16"]))
        self.assertEqual(wb.load(p)["t.bf16"].dtype, np.uint16)

    def test_strided_pt_view_made(self):
        base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
        p = self.path("v.pt")
        torch.save({"v": base.t()}, p)  # saved as a strided view of its storage
        back = wb.load(p)
        np.testing.assert_array_equal(back["v"], base.t().numpy())

    def test_mapping_is_read_only(self):
        p = self.path("w.safetensors")
        wb.save(sample(["F32"]), p)
        back = wb.load(p)
        with self.assertRaises(TypeError):
            back["x"] = np.zeros(1)


class Hostile(Scratch):
    def test_truncated_safetensors(self):
        p = self.path("w.safetensors")
        wb.save(sample(["F32", "I64"]), p)
        data = open(p, "rb").read()
        for n, cut in enumerate((4, 20, len(data) - 3)):
            q = self.path("cut%d.safetensors" % n)
            open(q, "wb").write(data[:cut])
            with self.assertRaises(wb.FormatError) as cm:
                wb.load(q)
            self.assertIsInstance(cm.exception, ValueError)
            self.assertIn("cut%d" % n, str(cm.exception))

    def test_garbage_and_missing(self):
        for name, blob in (("g.pt", b"PK\x03\x04garbage"), ("g.npz", b"\x00" * 50),
                           ("g.gguf", b"GGUF\x03\x00\x00\x00"), ("g.json", b"{not json")):
            q = self.path(name)
            open(q, "wb").write(blob)
            with self.assertRaises(wb.Error, msg=name):
                wb.load(q)
        with self.assertRaises(wb.Error):
            wb.load(self.path("missing.safetensors"))

    def test_save_bad_inputs(self):
        with self.assertRaises(TypeError):
            wb.save([1, 2], self.path("x.safetensors"))
        with self.assertRaises(TypeError):
            wb.save({"a": "s"}, self.path("x.safetensors"))
        with self.assertRaises(wb.Error):
            wb.save({"a": np.zeros(2, np.float32)}, self.path("x.unknown-ext"))
        self.assertFalse(os.path.exists(self.path("x.safetensors")))


if __name__ == "__main__":
    unittest.main()
