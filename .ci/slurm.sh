#!/usr/bin/env bash
# CI: install Debian's Slurm and munge for tests/cluster (a real single-node Slurm) if missing.
# Where apt-get (or root) is not available it says so and exits 0: those tests then skip.
set -euo pipefail

packages=(slurmctld slurmd slurm-client munge)
binaries=(slurmctld slurmd sbatch srun scontrol sinfo squeue scancel munged)

missing=0
for binary in "${binaries[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing=1
done
if [ "$missing" = 0 ]; then
  echo "ci/slurm: Slurm and munge already installed ($(slurmctld -V))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci/slurm: no apt-get here; tests/cluster will skip (install slurmctld, slurmd, munge)"
  exit 0
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "ci/slurm: not root and no password-less sudo; tests/cluster will skip"
    exit 0
  fi
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
echo "ci/slurm: installed $(slurmctld -V)"
