#!/usr/bin/env bash
# step-342-test-lambda-router.sh: upload a sample, wait for its transcript, print the route.
#
# Usage: scripts/step-342-test-lambda-router.sh [--timeout SECONDS] [--keep] [--help]
#
# Uploads TEST_AUDIO_FILE to s3://AUDIO_BUCKET/INPUT_PREFIX deploy-test/<time>-<file>, which
# the EventBridge rule hands to the router, then waits (up to --timeout seconds, default
# ROUTER_TEST_TIMEOUT) for s3://<transcript bucket>/OUTPUT_PREFIX deploy-test/...json and
# prints the route that produced it ("route: direct" from the GPU server, "route: batch"
# from a batch worker) and its text. An error record instead of a transcript fails the step.
# The test objects are deleted afterwards unless --keep is given.
#
# In local mode this needs the running stack (`make up`: the server, the event pump and the
# worker); when no server answers at SERVER_URL the step says so and exits 0 without testing.
# With no SERVER_URL (the router deployed SQS-only) the upload is queued: "route: batch" once
# the event pump and a worker have handled it.
#
# Inputs:  config.env (AUDIO_BUCKET, INPUT_PREFIX, TRANSCRIPT_BUCKET, OUTPUT_PREFIX,
#          OUTPUT_FORMATS, TEST_AUDIO_FILE, ROUTER_TEST_TIMEOUT; SERVER_URL in local mode)
# Creates: the test objects (deleted at the end unless --keep)
# IAM actions: s3:PutObject, s3:GetObject, s3:DeleteObject (and s3:ListBucket for 404s)
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NOT_FOUND="404,NoSuchKey"

transcript_ready() {
  if aws_lookup "$NOT_FOUND" s3api head-object --bucket "$OUTPUT_BUCKET" --key "$TRANSCRIPT_KEY"; then
    return 0
  fi
  if aws_lookup "$NOT_FOUND" s3api head-object --bucket "$OUTPUT_BUCKET" --key "$ERROR_KEY"; then
    aws_read s3 cp "s3://$OUTPUT_BUCKET/$ERROR_KEY" -
    die "the pipeline wrote an error record instead of a transcript: $AWS_OUT"
  fi
  return 1
}

cleanup() {
  local format outputs="{Key=$TRANSCRIPT_KEY}"
  for format in ${OUTPUT_FORMATS//,/ }; do
    if [[ $format != json ]]; then
      outputs+=",{Key=${TRANSCRIPT_KEY%.json}.$format}"
    fi
  done
  aws_do s3api delete-objects --bucket "$OUTPUT_BUCKET" --delete "Objects=[$outputs],Quiet=true"
  aws_do s3api delete-objects --bucket "$AUDIO_BUCKET" --delete "Objects=[{Key=$AUDIO_KEY}],Quiet=true"
  log_info "deleted the test objects (--keep keeps them)"
}

main() {
  local timeout="" keep=false sample name transcript route
  while (($#)); do
    case $1 in
      --timeout)
        timeout=${2:?--timeout needs a number of seconds}
        shift
        ;;
      --keep) keep=true ;;
      *) common_flag "$1" ;;
    esac
    shift
  done
  load_config
  if is_local && [[ -z ${SERVER_URL:-} ]]; then
    log_info "SQS-only (no SERVER_URL): the upload goes to the queue; the event pump and a worker (python -m batch_worker) must be running"
  elif is_local; then
    if ! curl --silent --fail --max-time 5 --output /dev/null "$SERVER_URL/health"; then
      log_warn "skipped: the local stack is not running (no server answers at $SERVER_URL/health). Start it with \`make up\` (server, event pump, worker), then run this step again"
      return 0
    fi
  fi
  sample=$(repo_path "$TEST_AUDIO_FILE")
  name="deploy-test/$(date -u +%Y%m%dT%H%M%SZ)-$$-$(basename "$sample")"
  AUDIO_KEY="$INPUT_PREFIX$name"
  TRANSCRIPT_KEY="$OUTPUT_PREFIX$name.json"
  ERROR_KEY="$OUTPUT_PREFIX$name.error.json"
  aws_do s3api put-object --bucket "$AUDIO_BUCKET" --key "$AUDIO_KEY" --body "$sample"
  log_info "uploaded s3://$AUDIO_BUCKET/$AUDIO_KEY; waiting for s3://$OUTPUT_BUCKET/$TRANSCRIPT_KEY"
  if is_dry_run; then
    return 0
  fi
  POLL_SECONDS=${POLL_SECONDS:-2} wait_for "the transcript s3://$OUTPUT_BUCKET/$TRANSCRIPT_KEY (is the router deployed and the trigger in place? in local mode: is the event pump running?)" \
    "${timeout:-$ROUTER_TEST_TIMEOUT}" transcript_ready
  aws_read s3 cp "s3://$OUTPUT_BUCKET/$TRANSCRIPT_KEY" -
  transcript=$AWS_OUT
  route=$(py "$LIB_DIR/json_tool.py" pick "$transcript" route)
  log_info "transcript: $(py "$LIB_DIR/json_tool.py" pick "$transcript" text)"
  printf 'route: %s\n' "$route"
  if [[ $keep == false ]]; then
    cleanup
  fi
}

main "$@"
