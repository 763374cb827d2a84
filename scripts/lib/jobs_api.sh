#!/usr/bin/env bash
# The batch jobs API on AWS (sourced by common.sh): its bootstrap admin key in SSM (step-363)
# and its three Lambdas from one zip (step-370; step-371 validates them), and the console's
# CORS rule on the buckets (step-370):
#
#   $JOBS_API_NAME       jobs_api.handler.api_handler behind a function URL (AuthType NONE:
#                        the app authenticates every request with its own API keys)
#   $JOBS_TRACKER_NAME   jobs_api.handler.tracker_handler (step-375's rule invokes it)
#   $JOBS_WEBHOOKS_NAME  jobs_api.handler.webhook_handler, fed by the webhook queue
#
# The queues (step-020), the tables (step-360) and the result rule (step-375) are not made
# here; step-999 deletes all of them.
# shellcheck disable=SC2034 # FOUND_* are read by the steps
# shellcheck disable=SC2153 # ENSURED_* are set by lambda.sh (sourced before this by common.sh)

# The jobs API settings every function gets when config.env sets them (jobs_api/settings.py).
# Not JOBS_ADMIN_KEY (the API reads the SecureString of step-363, no key is a plaintext
# variable), nor WEBHOOK_ALLOW_LOOPBACK (local stacks only), nor AWS_REGION (Lambda sets it).
JOBS_LAMBDA_ENV=(AUDIO_BUCKET TRANSCRIPT_BUCKET INPUT_PREFIX OUTPUT_PREFIX OUTPUT_FORMATS
  QUEUE_URL QUEUE_URL_HIGH QUEUE_URL_LOW JOBS_TABLE_PREFIX JOBS_ADMIN_KEY_PARAMETER
  JOBS_ALLOWED_BUCKETS JOBS_MAX_ITEMS JOBS_MAX_BASE64_MB JOBS_URL_SECONDS JOBS_PAGE_SIZE
  JOBS_RATE_LIMIT_PER_MINUTE JOBS_AUDIT_RETENTION_DAYS JOBS_EVENT_BUS WEBHOOK_QUEUE_URL
  WEBHOOK_TIMEOUT_SECONDS WEBHOOK_MAX_ATTEMPTS WEBHOOK_BACKOFF_SECONDS LOG_LEVEL)
JOBS_HANDLERS=jobs_api.handler
# The two statements that open a function URL with AuthType NONE: since October 2025 a new
# URL needs lambda:InvokeFunction (only through the URL) besides lambda:InvokeFunctionUrl.
URL_PERMISSION_SIDS=(FunctionUrlPublicAccess FunctionUrlInvokeFunction)

