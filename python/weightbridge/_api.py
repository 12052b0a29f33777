"""The Python API over weightbridge._native: adapt (in memory, end to end), match -> Draft, plan,
check, apply, convert, and the Undecided exception. Every step is the C library's (the matcher,
the compiler, the planner, the runtime); this layer only turns Python containers into tensor
sets, translates hints, keeps the cache file, and turns results into Python objects."""
import json
import os
import re
import sys
import tempfile

from . import _native
from . import _tensors as T


class Undecided(_native.Error, ValueError):
    """The matcher could not decide every target. .draft is the draft's text (the decided part
    plus UNRESOLVED comments), .unresolved a list of dicts: target, shape, dtype, reason,
    candidates (list of dicts: source, shape, dtype), hint (our "SRC=TARGET" hint, or None)."""

    def __init__(self, message, draft, unresolved):
        super().__init__(message)
        self.draft = draft
        self.unresolved = unresolved
        self.code = -8
        self.kind = "mapping"
        self.diagnostics = [message]


class Draft:
    """A drafted rule file: .text, .complete, .unresolved, .review, .summary, .save(path)."""

    def __init__(self, result):
        self.text = result["draft"]
        self.complete = bool(result["complete"])
        self.explain = result.get("explain")
        self.json = result.get("json")
        parsed = json.loads(self.json) if self.json else None
        self.summary = {k: result.get(k) for k in ("targets", "paired", "ambiguous", "unmatched",
                                                   "statements", "dtype", "depth", "review_count")}
        if parsed is not None:
            self.unresolved = [_py_hint(u) for u in parsed.get("unresolved", [])]
            self.review = parsed.get("review", [])
        else:
            self.unresolved = _parse_unresolved(self.text)
            self.review = _parse_review(result.get("review") or "")

    def save(self, path):
        """Write the draft to path atomically (a temporary file beside it, then a rename)."""
        write_atomic(path, self.text)

    def __repr__(self):
        return "<weightbridge.Draft %s, %d unresolved>" % (
            "complete" if self.complete else "incomplete", len(self.unresolved))


def _py_hint(u):
    """An unresolved entry of the match JSON with its hint in hints= form ("A=B", not the
    CLI's "--hint 'A=B'"); the CLI's text stays in "cli_hint"."""
    u = dict(u)
    h = u.get("hint")
    if isinstance(h, str) and h.startswith("--hint "):
        u["cli_hint"] = h
        h = h[len("--hint "):].strip()
        if len(h) >= 2 and h[0] == h[-1] and h[0] in "'\"":
            h = h[1:-1]
        u["hint"] = h
    return u


def _parse_unresolved(text):
    """The UNRESOLVED comments of a draft as dicts (used when the module has no match JSON)."""
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith('# target "'):
            name = line[len('# target "'):].split('"', 1)[0]
            cur = {"target": name, "reason": line.split(": ", 1)[-1], "candidates": [],
                   "hint": None}
            out.append(cur)
        elif cur is not None and line.startswith('#   candidate "'):
            cur["candidates"].append({"source": line[len('#   candidate "'):].split('"', 1)[0]})
        elif cur is not None and line.startswith('#   e.g. hint "'):
            parts = line.split('"')
            if len(parts) >= 4:
                cur["hint"] = "%s=%s" % (parts[1], parts[3])
    return out


