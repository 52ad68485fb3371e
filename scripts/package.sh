#!/usr/bin/env bash
# The Debian package of mets (packaging/CMakeLists.txt says what goes where): set-up and build as the test
# command does, then cpack. Prints the package's path. Built once where a network is available (set-up
# converts the language model from its wheel), it installs offline: `dpkg -i build/package/mets_*.deb`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cpack --config build/CPackConfig.cmake >/dev/null
ls "$PWD"/build/package/mets_*_amd64.deb