# --- the bootstrap admin key (step-363) -----------------------------------------------------
# ensure_admin_key: a SecureString at JOBS_ADMIN_KEY_PARAMETER holding a generated key. An
# existing parameter is kept as it is (the key in use stays valid); only its type and length
# are checked. The value is registered as a secret before anything can log it.
ensure_admin_key() {
  local name=$JOBS_ADMIN_KEY_PARAMETER type value key
  if aws_lookup ParameterNotFound ssm get-parameter --name "$name" --with-decryption \
    --query 'Parameter.[Type, Value]' --output text; then
    type=${AWS_OUT%%$'\t'*}
    value=${AWS_OUT#*$'\t'}
    register_secret "$value"
    AWS_OUT=""
    if [[ $type != SecureString ]]; then
      drift_or_die "parameter $name is a $type, not a SecureString: delete it and run this step again"
    elif ((${#value} < JOBS_ADMIN_KEY_MIN_LENGTH)); then
      drift_or_die "parameter $name holds ${#value} characters; the jobs API refuses an admin key shorter than $JOBS_ADMIN_KEY_MIN_LENGTH"
    else
      unchanged "parameter $name (the admin key is kept)"
    fi
    return 0
  fi
  key=$(new_admin_key)
  register_secret "$key"
  missing "parameter $name" aws_do ssm put-parameter --name "$name" --type SecureString \
    --value="$key" --description "Bootstrap admin key of the $PROJECT_NAME jobs API" \
    --tags "$(project_tags_list)"
}

JOBS_ADMIN_KEY_MIN_LENGTH=24 # jobs_api/bootstrap.py: MIN_ADMIN_KEY

# 32 random bytes, URL-safe base64 (43 characters).
new_admin_key() { py -c 'import secrets; print(secrets.token_urlsafe(32))'; }

# drift_or_die MESSAGE: a validate step reports it, a create step stops on it.
drift_or_die() {
  if is_check; then
    drift "$1"
  else
    die "$1"
  fi
}

# --- the zip (step-370) ---------------------------------------------------------------------
# JOBS_API_ZIP when set, else dist/jobs_api.zip built by jobs_api/package.py for
# LAMBDA_RUNTIME's Python on x86_64.
jobs_api_zip() { lambda_zip JOBS_API_ZIP "$ROOT_DIR/dist/jobs_api.zip" -m jobs_api.package; }

# --- the functions (step-370) ---------------------------------------------------------------
jobs_api_resources() {
  local zip environment url
  require_recorded JOBS_API_ROLE_ARN step-010-setup-iam-permissions.sh
  require_recorded JOBS_TRACKER_ROLE_ARN step-010-setup-iam-permissions.sh
  require_recorded JOBS_WEBHOOKS_ROLE_ARN step-010-setup-iam-permissions.sh
  require_recorded QUEUE_URL step-020-create-sqs-resources.sh
  require_recorded WEBHOOK_QUEUE_URL step-020-create-sqs-resources.sh
  console_extra_origins >/dev/null # a bad origin stops the step before anything changes
  check_webhook_timeouts
  load_account_id
  zip=$(jobs_api_zip)
  # The API's own URL names the results in completions: known once the URL exists (on the
  # first run the functions get it right after the URL is made).
  url=$(existing_function_url "$JOBS_API_NAME")
  FOUND_JOBS_API_URL=$url
  environment=$(jobs_environment "$url")
  ensure_function "$JOBS_API_NAME" "$JOBS_API_ROLE_ARN" "$JOBS_HANDLERS.api_handler" "$zip" \
    "$JOBS_API_TIMEOUT" "$JOBS_API_MEMORY_MB" "$environment"
  FOUND_JOBS_API_FUNCTION_ARN=$ENSURED_FUNCTION_ARN
  if [[ -n $FOUND_JOBS_API_FUNCTION_ARN ]]; then
    ensure_function_url "$JOBS_API_NAME"
    FOUND_JOBS_API_URL=${ENSURED_FUNCTION_URL%/}
  fi
  if [[ -z $url && -n $FOUND_JOBS_API_URL ]] && ! is_dry_run; then
    environment=$(jobs_environment "$FOUND_JOBS_API_URL")
    ensure_function "$JOBS_API_NAME" "$JOBS_API_ROLE_ARN" "$JOBS_HANDLERS.api_handler" "$zip" \
      "$JOBS_API_TIMEOUT" "$JOBS_API_MEMORY_MB" "$environment"
  fi
  ensure_function "$JOBS_TRACKER_NAME" "$JOBS_TRACKER_ROLE_ARN" "$JOBS_HANDLERS.tracker_handler" \
    "$zip" "$JOBS_TRACKER_TIMEOUT" "$JOBS_TRACKER_MEMORY_MB" "$environment"
  FOUND_JOBS_TRACKER_FUNCTION_ARN=$ENSURED_FUNCTION_ARN
  ensure_function "$JOBS_WEBHOOKS_NAME" "$JOBS_WEBHOOKS_ROLE_ARN" "$JOBS_HANDLERS.webhook_handler" \
    "$zip" "$JOBS_WEBHOOKS_TIMEOUT" "$JOBS_WEBHOOKS_MEMORY_MB" "$environment"
  FOUND_JOBS_WEBHOOKS_FUNCTION_ARN=$ENSURED_FUNCTION_ARN
  if [[ -n $FOUND_JOBS_WEBHOOKS_FUNCTION_ARN ]] || is_dry_run; then
    ensure_sqs_trigger "$JOBS_WEBHOOKS_NAME" "$(queue_arn "$WEBHOOK_QUEUE_NAME")" \
      "$JOBS_WEBHOOKS_BATCH_SIZE"
  fi
}

# jobs_environment API_URL: the functions' environment (JSON).
jobs_environment() {
  local JOBS_API_URL=$1
  env_json "${JOBS_LAMBDA_ENV[@]}" JOBS_API_URL
}

# A batch of JOBS_WEBHOOKS_BATCH_SIZE deliveries of up to WEBHOOK_TIMEOUT_SECONDS each must
# fit in the function's timeout, and SQS requires the queue's visibility timeout to be at
# least the function's.
check_webhook_timeouts() {
  local visibility
  py -c 'import sys; b, each, t = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); sys.exit(not (1 <= b <= 10 and b * each < t))' \
    "$JOBS_WEBHOOKS_BATCH_SIZE" "${WEBHOOK_TIMEOUT_SECONDS:-10}" "$JOBS_WEBHOOKS_TIMEOUT" ||
    die "JOBS_WEBHOOKS_BATCH_SIZE=$JOBS_WEBHOOKS_BATCH_SIZE (1..10) deliveries of up to WEBHOOK_TIMEOUT_SECONDS=${WEBHOOK_TIMEOUT_SECONDS:-10} each must take less than JOBS_WEBHOOKS_TIMEOUT=$JOBS_WEBHOOKS_TIMEOUT"
  aws_read sqs get-queue-attributes --queue-url "$WEBHOOK_QUEUE_URL" \
    --attribute-names VisibilityTimeout --query Attributes.VisibilityTimeout --output text
  visibility=$AWS_OUT
  if ((visibility < JOBS_WEBHOOKS_TIMEOUT)); then
    die "the webhook queue's VisibilityTimeout ($visibility s) is less than JOBS_WEBHOOKS_TIMEOUT=$JOBS_WEBHOOKS_TIMEOUT: Lambda refuses such a trigger (lower the timeout, or raise the queue's in step-020)"
  fi
}

# existing_function_url NAME: the function's URL, or nothing (no function or no URL yet).
existing_function_url() {
  if aws_lookup "$FUNCTION_NOT_FOUND" lambda get-function-url-config --function-name "$1" \
    --query FunctionUrl --output text; then
    printf '%s' "${AWS_OUT%/}"
  fi
}

# ensure_function_url NAME: a function URL with AuthType NONE and the two public permissions.
# Sets ENSURED_FUNCTION_URL.
ensure_function_url() {
  local name=$1
  ENSURED_FUNCTION_URL=""
  if [[ $FUNCTION_IS_NEW == false ]] && aws_lookup "$FUNCTION_NOT_FOUND" lambda get-function-url-config \
    --function-name "$name" --query '[FunctionUrl, AuthType]' --output text; then
    ENSURED_FUNCTION_URL=${AWS_OUT%%$'\t'*}
    reconcile "function URL of $name auth type" "${AWS_OUT#*$'\t'}" NONE \
      aws_do lambda update-function-url-config --function-name "$name" --auth-type NONE
  else
    missing "function URL of $name" aws_do lambda create-function-url-config --function-name "$name" \
      --auth-type NONE --query FunctionUrl --output text
    ENSURED_FUNCTION_URL=$AWS_OUT
  fi
  ensure_url_permissions "$name"
}

# ensure_url_permissions NAME: anyone may call the URL (and only through the URL may anyone
# invoke the function): the statements URL_PERMISSION_SIDS.
ensure_url_permissions() {
  local name=$1 statements="[]" sid action flag
  if [[ $FUNCTION_IS_NEW == false ]] && aws_lookup "$FUNCTION_NOT_FOUND" lambda get-policy \
    --function-name "$name" --query Policy --output text; then
    statements=$(py "$LIB_DIR/json_tool.py" pick "$AWS_OUT" Statement)
  fi
  for sid in "${URL_PERMISSION_SIDS[@]}"; do
    if [[ $sid == FunctionUrlPublicAccess ]]; then
      action=lambda:InvokeFunctionUrl flag=(--function-url-auth-type NONE)
    else
      action=lambda:InvokeFunction flag=(--invoked-via-function-url)
    fi
    reconcile "permission $sid on function $name" \
      "$(py "$LIB_DIR/json_tool.py" select "$statements" Sid "$sid" Action)" "$action" \
      replace_url_permission "$name" "$sid" "$action" "$statements" "${flag[@]}"
  done
}

replace_url_permission() {
  local name=$1 sid=$2 action=$3 statements=$4
  shift 4
  if [[ -n $(py "$LIB_DIR/json_tool.py" select "$statements" Sid "$sid" Sid) ]]; then
    aws_do lambda remove-permission --function-name "$name" --statement-id "$sid"
  fi
  aws_do lambda add-permission --function-name "$name" --statement-id "$sid" --action "$action" \
    --principal '*' "$@"
}

# ensure_sqs_trigger FUNCTION QUEUE_ARN BATCH_SIZE: an enabled event source mapping that
# reports partial batch failures (the handler's batchItemFailures: the deliveries not done
# stay on the queue, hidden for their backoff).
ensure_sqs_trigger() {
  local name=$1 queue=$2 batch=$3 want uuid size state types
  want=$(json_obj BatchSize="$batch" State=Enabled FunctionResponseTypes=ReportBatchItemFailures)
  AWS_OUT=""
  if [[ $FUNCTION_IS_NEW == false ]]; then
    # shellcheck disable=SC2016 # backticks: JMESPath literals
    aws_read lambda list-event-source-mappings --function-name "$name" --event-source-arn "$queue" \
      --query 'EventSourceMappings[0].[UUID, to_string(BatchSize), State, join(`,`, FunctionResponseTypes || `[]`)]' \
      --output text
  fi
  if [[ -z $AWS_OUT || $AWS_OUT == None ]]; then
    missing "SQS trigger of $name" aws_do lambda create-event-source-mapping --function-name "$name" \
      --event-source-arn "$queue" --batch-size "$batch" --function-response-types ReportBatchItemFailures \
      --enabled --tags "$(project_tags_kv)"
    return 0
  fi
  IFS=$'\t' read -r uuid size state types <<<"$AWS_OUT"
  # Enabling takes a moment after a change: it counts as enabled.
  [[ $state == Enabling ]] && state=Enabled
  reconcile "SQS trigger of $name" \
    "$(json_obj BatchSize="$size" State="$state" FunctionResponseTypes="$types")" "$want" \
    aws_do lambda update-event-source-mapping --uuid "$uuid" --batch-size "$batch" \
    --function-response-types ReportBatchItemFailures --enabled
}

# --- the console's CORS rule on the buckets (step-370) --------------------------------------
# The web console, served by the API at its function URL, uploads with presigned PUTs straight
# to the audio bucket and plays audio and downloads results with presigned GETs: a browser
# lets the page do that only when the bucket's CORS configuration names the page's origin.
# One rule, ID $PROJECT_NAME-console, on the audio bucket and on the transcript bucket when
# it differs: GET, PUT, HEAD from the function URL's origin and JOBS_CONSOLE_ORIGINS, any
# request header (the presigned signature, not CORS, decides what a request may carry),
# ETag readable by the page, a preflight answer cached CONSOLE_CORS_MAX_AGE seconds. Other
# rules of the buckets are kept.
CONSOLE_CORS_MAX_AGE=3600 # one hour; browsers cap it lower (Chromium: 2 hours)

console_cors_rule_id() { printf '%s-console' "$PROJECT_NAME"; }

console_cors_resources() {
  local origins rule bucket buckets=("$AUDIO_BUCKET")
  if [[ -z ${FOUND_JOBS_API_URL:-} ]]; then
    log_info "bucket CORS rule $(console_cors_rule_id): waits for the function URL (not made yet)"
    return 0
  fi
  origins=$(console_origins "$FOUND_JOBS_API_URL")
  rule=$(console_cors_rule "$origins")
  if [[ $OUTPUT_BUCKET != "$AUDIO_BUCKET" ]]; then
    buckets+=("$OUTPUT_BUCKET")
  fi
  for bucket in "${buckets[@]}"; do
    if ! aws_lookup "404,NoSuchBucket" s3api head-bucket --bucket "$bucket"; then
      drift_or_die "bucket $bucket does not exist: run scripts/step-030-create-s3-bucket.sh first"
      continue
    fi
    ensure_cors_rule "$bucket" "$rule"
  done
}

# console_origins API_URL: the origin of API_URL, then each of JOBS_CONSOLE_ORIGINS, once
# each, as a JSON list.
console_origins() {
  local url=$1 rest origin origins=()
  rest=${url#*://}
  origins=("${url%%://*}://${rest%%/*}")
  while IFS= read -r origin; do
    if [[ -n $origin && " ${origins[*]} " != *" $origin "* ]]; then
      origins+=("$origin")
    fi
  done < <(console_extra_origins)
  py "$LIB_DIR/json_tool.py" strings "${origins[@]}"
}

# console_extra_origins: JOBS_CONSOLE_ORIGINS (comma-separated), one per line. An entry that
# is not an origin stops the step: scheme://host[:port], since a browser's Origin header has
# no path and no trailing slash (such an entry would never match); S3 allows one * in it.
console_extra_origins() {
  local origin entries
  IFS=, read -r -a entries <<<"${JOBS_CONSOLE_ORIGINS:-}"
  for origin in "${entries[@]}"; do
    origin=${origin//[[:space:]]/}
    if [[ -z $origin ]]; then
      continue
    fi
    if ! [[ $origin =~ ^https?://[A-Za-z0-9.*-]+(:[0-9]+)?$ ]] || [[ $origin == *'*'*'*'* ]]; then
      die "JOBS_CONSOLE_ORIGINS: '$origin' is not an origin: scheme://host[:port] (http or https, at most one *), with no path and no trailing slash"
    fi
    printf '%s\n' "$origin"
  done
}

# console_cors_rule ORIGINS: the rule (JSON) for the JSON list ORIGINS.
console_cors_rule() {
  printf '{"ID":"%s","AllowedOrigins":%s,"AllowedMethods":["GET","PUT","HEAD"],"AllowedHeaders":["*"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":%s}' \
    "$(console_cors_rule_id)" "$1" "$CONSOLE_CORS_MAX_AGE"
}

# --- the running API (step-371) -------------------------------------------------------------
# check_jobs_api_health: GET $JOBS_API_URL/v1/health answers 200, within
# JOBS_API_HEALTH_TIMEOUT seconds (a cold start loads the app first). Local mode: moto
# cannot run Lambda code, so nothing answers at its function URLs; the check says so.
check_jobs_api_health() {
  if is_local; then
    log_info "skipped: GET /v1/health of the function URL (moto cannot run Lambda code; the local stack serves the API with uvicorn)"
    return 0
  fi
  if [[ -z ${FOUND_JOBS_API_URL:-} ]]; then
    return 0 # its absence is already drift
  fi
  if ! health_answers "$FOUND_JOBS_API_URL/v1/health" "$JOBS_API_HEALTH_TIMEOUT"; then
    drift "GET $FOUND_JOBS_API_URL/v1/health did not answer 200 within ${JOBS_API_HEALTH_TIMEOUT} s"
    return 0
  fi
  unchanged "GET $FOUND_JOBS_API_URL/v1/health answers 200"
}

# health_answers URL TIMEOUT: true when URL answers 200 before TIMEOUT seconds.
health_answers() {
  local deadline=$((SECONDS + $2))
  until [[ $(curl --silent --output /dev/null --max-time 10 --write-out '%{http_code}' "$1") == 200 ]]; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep "${POLL_SECONDS:-5}"
  done
}

# record_jobs_api: step-370 records what it made, step-371 checks config.env holds it.
record_jobs_api() {
  record_or_check JOBS_API_FUNCTION_ARN "$FOUND_JOBS_API_FUNCTION_ARN"
  record_or_check JOBS_TRACKER_FUNCTION_ARN "$FOUND_JOBS_TRACKER_FUNCTION_ARN"
  record_or_check JOBS_WEBHOOKS_FUNCTION_ARN "$FOUND_JOBS_WEBHOOKS_FUNCTION_ARN"
  record_or_check JOBS_API_URL "$FOUND_JOBS_API_URL"
}
