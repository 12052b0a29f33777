# apply.sh — `wbr apply` options as a user runs them: --sync gives the same bytes, durably.
. "$(dirname "$0")/../lib.sh"
needs_py apply/example numpy || exit 0
/usr/bin/python3 examples/make_example.py "$T" || fail apply/example "could not write the example"
R=examples/gpt2_to_nanogpt.wbr
ok apply/plain "$WBR" apply "$R" "$T/gpt2_tiny.safetensors" -t "$T/nanogpt_tiny.json" -o "$T/a.safetensors"
ok apply/sync "$WBR" apply "$R" "$T/gpt2_tiny.safetensors" -t "$T/nanogpt_tiny.json" -o "$T/b.safetensors" --sync
same apply/sync-same-bytes "$T/a.safetensors" "$T/b.safetensors"
# strace shows the fsync when it is there (skip the check if strace is not installed)
if command -v strace >/dev/null 2>&1 && [ -z "${WBR_SANITIZED:-}" ]; then
  strace -f -e trace=fsync -o "$T/st" "$WBR" apply "$R" "$T/gpt2_tiny.safetensors" -o "$T/c.safetensors" --sync 2>/dev/null
  grep -q fsync "$T/st" && pass apply/sync-fsyncs || fail apply/sync-fsyncs "no fsync seen with --sync"
  strace -f -e trace=fsync -o "$T/st2" "$WBR" apply "$R" "$T/gpt2_tiny.safetensors" -o "$T/d.safetensors" 2>/dev/null
  grep -q fsync "$T/st2" && fail apply/no-sync-by-default "fsync without --sync" || pass apply/no-sync-by-default
fi
rejects apply/sync-not-for-plan 2 "unknown option '--sync'" "$WBR" plan "$R" "$T/gpt2_tiny.safetensors" --sync
rejects apply/missing-o 2 "-o OUT is required" "$WBR" apply "$R" "$T/gpt2_tiny.safetensors"
# Progress goes to stderr only when it is a terminal (script(1) gives the command one).
if command -v script >/dev/null 2>&1; then
  script -qec "'$WBR' apply '$R' '$T/gpt2_tiny.safetensors' -o '$T/e.safetensors'" /dev/null </dev/null >"$T/tty.out" 2>&1
  grep -q "28/28 tensors" "$T/tty.out" && grep -q "MiB/s" "$T/tty.out" && pass apply/progress-on-a-terminal \
    || fail apply/progress-on-a-terminal "no progress line: $(head -c 300 "$T/tty.out" | tr -d '\r')"
  "$WBR" apply "$R" "$T/gpt2_tiny.safetensors" -o "$T/f.safetensors" 2>"$T/notty.err"
  grep -q "MiB/s" "$T/notty.err" && fail apply/no-progress-when-piped "progress printed to a non-terminal" \
    || pass apply/no-progress-when-piped
fi
