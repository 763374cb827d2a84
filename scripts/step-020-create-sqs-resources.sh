#!/usr/bin/env bash
# step-020-create-sqs-resources.sh: the jobs queue, its dead-letter queue and the router's
# failure queue; in local mode also the events queue the EventBridge rule delivers uploads to.
#
# Usage: scripts/step-020-create-sqs-resources.sh [--dry-run] [--help]
#
#   $PROJECT_NAME-jobs      server-side encryption (SSE-SQS), QUEUE_VISIBILITY_TIMEOUT,
#                           long polling (QUEUE_RECEIVE_WAIT_SECONDS), QUEUE_RETENTION_SECONDS,
#                           redrive to the DLQ after QUEUE_MAX_RECEIVE_COUNT receives
#   $PROJECT_NAME-jobs-dlq  SSE-SQS, DLQ_RETENTION_SECONDS
#   $PROJECT_NAME-router-failures  SSE-SQS, DLQ_RETENTION_SECONDS: the router Lambda's
#                           on-failure destination (step-340); its records wrap the failed
#                           events, which `python -m lambda_router.replay` routes again
#   $PROJECT_NAME-events    local mode only: SSE-SQS, a queue policy letting EventBridge (the
#                           upload rule) send to it
# Existing queues get the attributes above (other attributes are left alone).
#
# Inputs:  config.env
# Creates: the queues above
# Records: QUEUE_URL, DLQ_URL, ROUTER_FAILURE_QUEUE_URL, EVENTS_QUEUE_URL (local mode)
# IAM actions: sts:GetCallerIdentity, sqs:GetQueueUrl, sqs:CreateQueue, sqs:TagQueue,
#   sqs:GetQueueAttributes, sqs:SetQueueAttributes
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  sqs_resources
  record_or_check DLQ_URL "$FOUND_DLQ_URL"
  record_or_check QUEUE_URL "$FOUND_QUEUE_URL"
  record_or_check ROUTER_FAILURE_QUEUE_URL "$FOUND_ROUTER_FAILURE_QUEUE_URL"
  if is_local; then
    record_or_check EVENTS_QUEUE_URL "$FOUND_EVENTS_QUEUE_URL"
  fi
}

main "$@"
