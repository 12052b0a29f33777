"""harness.py — runs the unittest modules of tests/python and prints one line per test in the
suite's form ("PASS: python/<module>/<test>", "FAIL: ...: why", "SKIP: ...: why"), so tests/run.sh
counts them. Shared helpers for the tests: a scratch directory and the fixture pairs."""
import json
import os
import shutil
import sys
import tempfile
import traceback
import unittest

TOP = os.environ.get("TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(TOP, "tests", "fixtures")


def fixture(pair):
    """(a tensors, b tensors, truth targets) of tests/fixtures/PAIR (manifests of real models)."""
    d = os.path.join(FIXTURES, pair)
    load = lambda n: json.load(open(os.path.join(d, n)))  # noqa: E731
    return load("a.json")["tensors"], load("b.json")["tensors"], load("truth.json")["targets"]


def replay(sources, ops):
    sys.path.insert(0, FIXTURES)
    import check_pair  # the fixtures' own replay of truth.json operations (numpy)
    return check_pair.replay(sources, ops)


class Scratch(unittest.TestCase):
    """A TestCase with a fresh scratch directory self.d."""

    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="wbr-py-")

    def tearDown(self):
        shutil.rmtree(self.d, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.d, name)


class LineResult(unittest.TestResult):
    def _id(self, test):
        mod, _, name = test.id().rpartition(".")
        return "python/%s/%s" % (mod.split(".")[0].replace("test_", ""), name.replace("test_", ""))

    def addSuccess(self, test):
        print("PASS: %s" % self._id(test), flush=True)

    def _fail(self, test, err):
        why = "".join(traceback.format_exception_only(err[0], err[1])).strip().replace("\n", " | ")
        tb = "".join(traceback.format_tb(err[2])[-2:]).strip().replace("\n", " | ")
        print("FAIL: %s: %s [%s]" % (self._id(test), why[:900], tb[-400:]), flush=True)
        self.failures.append((test, why))

    addFailure = _fail
    addError = _fail

    def addSkip(self, test, reason):
        print("SKIP: %s: %s" % (self._id(test), reason), flush=True)


def main(names):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    suite = unittest.TestSuite()
    for n in names:
        suite.addTests(unittest.defaultTestLoader.loadTestsFromName(n))
    result = LineResult()
    suite.run(result)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
