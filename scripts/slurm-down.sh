#!/usr/bin/env bash
# Stops the local cluster of scripts/slurm-up.sh: cancels every job first (stopping slurmd does
# not kill running jobs), then the daemons by their pid files.
set -uo pipefail
scancel --full --quiet -u "$(id -un)" 2>/dev/null || true
for p in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/munge/munged.pid; do
  [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
done
