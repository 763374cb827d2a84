#!/usr/bin/env bash
# step-310-create-network.sh: security groups for the router Lambda, the GPU server and the
# batch workers, and the VPC endpoints a VPC Lambda needs.
#
# Usage: scripts/step-310-create-network.sh [--dry-run] [--help]
#
# The router Lambda runs in the VPC (VPC_ID, SUBNET_IDS; default: the default VPC and two of
# its default subnets) so the server can let it in by security group:
#   $PROJECT_NAME-router     no inbound traffic
#   $PROJECT_NAME-server     PORT from the router's group, and from SERVER_ALLOWED_CIDR if
#                            set; the step refuses any range wider than
#                            /SERVER_ALLOWED_CIDR_MIN_PREFIX (default /16)
#   $PROJECT_NAME-worker     no inbound traffic
#   $PROJECT_NAME-endpoints  HTTPS from the router's group (CREATE_VPC_ENDPOINTS=true)
# With CREATE_VPC_ENDPOINTS=true (default) it also creates a gateway endpoint for S3 and
# interface endpoints for SQS and SSM, unless the VPC already has them, so the router reaches
# them without a NAT gateway. Inbound rules other than the above are removed.
#
# Inputs:  config.env (VPC_ID, SUBNET_IDS, GPU_SUBNET_ID, PORT, SERVER_ALLOWED_CIDR,
#          SERVER_ALLOWED_CIDR_MIN_PREFIX, CREATE_VPC_ENDPOINTS)
# Creates: the security groups and VPC endpoints above
# Records: VPC_ID, SUBNET_IDS, GPU_SUBNET_ID (when they were empty),
#          ROUTER_SECURITY_GROUP_ID, SERVER_SECURITY_GROUP_ID, WORKER_SECURITY_GROUP_ID
# IAM actions: ec2:DescribeVpcs, ec2:DescribeSubnets, ec2:DescribeSecurityGroups,
#   ec2:CreateSecurityGroup, ec2:CreateTags, ec2:AuthorizeSecurityGroupIngress,
#   ec2:RevokeSecurityGroupIngress, ec2:DescribeVpcEndpoints, ec2:DescribeRouteTables,
#   ec2:CreateVpcEndpoint
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  network_resources
  record_or_check VPC_ID "$NETWORK_VPC_ID"
  record_or_check SUBNET_IDS "$NETWORK_SUBNET_IDS"
  record_or_check GPU_SUBNET_ID "$NETWORK_GPU_SUBNET_ID"
  record_or_check ROUTER_SECURITY_GROUP_ID "$FOUND_ROUTER_GROUP_ID"
  record_or_check SERVER_SECURITY_GROUP_ID "$FOUND_SERVER_GROUP_ID"
  record_or_check WORKER_SECURITY_GROUP_ID "$FOUND_WORKER_GROUP_ID"
}

main "$@"
