#!/usr/bin/env bash
# step-300-create-ecr-repositories.sh: the ECR repositories of the two GPU images.
#
# Usage: scripts/step-300-create-ecr-repositories.sh [--dry-run] [--help]
#
#   $PROJECT_NAME/fastapi-server  docker/fastapi-server/Dockerfile
#   $PROJECT_NAME/batch-worker    docker/batch-worker/Dockerfile
# Both scan images on push, are encrypted, and expire untagged images after 7 days.
#
# Inputs:  config.env (AWS_REGION, PROJECT_NAME)
# Creates: the two repositories
# Records: SERVER_REPOSITORY_URI, WORKER_REPOSITORY_URI
# IAM actions: ecr:DescribeRepositories, ecr:CreateRepository, ecr:TagResource,
#   ecr:PutImageScanningConfiguration, ecr:GetLifecyclePolicy, ecr:PutLifecyclePolicy
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  ecr_resources
  record_or_check SERVER_REPOSITORY_URI "$FOUND_SERVER_REPOSITORY_URI"
  record_or_check WORKER_REPOSITORY_URI "$FOUND_WORKER_REPOSITORY_URI"
}

main "$@"
