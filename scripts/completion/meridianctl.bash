# bash completion for meridianctl: verbs, options, job files and job ids.
# Installed as share/bash-completion/completions/meridianctl; or
#   source scripts/completion/meridianctl.bash
_meridianctl() {
  local cur prev verb i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  local verbs="pools nodes submit plan list get watch cancel logs"
  local global="--scheduler --json --token-file --tls-ca --tls-cert --tls-key --log-format --log-level --help --version"
  case $prev in
    --token-file|--tls-ca|--tls-cert|--tls-key)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --scheduler|--tail)
      return ;;
    --log-format)
      COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
    --log-level)
      COMPREPLY=($(compgen -W "trace debug info warn error critical off" -- "$cur")); return ;;
    --state)
      COMPREPLY=($(compgen -W "QUEUED PLACED RUNNING SUCCEEDED FAILED CANCELLED" -- "$cur")); return ;;
  esac
  verb=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --scheduler|--token-file|--tls-ca|--tls-cert|--tls-key|--log-format|--log-level|--state|--tail) ((i++)) ;;
      -*) ;;
      *) verb=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $verb ]]; then
    COMPREPLY=($(compgen -W "$verbs $global" -- "$cur"))
    return
  fi
  local options="$global"
  case $verb in
    submit) options+=" --watch" ;;
    list) options+=" --state" ;;
    logs) options+=" -f --follow --tail" ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
    return
  fi
  case $verb in
    submit|plan)
      COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur")) ;;
    get|watch|cancel|logs)
      # The daemon's job ids (quietly nothing when it cannot be reached).
      local ids
      ids=$(meridianctl list 2>/dev/null | awk '{print $1}')
      COMPREPLY=($(compgen -W "$ids" -- "$cur")) ;;
  esac
}
complete -F _meridianctl meridianctl
