#!/bin/sh
# tests/wbc/run.sh — the .wbc format through the command line. gen.py encodes a valid program
# independently of the C code (from docs/bytecode.md) and hostile variants of it; `wbr disasm`
# must list the valid one and reject each hostile one with exit 1 and its exact message. Also
# the usage errors and exit codes of `wbr compile` and `wbr disasm`.
. "$(dirname "$0")/../lib.sh"
cd "$T" || exit 1

if ! "$PY" "$TOP/tests/wbc/gen.py" "$T"; then fail wbc/gen "gen.py failed"; exit 0; fi

# The independently encoded file loads and lists as documented.
"$WBR" disasm good.wbc >good.dis 2>err
rc=$?
if [ $rc -eq 0 ] && grep -qF '3     5:1       split              "blocks.{i}.qkv" axis 0 sizes [16, -1] -> "blocks.{i}.q", "blocks.{i}.k"' good.dis &&
   grep -qF '; source "rules/good.wbr", hash 1122334455667788' good.dis &&
   grep -qF '2     4:1       rename        opt  /^stages\.(\d+)\./i -> "stages.$1.blocks."' good.dis; then
  pass wbc/independent_encoding_loads
else
  fail wbc/independent_encoding_loads "exit $rc: $(head -c 300 err) $(head -c 600 good.dis)"
fi

HELP='  help: the file is corrupt or was not written by wbr: recompile it with `wbr compile`'
# bad NAME 'message' [help]: `wbr disasm NAME.wbc` exits 1, prints nothing on stdout, and its
# stderr is exactly "NAME.wbc: error: message" and the help line.
bad() {
  "$WBR" disasm "$1.wbc" >out 2>err
  rc=$?
  printf '%s: error: %s\n%s\n' "$1.wbc" "$2" "${3:-$HELP}" >want
  if [ $rc -ne 1 ]; then fail "wbc/$1" "exit $rc, wanted 1"
  elif [ -s out ]; then fail "wbc/$1" "printed a listing for a bad file"
  else same "wbc/$1" want err; fi
}
bad bad_opcode 'byte 158: instruction 1: unknown opcode 77'
bad pattern_index 'instruction 0 at byte 142 (drop): operand a: pattern index 9 out of range (5 patterns)'
bad bad_regex 'byte 471: pattern 2: regex /^stages\.((\d+)\./ at offset 17: invalid regex: missing closing parenthesis'
bad unbound_capture "instruction 2 at byte 174 (rename): operand b: template \"blocks.{i}.q\" at offset 7: '{i}' in the template of a /regex/ pattern"
bad bad_dtype 'instruction 4 at byte 206 (cast): operand x: dtype 40 out of range (0 to 14)'
bad bad_flags 'instruction 0 at byte 142 (drop): unknown flag bits 0x80'
bad huge_count 'byte 290: 2147483647 strings exceed the limit of 1048576'
bad sizes_mismatch 'instruction 3 at byte 190 (split): operand c: 3 sizes for 2 outputs'
bad version3 'byte 12: bytecode format version 3 is not supported (this wbr reads versions 1 and 2)' \
  '  help: recompile the .wbr with this wbr: `wbr compile RULES.wbr`'
# Format 2 (parameters): the independently encoded program lists its parameters and
# expressions; every hostile variant of its table, pool and references is refused.
"$WBR" disasm good_v2.wbc >good_v2.dis 2>err
if grep -qF '; 2 parameters, 6 expression nodes: n = 4, h = n * 2' good_v2.dis &&
   grep -qF '2     4:1       reshape            "*" [h, -1, n / 2]' good_v2.dis &&
   grep -qF '3     5:1       expect_count       "*" count n' good_v2.dis; then
  pass wbc/v2_independent_encoding_loads
else
  fail wbc/v2_independent_encoding_loads "$(head -c 300 err) $(head -c 900 good_v2.dis)"
