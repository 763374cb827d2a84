#!/usr/bin/env bash
# SQS (sourced by common.sh): the jobs queue (and its high- and low-priority siblings), its
# dead-letter queue, the webhook delivery queue and its DLQ, the router's failure queue (its
# on-failure destination) and, in local mode, the events queues that the EventBridge rules
# target instead of the router and jobs tracker Lambdas.
# shellcheck disable=SC2034 # FOUND_* are read by the steps that call sqs_resources

queue_arn() { printf 'arn:%s:sqs:%s:%s:%s' "$PARTITION" "$AWS_REGION" "$ACCOUNT_ID" "$1"; }

QUEUE_NOT_FOUND="AWS.SimpleQueueService.NonExistentQueue,QueueDoesNotExist"

# ensure_queue NAME ATTRIBUTES_JSON: the queue, with at least these attributes (others are
# left alone). Sets ENSURED_QUEUE_URL.
ensure_queue() {
  local name=$1 want=$2 diff
  if aws_lookup "$QUEUE_NOT_FOUND" sqs get-queue-url --queue-name "$name" --query QueueUrl --output text; then
    ENSURED_QUEUE_URL=$AWS_OUT
    aws_read sqs get-queue-attributes --queue-url "$ENSURED_QUEUE_URL" --attribute-names All --query Attributes
    diff=$(py "$LIB_DIR/json_tool.py" diff-attrs "$AWS_OUT" "$want")
    if [[ $diff == "{}" ]]; then
      unchanged "queue $name"
    elif is_check; then
      drift "queue $name: these attributes differ from the desired ones: $diff"
    else
      aws_do sqs set-queue-attributes --queue-url "$ENSURED_QUEUE_URL" --attributes "$diff"
      changed "queue $name attributes $diff"
    fi
  else
    ENSURED_QUEUE_URL=""
    missing "queue $name" create_queue "$name" "$want"
  fi
}

create_queue() {
  aws_do sqs create-queue --queue-name "$1" --attributes "$2" --tags "$(project_tags_kv)" \
    --query QueueUrl --output text
  ENSURED_QUEUE_URL=$AWS_OUT
}

# A queue that one EventBridge rule (only) may send to: the local stand-in for a Lambda
# target, read by a local pump. local_events_queue QUEUE_NAME RULE_NAME; sets
# ENSURED_QUEUE_URL.
local_events_queue() {
  ensure_queue "$1" "$(json_obj \
    ReceiveMessageWaitTimeSeconds=20 \
    MessageRetentionPeriod=86400 \
    SqsManagedSseEnabled=true \
    Policy="$(QUEUE_NAME=$1 RULE_NAME=$2 render_template "$SCRIPTS_DIR/policies/events-queue-policy.json")")"
}

