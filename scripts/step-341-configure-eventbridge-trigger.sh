#!/usr/bin/env bash
# step-341-configure-eventbridge-trigger.sh: the EventBridge rule that sends each upload to
# the router.
#
# Usage: scripts/step-341-configure-eventbridge-trigger.sh [--dry-run] [--help]
#
# Rule $PROJECT_NAME-audio-uploaded on the default bus, pattern: source aws.s3, detail-type
# "Object Created", bucket AUDIO_BUCKET, key prefix INPUT_PREFIX (so transcripts never
# trigger new transcriptions). Target: the router Lambda, with a permission that lets this
# rule (only) invoke it. In local mode the target is the SQS events queue of step-020
# instead: moto cannot run Lambda code, and a Lambda target stops moto delivering events to
# later rules; the event pump (python -m lambda_router.pump) reads the queue and calls the
# router in-process. Targets other than these are removed from the rule.
#
# With OVERFLOW=transcribe (the managed overflow), also rule $PROJECT_NAME-transcribe-jobs:
# source aws.transcribe, detail-type "Transcribe Job State Change", status COMPLETED or
# FAILED, job names overflow-*; target the router Lambda (its handler collects the job's
# transcript), with the same kind of permission. Not in local mode: moto's Transcribe sends
# no events, and the event pump polls the overflow's open tickets instead.
#
# Inputs:  config.env (AUDIO_BUCKET, INPUT_PREFIX, OVERFLOW; ROUTER_FUNCTION_ARN, or
#          EVENTS_QUEUE_URL in local mode)
# Creates: the rule, its target, the Lambda permission
# IAM actions: events:DescribeRule, events:PutRule, events:TagResource,
#   events:ListTargetsByRule, events:PutTargets, events:RemoveTargets, lambda:GetPolicy,
#   lambda:AddPermission, lambda:RemovePermission, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  trigger_resources
}

main "$@"
