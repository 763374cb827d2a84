#!/usr/bin/env bash
# The Debian programs the tests drive, installed when missing (make test calls this):
#   espeak-ng  speaks the multilingual test samples (tests/support/speech.py)
# As root it installs them with apt-get; otherwise it names the command to run.
set -o errexit -o nounset -o pipefail

PACKAGES=(espeak-ng)
missing=()
for package in "${PACKAGES[@]}"; do
  command -v "$package" >/dev/null || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "missing: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
