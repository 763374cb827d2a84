#!/usr/bin/env bash
# User data of the GPU server instance. step-330 puts the settings in front of this body as
# NAME=value lines: AWS_REGION, IMAGE_URI, CONTAINER_ENV (the names passed to the container)
# and each variable CONTAINER_ENV names.
#
# It runs once, at first boot, on the Deep Learning Base GPU AMI (NVIDIA driver, Docker, the
# NVIDIA container toolkit and the AWS CLI preinstalled): it pulls the server image from ECR
# with the instance profile's credentials and runs it with every GPU. Docker restarts the
# container after a crash or a reboot. Its output: /var/log/cloud-init-output.log.
set -o errexit -o nounset -o pipefail
: "${AWS_REGION:?}" "${IMAGE_URI:?}" "${CONTAINER_ENV:?}"

# The server listens on the instance's private address only (host networking); the security
# group opens its port to the router's security group alone.
HOST=$(cloud-init query ds.meta_data.local_ipv4)
env_file=/etc/transcription-server.env
umask 077
{
  printf 'HOST=%s\n' "$HOST"
  for name in $CONTAINER_ENV; do
    printf '%s=%s\n' "$name" "${!name}"
  done
} >"$env_file"

aws ecr get-login-password --region "$AWS_REGION" |
  docker login --username AWS --password-stdin "${IMAGE_URI%%/*}"
docker pull "$IMAGE_URI"
docker run --detach --name transcription-server --restart unless-stopped --gpus all \
  --network host --env-file "$env_file" "$IMAGE_URI"
