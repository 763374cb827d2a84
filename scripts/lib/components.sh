#!/usr/bin/env bash
# The product's parts on AWS (sourced by common.sh): the router Lambda and its EventBridge
# trigger, the job results rule (to the jobs tracker) and the GPU server instance (the batch
# workers' group: fleet.sh).
# Each *_resources function is the desired state of one step; its validate step runs it with
# CHECK_ONLY=1.
# shellcheck disable=SC2034 # FOUND_* are read by the steps; the GPU settings by render_user_data

# Router settings passed to the Lambda when config.env sets them (lambda_router/settings.py);
# the others keep the router's defaults.
ROUTER_OPTIONAL_ENV=(TRANSCRIPT_BUCKET OUTPUT_FORMATS API_KEY_TTL_SECONDS DIRECT_MAX_BYTES
  DIRECT_TIMEOUT_SECONDS DIRECT_TIMEOUT_MIN_SECONDS DIRECT_REALTIME_FACTOR
  DIRECT_AUDIO_BYTES_PER_SECOND
  DIRECT_MAX_ATTEMPTS DIRECT_BACKOFF_SECONDS HEALTH_TIMEOUT_SECONDS HEALTH_CACHE_SECONDS
  BREAKER_FAILURES BREAKER_COOLDOWN_SECONDS SERVER_URL_TTL_SECONDS
  SQS_CONNECT_TIMEOUT_SECONDS SQS_READ_TIMEOUT_SECONDS SQS_MAX_ATTEMPTS
  TIMEOUT_QUEUE_DELAY_SECONDS METRICS_NAMESPACE QUEUE_URL_HIGH QUEUE_URL_LOW)
# The router's managed overflow settings (transcription/managed/settings.py), passed only
# when OVERFLOW=transcribe: the fleet it estimates the wait for is MAX_WORKERS instances of
# the first WORKER_INSTANCE_TYPES running MODEL.
ROUTER_OVERFLOW_ENV=(OVERFLOW BATCH_DEADLINE_SECONDS OVERFLOW_MAX_MINUTES_PER_MONTH
  OVERFLOW_MAX_CONCURRENT_JOBS OVERFLOW_MEAN_JOB_AUDIO_SECONDS OVERFLOW_PREFIX MAX_WORKERS
  WORKER_INSTANCE_TYPES MODEL)
# Settings of the server and worker containers on the GPU instances.
SERVER_CONTAINER_ENV=(AWS_REGION PORT API_KEYS_PARAMETER AUDIO_BUCKET TRANSCRIPT_BUCKET
  INPUT_PREFIX OUTPUT_PREFIX OUTPUT_FORMATS ENGINE DEVICE COMPUTE_TYPE BATCH_SIZE BEAM_SIZE
  CONCURRENCY MAX_AUDIO_SECONDS WHISPERX_ALIGN WHISPERX_DIARIZE MAX_UPLOAD_MB MAX_PENDING
  ALLOWED_BUCKETS MODELS MODEL_CONCURRENCY MODEL_IDLE_UNLOAD_SECONDS DIARIZE_DEFAULT
  QUEUE_URL QUEUE_URL_HIGH QUEUE_URL_LOW DLQ_URL SERVER_DRAINS_QUEUE DRAIN_QUIET_SECONDS
  DRAIN_WAIT_SECONDS)
WORKER_CONTAINER_ENV=(AWS_REGION QUEUE_URL DLQ_URL AUDIO_BUCKET TRANSCRIPT_BUCKET INPUT_PREFIX
  OUTPUT_PREFIX OUTPUT_FORMATS ENGINE DEVICE COMPUTE_TYPE BATCH_SIZE BEAM_SIZE
  MAX_AUDIO_SECONDS WHISPERX_ALIGN WHISPERX_DIARIZE VISIBILITY_TIMEOUT ALLOWED_BUCKETS
  HEARTBEAT_SECONDS PREFETCH SHUTDOWN_GRACE_SECONDS RETRY_BACKOFF_SECONDS WAIT_TIME_SECONDS
  METRICS_NAMESPACE QUEUE_URL_HIGH QUEUE_URL_LOW ASG_NAME LIFECYCLE_HOOK_NAME LAUNCH_HOOK_NAME IDLE_TIMEOUT_SECONDS
  PRIORITY_WAIT_SECONDS MODELS MODEL_CONCURRENCY MODEL_IDLE_UNLOAD_SECONDS DIARIZE_DEFAULT
  NMT_ENGINE NMT_MODEL_DIR NMT_DEVICE NMT_TIMEOUT_SECONDS)

