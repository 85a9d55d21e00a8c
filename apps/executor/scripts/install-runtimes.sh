#!/usr/bin/env bash
# Installs what the executor needs on Debian bookworm: its sandbox (bubblewrap, prlimit, the
# libseccomp Python binding for the seccomp filter) and the runtimes of the given templates
# (default: all 14). The one script for CI, `npm start` (through tools/ci/install-deps.sh) and
# executor images. Idempotent and quiet: apt-get installs only what is missing.
#
# Usage (as root):  install-runtimes.sh [TEMPLATE...]
#                   install-runtimes.sh --print [TEMPLATE...]   # list the packages, install nothing
set -euo pipefail

TEMPLATES=(python python-data node typescript bash c cpp java rust go ruby r code-interpreter-v1 base)
# bubblewrap; prlimit and setpriv (util-linux); mount/umount (per-slot tmpfs); the seccomp policy compiler
SANDBOX_PACKAGES=(bubblewrap util-linux python3-seccomp mount procps)

# Debian packages per template (libs/templates `debianPackages`; apps/executor/test/install-runtimes.spec.ts
# fails when the two differ).
template_packages() {
  case "$1" in
    python) echo python3 python3-pip python3-venv ;;
    python-data) echo python3 python3-pip python3-venv python3-numpy python3-pandas python3-matplotlib ;;
    node | typescript) echo nodejs npm ;;
    bash) echo bash coreutils ;;
    c) echo gcc libc6-dev ;;
    cpp) echo g++ libc6-dev ;;
    java) echo openjdk-17-jdk-headless ;;
    # Debian's rustc, under /usr: readable by the sandbox uids, unlike a rustup toolchain in ~/.cargo
    rust) echo rustc libc6-dev ;;
    go) echo golang-go ;;
    ruby) echo ruby ;;
    r) echo r-base-core ;;
    # E2B's defaults: python-data + node/typescript (+ bash) kernels; bash + python
    code-interpreter-v1) echo python3 python3-pip python3-venv python3-numpy python3-pandas python3-matplotlib nodejs npm bash coreutils ;;
    base) echo python3 python3-pip python3-venv bash coreutils ;;
    *)
      echo "install-runtimes: unknown template \"$1\" (one of: ${TEMPLATES[*]})" >&2
      return 1
      ;;
  esac
}

print=0
if [[ "${1:-}" == "--print" ]]; then
  print=1
  shift
fi
(($#)) && selected=("$@") || selected=("${TEMPLATES[@]}")

wanted=("${SANDBOX_PACKAGES[@]}")
for t in "${selected[@]}"; do
  list=$(template_packages "$t")
  read -r -a pkgs <<<"$list"
  wanted+=("${pkgs[@]}")
done

if ((print)); then
  printf '%s\n' "${wanted[@]}" | awk '!seen[$0]++'
  exit 0
fi

missing=()
for p in $(printf '%s\n' "${wanted[@]}" | awk '!seen[$0]++'); do
  # node/npm come from the repository's toolchain (Node 20); Debian's only when there is no node.
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v node >/dev/null 2>&1; then continue; fi
  # Java: any JDK >= 17 already on PATH is fine.
  if [[ "$p" == openjdk-17-jdk-headless ]] && command -v javac >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-runtimes: missing system packages: ${missing[*]}" >&2
    echo "  run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "install-runtimes: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
