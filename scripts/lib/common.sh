#!/usr/bin/env bash
# The one library every deploy step sources:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# - logging to stderr (log_info, log_warn, die) and the change log (changed, unchanged, drift);
# - configuration: config.env (CONFIG_FILE) over the defaults in config.env.example, with a
#   clear message naming any missing variable (load_config, require_config, set_config);
# - the `aws` wrapper: the AWS CLI from .venv when present, `--endpoint-url` in local mode
#   (the PyPI AWS CLI ignores AWS_ENDPOINT_URL for sqs), and an AWS config file with
#   `cli_follow_urlparam = false` (otherwise the CLI fetches any parameter value that starts
#   with http:// — a server URL, say);
# - DRY_RUN=1 through one `run` function; every change to AWS goes through `aws_do`, which
#   calls `run`;
# - lookups (`aws_lookup`) that tell "not found" from "access denied" by the error code;
# - the reconcile pattern of every ensure_* function: describe, then create or update, then
#   wait. With CHECK_ONLY=1 (the validate steps) nothing is changed: each difference from the
#   desired state is reported as drift and the step fails at the end.
#
# Local mode: AWS_ENDPOINT_URL is set (moto's server on 127.0.0.1). The area libraries
# (iam.sh, sqs.sh, ...) sourced at the end hold the desired state of each part, so a create
# step and its validate step run the same code.

# shellcheck source-path=SCRIPTDIR
if [[ -n ${_COMMON_SH_LOADED:-} ]]; then
  return 0
fi
_COMMON_SH_LOADED=1

LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPTS_DIR="$(dirname "$LIB_DIR")"
ROOT_DIR="$(dirname "$SCRIPTS_DIR")"
STEP_NAME="$(basename "$0" .sh)"
CONFIG_EXAMPLE="$ROOT_DIR/config.env.example"
# Log lines go to the caller's stderr even from inside $(...).
exec 3>&2

