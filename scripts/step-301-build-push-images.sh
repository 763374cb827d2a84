#!/usr/bin/env bash
# step-301-build-push-images.sh: build the GPU server and batch worker images and push them
# to the repositories of step-300, tagged IMAGE_TAG.
#
# Usage: scripts/step-301-build-push-images.sh [--skip-if-no-docker] [--dry-run] [--help]
#
# Needs a Docker engine (`docker info` must work); the build fetches the model weights
# (build argument MODEL=$IMAGE_MODEL) into the image. Without a Docker engine the step stops
# with an error saying so — unless --skip-if-no-docker is given or it runs in local mode,
# where it logs why it skipped and exits 0. In local mode it never pushes: moto's ECR has no
# image registry behind it.
#
# Inputs:  config.env (SERVER_REPOSITORY_URI, WORKER_REPOSITORY_URI, IMAGE_TAG, IMAGE_MODEL;
#          HF_TOKEN, optional: bakes the pyannote diarization model into the GPU image)
# Creates: the images <repository>:IMAGE_TAG
# IAM actions: ecr:GetAuthorizationToken, ecr:BatchCheckLayerAvailability,
#   ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SKIP_IF_NO_DOCKER=false

# no_docker REASON: stop (or skip, where allowed) because no Docker engine is available.
no_docker() {
  if is_local || [[ $SKIP_IF_NO_DOCKER == true ]]; then
    log_warn "skipped: no Docker engine here ($1). Build and push the images on a machine with Docker: scripts/step-301-build-push-images.sh"
    exit 0
  fi
  die "no Docker engine here ($1): start Docker (or run this step on a machine that has it), or pass --skip-if-no-docker to go on without images"
}

check_docker() {
  local out
  if ! type -P docker >/dev/null; then
    no_docker "the docker command is not installed"
  fi
  out=$(mktemp)
  if ! docker info >"$out" 2>&1; then
    local reason
    reason=$(grep -m1 -iE 'cannot connect|error|denied' "$out") || reason="docker info failed"
    rm -f "$out"
    no_docker "$reason"
  fi
  rm -f "$out"
}

build() {
  local dockerfile=$1 image=$2
  local secrets=()
  # The gated pyannote diarization model is baked in from HF_TOKEN, passed as a build secret
  # so that the token lands in no layer and no build argument.
  if [[ -n ${HF_TOKEN:-} ]]; then
    secrets=(--secret "id=hf_token,env=HF_TOKEN")
  fi
  run docker build --file "$ROOT_DIR/$dockerfile" --build-arg "MODEL=$IMAGE_MODEL" \
    ${secrets[@]+"${secrets[@]}"} --platform linux/amd64 --tag "$image" "$ROOT_DIR"
  log_info "built $image"
}

main() {
  local server_image worker_image registry
  while (($#)); do
    case $1 in
      --skip-if-no-docker) SKIP_IF_NO_DOCKER=true ;;
      *) common_flag "$1" ;;
    esac
    shift
  done
  load_config
  require_recorded SERVER_REPOSITORY_URI step-300-create-ecr-repositories.sh
  require_recorded WORKER_REPOSITORY_URI step-300-create-ecr-repositories.sh
  check_docker
  server_image=$(image_uri "$SERVER_REPOSITORY_URI")
  worker_image=$(image_uri "$WORKER_REPOSITORY_URI")
  build docker/fastapi-server/Dockerfile "$server_image"
  build docker/batch-worker/Dockerfile "$worker_image"
  if is_local; then
    log_info "local mode: not pushing (moto's ECR has no registry behind it)"
    return 0
  fi
  registry=${server_image%%/*}
  aws_read ecr get-login-password --output text
  printf '%s' "$AWS_OUT" | run docker login --username AWS --password-stdin "$registry"
  run docker push "$server_image"
  run docker push "$worker_image"
  log_info "pushed $server_image and $worker_image"
}

main "$@"