fi
bad v2_seven_sections 'byte 14: 7 sections (format version 2 has 9)'
bad v2_param_index 'parameters: expression node 1: parameter 5 out of range (the table has 2)'
bad v2_forward_operand 'parameters: expression node 3: operands 1 and 4 must both come before it'
bad v2_too_deep 'parameters: expression node 36 is nested 33 deep (the limit is 32)'
bad v2_unknown_op 'parameters: expression node 2: unknown operation 9'
bad v2_node_reserved 'byte 390: expression node 2: reserved bytes are not 0'
bad v2_bad_ref 'instruction 2 at byte 195 (reshape): operand b: value 0 refers to expression node 99 (the pool has 6)'
bad v2_axes_ref 'instruction 2 at byte 195 (permute): operand b: value 0 refers to an expression: axes are literal'
bad v2_default_uses_later 'parameters: parameter n: its default uses parameter 1, which is not declared before it'
bad v2_duplicate_name 'parameters: parameters 0 and 1 are both named n'
bad v2_bad_name 'parameters: parameter 0: "N" is not a parameter name'
bad v2_param_order 'instruction 0 at byte 163 (param): operand a: declares parameter 1, expected 0 (the table has 2)'
bad v2_undeclared_entry 'the parameter table has 2 entries, but 1 param instructions declare them'
bad checksum 'byte 546: checksum mismatch (stored 0x00000000, computed 0x83d3a40e): the file is corrupt'
bad byte_swapped 'byte 8: byte-order mark is 0x01020304, expected 0x04030201: the file was byte-swapped or damaged'
bad crlf_to_lf "byte 4: the header's sentinel bytes are damaged: the file went through a text-mode transfer (line endings converted)"
bad truncated 'byte 16: the header gives a size of 550 bytes but the file has 541 (truncated)'
bad trailing 'byte 16: the header gives a size of 550 bytes but the file has 551 (trailing bytes)'
bad empty 'byte 0: the file is truncated (0 bytes; a .wbc has at least 112)'
bad not_wbc 'not a .wbc bytecode file (it does not start with \x89WBC)' \
  '  help: give a .wbc written by `wbr compile`, or the .wbr itself'
# concat/stack: the inputs after the first are templates of the first's captures, verified as
# the VM will run them (before, this one loaded and failed only when a plan ran).
bad concat_unbound_input "instruction 6 at byte 238 (concat): operand a: input 2: template \"blocks.{j}.k\" at offset 7: capture '{j}' is not bound by the pattern"
ok wbc/concat_later_input_is_a_template "$WBR" disasm concat_ok.wbc

# ---- wbr compile / wbr disasm: usage and input errors ----
printf 'weightbridge 1\ndrop "*.tmp"\n' >r.wbr
rejects wbc/compile_no_args 2 'RULES.wbr is missing' "$WBR" compile
rejects wbc/compile_unknown_flag 2 "unknown option '--fast'" "$WBR" compile r.wbr --fast
rejects wbc/compile_extra_arg 2 "too many arguments ('s.wbr')" "$WBR" compile r.wbr s.wbr
rejects wbc/compile_o_without_value 2 '-o needs a file name' "$WBR" compile r.wbr -o
rejects wbc/compile_not_wbr 2 "'r.txt' is not a .wbr rule file" "$WBR" compile r.txt
rejects wbc/compile_output_is_input 2 "the output 'r.wbr' would overwrite a rule file" "$WBR" compile r.wbr -o r.wbr
ln -s r.wbr link.wbc
rejects wbc/compile_output_links_to_input 2 "the output 'link.wbc' would overwrite a rule file" "$WBR" compile r.wbr -o link.wbc
rejects wbc/compile_missing_file 1 'nope.wbr: error: cannot open the rule file: No such file or directory' "$WBR" compile nope.wbr
rejects wbc/disasm_no_args 2 'RULES.wbc or RULES.wbr is missing' "$WBR" disasm
rejects wbc/disasm_extra_arg 2 "too many arguments ('b.wbc')" "$WBR" disasm good.wbc b.wbc
rejects wbc/disasm_unknown_flag 2 "unknown option '-x'" "$WBR" disasm -x good.wbc
rejects wbc/disasm_missing_file 1 'gone.wbc: error: cannot open: No such file or directory' "$WBR" disasm gone.wbc

# Bad rules: diagnostics as file:line:col, exit 1, and no .wbc written (nor a temporary).
mkdir bad && printf 'weightbridge 1\ndrop "a"\nrename "x.*" -> "y.{j}"\n' >bad/rules.wbr
rejects wbc/compile_bad_rules 1 'bad/rules.wbr:3:' "$WBR" compile bad/rules.wbr
if [ "$(ls bad)" = "rules.wbr" ]; then pass wbc/compile_bad_rules_writes_nothing
else fail wbc/compile_bad_rules_writes_nothing "bad/ holds: $(ls bad | tr '\n' ' ')"; fi
rejects wbc/disasm_bad_rules 1 'bad/rules.wbr:3:' "$WBR" disasm bad/rules.wbr

