#!/usr/bin/env bash
# Slurm engine benchmark, on the local cluster of scripts/slurm-up.sh: the engine bench's
# 1,001-instance fake pipeline (one source, 1,000 trivial cells) with --executor local and
# --executor slurm (--jobs 2 both: two worker processes, or at most two Slurm jobs in flight,
# each running a batch of ready instances), from empty runs directories; and the latency of one
# trivial stage alone (submit → exit file seen). REPS runs each, medians.
# Usage: bash bench/engine-slurm.sh [REPS]   (writes under bench/out/)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
OUT=bench/out/slurm
CLI="node --import tsx tests/fixtures/cli-with-fakes.ts"
rm -rf "$OUT"; mkdir -p "$OUT"
npx tsx bench/engine-gen.ts "$OUT/e1k" 10 10 10 >/dev/null
printf 'name: one\nstages:\n  src: { kind: fake-source, params: { value: 1 } }\n' > "$OUT/one.yaml"
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
# The run's own duration ("run 1 succeeded in 32.5s"), without the CLI's start-up.
runtime() { "$@" | sed -n 's/^run 1 succeeded in \([0-9.]*\)s.*/\1/p'; }
one() { # executor pipeline
  local d; d=$(mktemp -d "$OUT/r.$1.XXXX")
  runtime $CLI run "$2" --runs-dir "$d" --plain --jobs 2 --executor "$1"
}
for ex in local slurm; do
  e1k=$(for _ in $(seq "$REPS"); do one "$ex" "$OUT/e1k/pipeline.yaml"; done | median)
  single=$(for _ in $(seq "$REPS"); do one "$ex" "$OUT/one.yaml"; done | median)
  echo "$ex: 1,001 instances ${e1k}s; one trivial stage ${single}s"
  eval "e1k_$ex=$e1k"
done
echo "ratio slurm/local on 1,001 instances: $(echo "scale=2; $e1k_slurm / $e1k_local" | bc)x"
jobs=$(for d in "$OUT"/r.slurm.*; do [ -d "$d/slurm/1" ] && ls "$d/slurm/1" | wc -l; done | sort -n | tail -1)
echo "Slurm jobs for 1,001 instances: $jobs at most (batches of ready instances)"
