#!/usr/bin/env bash
# step-001-validate-configuration.sh: check config.env before anything is created.
#
# Usage: scripts/step-001-validate-configuration.sh [--help]
#
# Checks that the required values are set, names are valid (project, buckets, prefixes,
# SSM parameters), numbers are numbers, API_KEY is one of API_KEYS, the prefixes cannot make
# transcripts trigger new transcriptions, the server is not opened to the world (no
# SERVER_ALLOWED_CIDR range wider than /SERVER_ALLOWED_CIDR_MIN_PREFIX), and the
# credentials work against the configured endpoint (AWS, or moto's server in local mode).
# Changes nothing.
#
# Inputs:  config.env
# Creates: nothing
# IAM actions: sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NUMBERS=(QUEUE_VISIBILITY_TIMEOUT QUEUE_RECEIVE_WAIT_SECONDS QUEUE_RETENTION_SECONDS
  QUEUE_MAX_RECEIVE_COUNT DLQ_RETENTION_SECONDS ERROR_RECORD_EXPIRATION_DAYS ROOT_VOLUME_GB
  IDLE_TIMEOUT_SECONDS SERVER_HEALTH_TIMEOUT ROUTER_TIMEOUT ROUTER_MEMORY_MB
  ROUTER_RESERVED_CONCURRENCY ROUTER_MAX_RETRY_ATTEMPTS ROUTER_MAX_EVENT_AGE_SECONDS
  GPU_BATCH_SIZE GPU_CONCURRENCY SERVER_ALLOWED_CIDR_MIN_PREFIX
  MAX_WORKERS JOBS_PER_WORKER BATCH_LATENCY_TARGET_SECONDS WORKER_ON_DEMAND_BASE
  WORKER_ON_DEMAND_PERCENTAGE WORKER_LIFECYCLE_TIMEOUT_SECONDS WORKER_LAUNCH_TIMEOUT_SECONDS
  WORKER_WARMUP_SECONDS
  ALARM_BREAKER_OPEN_MINUTES ALARM_NO_WORKER_MINUTES)

expect() {
  local what=$1
  shift
  if "$@"; then
    return 0
  fi
  drift "$what"
}

matches() { [[ $1 =~ $2 ]]; }

main() {
  local name cidr problem key account found=false
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  require_config API_KEY API_KEYS SERVER_URL_PARAMETER API_KEYS_PARAMETER
  expect "PROJECT_NAME='$PROJECT_NAME' must be 3-32 lower-case letters, digits or dashes" \
    matches "$PROJECT_NAME" '^[a-z][a-z0-9-]{1,30}[a-z0-9]$'
  expect "AWS_REGION='$AWS_REGION' does not look like a region (us-east-1)" \
    matches "$AWS_REGION" '^[a-z]{2}(-[a-z]+)+-[0-9]+$'
  for name in AUDIO_BUCKET OUTPUT_BUCKET; do
    expect "$name='${!name}' is not a valid bucket name" \
      matches "${!name}" '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'
  done
  for name in INPUT_PREFIX OUTPUT_PREFIX; do
    expect "$name='${!name}' must end with /" matches "${!name}" '/$'
  done
  if [[ $OUTPUT_BUCKET == "$AUDIO_BUCKET" ]]; then
    expect "OUTPUT_PREFIX='$OUTPUT_PREFIX' lies under INPUT_PREFIX='$INPUT_PREFIX': transcripts would trigger new transcriptions" \
      test "${OUTPUT_PREFIX#"$INPUT_PREFIX"}" == "$OUTPUT_PREFIX"
    expect "INPUT_PREFIX='$INPUT_PREFIX' lies under OUTPUT_PREFIX='$OUTPUT_PREFIX'" \
      test "${INPUT_PREFIX#"$OUTPUT_PREFIX"}" == "$INPUT_PREFIX"
  fi
  for name in SERVER_URL_PARAMETER API_KEYS_PARAMETER; do
    expect "$name='${!name}' must start with /" matches "${!name}" '^/[A-Za-z0-9_./-]+$'
  done
  for name in "${NUMBERS[@]}"; do
    expect "$name='${!name:-}' must be a whole number" matches "${!name:-}" '^[0-9]+$'
  done
  expect "WORKER_WARM_POOL_SIZE='${WORKER_WARM_POOL_SIZE:-}' must be a whole number or empty (MAX_WORKERS)" \
    matches "${WORKER_WARM_POOL_SIZE:-}" '^[0-9]*$'
  for key in ${API_KEYS//,/ }; do
    if [[ $key == "$API_KEY" ]]; then
      found=true
    fi
    expect "API_KEYS holds a placeholder or a key shorter than 16 characters" \
      matches "$key" '^.{16,}$'
  done
  expect "API_KEY is not one of API_KEYS: the router's calls would be refused" test "$found" == true
  for cidr in ${SERVER_ALLOWED_CIDR//,/ }; do
    problem=$(cidr_problem "$cidr")
    expect "$problem" test -z "$problem"
  done
  expect "CREATE_VPC_ENDPOINTS must be true or false" matches "$CREATE_VPC_ENDPOINTS" '^(true|false)$'
  account=$(caller_account_id)
  expect "AWS_ACCOUNT_ID=${AWS_ACCOUNT_ID:-} in $CONFIG_FILE, but the credentials are for account $account" \
    matches "${AWS_ACCOUNT_ID:-$account}" "^$account\$"
  if is_local; then
    log_info "local mode: AWS is moto's server at $AWS_ENDPOINT_URL (account $account)"
  else
    log_info "AWS account $account, region $AWS_REGION, project $PROJECT_NAME"
  fi
  finish_check
}

main "$@"