def _parse_review(text):
    """The REVIEW list's "TARGET from SOURCE  (WHY)" lines as dicts (without the match JSON)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\S+) from (\S+)\s+\((.*)\)", line)
        if m:
            out.append({"target": m.group(1), "source": m.group(2), "why": m.group(3)})
    return out


def write_atomic(path, text):
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---- inputs ---------------------------------------------------------------------------------

def _is_path(x):
    return isinstance(x, (str, os.PathLike))


def program(rules):
    """A _native.Program from a path (.wbr or .wbc), rule text, a Draft or a Program."""
    if isinstance(rules, _native.Program):
        return rules
    if isinstance(rules, Draft):
        return _native.compile("<draft>", rules.text)
    if isinstance(rules, (bytes, bytearray)):
        return _native.load_program_bytes("<bytecode>", bytes(rules))
    if isinstance(rules, os.PathLike) or (isinstance(rules, str) and "\n" not in rules
                                          and not rules.lstrip().startswith("weightbridge ")):
        path = os.fspath(rules)
        if path.endswith(".wbc"):
            return _native.load_program(path)
        with open(path, encoding="utf-8") as f:
            return _native.compile(path, f.read())
    if isinstance(rules, str):
        return _native.compile("<rules>", rules)
    raise TypeError("weightbridge: rules must be a path, rule text, a Draft or a Program, not %s"
                    % type(rules).__name__)


class _Side:
    """One side (theirs or mine) as a tensor set, with the Python entries it came from."""

    def __init__(self, weights, role):
        self.weights, self.entries, self.path = weights, None, None
        if isinstance(weights, _native.TensorSet):
            self.ts = weights
        elif _is_path(weights):
            self.path = os.fspath(weights)
            self.ts = _native.open(self.path)
        else:
            self.entries = T.flatten(weights)
            if role == "source":
                self.ts = T.source_set(self.entries)
            else:
                self.ts = T.manifest_set(self.entries)

    def kind(self, name):
        """torch or numpy: the type of the tensor named name on this side (numpy for files)."""
        if self.entries is None:
            return "numpy"
        if not hasattr(self, "_kinds"):
            self._kinds = {n: T.kind_of(v) for n, _, v in self.entries}
        return self._kinds.get(name, "numpy")

    def first_kind(self):
        if self.entries:
            return T.kind_of(self.entries[0][2])
        return "numpy"


def _plan(prog, src, tgt, params=None, allow_missing=None):
    kw = {}
    if params is not None:
        kw["params"] = params
    if isinstance(allow_missing, str):
        kw["allow_missing"] = [allow_missing]  # one pattern, not a list of its characters
    elif allow_missing is not None:
        kw["allow_missing"] = list(allow_missing)
    return _native.plan(prog, src.ts, tgt.ts if tgt is not None else None, **kw)


def _mapping_error(what, plan_, hint):
    diags = list(getattr(plan_, "diagnostics", []) or [])
    msg = "%s: %d problem%s\n%s%s" % (what, plan_.problems, "" if plan_.problems == 1 else "s",
                                      "\n".join(diags), ("\n" + hint) if hint else "")
    e = _native.MappingError(msg)
    e.code, e.kind, e.diagnostics = -8, "mapping", diags
    return e


# ---- hints ----------------------------------------------------------------------------------

def hints_to_native(hints, theirs, mine):
    """Our hint strings ("SRC=TARGET", globs with matching {captures}) from the forms adapt and
    match accept: a "SRC=TARGET" string is passed as it is; a 2-tuple whose items hold a glob
    character ('*' or '{') is (src_glob, target_glob); any other 2-tuple is the seed library's
    ("mine_substring", "their_substring"), turned into one exact hint per target that names
    mine_substring when exactly one source naming their_substring fits it (same element count;
    if several fit, the one whose name is the target's with mine_substring replaced by
    their_substring); targets it leaves open are the matcher's to decide."""
    out = []
    for h in hints or ():
        if isinstance(h, str):
            if "=" not in h:
                raise ValueError("weightbridge: hint %r is not SRC=TARGET" % h)
            out.append(h)
        elif isinstance(h, (tuple, list)) and len(h) == 2 and all(isinstance(x, str) for x in h):
            if any(c in x for x in h for c in "*{"):
                out.append("%s=%s" % (h[0], h[1]))
            else:
                out.extend(_substring_hints(h[0], h[1], theirs, mine))
        else:
            raise TypeError("weightbridge: a hint is 'SRC=TARGET', (src_glob, target_glob) or "
                            "('mine_substring', 'their_substring'), not %r" % (h,))
    return out


