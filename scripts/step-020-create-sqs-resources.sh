#!/usr/bin/env bash
# step-020-create-sqs-resources.sh: the jobs queues, their dead-letter queue, the webhook
# delivery queue and its DLQ, and the router's failure queue; in local mode also the events
# queues the EventBridge rules deliver uploads and job results to.
#
# Usage: scripts/step-020-create-sqs-resources.sh [--dry-run] [--help]
#
#   $PROJECT_NAME-jobs      server-side encryption (SSE-SQS), QUEUE_VISIBILITY_TIMEOUT,
#                           long polling (QUEUE_RECEIVE_WAIT_SECONDS), QUEUE_RETENTION_SECONDS,
#                           redrive to the DLQ after QUEUE_MAX_RECEIVE_COUNT receives
#   $PROJECT_NAME-jobs-high, $PROJECT_NAME-jobs-low  batch jobs' high- and low-priority
#                           tasks (jobs_api): the jobs queue's attributes and DLQ
#   $PROJECT_NAME-jobs-dlq  SSE-SQS, DLQ_RETENTION_SECONDS
#   $PROJECT_NAME-webhooks  completed jobs' webhook deliveries: SSE-SQS, the jobs queue's
#                           visibility, long polling and retention, redrive to its DLQ after
#                           WEBHOOK_MAX_ATTEMPTS receives
#   $PROJECT_NAME-webhooks-dlq  SSE-SQS, DLQ_RETENTION_SECONDS
#   $PROJECT_NAME-router-failures  SSE-SQS, DLQ_RETENTION_SECONDS: the router Lambda's
#                           on-failure destination (step-340); its records wrap the failed
#                           events, which `python -m lambda_router.replay` routes again
#   $PROJECT_NAME-events    local mode only: SSE-SQS, a queue policy letting EventBridge (the
#                           upload rule) send to it
#   $PROJECT_NAME-result-events  local mode only: the same, for the job results rule
#                           (step-375); the jobs pump (python -m local_stack.jobs_pump) reads it
# Existing queues get the attributes above (other attributes are left alone).
#
# Inputs:  config.env
# Creates: the queues above
# Records: QUEUE_URL, QUEUE_URL_HIGH, QUEUE_URL_LOW, DLQ_URL, WEBHOOK_QUEUE_URL,
#   WEBHOOK_DLQ_URL, ROUTER_FAILURE_QUEUE_URL, EVENTS_QUEUE_URL and RESULT_EVENTS_QUEUE_URL
#   (local mode)
# IAM actions: sts:GetCallerIdentity, sqs:GetQueueUrl, sqs:CreateQueue, sqs:TagQueue,
#   sqs:GetQueueAttributes, sqs:SetQueueAttributes
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  sqs_resources
  record_queue_urls
}

main "$@"
