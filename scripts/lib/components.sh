#!/usr/bin/env bash
# The product's parts on AWS (sourced by common.sh): the router Lambda and its EventBridge
# trigger, the GPU server instance, the batch worker instances and the scheduler Lambda.
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
  TIMEOUT_QUEUE_DELAY_SECONDS METRICS_NAMESPACE)
# Scheduler settings (batch_worker/settings.py: SchedulerSettings).
SCHEDULER_OPTIONAL_ENV=(MAX_WORKERS JOBS_PER_WORKER WORKER_TAG_KEY WORKER_TAG_VALUE)
# Settings of the server and worker containers on the GPU instances.
SERVER_CONTAINER_ENV=(AWS_REGION PORT API_KEYS_PARAMETER AUDIO_BUCKET TRANSCRIPT_BUCKET
  INPUT_PREFIX OUTPUT_PREFIX OUTPUT_FORMATS ENGINE DEVICE COMPUTE_TYPE BATCH_SIZE BEAM_SIZE
  CONCURRENCY MAX_AUDIO_SECONDS WHISPERX_ALIGN WHISPERX_DIARIZE MAX_UPLOAD_MB MAX_PENDING
  ALLOWED_BUCKETS)
WORKER_CONTAINER_ENV=(AWS_REGION QUEUE_URL DLQ_URL AUDIO_BUCKET TRANSCRIPT_BUCKET INPUT_PREFIX
  OUTPUT_PREFIX OUTPUT_FORMATS ENGINE DEVICE COMPUTE_TYPE BATCH_SIZE BEAM_SIZE
  MAX_AUDIO_SECONDS WHISPERX_ALIGN WHISPERX_DIARIZE VISIBILITY_TIMEOUT ALLOWED_BUCKETS
  HEARTBEAT_SECONDS PREFETCH SHUTDOWN_GRACE_SECONDS RETRY_BACKOFF_SECONDS WAIT_TIME_SECONDS
  METRICS_NAMESPACE)

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
router_resources() {
  local zip environment
  # The router reads its key (the first one) from the server's SecureString (step-320): no
  # key is a plaintext Lambda environment variable.
  # shellcheck disable=SC2153 # API_KEYS_PARAMETER: set by derive_names (common.sh)
  local API_KEY_PARAMETER=$API_KEYS_PARAMETER
  require_recorded ROUTER_ROLE_ARN step-010-setup-iam-permissions.sh
  require_recorded QUEUE_URL step-020-create-sqs-resources.sh
  require_recorded ROUTER_SECURITY_GROUP_ID step-310-create-network.sh
  require_recorded SUBNET_IDS step-310-create-network.sh
  require_config API_KEYS_PARAMETER
  zip=$(repo_path "$ROUTER_ZIP")
  [[ -f $zip ]] || die "$zip is missing: run \`make lambda-zip\` first (it builds the router's deployment package)"
  load_account_id
  environment=$(env_json AUDIO_BUCKET INPUT_PREFIX OUTPUT_PREFIX QUEUE_URL SERVER_URL_PARAMETER \
    API_KEY_PARAMETER "${ROUTER_OPTIONAL_ENV[@]}")
  ensure_function "$ROUTER_NAME" "$ROUTER_ROLE_ARN" lambda_router.handler.lambda_handler "$zip" \
    "$ROUTER_TIMEOUT" "$ROUTER_MEMORY_MB" "$environment" "$SUBNET_IDS" "$ROUTER_SECURITY_GROUP_ID"
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
  local targets
  load_account_id
  ensure_rule "$TRIGGER_RULE_NAME" --event-pattern "$(upload_event_pattern)" \
    "Audio uploaded under s3://$AUDIO_BUCKET/$INPUT_PREFIX: route it for transcription"
  if is_local; then
    # moto cannot run Lambda code, and a rule with a Lambda target stops moto delivering
    # events to the rules after it: locally the target is the SQS events queue, which the
    # event pump (python -m lambda_router.pump) reads.
    require_recorded EVENTS_QUEUE_URL step-020-create-sqs-resources.sh
    targets="[{\"Id\":\"events-queue\",\"Arn\":\"$(queue_arn "$EVENTS_QUEUE_NAME")\"}]"
  else
    require_recorded ROUTER_FUNCTION_ARN step-340-deploy-lambda-router.sh
    targets="[{\"Id\":\"router\",\"Arn\":\"$ROUTER_FUNCTION_ARN\"}]"
    ensure_invoke_permission "$ROUTER_NAME" "$TRIGGER_RULE_NAME" "$ENSURED_RULE_ARN"
  fi
  ensure_targets "$TRIGGER_RULE_NAME" "$targets"
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

# --- batch workers (step-350) ---------------------------------------------------------------
worker_resources() {
  local count i state user_data want=${MAX_WORKERS:-1} new=()
  require_recorded WORKER_REPOSITORY_URI step-300-create-ecr-repositories.sh
  require_recorded WORKER_SECURITY_GROUP_ID step-310-create-network.sh
  require_recorded SUBNET_IDS step-310-create-network.sh
  require_recorded QUEUE_URL step-020-create-sqs-resources.sh
  resolve_network
  user_data=$(mktemp)
  (
    use_gpu_engine_settings
    IMAGE_URI=$(image_uri "$WORKER_REPOSITORY_URI")
    # shellcheck disable=SC2031 # set for render_user_data in this subshell only
    CONTAINER_ENV=$(container_env "${WORKER_CONTAINER_ENV[@]}")
    # shellcheck disable=SC2086 # CONTAINER_ENV: space-separated names, split on purpose
    render_user_data "$SCRIPTS_DIR/user-data/batch-worker.sh" "$user_data" AWS_REGION IMAGE_URI \
      WORKER_IDLE_SECONDS CONTAINER_ENV $CONTAINER_ENV
  )
  find_instances "$WORKER_TAG_KEY" "$WORKER_TAG_VALUE"
  count=${#FOUND_INSTANCE_IDS[@]}
  for ((i = 0; i < count; i++)); do
    state=${FOUND_INSTANCE_STATES[i]}
    ensure_shutdown_stops "${FOUND_INSTANCE_IDS[i]}"
    ensure_user_data "${FOUND_INSTANCE_IDS[i]}" "$user_data" "$state"
  done
  if ((count > want)); then
    log_warn "$count worker instances exist and MAX_WORKERS is $want: the scheduler starts at most $want; terminate the others if you no longer want them"
  fi
  for ((i = count + 1; i <= want; i++)); do
    if is_check; then
      drift "batch worker $i of $want does not exist"
      continue
    fi
    if [[ -z ${RESOLVED_AMI_ID:-} ]]; then
      resolve_gpu_ami
    fi
    launch_instance "$WORKER_NAME-$i" "$WORKER_TAG_KEY" "$WORKER_TAG_VALUE" "$WORKER_INSTANCE_TYPE" "$WORKER_NAME" \
      "$WORKER_SECURITY_GROUP_ID" "$user_data"
    changed "launched batch worker instance $LAUNCHED_INSTANCE_ID ($WORKER_NAME-$i)"
    new+=("$LAUNCHED_INSTANCE_ID")
  done
  rm -f "$user_data"
  if ((${#new[@]} > 0)) && ! is_dry_run; then
    # Workers wait stopped: the scheduler starts them when the queue has a backlog.
    aws_do ec2 wait instance-running --instance-ids "${new[@]}"
    aws_do ec2 stop-instances --instance-ids "${new[@]}"
    aws_do ec2 wait instance-stopped --instance-ids "${new[@]}"
    changed "stopped the new workers ${new[*]} until the scheduler starts them"
  fi
}

# --- batch scheduler (step-351) -------------------------------------------------------------
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

# The scheduler's zip: SCHEDULER_ZIP when set, else built from batch_worker/ and
# transcription/.
scheduler_zip() {
  if [[ -z ${SCHEDULER_ZIP:-} && ! -f $ROOT_DIR/batch_worker/scheduler.py ]]; then
    die "batch_worker/scheduler.py is missing: there is no scheduler code to deploy"
  fi
  lambda_zip SCHEDULER_ZIP "$ROOT_DIR/dist/batch_scheduler.zip" -m lambda_router.package \
    --sources batch_worker transcription
}

scheduler_resources() {
  local zip environment targets
  require_recorded SCHEDULER_ROLE_ARN step-010-setup-iam-permissions.sh
  require_recorded QUEUE_URL step-020-create-sqs-resources.sh
  load_account_id
  zip=$(scheduler_zip)
  environment=$(env_json QUEUE_URL PROJECT_NAME "${SCHEDULER_OPTIONAL_ENV[@]}")
  ensure_function "$SCHEDULER_NAME" "$SCHEDULER_ROLE_ARN" batch_worker.scheduler.lambda_handler "$zip" \
    "$SCHEDULER_TIMEOUT" "$SCHEDULER_MEMORY_MB" "$environment"
  FOUND_SCHEDULER_FUNCTION_ARN=$ENSURED_FUNCTION_ARN
  if [[ -n $FOUND_SCHEDULER_FUNCTION_ARN ]]; then
    # One run at a time: two overlapping runs could start more boxes than MAX_WORKERS.
    ensure_reserved_concurrency "$SCHEDULER_NAME" 1
  fi
  ensure_rule "$SCHEDULE_RULE_NAME" --schedule-expression "$SCHEDULER_SCHEDULE" \
    "Start $PROJECT_NAME batch workers when the jobs queue has a backlog"
  if is_local; then
    # No target in local mode: moto cannot run the scheduler, and a rule with a Lambda
    # target stops moto delivering events to the rules after it (the upload trigger).
    targets="[]"
  else
    targets="[{\"Id\":\"scheduler\",\"Arn\":\"${FOUND_SCHEDULER_FUNCTION_ARN:-$SCHEDULER_FUNCTION_ARN}\"}]"
    ensure_invoke_permission "$SCHEDULER_NAME" "$SCHEDULE_RULE_NAME" "$ENSURED_RULE_ARN"
  fi
  ensure_targets "$SCHEDULE_RULE_NAME" "$targets"
}
