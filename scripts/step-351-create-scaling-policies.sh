#!/usr/bin/env bash
# step-351-create-scaling-policies.sh: the worker group's capacity follows the backlog.
#
# Usage: scripts/step-351-create-scaling-policies.sh [--dry-run] [--help]
#
# On the group $PROJECT_NAME-workers of step-350:
# - target tracking policy $PROJECT_NAME-backlog-per-worker
#   (scripts/templates/backlog-target-tracking.json): metric math (visible jobs of
#   $PROJECT_NAME-jobs-high, -jobs and -jobs-low) ÷ GroupInServiceInstances, target
#   JOBS_PER_WORKER, scale-in enabled, instance warm-up WORKER_WARMUP_SECONDS. Choose the
#   target as (BATCH_LATENCY_TARGET_SECONDS - the time a new worker needs to take its first
#   job: a minute of evaluation plus its start) ÷ (mean audio seconds of a job × the
#   workers' measured realtime_factor): `python bench/bench_fleet.py` prints it;
# - step scaling policy $PROJECT_NAME-first-worker (scripts/templates/first-worker-step.json)
#   and its alarm $PROJECT_NAME-first-worker (scripts/templates/first-worker-alarm.json:
#   no worker in service and visible jobs > desired capacity × JOBS_PER_WORKER, one
#   minute; so while the first workers start it re-runs only for a backlog that outgrew
#   them, and the exact capacity it sets only grows): target tracking has no value to act on with 0 in service, this takes the group from 0 to
#   ceil(visible jobs ÷ JOBS_PER_WORKER) workers in one step, so a burst waits for one
#   start, not two. Its step adjustments (ExactCapacity), derived from JOBS_PER_WORKER and
#   MAX_WORKERS by `python -m batch_worker.scaling first-worker-steps J MAX`: capacity c
#   for visible jobs from c' × J + 1 to c × J (c' the capacity of the step below; the
#   bounds are relative to the alarm's threshold 0), the last step open-ended at
#   MAX_WORKERS. AWS allows 20 step adjustments a policy: above MAX_WORKERS 20 the steps
#   are 1 and then 19 capacities spread evenly up to MAX_WORKERS, a backlog between two
#   of them getting the larger.
# MAX_WORKERS (the group's MaxSize) bounds both. batch_worker/scaling.py states the same
# decision (the bench and the tests run it).
#
# Inputs:  config.env (JOBS_PER_WORKER, WORKER_WARMUP_SECONDS, MAX_WORKERS)
# Creates: the two policies and the alarm
# IAM actions: autoscaling:DescribeAutoScalingGroups, autoscaling:DescribePolicies,
#   autoscaling:PutScalingPolicy, cloudwatch:DescribeAlarms, cloudwatch:PutMetricAlarm,
#   cloudwatch:TagResource
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  scaling_resources
}

main "$@"
