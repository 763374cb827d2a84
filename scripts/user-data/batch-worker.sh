#!/usr/bin/env bash
# User data of a batch worker instance, launched by the Auto Scaling group of step-350 (its
# launch template holds this script). step-350 puts the settings in front of this body as
# NAME=value lines: AWS_REGION, IMAGE_URI, CONTAINER_ENV (the names passed to the container)
# and each variable CONTAINER_ENV names (ASG_NAME, LIFECYCLE_HOOK_NAME, LAUNCH_HOOK_NAME and
# IDLE_TIMEOUT_SECONDS among them).
#
# It runs once, at first boot, on the Deep Learning Base GPU AMI, and installs a systemd
# service that pulls the worker image from ECR and runs `python -m batch_worker` with every
# GPU, at this boot and at every later one (a box of the warm pool is started again for a
# scale-out: the image is there, the worker loads the model and waits for InService). The
# worker manages its own life in the group: it protects itself from scale-in while busy,
# terminates its instance (decrementing the group) after IDLE_TIMEOUT_SECONDS without work,
# and answers the Spot notice and the lifecycle hooks. The instance never powers itself off:
# a stopped instance is an unhealthy one to the group, which would replace it. A worker that
# crashes is restarted.
set -o errexit -o nounset -o pipefail
: "${AWS_REGION:?}" "${IMAGE_URI:?}" "${CONTAINER_ENV:?}"

umask 077
{
  for name in $CONTAINER_ENV; do
    printf '%s=%s\n' "$name" "${!name}"
  done
} >/etc/transcription-batch-worker.env

umask 022
{
  printf '#!/usr/bin/env bash\n'
  printf 'set -o errexit -o nounset -o pipefail\n'
  printf 'aws ecr get-login-password --region %q | docker login --username AWS --password-stdin %q\n' \
    "$AWS_REGION" "${IMAGE_URI%%/*}"
  printf 'docker pull %q\n' "$IMAGE_URI"
  # The container reaches the instance metadata service (IMDSv2) through the bridge: the
  # launch template's hop limit is 2 for that.
  printf 'exec docker run --rm --name transcription-batch-worker --gpus all --env-file %s %q\n' \
    /etc/transcription-batch-worker.env "$IMAGE_URI"
} >/usr/local/bin/transcription-batch-worker
chmod 0755 /usr/local/bin/transcription-batch-worker

cat >/etc/systemd/system/transcription-batch-worker.service <<'UNIT'
[Unit]
Description=Transcription batch worker: drain the jobs queues while the group keeps this instance
Wants=network-online.target
After=network-online.target docker.service
Requires=docker.service

[Service]
Type=exec
ExecStart=/usr/local/bin/transcription-batch-worker
Restart=on-failure
RestartSec=10
# The Spot notice gives two minutes; the worker's SHUTDOWN_GRACE_SECONDS stays below this.
TimeoutStopSec=120

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable transcription-batch-worker.service
systemctl start --no-block transcription-batch-worker.service
