#!/usr/bin/env bash
# step-330-launch-gpu-server.sh: the GPU instance that runs the FastAPI server, and the
# server's URL in config.env and in the SSM parameter the router reads.
#
# Usage: scripts/step-330-launch-gpu-server.sh [--dry-run] [--help]
#
# Launches one SERVER_INSTANCE_TYPE instance (tags Role=gpu-server, Project=$PROJECT_NAME)
# from GPU_AMI_ID, or the newest AMI named GPU_AMI_NAME owned by GPU_AMI_OWNER (default: the
# Deep Learning Base GPU AMI, which has the NVIDIA driver, Docker and the NVIDIA container
# toolkit), in GPU_SUBNET_ID with the server's security group and instance profile, IMDSv2
# only, an encrypted gp3 root volume of ROOT_VOLUME_GB. Its user data
# (scripts/user-data/gpu-server.sh) pulls <SERVER_REPOSITORY_URI>:IMAGE_TAG and runs it with
# `docker run --gpus all`, configured from config.env (the GPU_* engine settings) and reading
# its API keys from API_KEYS_PARAMETER. If the instance exists it is left as it is (started
# if stopped); terminate it (or run step-999) to launch a new one.
#
# SERVER_URL is http://<private address>:PORT — the router reaches it inside the VPC. In local
# mode the instance is launched in moto (it runs nothing) and SERVER_URL is
# http://127.0.0.1:PORT, where `make up` runs the server as a process.
# scripts/step-331-test-gpu-server.sh waits for /health and sends a test transcription.
#
# Inputs:  config.env (SERVER_REPOSITORY_URI, IMAGE_TAG, SERVER_SECURITY_GROUP_ID,
#          GPU_SUBNET_ID, SERVER_INSTANCE_TYPE, GPU_AMI_*, ROOT_VOLUME_GB, KEY_NAME, PORT,
#          GPU_ENGINE, GPU_COMPUTE_TYPE, GPU_BATCH_SIZE, GPU_CONCURRENCY, SERVER_URL_PARAMETER)
# Creates: the instance; the SSM parameter SERVER_URL_PARAMETER
# Records: SERVER_URL
# IAM actions: ec2:DescribeInstances, ec2:DescribeImages, ec2:RunInstances, ec2:CreateTags,
#   ec2:StartInstances, iam:PassRole (the $PROJECT_NAME-server role), ssm:GetParameter,
#   ssm:PutParameter, ssm:AddTagsToResource
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

main() {
  local url
  parse_flags "$@"
  load_config
  server_instance_resources
  if [[ -z $FOUND_SERVER_INSTANCE_ID ]]; then
    return 0
  fi
  url=$(server_url)
  record_or_check SERVER_URL "$url"
  ensure_parameter "$SERVER_URL_PARAMETER" String "$url" "URL of the $PROJECT_NAME GPU server (read by the router)"
  log_info "server instance $FOUND_SERVER_INSTANCE_ID at $url; next: scripts/step-331-test-gpu-server.sh"
}

main "$@"