def _nelem(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _names_shapes(ts):
    out = []
    for i in range(len(ts)):
        info = ts.info(i)
        out.append((info[0], _nelem(info[2])))
    return out


def _substring_hints(mine_sub, their_sub, theirs_ts, mine_ts):
    sources = [(n, k) for n, k in _names_shapes(theirs_ts) if their_sub in n]
    out, used = [], set()
    for t, k in _names_shapes(mine_ts):
        if mine_sub not in t:
            continue
        fits = [n for n, kk in sources if kk == k and n not in used]
        if len(fits) > 1:
            want = t.replace(mine_sub, their_sub)
            fits = [n for n in fits if n == want]
        if len(fits) == 1 and not any(c in fits[0] + t for c in "*{}=/"):
            used.add(fits[0])
            out.append("%s=%s" % (fits[0], t))
    return out


# ---- public functions -----------------------------------------------------------------------

def match(theirs, mine, hints=None, params=None, update=None, explain=False, in_format=None,
          out_format=None):
    """Draft rules mapping theirs onto mine (mappings, paths or TensorSets) -> Draft."""
    src, tgt = _Side(theirs, "source"), _Side(mine, "target")
    return _match(src, tgt, hints, params, update, explain, in_format, out_format)


def _match(src, tgt, hints, params, update, explain, in_format, out_format):
    kw = {"hints": hints_to_native(hints, src.ts, tgt.ts), "explain": bool(explain)}
    if params is not None:
        kw["params"] = params
    if update is not None:
        if _is_path(update):
            with open(os.fspath(update), encoding="utf-8") as f:
                update = (os.fspath(update), f.read())
        kw["update"] = update
    if in_format is not None:
        kw["src_layout"] = in_format
    if out_format is not None:
        kw["target_layout"] = out_format
    if src.path:
        kw["src_label"] = src.path
    if tgt.path:
        kw["target_label"] = tgt.path
    return Draft(_native.match(src.ts, tgt.ts, **kw))


def undecided(draft):
    """The Undecided exception for an incomplete draft, its message listing every target."""
    lines = ["weightbridge: the matcher left %d target tensor%s undecided:"
             % (len(draft.unresolved), "" if len(draft.unresolved) == 1 else "s")]
    for u in draft.unresolved:
        shape = " %s" % list(u["shape"]) if u.get("shape") is not None else ""
        why = " (%s)" % u["why"] if u.get("why") else ""
        lines.append("  target '%s'%s: %s%s" % (u["target"], shape, u.get("reason", ""), why))
        for c in u.get("candidates", []):
            cs = " %s" % list(c["shape"]) if c.get("shape") is not None else ""
            lines.append("    candidate '%s'%s" % (c["source"], cs))
        if u.get("hint"):
            lines.append("    hint: hints=[%r]" % u["hint"])
    if not draft.unresolved:
        lines.append("  (the draft is incomplete; see its comments)")
    lines.append("The draft is in the exception's .draft; settle these with hints= or edit it "
                 "and pass it as rules=.")
    return Undecided("\n".join(lines), draft.text, draft.unresolved)


def _resolve_rules(src, tgt, hints, rules, cache, in_format, out_format, verbose):
    """The program adapt runs: rules= as given, else the cache file checked against the inputs,
    else a fresh draft (written to the cache only when complete)."""
    if rules is not None:
        return program(rules), None
    if cache is not None and os.path.exists(os.fspath(cache)):
        prog = program(cache)
        p = _plan(prog, src, tgt)
        if p.problems:
            raise _mapping_error(
                "weightbridge: the cached rules %s do not map these weights" % os.fspath(cache), p,
                "To refresh: delete %s (a new draft is written on the next call) or fix it."
                % os.fspath(cache))
        return prog, p
    draft = _match(src, tgt, hints, None, None, False, in_format, out_format)
    if verbose:
        s = draft.summary
        print("weightbridge: match: %s of %s targets paired, %s statements%s"
              % (s["paired"], s["targets"], s["statements"],
                 "" if draft.complete else ", incomplete"), file=sys.stderr)
    if not draft.complete:
        raise undecided(draft)
    if cache is not None:
        write_atomic(cache, draft.text)
    return _native.compile(os.fspath(cache) if cache is not None else "<draft>", draft.text), None


def adapt(their_weights, my_weights, hints=None, rules=None, cache=None, in_format=None,
          out_format=None, verbose=False):
    """my_weights' structure (container and tensor types, dtypes, key order) holding the values
    of their_weights, converted in memory by rules drafted by the matcher (or given / cached)."""
    src, tgt = _Side(their_weights, "source"), _Side(my_weights, "target")
    if tgt.entries is None:
        raise TypeError("weightbridge: adapt's my_weights must be a mapping of tensors or a "
                        "torch module (for files use convert)")
    prog, p = _resolve_rules(src, tgt, hints, rules, cache, in_format, out_format, verbose)
    if p is None:
        p = _plan(prog, src, tgt)
    if p.problems:
        raise _mapping_error("weightbridge: the rules do not map their_weights onto my_weights",
                             p, None)
    if verbose:
        print(p.render("text"), file=sys.stderr)
    values = T.apply_into(p, tgt.kind)
    return T.rebuild(tgt.weights, tgt.entries, values)


class PlanRows(list):
    """plan()'s rows (dicts of the plan JSON's "tensors"), with .problems, .dropped, .json."""


def plan(rules, theirs, target=None, params=None, allow_missing=None):
    """The plan as rows: one dict per output (name, shape, dtype, from, ops, rules)."""
    src = _Side(theirs, "source")
    tgt = _Side(target, "target") if target is not None else None
    p = _plan(program(rules), src, tgt, params, allow_missing)
    doc = json.loads(p.render("json"))
    rows = PlanRows(doc.get("tensors", []))
    rows.problems, rows.dropped, rows.json = p.problems, doc.get("dropped", []), doc
    rows.diagnostics = list(getattr(p, "diagnostics", []) or [])
    return rows


class CheckReport:
    """What check() proved: .targets (outputs), .dropped (source tensors dropped), .rows."""

    def __init__(self, rows):
        self.rows, self.targets, self.dropped = rows, len(rows), len(rows.dropped)
        self.problems = 0

    def __repr__(self):
        return "<weightbridge.CheckReport %d targets, %d dropped, 0 problems>" % (
            self.targets, self.dropped)


def check(rules, theirs, mine, params=None, allow_missing=None):
    """A CheckReport when rules map theirs onto mine exactly; MappingError otherwise."""
    src, tgt = _Side(theirs, "source"), _Side(mine, "target")
    p = _plan(program(rules), src, tgt, params, allow_missing)
    if p.problems:
        raise _mapping_error("weightbridge: the rules do not map the source onto the target",
                             p, None)
    doc = json.loads(p.render("json"))
    rows = PlanRows(doc.get("tensors", []))
    rows.problems, rows.dropped, rows.json = 0, doc.get("dropped", []), doc
    return CheckReport(rows)


def apply(rules, theirs, target=None, params=None, allow_missing=None):
    """{name: array} in plan order, converted in memory. Arrays are torch tensors when the
    target's tensor (or, without a target mapping, their_weights') is one; numpy otherwise."""
    src = _Side(theirs, "source")
    tgt = _Side(target, "target") if target is not None else None
    p = _plan(program(rules), src, tgt, params, allow_missing)
    if p.problems:
        raise _mapping_error("weightbridge: the rules do not map the source", p, None)
    if tgt is not None and tgt.entries is not None:
        kinds = tgt.kind
    else:
        first = src.first_kind()
        kinds = lambda name: first  # noqa: E731 - outputs of a renamed source: its type
    return T.apply_into(p, kinds)


def convert(rules, src_path, out_path, target=None, params=None, allow_missing=None,
            durable=False, max_shard_bytes=0, threads=0):
    """File to file through the C runtime (streamed, bounded memory), exactly as `wbr apply`."""
    src = _Side(os.fspath(src_path), "source")
    tgt = _Side(target, "target") if target is not None else None
    prog = program(rules)
    p = _plan(prog, src, tgt, params, allow_missing)
    if p.problems:
        raise _mapping_error("weightbridge: the rules do not map %s" % src.path, p, None)
    protect = [src.path]
    if _is_path(rules):
        protect.append(os.fspath(rules))
    if tgt is not None and tgt.path:
        protect.append(tgt.path)
    p.apply_file(os.fspath(out_path), protect=tuple(protect), durable=bool(durable),
                 max_shard_bytes=int(max_shard_bytes), threads=int(threads))
