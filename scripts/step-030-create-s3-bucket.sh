#!/usr/bin/env bash
# step-030-create-s3-bucket.sh: the audio bucket (and the transcript bucket, when
# TRANSCRIPT_BUCKET names another one).
#
# Usage: scripts/step-030-create-s3-bucket.sh [--dry-run] [--help]
#
# Each bucket: all public access blocked; a bucket policy that denies every request not made
# over TLS (aws:SecureTransport false; other statements of an existing policy are kept; on
# AWS, not in local mode unless TLS_ONLY_POLICY=true: moto's endpoint is plain HTTP);
# default encryption (SSE-S3, or the KMS encryption it already has); a lifecycle rule that
# aborts multipart uploads left unfinished for 7 days.
# The audio bucket: EventBridge notifications on (uploads reach the rule of step-341).
# The transcript bucket: a lifecycle rule that expires error records (objects under
# OUTPUT_PREFIX tagged record=error) after ERROR_RECORD_EXPIRATION_DAYS. Other notification
# and lifecycle settings of an existing bucket are kept. A bucket this step creates is
# tagged ManagedBy=transcription-router-scripts; step-999 deletes only such buckets.
#
# Inputs:  config.env (AUDIO_BUCKET, TRANSCRIPT_BUCKET, OUTPUT_PREFIX,
#          ERROR_RECORD_EXPIRATION_DAYS, TLS_ONLY_POLICY)
# Creates: the bucket(s)
# IAM actions: sts:GetCallerIdentity, s3:ListBucket (HeadBucket), s3:CreateBucket,
#   s3:PutBucketTagging, s3:GetBucketPublicAccessBlock, s3:PutBucketPublicAccessBlock,
#   s3:GetBucketPolicy, s3:PutBucketPolicy, s3:GetEncryptionConfiguration,
#   s3:PutEncryptionConfiguration, s3:GetBucketNotification, s3:PutBucketNotification,
#   s3:GetLifecycleConfiguration, s3:PutLifecycleConfiguration
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  parse_flags "$@"
  load_config
  s3_resources
}

main "$@"