# env_json NAME...: {"NAME": value} for every NAME that is set and not empty.
env_json() {
  local name pairs=()
  for name in "$@"; do
    if [[ -n ${!name:-} ]]; then
      pairs+=("$name=${!name}")
    fi
  done
  json_obj "${pairs[@]}"
}

# The engine settings of the GPU boxes (config.env's ENGINE, DEVICE, ... are the local ones).
use_gpu_engine_settings() {
  ENGINE=$GPU_ENGINE
  DEVICE=cuda
  COMPUTE_TYPE=$GPU_COMPUTE_TYPE
  BATCH_SIZE=$GPU_BATCH_SIZE
  CONCURRENCY=$GPU_CONCURRENCY
}

repo_path() {
  if [[ $1 == /* ]]; then
    printf '%s' "$1"
  else
    printf '%s/%s' "$ROOT_DIR" "$1"
  fi
}

# --- router (step-340) ----------------------------------------------------------------------
# SQS-only (no SERVER_URL in config.env: no GPU server yet, as the design says to start):
# every upload goes to the queue with reason no_server, so the router needs no VPC (no
# network step, no VPC endpoints), no server URL and no API key. Adding the server later
# (steps 310–331 record SERVER_URL) and running step-340 again switches it to routing.
is_sqs_only() { [[ -z ${SERVER_URL:-} ]]; }

router_resources() {
  if is_sqs_only; then
    log_info "no SERVER_URL in $CONFIG_FILE: the router is deployed SQS-only (every upload → the queue, reason no_server); steps 310–331 add the server, then run this step again"
    router_function AUDIO_BUCKET INPUT_PREFIX OUTPUT_PREFIX QUEUE_URL
  else
    router_with_server
  fi
}

# router_with_server: the router in the VPC, beside the server it calls.
router_with_server() {
  # The router reads its key (the first one) from the server's SecureString (step-320): no
  # key is a plaintext Lambda environment variable.
  # shellcheck disable=SC2153 # API_KEYS_PARAMETER: set by derive_names (common.sh)
  local API_KEY_PARAMETER=$API_KEYS_PARAMETER
  require_recorded ROUTER_SECURITY_GROUP_ID step-310-create-network.sh
  require_recorded SUBNET_IDS step-310-create-network.sh
  require_config API_KEYS_PARAMETER
  ROUTER_SUBNETS=$SUBNET_IDS ROUTER_GROUP=$ROUTER_SECURITY_GROUP_ID \
    router_function AUDIO_BUCKET INPUT_PREFIX OUTPUT_PREFIX QUEUE_URL SERVER_URL_PARAMETER \
    API_KEY_PARAMETER
}

# router_function NAME...: the function with the environment NAME... (and the router's
# optional settings), in ROUTER_SUBNETS with ROUTER_GROUP when set; its concurrency and
# asynchronous invocation settings. Sets FOUND_ROUTER_FUNCTION_ARN.
router_function() {
  local zip environment optional=("${ROUTER_OPTIONAL_ENV[@]}")
  if [[ ${OVERFLOW:-} == transcribe ]]; then
    optional+=("${ROUTER_OVERFLOW_ENV[@]}")
  fi
  require_recorded ROUTER_ROLE_ARN step-010-setup-iam-permissions.sh
  require_recorded QUEUE_URL step-020-create-sqs-resources.sh
  zip=$(repo_path "$ROUTER_ZIP")
  [[ -f $zip ]] || die "$zip is missing: run \`make lambda-zip\` first (it builds the router's deployment package)"
  load_account_id
  environment=$(env_json "$@" "${optional[@]}")
  ensure_function "$ROUTER_NAME" "$ROUTER_ROLE_ARN" lambda_router.handler.lambda_handler "$zip" \
    "$ROUTER_TIMEOUT" "$ROUTER_MEMORY_MB" "$environment" "${ROUTER_SUBNETS:-}" "${ROUTER_GROUP:-}"
  FOUND_ROUTER_FUNCTION_ARN=$ENSURED_FUNCTION_ARN
  if [[ -z $FOUND_ROUTER_FUNCTION_ARN ]]; then
    return 0
  fi
  ensure_reserved_concurrency "$ROUTER_NAME" "$ROUTER_RESERVED_CONCURRENCY"
  # Not the jobs DLQ: Lambda's records wrap the event (requestPayload), which the worker
  # cannot take as a job; `python -m lambda_router.replay` routes them again.
  ensure_async_config "$ROUTER_NAME" "$(queue_arn "$ROUTER_FAILURES_NAME")" "$ROUTER_MAX_RETRY_ATTEMPTS" \
    "$ROUTER_MAX_EVENT_AGE_SECONDS"
}

# --- trigger (step-341) ---------------------------------------------------------------------
upload_event_pattern() {
  printf '{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["%s"]},"object":{"key":[{"prefix":"%s"}]}}}' \
    "$AUDIO_BUCKET" "$INPUT_PREFIX"
}

trigger_resources() {
  load_account_id
  if is_local; then
    require_recorded EVENTS_QUEUE_URL step-020-create-sqs-resources.sh
  else
    require_recorded ROUTER_FUNCTION_ARN step-340-deploy-lambda-router.sh
  fi
  rule_with_one_target "$TRIGGER_RULE_NAME" "$(upload_event_pattern)" \
    "Audio uploaded under s3://$AUDIO_BUCKET/$INPUT_PREFIX: route it for transcription" \
    events-queue "$EVENTS_QUEUE_NAME" router "$ROUTER_NAME" "${ROUTER_FUNCTION_ARN:-}"
  transcribe_jobs_rule
}

transcribe_jobs_event_pattern() {
  printf '{"source":["aws.transcribe"],"detail-type":["Transcribe Job State Change"],"detail":{"TranscriptionJobStatus":["COMPLETED","FAILED"],"TranscriptionJobName":[{"prefix":"overflow-"}]}}'
}

# With OVERFLOW=transcribe: rule $TRANSCRIBE_RULE_NAME sends the overflow's Transcribe jobs
# (names overflow-*) that completed or failed to the router, whose handler collects the
# transcript. Local mode: no rule (moto's Transcribe sends no events); the event pump polls
# the overflow's open tickets instead.
transcribe_jobs_rule() {
  if [[ ${OVERFLOW:-} != transcribe ]]; then
    return 0
  fi
  if is_local; then
    unchanged "rule $TRANSCRIBE_RULE_NAME: not in local mode (the event pump polls Transcribe)"
    return 0
  fi
  rule_with_one_target "$TRANSCRIBE_RULE_NAME" "$(transcribe_jobs_event_pattern)" \
    "Transcribe jobs of the managed overflow done: collect their transcripts" \
    "" "" router "$ROUTER_NAME" "$ROUTER_FUNCTION_ARN"
}

# rule_with_one_target RULE PATTERN DESCRIPTION QUEUE_ID QUEUE FUNCTION_ID FUNCTION FUNCTION_ARN:
# the rule, targeting the function (with a permission that lets this rule only invoke it).
# In local mode the target is the SQS queue instead: moto cannot run Lambda code, and a rule
# with a Lambda target stops moto delivering events to the rules after it; a local pump
# reads the queue and calls the function's handler in-process.
rule_with_one_target() {
  local rule=$1 pattern=$2 description=$3 queue_id=$4 queue=$5 function_id=$6 function=$7 arn=$8
  local targets
  ensure_rule "$rule" --event-pattern "$pattern" "$description"
  if is_local; then
    targets="[{\"Id\":\"$queue_id\",\"Arn\":\"$(queue_arn "$queue")\"}]"
  else
    targets="[{\"Id\":\"$function_id\",\"Arn\":\"$arn\"}]"
    ensure_invoke_permission "$function" "$rule" "$ENSURED_RULE_ARN"
  fi
  ensure_targets "$rule" "$targets"
}

# --- job results (step-375) ----------------------------------------------------------------
results_event_pattern() {
  printf '{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["%s"]},"object":{"key":[{"prefix":"%sjobs/"}]}}}' \
    "$OUTPUT_BUCKET" "$OUTPUT_PREFIX"
}

result_events_resources() {
  local arn=""
  load_account_id
  if [[ $OUTPUT_BUCKET != "$AUDIO_BUCKET" ]]; then
    # step-030 turns EventBridge notifications on for the audio bucket only.
    ensure_eventbridge_notifications "$OUTPUT_BUCKET"
  fi
  if is_local; then
    require_recorded RESULT_EVENTS_QUEUE_URL step-020-create-sqs-resources.sh
  else
    aws_lookup "$FUNCTION_NOT_FOUND" lambda get-function-configuration --function-name "$JOBS_TRACKER_NAME" \
      --query FunctionArn --output text ||
      die "function $JOBS_TRACKER_NAME does not exist: run scripts/step-370 (the jobs API's Lambdas) first"
    arn=$AWS_OUT
  fi
  rule_with_one_target "$JOB_RESULTS_RULE_NAME" "$(results_event_pattern)" \
    "Batch job results under s3://$OUTPUT_BUCKET/${OUTPUT_PREFIX}jobs/: track their tasks and jobs" \
    result-events-queue "$RESULT_EVENTS_QUEUE_NAME" jobs-tracker "$JOBS_TRACKER_NAME" "$arn"
}

# --- GPU server (step-330) ------------------------------------------------------------------
# Sets FOUND_SERVER_INSTANCE_ID and FOUND_SERVER_PRIVATE_IP.
server_instance_resources() {
  local state user_data
  require_recorded SERVER_REPOSITORY_URI step-300-create-ecr-repositories.sh
  require_recorded SERVER_SECURITY_GROUP_ID step-310-create-network.sh
  require_recorded SUBNET_IDS step-310-create-network.sh
  resolve_network
  find_instances "$SERVER_TAG_KEY" "$SERVER_TAG_VALUE"
  FOUND_SERVER_INSTANCE_ID=""
  FOUND_SERVER_PRIVATE_IP=""
  if ((${#FOUND_INSTANCE_IDS[@]} > 0)); then
    FOUND_SERVER_INSTANCE_ID=${FOUND_INSTANCE_IDS[0]}
    FOUND_SERVER_PRIVATE_IP=${FOUND_INSTANCE_IPS[0]}
    state=${FOUND_INSTANCE_STATES[0]}
    if ((${#FOUND_INSTANCE_IDS[@]} > 1)); then
      log_warn "${#FOUND_INSTANCE_IDS[@]} GPU server instances are tagged $SERVER_TAG_KEY=$SERVER_TAG_VALUE: using $FOUND_SERVER_INSTANCE_ID"
    fi
    case $state in
      running | pending) unchanged "GPU server instance $FOUND_SERVER_INSTANCE_ID is $state" ;;
      *)
        reconcile "GPU server instance $FOUND_SERVER_INSTANCE_ID state" "$state" running \
          start_server_instance "$FOUND_SERVER_INSTANCE_ID"
        ;;
    esac
    return 0
  fi
  if is_check; then
    drift "no GPU server instance ($SERVER_TAG_KEY=$SERVER_TAG_VALUE) exists"
    return 0
  fi
  user_data=$(mktemp)
  (
    use_gpu_engine_settings
    IMAGE_URI=$(image_uri "$SERVER_REPOSITORY_URI")
    CONTAINER_ENV=$(container_env "${SERVER_CONTAINER_ENV[@]}")
    # shellcheck disable=SC2086 # CONTAINER_ENV: space-separated names, split on purpose
    render_user_data "$SCRIPTS_DIR/user-data/gpu-server.sh" "$user_data" AWS_REGION IMAGE_URI \
      CONTAINER_ENV $CONTAINER_ENV
  )
  resolve_gpu_ami
  launch_instance "$SERVER_NAME" "$SERVER_TAG_KEY" "$SERVER_TAG_VALUE" "$SERVER_INSTANCE_TYPE" \
    "$SERVER_NAME" "$SERVER_SECURITY_GROUP_ID" "$user_data"
  rm -f "$user_data"
  FOUND_SERVER_INSTANCE_ID=$LAUNCHED_INSTANCE_ID
  changed "launched GPU server instance $FOUND_SERVER_INSTANCE_ID"
  if ! is_dry_run; then
    aws_do ec2 wait instance-running --instance-ids "$FOUND_SERVER_INSTANCE_ID"
    aws_read ec2 describe-instances --instance-ids "$FOUND_SERVER_INSTANCE_ID" \
      --query 'Reservations[0].Instances[0].PrivateIpAddress' --output text
    FOUND_SERVER_PRIVATE_IP=$AWS_OUT
  fi
}

start_server_instance() {
  aws_do ec2 start-instances --instance-ids "$1"
  aws_do ec2 wait instance-running --instance-ids "$1"
}

# The URL the router uses: the instance's private address (the router runs in the same VPC);
# in local mode the server is a process on this machine (make up).
server_url() {
  if is_local; then
    printf 'http://127.0.0.1:%s' "${PORT:-8000}"
  else
    printf 'http://%s:%s' "$FOUND_SERVER_PRIVATE_IP" "${PORT:-8000}"
  fi
}

# --- Lambda zips (step-340, step-370) ------------------------------------------------------
# lambda_zip SETTING OUTPUT PYTHON_ARGS...: the zip the setting names (it must exist), else
# OUTPUT built by `python PYTHON_ARGS... --output OUTPUT` (one of the builders on the one
# reproducible zip writer, lambda_router/package.py: an unchanged tree deploys nothing). The
# builder's summary goes to the log.
lambda_zip() {
  local setting=$1 output=$2 zip
  shift 2
  if [[ -n ${!setting:-} ]]; then
    zip=$(repo_path "${!setting}")
    [[ -f $zip ]] || die "$setting=${!setting} does not exist"
  else
    zip=$output
    (cd "$ROOT_DIR" && py "$@" --output "$zip") >&3
  fi
  printf '%s' "$zip"
}
