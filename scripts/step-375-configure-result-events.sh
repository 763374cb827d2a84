#!/usr/bin/env bash
# step-375-configure-result-events.sh: the EventBridge rule that sends each batch job result
# to the jobs tracker.
#
# Usage: scripts/step-375-configure-result-events.sh [--dry-run] [--help]
#
# EventBridge notifications on the transcript bucket when it is not the audio bucket
# (TRANSCRIPT_BUCKET; step-030 creates it, and turns them on for the audio bucket only).
# Rule $PROJECT_NAME-job-results on the default bus, pattern: source aws.s3, detail-type
# "Object Created", the transcript bucket, key prefix "${OUTPUT_PREFIX}jobs/" (results and
# error records of batch jobs, nothing else). Target: the tracker Lambda
# $PROJECT_NAME-jobs-tracker (step-370), with a permission that lets this rule (only)
# invoke it. In local mode the target is the SQS result-events queue of step-020
# instead (moto cannot run Lambda code); the jobs pump (python -m local_stack.jobs_pump)
# reads it and calls the tracker in-process. Targets other than these are removed.
#
# Inputs:  config.env (AUDIO_BUCKET, TRANSCRIPT_BUCKET, OUTPUT_PREFIX; RESULT_EVENTS_QUEUE_URL
#          in local mode)
# Creates: the bucket's EventBridge notifications, the rule, its target, the Lambda permission
# IAM actions: s3:GetBucketNotification, s3:PutBucketNotification, events:DescribeRule,
#   events:PutRule, events:TagResource, events:ListTargetsByRule, events:PutTargets,
#   events:RemoveTargets, lambda:GetFunctionConfiguration, lambda:GetPolicy,
#   lambda:AddPermission, lambda:RemovePermission, sts:GetCallerIdentity
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  result_events_resources
}

main "$@"
