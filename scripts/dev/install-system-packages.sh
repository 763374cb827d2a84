#!/usr/bin/env bash
# The Debian packages the tests drive, installed when missing (make test calls this):
#   espeak-ng         speaks the multilingual test samples (tests/support/speech.py)
#   apertium          the local text translator (transcription/translation/apertium.py)
#   apertium-eng-spa  its English<->Spanish pair (modes eng-spa, spa-eng)
#   chromium          the browser the console's end-to-end tests drive (tests/e2e/test_console.py)
# A package counts as installed when dpkg says so (apertium without its pair is not enough);
# without dpkg (not Debian) the programs and the pair's mode are looked for instead.
# As root it installs what is missing with apt-get; otherwise it names the command to run.
set -o errexit -o nounset -o pipefail

PACKAGES=(espeak-ng apertium apertium-eng-spa chromium)

# installed PACKAGE: true when PACKAGE is installed (dpkg), or its program/mode is there.
installed() {
  local package=$1
  if command -v dpkg-query >/dev/null; then
    # A package dpkg never heard of is the answer "not installed"; its message is noise.
    [[ $(dpkg-query --show --showformat='${db:Status-Status}' "$package" 2>/dev/null) == installed ]]
    return
  fi
  case $package in
    apertium-eng-spa) command -v apertium >/dev/null && apertium -l | grep -qx '  *eng-spa' ;;
    *) command -v "$package" >/dev/null ;;
  esac
}

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "missing: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} (apt-get)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
