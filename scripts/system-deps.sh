#!/usr/bin/env bash
# System packages some tests use: Chromium (the visdom page test) and SLURM + munge (the SLURM launcher tests).
# Installs what is missing when run as root with apt-get; otherwise says what is missing (those tests then skip).
set -u
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || missing+=(munge)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "warning: could not install ${missing[*]}; the tests that need them will skip" >&2
else
  echo "note: ${missing[*]} not installed (needs root and apt-get); the tests that need them will skip" >&2
fi
exit 0
