#!/usr/bin/env bash
# step-021-validate-sqs-resources.sh: check the queues of step-020 (the jobs queue, its DLQ,
# the router's failure queue: redrive policy, encryption, visibility timeout, long polling,
# retention, the events queue's policy in local mode) and the URLs recorded in config.env.
#
# Usage: scripts/step-021-validate-sqs-resources.sh [--help]
#
# Inputs:  config.env
# Creates: nothing
# IAM actions: sts:GetCallerIdentity, sqs:GetQueueUrl, sqs:GetQueueAttributes
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  sqs_resources
  record_or_check DLQ_URL "$FOUND_DLQ_URL"
  record_or_check QUEUE_URL "$FOUND_QUEUE_URL"
  record_or_check ROUTER_FAILURE_QUEUE_URL "$FOUND_ROUTER_FAILURE_QUEUE_URL"
  if is_local; then
    record_or_check EVENTS_QUEUE_URL "$FOUND_EVENTS_QUEUE_URL"
  fi
  finish_check
}

main "$@"