# The desired SQS state: step-020 applies it, step-021 checks it. Sets FOUND_QUEUE_URL,
# FOUND_QUEUE_URL_HIGH, FOUND_QUEUE_URL_LOW, FOUND_DLQ_URL, FOUND_WEBHOOK_QUEUE_URL,
# FOUND_WEBHOOK_DLQ_URL, FOUND_ROUTER_FAILURE_QUEUE_URL, and in local mode
# FOUND_EVENTS_QUEUE_URL and FOUND_RESULT_EVENTS_QUEUE_URL (each empty when missing, and the
# last two outside local mode).
sqs_resources() {
  local dlq_arn redrive jobs_attributes webhook_redrive
  load_account_id
  dlq_arn=$(queue_arn "$DLQ_NAME")
  ensure_queue "$DLQ_NAME" "$(json_obj \
    MessageRetentionPeriod="$DLQ_RETENTION_SECONDS" \
    SqsManagedSseEnabled=true)"
  FOUND_DLQ_URL=$ENSURED_QUEUE_URL
  redrive="{\"deadLetterTargetArn\":\"$dlq_arn\",\"maxReceiveCount\":$QUEUE_MAX_RECEIVE_COUNT}"
  jobs_attributes=$(json_obj \
    VisibilityTimeout="$QUEUE_VISIBILITY_TIMEOUT" \
    ReceiveMessageWaitTimeSeconds="$QUEUE_RECEIVE_WAIT_SECONDS" \
    MessageRetentionPeriod="$QUEUE_RETENTION_SECONDS" \
    SqsManagedSseEnabled=true \
    RedrivePolicy="$redrive")
  ensure_queue "$JOBS_QUEUE_NAME" "$jobs_attributes"
  FOUND_QUEUE_URL=$ENSURED_QUEUE_URL
  # The batch jobs' high- and low-priority tasks (jobs_api): the same queue settings and
  # dead-letter queue; workers drain high, then normal, then low.
  ensure_queue "$JOBS_HIGH_QUEUE_NAME" "$jobs_attributes"
  FOUND_QUEUE_URL_HIGH=$ENSURED_QUEUE_URL
  ensure_queue "$JOBS_LOW_QUEUE_NAME" "$jobs_attributes"
  FOUND_QUEUE_URL_LOW=$ENSURED_QUEUE_URL
  # Webhook deliveries of completed batch jobs: a failed attempt stays on the queue, hidden
  # for its backoff (jobs_api/webhooks/sender.py); after WEBHOOK_MAX_ATTEMPTS receives SQS
  # moves it to its DLQ. The visibility timeout is the jobs queue's (900 s by default: no
  # shorter than any Lambda timeout, which the event source mapping requires).
  ensure_queue "$WEBHOOK_DLQ_NAME" "$(json_obj \
    MessageRetentionPeriod="$DLQ_RETENTION_SECONDS" \
    SqsManagedSseEnabled=true)"
  FOUND_WEBHOOK_DLQ_URL=$ENSURED_QUEUE_URL
  webhook_redrive="{\"deadLetterTargetArn\":\"$(queue_arn "$WEBHOOK_DLQ_NAME")\",\"maxReceiveCount\":$WEBHOOK_MAX_ATTEMPTS}"
  ensure_queue "$WEBHOOK_QUEUE_NAME" "$(json_obj \
    VisibilityTimeout="$QUEUE_VISIBILITY_TIMEOUT" \
    ReceiveMessageWaitTimeSeconds="$QUEUE_RECEIVE_WAIT_SECONDS" \
    MessageRetentionPeriod="$QUEUE_RETENTION_SECONDS" \
    SqsManagedSseEnabled=true \
    RedrivePolicy="$webhook_redrive")"
  FOUND_WEBHOOK_QUEUE_URL=$ENSURED_QUEUE_URL
  # Lambda's invocation records of events the router failed on (they wrap the event, so they
  # are no jobs): `python -m lambda_router.replay` hands them to the router again.
  ensure_queue "$ROUTER_FAILURES_NAME" "$(json_obj \
    MessageRetentionPeriod="$DLQ_RETENTION_SECONDS" \
    SqsManagedSseEnabled=true)"
  FOUND_ROUTER_FAILURE_QUEUE_URL=$ENSURED_QUEUE_URL
  FOUND_EVENTS_QUEUE_URL=""
  FOUND_RESULT_EVENTS_QUEUE_URL=""
  if is_local; then
    # moto cannot run Lambda code: locally the rules deliver to these queues. The event pump
    # (python -m lambda_router.pump) hands each upload to the router in-process; the jobs
    # pump (python -m local_stack.jobs_pump) each job result to the tracker (step-375).
    local_events_queue "$EVENTS_QUEUE_NAME" "$TRIGGER_RULE_NAME"
    FOUND_EVENTS_QUEUE_URL=$ENSURED_QUEUE_URL
    local_events_queue "$RESULT_EVENTS_QUEUE_NAME" "$JOB_RESULTS_RULE_NAME"
    FOUND_RESULT_EVENTS_QUEUE_URL=$ENSURED_QUEUE_URL
  fi
}

# Record (step-020) or check (step-021) every queue URL sqs_resources found.
record_queue_urls() {
  record_or_check DLQ_URL "$FOUND_DLQ_URL"
  record_or_check QUEUE_URL "$FOUND_QUEUE_URL"
  record_or_check QUEUE_URL_HIGH "$FOUND_QUEUE_URL_HIGH"
  record_or_check QUEUE_URL_LOW "$FOUND_QUEUE_URL_LOW"
  record_or_check WEBHOOK_QUEUE_URL "$FOUND_WEBHOOK_QUEUE_URL"
  record_or_check WEBHOOK_DLQ_URL "$FOUND_WEBHOOK_DLQ_URL"
  record_or_check ROUTER_FAILURE_QUEUE_URL "$FOUND_ROUTER_FAILURE_QUEUE_URL"
  if is_local; then
    record_or_check EVENTS_QUEUE_URL "$FOUND_EVENTS_QUEUE_URL"
    record_or_check RESULT_EVENTS_QUEUE_URL "$FOUND_RESULT_EVENTS_QUEUE_URL"
  fi
}
