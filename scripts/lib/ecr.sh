#!/usr/bin/env bash
# ECR (sourced by common.sh): the repositories of the server and batch worker images.
# shellcheck disable=SC2034 # ENSURED_*, FOUND_* and the like are read by the callers

ECR_LIFECYCLE_POLICY='{"rules":[{"rulePriority":1,"description":"expire untagged images after 7 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}}]}'

# ensure_repository NAME: scan on push, encrypted, untagged images expire. Sets
# ENSURED_REPOSITORY_URI (empty when it is missing and was not created).
ensure_repository() {
  local name=$1 scan
  ENSURED_REPOSITORY_URI=""
  if aws_lookup RepositoryNotFoundException ecr describe-repositories --repository-names "$name" \
    --query 'repositories[0].[repositoryUri, imageScanningConfiguration.scanOnPush]' --output text; then
    ENSURED_REPOSITORY_URI=${AWS_OUT%%$'\t'*}
    scan=${AWS_OUT#*$'\t'}
    reconcile "repository $name scan on push" "$scan" True \
      aws_do ecr put-image-scanning-configuration --repository-name "$name" \
      --image-scanning-configuration scanOnPush=true
    aws_lookup LifecyclePolicyNotFoundException ecr get-lifecycle-policy --repository-name "$name" \
      --query lifecyclePolicyText --output text || AWS_OUT=""
    reconcile "repository $name lifecycle policy" "$AWS_OUT" "$ECR_LIFECYCLE_POLICY" \
      aws_do ecr put-lifecycle-policy --repository-name "$name" --lifecycle-policy-text "$ECR_LIFECYCLE_POLICY"
  else
    missing "repository $name" create_repository "$name"
  fi
}

create_repository() {
  aws_do ecr create-repository --repository-name "$1" --image-tag-mutability MUTABLE \
    --image-scanning-configuration scanOnPush=true --encryption-configuration encryptionType=AES256 \
    --tags "$(project_tags_list)" --query repository.repositoryUri --output text
  ENSURED_REPOSITORY_URI=$AWS_OUT
  aws_do ecr put-lifecycle-policy --repository-name "$1" --lifecycle-policy-text "$ECR_LIFECYCLE_POLICY"
}

# The desired ECR state (step-300). Sets FOUND_SERVER_REPOSITORY_URI, FOUND_WORKER_REPOSITORY_URI.
ecr_resources() {
  ensure_repository "$SERVER_REPOSITORY_NAME"
  FOUND_SERVER_REPOSITORY_URI=$ENSURED_REPOSITORY_URI
  ensure_repository "$WORKER_REPOSITORY_NAME"
  FOUND_WORKER_REPOSITORY_URI=$ENSURED_REPOSITORY_URI
}

# The image reference a repository's instances run: the recorded repository URI and IMAGE_TAG.
image_uri() { printf '%s:%s' "$1" "$IMAGE_TAG"; }
