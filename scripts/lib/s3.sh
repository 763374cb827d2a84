#!/usr/bin/env bash
# S3 (sourced by common.sh): the audio bucket (and the transcript bucket when it differs):
# public access blocked, TLS-only bucket policy, default encryption, EventBridge
# notifications, lifecycle rules; CORS rules (the console's, step-370).
# shellcheck disable=SC2034 # ENSURED_*, FOUND_* and the like are read by the callers

# The tag error records carry (transcription/store.py) and the lifecycle rule that expires them.
ERROR_RECORD_TAG_KEY=record
ERROR_RECORD_TAG_VALUE=error

# ensure_bucket NAME: the bucket exists. A bucket the steps create is tagged
# ManagedBy=transcription-router-scripts, so step-999 deletes it; a bucket that already
# existed gets the settings but is never deleted.
# Sets BUCKET_EXISTS=false when the bucket is missing and was not created (CHECK_ONLY=1 or
# DRY_RUN=1), so the caller skips its settings.
ensure_bucket() {
  local name=$1
  BUCKET_EXISTS=true
  if aws_lookup "404,NoSuchBucket" s3api head-bucket --bucket "$name"; then
    unchanged "bucket $name exists"
    return 0
  fi
  missing "bucket $name" create_bucket "$name"
  if is_check || is_dry_run; then
    BUCKET_EXISTS=false
  fi
}

create_bucket() {
  local args=(s3api create-bucket --bucket "$1")
  if [[ $AWS_REGION != us-east-1 ]]; then
    args+=(--create-bucket-configuration "LocationConstraint=$AWS_REGION")
  fi
  aws_do "${args[@]}"
  RETRY_ON=NoSuchBucket RETRY_FOR=60 aws_do s3api put-bucket-tagging --bucket "$1" --tagging "{\"TagSet\":$(project_tags_list)}"
}

# bucket_created_by_steps NAME: true when the bucket carries the steps' ManagedBy tag.
bucket_created_by_steps() {
  if aws_lookup "NoSuchTagSet,NoSuchBucket,404" s3api get-bucket-tagging --bucket "$1" \
    --query "TagSet[?Key=='ManagedBy'].Value" --output text; then
    [[ $AWS_OUT == transcription-router-scripts ]]
  else
    return 1
  fi
}

ensure_public_access_block() {
  local name=$1 want='{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"RestrictPublicBuckets":true}'
  aws_lookup "NoSuchPublicAccessBlockConfiguration,NoSuchBucket" s3api get-public-access-block \
    --bucket "$name" --query PublicAccessBlockConfiguration || AWS_OUT=""
  reconcile "bucket $name public access block" "$AWS_OUT" "$want" \
    aws_do s3api put-public-access-block --bucket "$name" --public-access-block-configuration "$want"
}

# tls_only_wanted: whether the buckets get the TLS-only policy (TLS_ONLY_POLICY): always on
# AWS by default, not in local mode, where the endpoint is plain HTTP on loopback and moto
# enforces every Deny statement whatever its condition (it would refuse every request).
tls_only_wanted() {
  case ${TLS_ONLY_POLICY:-auto} in
    true) return 0 ;;
    false) return 1 ;;
    auto) ! is_local ;;
    *) die "TLS_ONLY_POLICY='$TLS_ONLY_POLICY' must be auto, true or false" ;;
  esac
}

# The bucket policy refuses every request not made over TLS (aws:SecureTransport false);
# other statements of an existing policy are kept.
ensure_tls_only_policy() {
  local name=$1 current want merged
  want=$(BUCKET_NAME=$name render_template "$SCRIPTS_DIR/policies/tls-only-bucket-policy.json")
  aws_lookup "NoSuchBucketPolicy,NoSuchBucket" s3api get-bucket-policy --bucket "$name" \
    --query Policy --output text || AWS_OUT=""
  current=${AWS_OUT:-"{}"}
  merged=$(py "$LIB_DIR/json_tool.py" merge-statements "$current" "$want")
  reconcile "bucket $name TLS-only policy" "$current" "$merged" \
    aws_do s3api put-bucket-policy --bucket "$name" --policy "$merged"
}

# Default encryption: SSE-S3 unless the bucket already uses KMS (kept: it is stronger).
ensure_encryption() {
  local name=$1 algorithm=""
  if aws_lookup "ServerSideEncryptionConfigurationNotFoundError,NoSuchBucket" s3api get-bucket-encryption \
    --bucket "$name" --query 'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm' \
    --output text; then
    algorithm=$AWS_OUT
  fi
  case $algorithm in
    AES256 | aws:kms | aws:kms:dsse) unchanged "bucket $name default encryption ($algorithm)" ;;
    *)
      reconcile "bucket $name default encryption" "$algorithm" AES256 \
        aws_do s3api put-bucket-encryption --bucket "$name" --server-side-encryption-configuration \
        '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"},"BucketKeyEnabled":true}]}'
      ;;
  esac
}

# EventBridge notifications on, keeping any other notification the bucket has.
ensure_eventbridge_notifications() {
  local name=$1 current merged
  aws_read s3api get-bucket-notification-configuration --bucket "$name"
  current=${AWS_OUT:-"{}"}
  merged=$(py "$LIB_DIR/json_tool.py" with-key "$current" EventBridgeConfiguration '{}')
  if is_local && ! json_same "$current" "$merged"; then
    # moto's GetBucketNotificationConfiguration never reports EventBridgeConfiguration (it
    # does deliver the events): set it again (the same value), and leave the proof to an
    # upload reaching the events queue.
    if is_check; then
      log_warn "bucket $name EventBridge notifications: moto cannot report them; an upload reaching $EVENTS_QUEUE_NAME proves them"
    else
      aws_do s3api put-bucket-notification-configuration --bucket "$name" --notification-configuration "$merged"
      unchanged "bucket $name EventBridge notifications (set again: moto does not report them back)"
    fi
    return 0
  fi
  reconcile "bucket $name EventBridge notifications" "$current" "$merged" \
    aws_do s3api put-bucket-notification-configuration --bucket "$name" --notification-configuration "$merged"
}

