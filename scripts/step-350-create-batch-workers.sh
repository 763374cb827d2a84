#!/usr/bin/env bash
# step-350-create-batch-workers.sh: the GPU worker fleet, an EC2 Auto Scaling group from zero.
#
# Usage: scripts/step-350-create-batch-workers.sh [--dry-run] [--help]
#
# Launch template $PROJECT_NAME-worker (scripts/templates/worker-launch-template.json): the
# GPU AMI, the worker instance profile and security group, IMDSv2 required with hop limit 2
# (the worker reads the Spot notice from inside its container), an encrypted gp3 root volume
# of ROOT_VOLUME_GB, KEY_NAME if set, and user data (scripts/user-data/batch-worker.sh) that
# runs <WORKER_REPOSITORY_URI>:IMAGE_TAG with every GPU and the worker's settings, ASG_NAME,
# LIFECYCLE_HOOK_NAME, LAUNCH_HOOK_NAME and IDLE_TIMEOUT_SECONDS among them. A difference adds a version; the
# group launches the latest.
# Auto Scaling group $PROJECT_NAME-workers (scripts/templates/worker-group.json): MinSize 0,
# MaxSize MAX_WORKERS, created at desired capacity 0 (then the scaling policies of step-351
# own it); a mixed-instances policy over WORKER_INSTANCE_TYPES, Spot with
# price-capacity-optimized above WORKER_ON_DEMAND_BASE on-demand instances
# (WORKER_ON_DEMAND_PERCENTAGE of the rest on-demand), Capacity Rebalancing on, the subnets
# GPU_SUBNET_IDS (else GPU_SUBNET_ID, else SUBNET_IDS), new instances not protected from
# scale-in (a busy worker protects itself); tags Name, Role=batch-worker, Project and
# ManagedBy, copied to the instances. Group metrics collected every minute
# (GroupInServiceInstances divides the backlog). Lifecycle hooks, default result CONTINUE:
# $PROJECT_NAME-worker-terminating on EC2_INSTANCE_TERMINATING (heartbeat timeout
# WORKER_LIFECYCLE_TIMEOUT_SECONDS) and $PROJECT_NAME-worker-launching on
# EC2_INSTANCE_LAUNCHING (WORKER_LAUNCH_TIMEOUT_SECONDS; the worker completes it once its
# model is loaded). A warm pool (on by default): pool state Stopped, ReuseOnScaleIn, MinSize
# 0, MaxGroupPreparedCapacity WORKER_WARM_POOL_SIZE (empty: MAX_WORKERS), so with no work
# every worker the group may run waits stopped and initialized; WORKER_WARM_POOL_SIZE=0
# deletes it. A worker on a box initializing for the pool (target lifecycle state Warmed:*)
# takes no job until the box is InService. If AWS refuses the default pool on this Spot
# group, the step warns, records WORKER_WARM_POOL_REFUSED and goes on without it.
# Only what differs is changed: a second run changes nothing.
#
# Inputs:  config.env (WORKER_REPOSITORY_URI, IMAGE_TAG, WORKER_SECURITY_GROUP_ID,
#          GPU_SUBNET_IDS / GPU_SUBNET_ID / SUBNET_IDS, WORKER_INSTANCE_TYPES, MAX_WORKERS,
#          WORKER_ON_DEMAND_BASE, WORKER_ON_DEMAND_PERCENTAGE, WORKER_LIFECYCLE_TIMEOUT_SECONDS,
#          WORKER_LAUNCH_TIMEOUT_SECONDS, WORKER_WARM_POOL_SIZE, IDLE_TIMEOUT_SECONDS, GPU_AMI_*, ROOT_VOLUME_GB, KEY_NAME, QUEUE_URL*, DLQ_URL,
#          GPU_* engine settings)
# Creates: the launch template, the group, its metrics collection, lifecycle hooks and warm pool
# IAM actions: ec2:DescribeImages, ec2:DescribeVpcs, ec2:DescribeSubnets,
#   ec2:DescribeLaunchTemplateVersions, ec2:CreateLaunchTemplate,
#   ec2:CreateLaunchTemplateVersion, ec2:CreateTags, ec2:RunInstances (the group launches
#   with the caller's permissions on the template), autoscaling:DescribeAutoScalingGroups,
#   autoscaling:CreateAutoScalingGroup, autoscaling:UpdateAutoScalingGroup,
#   autoscaling:CreateOrUpdateTags, autoscaling:EnableMetricsCollection,
#   autoscaling:DescribeLifecycleHooks, autoscaling:PutLifecycleHook,
#   autoscaling:DescribeWarmPool, autoscaling:PutWarmPool, autoscaling:DeleteWarmPool,
#   iam:PassRole (the $PROJECT_NAME-worker role), iam:CreateServiceLinkedRole (the first
#   group of an account)
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  fleet_resources
}

main "$@"
