#!/usr/bin/env bash
# step-352-validate-batch-resources.sh: check the worker fleet of step-350 (launch template,
# group, metrics collection, lifecycle hooks, warm pool) and the scaling policies and alarm of step-351
# against the settings in config.env.
#
# Usage: scripts/step-352-validate-batch-resources.sh [--help]
#
# Inputs:  config.env
# Creates: nothing
# IAM actions: ec2:DescribeImages, ec2:DescribeVpcs, ec2:DescribeSubnets,
#   ec2:DescribeLaunchTemplateVersions, autoscaling:DescribeAutoScalingGroups,
#   autoscaling:DescribeLifecycleHooks, autoscaling:DescribeWarmPool, autoscaling:DescribePolicies, cloudwatch:DescribeAlarms
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  fleet_resources
  scaling_resources
  finish_check
}

main "$@"