# Lifecycle: abort stale multipart uploads; on the transcript bucket, expire error records
# (tagged record=error) after ERROR_RECORD_EXPIRATION_DAYS. Other rules are kept.
ensure_lifecycle() {
  local name=$1 with_errors=$2 current rules merged
  rules="{\"ID\":\"$PROJECT_NAME-abort-incomplete-uploads\",\"Status\":\"Enabled\",\"Filter\":{\"Prefix\":\"\"},\"AbortIncompleteMultipartUpload\":{\"DaysAfterInitiation\":7}}"
  if [[ $with_errors == true ]]; then
    rules+=",{\"ID\":\"$PROJECT_NAME-expire-error-records\",\"Status\":\"Enabled\",\"Filter\":{\"And\":{\"Prefix\":\"$OUTPUT_PREFIX\",\"Tags\":[{\"Key\":\"$ERROR_RECORD_TAG_KEY\",\"Value\":\"$ERROR_RECORD_TAG_VALUE\"}]}},\"Expiration\":{\"Days\":$ERROR_RECORD_EXPIRATION_DAYS}}"
  fi
  aws_lookup "NoSuchLifecycleConfiguration" s3api get-bucket-lifecycle-configuration --bucket "$name" \
    --query Rules || AWS_OUT=""
  current="{\"Rules\":${AWS_OUT:-[]}}"
  merged=$(py "$LIB_DIR/json_tool.py" merge-rules "${AWS_OUT:-[]}" "[$rules]")
  reconcile "bucket $name lifecycle rules" "$current" "$merged" \
    aws_do s3api put-bucket-lifecycle-configuration --bucket "$name" --lifecycle-configuration "$merged"
}

# The desired S3 state: step-030 applies it, step-031 checks it.
s3_resources() {
  local bucket buckets=("$AUDIO_BUCKET")
  load_account_id # PARTITION, for the policy's ARNs
  if [[ $OUTPUT_BUCKET != "$AUDIO_BUCKET" ]]; then
    buckets+=("$OUTPUT_BUCKET")
  fi
  for bucket in "${buckets[@]}"; do
    ensure_bucket "$bucket"
    if [[ $BUCKET_EXISTS == false ]]; then
      continue
    fi
    ensure_public_access_block "$bucket"
    if tls_only_wanted; then
      ensure_tls_only_policy "$bucket"
    else
      log_info "bucket $bucket: no TLS-only policy (TLS_ONLY_POLICY=${TLS_ONLY_POLICY:-auto}; local mode is plain HTTP)"
    fi
    ensure_encryption "$bucket"
    if [[ $bucket == "$AUDIO_BUCKET" ]]; then
      ensure_eventbridge_notifications "$bucket"
    fi
    if [[ $bucket == "$OUTPUT_BUCKET" ]]; then
      ensure_lifecycle "$bucket" true
    else
      ensure_lifecycle "$bucket" false
    fi
  done
}

# --- CORS rules (step-370 puts the console's; step-999 takes it off a kept bucket) ---------
# ensure_cors_rule BUCKET RULE: the bucket's CORS configuration holds RULE (JSON, with an ID);
# the rule of that ID is replaced, other rules are kept.
ensure_cors_rule() {
  local name=$1 rule=$2 id current merged
  id=$(py "$LIB_DIR/json_tool.py" pick "$rule" ID)
  aws_lookup "NoSuchCORSConfiguration" s3api get-bucket-cors --bucket "$name" --query CORSRules ||
    AWS_OUT=""
  current=${AWS_OUT:-[]}
  merged=$(py "$LIB_DIR/json_tool.py" merge-rules "$current" "[$rule]" CORSRules)
  if [[ -z $(py "$LIB_DIR/json_tool.py" select "$current" ID "$id" ID) ]]; then
    missing "bucket $name CORS rule $id" \
      aws_do s3api put-bucket-cors --bucket "$name" --cors-configuration "$merged"
  else
    reconcile "bucket $name CORS rule $id" "{\"CORSRules\":$current}" "$merged" \
      aws_do s3api put-bucket-cors --bucket "$name" --cors-configuration "$merged"
  fi
}

# remove_cors_rule BUCKET ID: the bucket's CORS rule ID is gone (the whole configuration when
# it was the only rule); other rules are kept.
remove_cors_rule() {
  local name=$1 id=$2 kept
  if ! aws_lookup "NoSuchCORSConfiguration,NoSuchBucket" s3api get-bucket-cors --bucket "$name" \
    --query CORSRules; then
    unchanged "bucket $name has no CORS rule $id"
    return 0
  fi
  kept=$(py "$LIB_DIR/json_tool.py" without-rule "$AWS_OUT" "$id")
  if json_same "$kept" "$AWS_OUT"; then
    unchanged "bucket $name has no CORS rule $id"
  elif [[ $kept == "[]" ]]; then
    aws_do s3api delete-bucket-cors --bucket "$name"
    changed "deleted bucket $name CORS rule $id (its only rule)"
  else
    aws_do s3api put-bucket-cors --bucket "$name" --cors-configuration "{\"CORSRules\":$kept}"
    changed "deleted bucket $name CORS rule $id (other rules kept)"
  fi
}
