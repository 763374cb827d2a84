#!/usr/bin/env bash
# step-000-setup-configuration.sh: write config.env from config.env.example.
#
# Usage: scripts/step-000-setup-configuration.sh [--non-interactive | --ask-all] [--dry-run]
#        [--help]
#
# Each value comes from, in order: the environment, the existing config.env, the default in
# config.env.example. Without --non-interactive the step asks on the terminal for the main
# settings (region, project, buckets, prefixes, API key, instance types, ...; --ask-all: for
# every setting), offering that value (Enter keeps it). Empty API_KEY and API_KEYS are generated; empty
# SSM parameter names become /$PROJECT_NAME/server-url and /$PROJECT_NAME/api-keys. Values
# the later steps recorded (QUEUE_URL, ...) are kept. Run it again at any time: it changes
# nothing unless a value changed. The file is written with mode 0600 (it holds API keys).
#
# Inputs:  config.env.example; the environment; CONFIG_FILE (default: config.env)
# Creates: config.env
# IAM actions: none
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  local interactive=true ask_all=false args result
  while (($#)); do
    case $1 in
      --non-interactive) interactive=false ;;
      --ask-all) ask_all=true ;;
      *) common_flag "$1" ;;
    esac
    shift
  done
  resolve_config_file
  args=(write "$CONFIG_EXAMPLE" "$CONFIG_FILE")
  if [[ $interactive == true ]]; then
    [[ -t 0 ]] || die "no terminal to ask on: pass --non-interactive to take the values from the environment"
    args+=(--interactive)
    if [[ $ask_all == true ]]; then
      args+=(--ask-all)
    fi
  fi
  result=$(run py "$LIB_DIR/config_file.py" "${args[@]}")
  if [[ $result == changed ]]; then
    changed "wrote $CONFIG_FILE"
  elif ! is_dry_run; then
    unchanged "$CONFIG_FILE is up to date"
  fi
  log_info "next: scripts/step-001-validate-configuration.sh"
}

main "$@"
