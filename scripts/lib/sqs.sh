#!/usr/bin/env bash
# SQS (sourced by common.sh): the jobs queue, its dead-letter queue, the router's failure
# queue (its on-failure destination) and, in local mode, the events queue that the
# EventBridge rule targets instead of the router Lambda.
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

# The desired SQS state: step-020 applies it, step-021 checks it. Sets FOUND_QUEUE_URL,
# FOUND_DLQ_URL, FOUND_ROUTER_FAILURE_QUEUE_URL and FOUND_EVENTS_QUEUE_URL (empty when
# missing, or outside local mode).
sqs_resources() {
  local dlq_arn redrive
  load_account_id
  dlq_arn=$(queue_arn "$DLQ_NAME")
  ensure_queue "$DLQ_NAME" "$(json_obj \
    MessageRetentionPeriod="$DLQ_RETENTION_SECONDS" \
    SqsManagedSseEnabled=true)"
  FOUND_DLQ_URL=$ENSURED_QUEUE_URL
  redrive="{\"deadLetterTargetArn\":\"$dlq_arn\",\"maxReceiveCount\":$QUEUE_MAX_RECEIVE_COUNT}"
  ensure_queue "$JOBS_QUEUE_NAME" "$(json_obj \
    VisibilityTimeout="$QUEUE_VISIBILITY_TIMEOUT" \
    ReceiveMessageWaitTimeSeconds="$QUEUE_RECEIVE_WAIT_SECONDS" \
    MessageRetentionPeriod="$QUEUE_RETENTION_SECONDS" \
    SqsManagedSseEnabled=true \
    RedrivePolicy="$redrive")"
  FOUND_QUEUE_URL=$ENSURED_QUEUE_URL
  # Lambda's invocation records of events the router failed on (they wrap the event, so they
  # are no jobs): `python -m lambda_router.replay` hands them to the router again.
  ensure_queue "$ROUTER_FAILURES_NAME" "$(json_obj \
    MessageRetentionPeriod="$DLQ_RETENTION_SECONDS" \
    SqsManagedSseEnabled=true)"
  FOUND_ROUTER_FAILURE_QUEUE_URL=$ENSURED_QUEUE_URL
  FOUND_EVENTS_QUEUE_URL=""
  if is_local; then
    # moto cannot run Lambda code: locally the rule delivers to this queue and the event
    # pump (python -m lambda_router.pump) hands each event to the router in-process.
    ensure_queue "$EVENTS_QUEUE_NAME" "$(json_obj \
      ReceiveMessageWaitTimeSeconds=20 \
      MessageRetentionPeriod=86400 \
      SqsManagedSseEnabled=true \
      Policy="$(render_template "$SCRIPTS_DIR/policies/events-queue-policy.json")")"
    FOUND_EVENTS_QUEUE_URL=$ENSURED_QUEUE_URL
  fi
}
