#!/usr/bin/env bash
# step-021-validate-sqs-resources.sh: check the queues of step-020 (the jobs queues, their
# DLQ, the webhook queue and its DLQ, the router's failure queue: redrive policies,
# encryption, visibility timeout, long polling, retention, the events queues' policies in
# local mode) and the URLs recorded in config.env.
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
  record_queue_urls
  finish_check
}

main "$@"
