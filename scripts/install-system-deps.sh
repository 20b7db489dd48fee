#!/usr/bin/env bash
# Installs the Debian packages that loaphuong's agent and tests use, when they are missing.
# ffmpeg (playback, transcoding), sox (audio checks), socat (pty pairs for the relay-board emulator),
# espeak-ng (Vietnamese TTS), alsa-utils (aplay -L for ALSA device checks), mosquitto and mosquitto-clients
# (the external-broker test; the service itself is not needed and the tests start their own on a free port),
# chromium (the dashboard, board and live-microphone acceptance tests drive it headless through playwright-core),
# fonts-dejavu-core (the board page's font: every Vietnamese letter, and the text-fit test measures with it).
set -euo pipefail
pkgs=(ffmpeg sox socat espeak-ng alsa-utils mosquitto mosquitto-clients chromium fonts-dejavu-core)
need=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -eq 0 ]; then echo "system packages: all present (${pkgs[*]})"; exit 0; fi
echo "system packages: installing ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else echo "Run as root: apt-get install -y ${need[*]}" >&2; exit 1; fi
else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
