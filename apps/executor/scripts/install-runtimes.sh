#!/usr/bin/env bash
# Installs what the executor needs to run all 12 templates (and its sandbox) on Debian bookworm.
# Idempotent and quiet: only missing packages are installed (apt-get), nothing is printed when all is there.
# Usage (as root): apps/executor/scripts/install-runtimes.sh
set -euo pipefail

PACKAGES=(
  bubblewrap util-linux mount    # SANDBOX=bwrap; prlimit, setpriv; mount/umount (per-slot tmpfs)
  python3-seccomp                # compiles the sandbox's seccomp policy (libseccomp) at executor boot
  python3 python3-pip            # python (+ pip for packages.install)
  python3-numpy python3-pandas python3-matplotlib  # python-data
  gcc g++ libc6-dev              # c, cpp
  openjdk-17-jdk-headless        # java
  rustc                          # rust (Debian's, under /usr: readable by the sandbox uids, unlike ~/.cargo)
  golang-go                      # go
  ruby                           # ruby
  r-base-core                    # r
  bash coreutils procps          # bash
)

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Java: any JDK >= 17 already on PATH is fine.
if command -v javac >/dev/null 2>&1; then
  missing=("${missing[@]/openjdk-17-jdk-headless}")
fi
# node/npm come from the repository's toolchain (Node 20); install Debian's only if absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)

filtered=()
for p in "${missing[@]}"; do [[ -n "$p" ]] && filtered+=("$p"); done
if ((${#filtered[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-runtimes: need root to install: ${filtered[*]}" >&2
    exit 1
  fi
  echo "install-runtimes: installing ${filtered[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
fi
