#!/usr/bin/env bash
# step-380-create-alarms-and-dashboard.sh: the CloudWatch alarms operators act on, and one
# dashboard.
#
# Usage: scripts/step-380-create-alarms-and-dashboard.sh [--dry-run] [--help]
#
# Alarms (scripts/templates/alarms.json), each notifying ALARM_TOPIC_ARN when set:
#   $PROJECT_NAME-dlq-not-empty          a job is in the dead-letter queue
#   $PROJECT_NAME-oldest-job-over-target the oldest queued job (any priority) is older than
#                                        BATCH_LATENCY_TARGET_SECONDS
#   $PROJECT_NAME-router-breaker-open    the router queued uploads with reason breaker_open
#                                        in each of ALARM_BREAKER_OPEN_MINUTES minutes (its
#                                        EMF metric `events` in METRICS_NAMESPACE)
#   $PROJECT_NAME-no-worker-for-backlog  jobs waited ALARM_NO_WORKER_MINUTES minutes with no
#                                        worker in service
# Dashboard $PROJECT_NAME (scripts/templates/dashboard.json): queue depth by priority,
# workers in service and desired, uploads per minute by route, the workers' realtime factor.
#
# Inputs:  config.env (ALARM_TOPIC_ARN, BATCH_LATENCY_TARGET_SECONDS,
#          ALARM_BREAKER_OPEN_MINUTES, ALARM_NO_WORKER_MINUTES, METRICS_NAMESPACE)
# Creates: the four alarms and the dashboard
# IAM actions: cloudwatch:DescribeAlarms, cloudwatch:PutMetricAlarm, cloudwatch:TagResource,
#   cloudwatch:GetDashboard, cloudwatch:PutDashboard
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  operations_resources
}

main "$@"
