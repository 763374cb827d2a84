#!/usr/bin/env bash
# step-350-create-batch-workers.sh: the stopped GPU instances that the scheduler starts when
# the jobs queue has a backlog.
#
# Usage: scripts/step-350-create-batch-workers.sh [--dry-run] [--help]
#
# Makes sure MAX_WORKERS instances tagged Role=batch-worker and Project=$PROJECT_NAME exist
# (WORKER_INSTANCE_TYPE, the GPU AMI, GPU_SUBNET_ID, the worker security group and instance
# profile, IMDSv2 only, encrypted root volume), each with shutdown behaviour "stop" and user
# data (scripts/user-data/batch-worker.sh) that installs a systemd service: at every boot it
# pulls <WORKER_REPOSITORY_URI>:IMAGE_TAG and runs `python -m batch_worker --exit-when-idle
# WORKER_IDLE_SECONDS` with `--gpus all`, then powers the instance off, which stops it. New
# instances are stopped once they are running. Existing ones get the shutdown behaviour and,
# while stopped, the current user data. Extra instances are reported, never terminated.
#
# Inputs:  config.env (WORKER_REPOSITORY_URI, IMAGE_TAG, WORKER_SECURITY_GROUP_ID,
#          GPU_SUBNET_ID, WORKER_INSTANCE_TYPE, MAX_WORKERS, WORKER_IDLE_SECONDS, GPU_AMI_*,
#          ROOT_VOLUME_GB, KEY_NAME, QUEUE_URL, DLQ_URL, GPU_* engine settings)
# Creates: the worker instances
# IAM actions: ec2:DescribeInstances, ec2:DescribeImages, ec2:DescribeInstanceAttribute,
#   ec2:RunInstances, ec2:CreateTags, ec2:StopInstances, ec2:ModifyInstanceAttribute,
#   iam:PassRole (the $PROJECT_NAME-worker role)
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  worker_resources
}

main "$@"
