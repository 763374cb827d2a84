#!/usr/bin/env bash
# step-331-test-gpu-server.sh: wait until the server at SERVER_URL is ready, then transcribe
# a sample file with curl and print the text.
#
# Usage: scripts/step-331-test-gpu-server.sh [--timeout SECONDS] [--help]
#
# Polls GET $SERVER_URL/health until it answers 200 (the model is loaded), for up to
# --timeout seconds (default SERVER_HEALTH_TIMEOUT: pulling the image and loading the model
# take minutes on a new instance), then POSTs TEST_AUDIO_FILE to /transcribe with
# `Authorization: Bearer $API_KEY` and prints the transcript's text. Run it from a machine
# that can reach the server: inside the VPC, or one whose address is in SERVER_ALLOWED_CIDR.
#
# In local mode the server is a process (make up): when nothing answers at SERVER_URL the
# step says so and exits 0 without testing.
#
# Inputs:  config.env (SERVER_URL, API_KEY, SERVER_HEALTH_TIMEOUT, TEST_AUDIO_FILE)
# Creates: nothing
# IAM actions: none
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

healthy() { curl --silent --fail --max-time 5 --output /dev/null "$SERVER_URL/health"; }

main() {
  local timeout="" headers response text
  while (($#)); do
    case $1 in
      --timeout)
        timeout=${2:?--timeout needs a number of seconds}
        shift
        ;;
      *) common_flag "$1" ;;
    esac
    shift
  done
  load_config
  require_recorded SERVER_URL step-330-launch-gpu-server.sh
  require_config API_KEY
  if is_local && ! healthy; then
    log_warn "skipped: no server answers at $SERVER_URL/health. In local mode the server runs as a process: start the stack with \`make up\`, then run this step again"
    return 0
  fi
  log_info "waiting for $SERVER_URL/health"
  POLL_SECONDS=${POLL_SECONDS:-10} wait_for "$SERVER_URL/health" "${timeout:-$SERVER_HEALTH_TIMEOUT}" healthy
  headers=$(mktemp)
  response=$(mktemp)
  # The key goes in a header file, not on the command line (where ps would show it).
  printf 'Authorization: Bearer %s\n' "$API_KEY" >"$headers"
  if ! curl --silent --show-error --fail-with-body --max-time 600 --header "@$headers" \
    --form "file=@$(repo_path "$TEST_AUDIO_FILE")" --output "$response" "$SERVER_URL/transcribe"; then
    rm -f "$headers"
    die "the test transcription failed: $(<"$response")"
  fi
  rm -f "$headers"
  text=$(py "$LIB_DIR/json_tool.py" pick "$(<"$response")" text)
  rm -f "$response"
  [[ -n $text && $text != null ]] || die "the server answered without a transcript text"
  log_info "the server transcribed $TEST_AUDIO_FILE"
  printf '%s\n' "$text"
}

main "$@"
