#!/usr/bin/env bash
# step-311-validate-network.sh: check the security groups (the server's port open to the
# router only) and VPC endpoints of step-310, and the ids recorded in config.env.
#
# Usage: scripts/step-311-validate-network.sh [--help]
#
# Inputs:  config.env
# Creates: nothing
# IAM actions: ec2:DescribeVpcs, ec2:DescribeSubnets, ec2:DescribeSecurityGroups,
#   ec2:DescribeVpcEndpoints
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  network_resources
  record_or_check ROUTER_SECURITY_GROUP_ID "$FOUND_ROUTER_GROUP_ID"
  record_or_check SERVER_SECURITY_GROUP_ID "$FOUND_SERVER_GROUP_ID"
  record_or_check WORKER_SECURITY_GROUP_ID "$FOUND_WORKER_GROUP_ID"
  finish_check
}

main "$@"
