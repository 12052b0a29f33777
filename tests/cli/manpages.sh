# manpages.sh — the man pages (docs/man) render without a groff warning and cover every
# subcommand and option its --help names; `make install` puts them and the bash/zsh completion
# under PREFIX/share; the bash completion completes subcommands and options (sourced in bash,
# called with COMP_WORDS as bash would).
. "$(dirname "$0")/../lib.sh"
for c in inspect plan check apply convert match compile disasm fmt; do
  [ -f "docs/man/wbr-$c.1" ] && pass "man/exists/$c" || fail "man/exists/$c" "docs/man/wbr-$c.1 missing"
done
if command -v groff >/dev/null 2>&1; then
  for f in docs/man/*.1; do
    groff -man -Tutf8 -ww "$f" >"$T/out" 2>"$T/err"
    if [ $? -eq 0 ] && [ ! -s "$T/err" ] && [ -s "$T/out" ]; then pass "man/groff-clean/$(basename "$f")"
    else fail "man/groff-clean/$(basename "$f")" "$(head -c 300 "$T/err")"; fi
  done
  # every long option a command's --help names is in its page
  for c in inspect plan check apply convert match compile fmt; do
    groff -man -Tascii "docs/man/wbr-$c.1" 2>/dev/null | col -bx >"$T/page" 2>/dev/null || groff -man -Tascii "docs/man/wbr-$c.1" >"$T/page"
    missing=
    for o in $("$WBR" help $c | grep -o -- '--[a-z][a-z-]*' | sort -u); do grep -q -- "$o" "$T/page" || missing="$missing $o"; done
    [ -z "$missing" ] && pass "man/options/$c" || fail "man/options/$c" "not in the page:$missing"
  done
else
  echo "SKIP: man/groff: groff missing"
fi
P="$T/prefix"
ok man/make-install make --no-print-directory -s BUILD="$BUILD" SAN="${WBR_SAN_FLAGS:-}" PREFIX="$P" install
for f in share/man/man1/wbr.1 share/man/man1/wbr-convert.1 share/bash-completion/completions/wbr share/zsh/site-functions/_wbr; do
  [ -f "$P/$f" ] && pass "man/installed/$f" || fail "man/installed/$f" missing
done
if command -v man >/dev/null 2>&1 && MANPATH="$P/share/man" man -w wbr-apply >/dev/null 2>&1; then pass man/man-finds-installed
else echo "SKIP: man/man-finds-installed: man cannot look it up here"; fi
ok man/make-uninstall make --no-print-directory -s BUILD="$BUILD" PREFIX="$P" uninstall
[ ! -e "$P/share/man/man1/wbr.1" ] && [ ! -e "$P/share/bash-completion/completions/wbr" ] && pass man/uninstalled || fail man/uninstalled "left behind"

# bash completion, called as bash calls it
comp() { bash -c '. tools/completion/wbr.bash; COMP_WORDS=('"$1"'); COMP_CWORD='"$2"'; _wbr; echo "${COMPREPLY[*]}"' 2>&1; }
r=$(comp 'wbr co' 1); [ "$r" = "convert compile" ] && pass completion/subcommands || fail completion/subcommands "got '$r'"
r=$(comp 'wbr apply --d' 2); [ "$r" = "--dry-run" ] && pass completion/apply-option || fail completion/apply-option "got '$r'"
r=$(comp 'wbr convert x --dtype b' 4); [ "$r" = "bf16" ] && pass completion/dtype-value || fail completion/dtype-value "got '$r'"
r=$(comp 'wbr check --j' 2); [ "$r" = "--json" ] && pass completion/check-json || fail completion/check-json "got '$r'"
r=$(comp 'wbr convert x --from sh' 4); [ "$r" = "sharded-safetensors sharded-pytorch" ] && pass completion/from-value || fail completion/from-value "got '$r'"
r=$(comp 'wbr apply --t' 2); [ "$r" = "--target --threads --target-format --to" ] && pass completion/format-options || fail completion/format-options "got '$r'"
r=$(comp 'wbr help ma' 2); [ "$r" = "match" ] && pass completion/help-command || fail completion/help-command "got '$r'"
if command -v zsh >/dev/null 2>&1; then zsh -n tools/completion/_wbr && pass completion/zsh-parses || fail completion/zsh-parses "syntax"; else echo "SKIP: completion/zsh-parses: zsh missing"; fi
