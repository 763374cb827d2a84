#!/usr/bin/env bash
# step-031-validate-s3-bucket.sh: check the bucket(s) of step-030: public access blocked,
# the TLS-only bucket policy, default encryption, EventBridge notifications on, the lifecycle
# rules.
#
# Usage: scripts/step-031-validate-s3-bucket.sh [--help]
#
# Inputs:  config.env
# Creates: nothing
# IAM actions: sts:GetCallerIdentity, s3:ListBucket (HeadBucket),
#   s3:GetBucketPublicAccessBlock, s3:GetBucketPolicy, s3:GetEncryptionConfiguration, s3:GetBucketNotification, s3:GetLifecycleConfiguration
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  CHECK_ONLY=1
  s3_resources
  finish_check
}

main "$@"
