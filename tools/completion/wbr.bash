# wbr.bash — bash completion for wbr: subcommands, each one's options, files otherwise.
# Installed by `make install` to $(PREFIX)/share/bash-completion/completions/wbr.
_wbr() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} opts
  local common="-h --help -q --quiet -v --verbose"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "inspect plan check apply convert match compile disasm fmt help --help --version" -- "$cur"))
    return
  fi
  case $cmd in
    inspect) opts="--json --from" ;;
    plan) opts="-t --target --format --allow-missing --param --config --from --target-format" ;;
    check) opts="-t --target --json --allow-missing --param --config --from --target-format" ;;
    apply) opts="-t --target -o --output --dry-run --sync --max-shard-size --copy --threads --allow-missing --metadata --param --config --from --target-format --to" ;;
    convert) opts="-o --output --dtype -t --target --dry-run --sync --max-shard-size --copy --from --to" ;;
    match) opts="-o --output --hint --update --explain --json --library --param --config --from --target-format" ;;
    compile) opts="-o --output" ;;
    disasm) opts="" ;;
    fmt) opts="-w --write --check" ;;
    help) COMPREPLY=($(compgen -W "inspect plan check apply convert match compile disasm fmt" -- "$cur")); return ;;
  esac
  case ${COMP_WORDS[COMP_CWORD-1]} in
    --format) COMPREPLY=($(compgen -W "text md json" -- "$cur")); return ;;
    --dtype) COMPREPLY=($(compgen -W "bf16 f16 f32 f64" -- "$cur")); return ;;
    --from|--target-format|--to) COMPREPLY=($(compgen -W "safetensors sharded-safetensors manifest pytorch sharded-pytorch lightning gguf npy npz" -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts $common" -- "$cur"))
  else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -o filenames -F _wbr wbr