# A failure never touches an existing output: bad rules leave the old .wbc as it was.
ok wbc/compile_ok "$WBR" compile r.wbr -o out.wbc
cp out.wbc before.wbc
rejects wbc/compile_bad_rules_to_existing 1 'bad/rules.wbr:3:' "$WBR" compile bad/rules.wbr -o out.wbc
same wbc/compile_failure_keeps_old_output before.wbc out.wbc
rejects wbc/compile_unwritable_dir 1 "no/such/dir/out.wbc: error: cannot write the output: directory 'no/such/dir' does not exist" "$WBR" compile r.wbr -o no/such/dir/out.wbc

# ---- the source name inside a .wbc is untrusted (issue 9, item 12) ----
# `wbr plan` quotes source lines only from a regular file whose hash the .wbc records; a FIFO or
# /dev/stdin (kept open and empty, like an idle terminal) must not block it.
printf '{"tensors": {"x": {"shape": [2], "dtype": "F32"}}}' >src.json
printf 'weightbridge 1\ndrop "nope"\n' >match.wbr
printf 'weightbridge 1\ndrop "nope"  # edited since\n' >stale.wbr
mkfifo fifo.wbr idle
exec 3<>idle
# src_plan NAME SHOWN: plan NAME.wbc within 10 s, exit 1 with the statement's error, and the
# source line shown (SHOWN=yes) or not.
src_plan() {
  timeout 10 "$WBR" plan "$1.wbc" src.json <&3 >out 2>err
  rc=$?
  if [ $rc -eq 124 ]; then fail "wbc/$1" "plan blocked (still running after 10 s)"
  elif [ $rc -ne 1 ] || ! grep -qF "error: 'drop' matched no tensor" err; then fail "wbc/$1" "exit $rc: $(head -c 300 err)"
  elif [ "$2" = yes ] && ! grep -qF '  drop "nope"' err; then fail "wbc/$1" "the source line is not shown: $(head -c 300 err)"
  elif [ "$2" = no ] && grep -qF 'drop "nope"' err; then fail "wbc/$1" "a source line was shown from a file that is not the source: $(head -c 300 err)"
  else pass "wbc/$1"; fi
}
src_plan src_match yes
src_plan src_stale no
src_plan src_stdin no
src_plan src_fifo no
src_plan src_dir no
src_plan src_missing no
# Only a file named *.wbr is read at all (not /proc/kmsg, which blocks on read even as a
# regular file): the right text under another name is not shown.
cp match.wbr match.txt
src_plan src_not_wbr no
exec 3>&-

# Names a .wbc cannot hold are left out of it, never an internal error: a rule file whose name
# is not UTF-8 compiles, and plans without a source name.
printf 'weightbridge 1\ndrop "nope"\n' >"$(printf 'bad\377name.wbr')"
ok wbc/compile_non_utf8_file_name "$WBR" compile "$(printf 'bad\377name.wbr')" -o nonutf8.wbc
rejects wbc/plan_non_utf8_file_name 1 "error: 'drop' matched no tensor" "$WBR" plan nonutf8.wbc src.json
# The pattern limits are the runtime engine's, checked before emitting: no "internal error".
printf 'weightbridge 1\nrename "a.{%s}" -> "b"\n' "$(printf 'c%.0s' $(seq 33))" >longcap.wbr
rejects wbc/compile_long_capture_name 1 'longcap.wbr:2:12: error: capture name longer than 32 characters' "$WBR" compile longcap.wbr
if grep -q 'internal error' "$T/.err"; then fail wbc/compile_long_capture_name_not_internal "internal error reported"
else pass wbc/compile_long_capture_name_not_internal; fi
# A FIFO given as the rules (.wbr or .wbc) is refused at once, never opened for a blocking read.
mkfifo pipe.wbr pipe.wbc
rejects wbc/compile_fifo_rules 1 'pipe.wbr: error: the rule file is a FIFO' timeout 10 "$WBR" compile pipe.wbr -o fifo-out.wbc
rejects wbc/plan_fifo_wbc 1 'pipe.wbc: error: not a regular file' timeout 10 "$WBR" plan pipe.wbc src.json
rejects wbc/disasm_fifo_wbc 1 'pipe.wbc: error: not a regular file' timeout 10 "$WBR" disasm pipe.wbc
