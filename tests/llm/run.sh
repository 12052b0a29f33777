#!/bin/sh
# tests/llm/run.sh — issue 12's test ground: tiny LLaMA / Mistral / Mixtral / GPT-2 reference
# models (models.py, checked against their papers' properties by selftest.py) in each layout,
# converted by the hand-written rule files of tests/llm/rules/ with `wbr apply`, proven by
# comparing the outputs of two forward passes (check.py), each pair with a negative control that
# must load and disagree.
. "$(dirname "$0")/../lib.sh"
needs_py llm/python-torch torch numpy || exit 0
"$PY" "$TOP/tests/llm/selftest.py" || fail llm/selftest "selftest.py exited $?"
"$PY" "$TOP/tests/llm/check.py" "$WBR" "$T" ${LLM_ONLY:-} || fail llm/check "check.py exited $?"
"$PY" "$TOP/tests/llm/lib_rope.py" "$WBR" "$T" ${LLM_ONLY:-} || fail llm/lib_rope "lib_rope.py exited $?"
"$PY" "$TOP/tests/llm/lib_experts.py" "$WBR" "$T" ${LLM_ONLY:-} || fail llm/lib_experts "lib_experts.py exited $?"
"$PY" "$TOP/tests/llm/match_llm.py" "$WBR" "$T" ${LLM_ONLY:-} || fail llm/match "match_llm.py exited $?"
