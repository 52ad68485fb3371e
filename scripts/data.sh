#!/usr/bin/env bash
# Unpacks and verifies the ECG data sets of ../shared/data into .cache/data, where `mets train` and
# `mets eval` look by default (or into $1). Idempotent. The data is never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.cache/data}
mkdir -p "$dest"
# the unpack script wants an absolute destination
../shared/data/unpack "$(cd "$dest" && pwd)"