# --- logging ------------------------------------------------------------------------------
# Values that never reach the log (API keys): register_secret adds one.
SECRET_VALUES=()
register_secret() {
  if [[ ${#1} -ge 8 ]]; then
    SECRET_VALUES+=("$1")
  fi
}
log() {
  local line="$*" secret
  for secret in "${SECRET_VALUES[@]}"; do
    line=${line//"$secret"/***}
  done
  TZ=UTC printf '%(%H:%M:%S)T %s: %s\n' -1 "$STEP_NAME" "$line" >&3
}
log_info() { log "$*"; }
log_warn() { log "WARNING: $*"; }
log_error() { log "ERROR: $*"; }
die() {
  log_error "$*"
  exit 1
}
# A change to AWS or to config.env. The tests count these lines: a second run prints none.
changed() {
  if is_dry_run; then
    log "dry run, not changed: $*"
  else
    log "changed: $*"
  fi
}
unchanged() { log "ok: $*"; }
DRIFT_COUNT=0
# A difference from the desired state found by a validate step (CHECK_ONLY=1).
drift() {
  DRIFT_COUNT=$((DRIFT_COUNT + 1))
  log "DRIFT: $*"
}
# The end of a validate step: fail when anything drifted.
finish_check() {
  if ((DRIFT_COUNT > 0)); then
    die "$DRIFT_COUNT difference(s) from the desired state; run the matching create step to fix them"
  fi
  log_info "everything matches the desired state"
}

# --- flags --------------------------------------------------------------------------------
# The header comment of the running step (every line after the shebang up to the first line
# that is not a comment), shown by --help.
usage() {
  sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p;}' "$0"
}
# The flags every step accepts. A step handles its own flags first, then calls this.
common_flag() {
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --dry-run) export DRY_RUN=1 ;;
    *)
      log_error "unknown argument: $1"
      usage >&3
      exit 2
      ;;
  esac
}
# parse_flags "$@": for the steps that take only the common flags.
parse_flags() {
  while (($#)); do
    common_flag "$1"
    shift
  done
}
is_local() { [[ -n ${AWS_ENDPOINT_URL:-} ]]; }
is_dry_run() { [[ ${DRY_RUN:-0} == 1 ]]; }
is_check() { [[ ${CHECK_ONLY:-0} == 1 ]]; }

# Ask a yes/no question on the terminal; ASSUME_YES=1 (--yes) answers yes.
confirm() {
  local answer
  if [[ ${ASSUME_YES:-0} == 1 ]]; then
    return 0
  fi
  if [[ ! -t 0 ]]; then
    die "$1 — refusing without a terminal to ask on; pass --yes to confirm"
  fi
  read -r -p "$1 [y/N] " answer
  [[ $answer == y || $answer == Y || $answer == yes ]]
}

# --- python (JSON, templates, config.env, zips) -------------------------------------------
if [[ -x $ROOT_DIR/.venv/bin/python ]]; then
  PYTHON="$ROOT_DIR/.venv/bin/python"
else
  PYTHON="$(type -P python3)" || PYTHON=""
fi
py() {
  [[ -n $PYTHON ]] || die "python3 not found: the steps need it for JSON and config.env (make install builds .venv)"
  "$PYTHON" "$@"
}
# json_same A B: true when the two JSON texts hold the same value (key order ignored).
json_same() { py "$LIB_DIR/json_tool.py" same "$1" "$2"; }
# json_covers CURRENT WANT: true when CURRENT holds every value WANT sets (AWS adds defaults
# and read-only fields to what it describes).
json_covers() { py "$LIB_DIR/json_tool.py" covers "$1" "$2"; }
# json_obj NAME=VALUE...: a JSON object of strings, e.g. a Lambda environment.
json_obj() { py "$LIB_DIR/json_tool.py" object "$@"; }
# render_template FILE: ${NAME} placeholders replaced from the environment; a missing
# name is an error that names it. JSON templates are checked and printed compact.
render_template() { py "$LIB_DIR/json_tool.py" render "$1"; }

# --- configuration ------------------------------------------------------------------------
resolve_config_file() {
  CONFIG_FILE="${CONFIG_FILE:-$ROOT_DIR/config.env}"
  if [[ $CONFIG_FILE != /* ]]; then
    CONFIG_FILE="$PWD/$CONFIG_FILE"
  fi
  export CONFIG_FILE
}

# Read config.env over the defaults of config.env.example (so a config.env written before a
# setting existed still gets its default), check the variables every step needs, derive the
# resource names and prepare the AWS CLI.
load_config() {
  resolve_config_file
  [[ -f $CONFIG_FILE ]] ||
    die "no configuration at $CONFIG_FILE: run scripts/step-000-setup-configuration.sh first (or set CONFIG_FILE)"
  set -o allexport
  # shellcheck source=/dev/null # settings, not code
  source "$CONFIG_EXAMPLE"
  # shellcheck source=/dev/null # settings, not code
  source "$CONFIG_FILE"
  set +o allexport
  require_config AWS_REGION AUDIO_BUCKET PROJECT_NAME INPUT_PREFIX OUTPUT_PREFIX
  local key keys=${API_KEYS:-}
  for key in ${API_KEY:-} ${keys//,/ } ${HF_TOKEN:-}; do
    register_secret "$key"
  done
  derive_names
  prepare_aws_cli
}

# require_config NAME...: every NAME must be non-empty in config.env.
require_config() {
  local name missing=()
  for name in "$@"; do
    [[ -n ${!name:-} ]] || missing+=("$name")
  done
  if ((${#missing[@]} > 0)); then
    die "missing in $CONFIG_FILE: ${missing[*]} (each one is documented in config.env.example)"
  fi
}

# require_recorded NAME STEP: a value an earlier step records in config.env.
require_recorded() {
  [[ -n ${!1:-} ]] || die "$1 is empty in $CONFIG_FILE: run scripts/$2 first"
}

# set_config NAME VALUE: record a derived value in config.env (only when it differs) and in
# this shell.
set_config() {
  local name=$1 value=$2 result
  printf -v "$name" '%s' "$value"
  export "${name?}"
  result=$(run py "$LIB_DIR/config_file.py" set "$CONFIG_FILE" "$name" "$value")
  if [[ $result == changed && -z $value ]]; then
    changed "cleared $name in $(basename "$CONFIG_FILE")"
  elif [[ $result == changed ]]; then
    changed "recorded $name in $(basename "$CONFIG_FILE")"
  fi
}

# record_or_check NAME VALUE: create steps record a found value in config.env;
# validate steps (CHECK_ONLY=1) check that config.env holds it.
record_or_check() {
  local name=$1 value=$2
  if is_check; then
    if [[ ${!name:-} != "$value" ]]; then
      drift "$name in $CONFIG_FILE is '${!name:-}', the resource says '$value'"
    fi
  elif [[ -n $value ]]; then
    set_config "$name" "$value"
  fi
}

# Names of everything the steps create, all prefixed with PROJECT_NAME.
derive_names() {
  OUTPUT_BUCKET="${TRANSCRIPT_BUCKET:-$AUDIO_BUCKET}"
  JOBS_QUEUE_NAME="$PROJECT_NAME-jobs"
  DLQ_NAME="$PROJECT_NAME-jobs-dlq"
  ROUTER_FAILURES_NAME="$PROJECT_NAME-router-failures"
  EVENTS_QUEUE_NAME="$PROJECT_NAME-events"
  ROUTER_NAME="$PROJECT_NAME-router"
  SERVER_NAME="$PROJECT_NAME-server"
  WORKER_NAME="$PROJECT_NAME-worker"
  ENDPOINTS_NAME="$PROJECT_NAME-endpoints"
  TRIGGER_RULE_NAME="$PROJECT_NAME-audio-uploaded"
  TRANSCRIBE_RULE_NAME="$PROJECT_NAME-transcribe-jobs"
  SERVER_REPOSITORY_NAME="$PROJECT_NAME/fastapi-server"
  WORKER_REPOSITORY_NAME="$PROJECT_NAME/batch-worker"
  SERVER_URL_PARAMETER="${SERVER_URL_PARAMETER:-/$PROJECT_NAME/server-url}"
  API_KEYS_PARAMETER="${API_KEYS_PARAMETER:-/$PROJECT_NAME/api-keys}"
  derive_fleet_names
  derive_jobs_api_names
  export OUTPUT_BUCKET JOBS_QUEUE_NAME DLQ_NAME ROUTER_FAILURES_NAME EVENTS_QUEUE_NAME ROUTER_NAME \
    SERVER_NAME WORKER_NAME ENDPOINTS_NAME TRIGGER_RULE_NAME TRANSCRIBE_RULE_NAME \
    SERVER_REPOSITORY_NAME WORKER_REPOSITORY_NAME SERVER_URL_PARAMETER API_KEYS_PARAMETER
}

# The batch jobs API's names (the queues and tables are step-020's and step-360's; the
# functions, roles and admin key parameter step-010's, step-363's and step-370's).
derive_jobs_api_names() {
  JOBS_HIGH_QUEUE_NAME="$PROJECT_NAME-jobs-high"
  JOBS_LOW_QUEUE_NAME="$PROJECT_NAME-jobs-low"
  WEBHOOK_QUEUE_NAME="$PROJECT_NAME-webhooks"
  WEBHOOK_DLQ_NAME="$PROJECT_NAME-webhooks-dlq"
  RESULT_EVENTS_QUEUE_NAME="$PROJECT_NAME-result-events"
  JOB_RESULTS_RULE_NAME="$PROJECT_NAME-job-results"
  JOBS_API_NAME="$PROJECT_NAME-jobs-api"
  JOBS_TRACKER_NAME="$PROJECT_NAME-jobs-tracker"
  JOBS_WEBHOOKS_NAME="$PROJECT_NAME-jobs-webhooks"
  JOBS_TABLE_PREFIX="${JOBS_TABLE_PREFIX:-$PROJECT_NAME}"
  JOBS_ADMIN_KEY_PARAMETER="${JOBS_ADMIN_KEY_PARAMETER:-/$PROJECT_NAME/jobs-admin-key}"
  JOBS_EVENT_BUS="${JOBS_EVENT_BUS:-default}"
  export JOBS_HIGH_QUEUE_NAME JOBS_LOW_QUEUE_NAME WEBHOOK_QUEUE_NAME WEBHOOK_DLQ_NAME \
    RESULT_EVENTS_QUEUE_NAME JOB_RESULTS_RULE_NAME JOBS_API_NAME JOBS_TRACKER_NAME \
    JOBS_WEBHOOKS_NAME JOBS_TABLE_PREFIX JOBS_ADMIN_KEY_PARAMETER JOBS_EVENT_BUS
}

# --- the AWS CLI ----------------------------------------------------------------------------
AWS_CLI=${AWS_CLI:-}
# Pick the AWS CLI (AWS_CLI if set, else .venv's, else the one on PATH) and write the AWS
# config file it reads: the caller's own config file (AWS_CONFIG_FILE or ~/.aws/config, if
# any) with `cli_follow_urlparam = false` added to every profile, under .local/aws/config.
# Local mode without credentials gets moto's dummy ones.
prepare_aws_cli() {
  local target="$ROOT_DIR/.local/aws/config"
  if [[ -n $AWS_CLI ]]; then
    [[ -x $AWS_CLI ]] || die "AWS_CLI=$AWS_CLI is not an executable file"
  elif [[ -x $ROOT_DIR/.venv/bin/aws ]]; then
    AWS_CLI="$ROOT_DIR/.venv/bin/aws"
  else
    AWS_CLI="$(type -P aws)" || AWS_CLI=""
  fi
  [[ -n $AWS_CLI ]] ||
    die "the AWS CLI is not installed: run make install (it puts awscli into .venv) or install it"
  py "$LIB_DIR/config_file.py" aws-config "${AWS_CONFIG_FILE:-$HOME/.aws/config}" "$target"
  export AWS_CONFIG_FILE="$target"
  export AWS_PAGER="" # AWS CLI v2, if that is the one found, must not page the output
  if is_local && [[ -z ${AWS_ACCESS_KEY_ID:-} ]]; then
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  fi
}

# The AWS CLI with the project's region, the local endpoint when set, and JSON output (a
# call may pass --output text after its arguments).
aws() {
  local global=(--region "$AWS_REGION" --output json)
  if is_local; then
    global+=(--endpoint-url "$AWS_ENDPOINT_URL")
  fi
  command "$AWS_CLI" "${global[@]}" "$@"
}

# Error codes that mean the caller may not do this (as opposed to "it does not exist").
ACCESS_DENIED_CODES=",AccessDenied,AccessDeniedException,UnauthorizedOperation,AuthorizationError,Forbidden,403,UnrecognizedClientException,InvalidClientTokenId,ExpiredToken,ExpiredTokenException,SignatureDoesNotMatch,"

# aws_error_code MESSAGE: the code in "An error occurred (Code) when calling ...".
aws_error_code() {
  if [[ $1 =~ An\ error\ occurred\ \(([^\)]+)\) ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

aws_fail() {
  local code=$1 message=$2 call=$3
  message="${message//$'\n'/ }"
  if [[ -n $code && $ACCESS_DENIED_CODES == *",$code,"* ]]; then
    die "access denied for 'aws $call' ($code): $message — the credentials in use lack a permission this step needs (its header lists the IAM actions)"
  fi
  die "'aws $call' failed${code:+ ($code)}: $message"
}

# aws_lookup NOT_FOUND_CODES ARGS...: a read-only call. Returns 0 with the output in AWS_OUT
# when it succeeds; returns 1 (AWS_OUT empty) when the error code is one of the
# comma-separated NOT_FOUND_CODES; any other error (access denied, throttling, a typo) stops
# the step with the CLI's message.
aws_lookup() {
  local not_found=",$1," err message code
  shift
  err=$(mktemp)
  if AWS_OUT=$(aws "$@" 2>"$err"); then
    rm -f "$err"
    return 0
  fi
  message=$(<"$err")
  rm -f "$err"
  code=$(aws_error_code "$message")
  AWS_OUT=""
  if [[ -n $code && $not_found == *",$code,"* ]]; then
    return 1
  fi
  aws_fail "$code" "$message" "$1 $2"
}

# aws_read ARGS...: a read-only call that must succeed; output in AWS_OUT.
aws_read() {
  aws_lookup "" "$@" || die "aws $1 $2 found nothing" # aws_lookup dies first: no code listed
}

# aws_do ARGS...: a call that changes something (or an `aws ... wait`), through `run`
# (DRY_RUN=1 only logs it). Output in AWS_OUT; an error stops the step, naming access denied.
# RETRY_ON=Code RETRY_FOR=seconds retry that one error code for a while (IAM changes take
# seconds to reach Lambda and EC2; network interfaces take minutes to go away).
aws_do() {
  aws_change "" "$@"
}

# aws_delete WHAT NOT_FOUND_CODES ARGS...: a deletion; a resource that is already gone is fine.
aws_delete() {
  local what=$1
  shift
  if aws_change "$@"; then
    changed "deleted $what"
  else
    unchanged "$what is already gone"
  fi
}

# aws_change NOT_FOUND_CODES ARGS...: aws_do that returns 1 for the listed error codes.
aws_change() {
  local not_found=",$1," err message code deadline=$((SECONDS + ${RETRY_FOR:-0}))
  shift
  AWS_OUT=""
  while true; do
    err=$(mktemp)
    if AWS_OUT=$(run aws "$@" 2>"$err"); then
      rm -f "$err"
      return 0
    fi
    message=$(<"$err")
    rm -f "$err"
    code=$(aws_error_code "$message")
    if [[ -n $code && $not_found == *",$code,"* ]]; then
      return 1
    fi
    if [[ -n ${RETRY_ON:-} && $code == "$RETRY_ON" ]] && ((SECONDS < deadline)); then
      log_info "retrying in 5 s: ${message//$'\n'/ }"
      sleep 5
      continue
    fi
    aws_fail "$code" "$message" "$1 $2"
  done
}

# run CMD...: the one place DRY_RUN=1 is honoured.
run() {
  if is_dry_run; then
    log_info "dry run: $(printf '%q ' "$@")"
    return 0
  fi
  "$@"
}

# wait_for DESCRIPTION TIMEOUT_SECONDS CMD...: poll CMD every few seconds until it succeeds.
wait_for() {
  local what=$1 timeout=$2 deadline
  shift 2
  if is_dry_run; then
    return 0
  fi
  deadline=$((SECONDS + timeout))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      die "gave up waiting for $what after ${timeout} s"
    fi
    sleep "${POLL_SECONDS:-5}"
  done
}

# --- reconcile ---------------------------------------------------------------------------
# reconcile WHAT CURRENT DESIRED CMD...: when CURRENT differs from DESIRED (as JSON when
# both parse, else as text), run CMD to fix it — or, with CHECK_ONLY=1, report the drift.
# COMPARE=json_covers: CURRENT need only hold what DESIRED sets.
reconcile() {
  local what=$1 current=$2 desired=$3
  shift 3
  if [[ $current == "$desired" ]] || "${COMPARE:-json_same}" "$current" "$desired"; then
    unchanged "$what"
    return 0
  fi
  if is_check; then
    drift "$what is ${current:-<unset>}, want $desired"
    return 0
  fi
  "$@"
  changed "$what set to $desired"
}

# missing WHAT CMD...: a resource that does not exist — create it with CMD, or, with
# CHECK_ONLY=1, report it.
missing() {
  local what=$1
  shift
  if is_check; then
    drift "$what does not exist"
    return 0
  fi
  "$@"
  changed "created $what"
}

# --- tags ----------------------------------------------------------------------------------
# Every resource the steps create carries Project=$PROJECT_NAME; step-999 finds them by it.
project_tags_kv() { printf 'Project=%s,ManagedBy=transcription-router-scripts' "$PROJECT_NAME"; }
project_tags_list() {
  printf '[{"Key":"Project","Value":"%s"},{"Key":"ManagedBy","Value":"transcription-router-scripts"}]' \
    "$PROJECT_NAME"
}

# The area libraries: the desired state of each part, shared by create and validate steps.
ACCOUNT_ID=""
PARTITION=""
# shellcheck source=iam.sh
source "$LIB_DIR/iam.sh"
# shellcheck source=sqs.sh
source "$LIB_DIR/sqs.sh"
# shellcheck source=s3.sh
source "$LIB_DIR/s3.sh"
# shellcheck source=dynamodb.sh
source "$LIB_DIR/dynamodb.sh"
# shellcheck source=ecr.sh
source "$LIB_DIR/ecr.sh"
# shellcheck source=network.sh
source "$LIB_DIR/network.sh"
# shellcheck source=instances.sh
source "$LIB_DIR/instances.sh"
# shellcheck source=lambda.sh
source "$LIB_DIR/lambda.sh"
# shellcheck source=components.sh
source "$LIB_DIR/components.sh"
# shellcheck source=cloudwatch.sh
source "$LIB_DIR/cloudwatch.sh"
# shellcheck source=fleet.sh
source "$LIB_DIR/fleet.sh"
# shellcheck source=jobs_api.sh
source "$LIB_DIR/jobs_api.sh"
