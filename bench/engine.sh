#!/usr/bin/env bash
# Engine benchmark: (a) `peftlab status` on a fully cached pipeline of 1,001 and 10,001 trivial
# instances; (b) scheduling overhead per trivial stage with --jobs 2; (c) the same 1,001-instance
# DAG as a Snakemake workflow, `snakemake -n` on the fully built workflow, in the same run.
# Medians of REPS runs. Usage: bash bench/engine.sh [REPS]   (writes under bench/out/)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-5}
OUT=bench/out
node bin/build.mjs --outdir=$OUT/dist fakes=tests/fixtures/cli-with-fakes.ts
CLI="node $OUT/dist/fakes.mjs"

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
reps() { for _ in $(seq "$REPS"); do secs "$@"; done | median; }

bench_size() { # name a b c
  local dir=$OUT/$1; rm -rf "$dir"
  npx tsx bench/engine-gen.ts "$dir" "$2" "$3" "$4" >/dev/null
  local n=$(( $2 * $3 * $4 + 1 ))
  local run; run=$(secs $CLI run "$dir/pipeline.yaml" --runs-dir "$dir/runs" --jobs 2 --plain)
  local cached; cached=$(reps $CLI run "$dir/pipeline.yaml" --runs-dir "$dir/runs" --jobs 2 --plain)
  local status; status=$(reps $CLI status "$dir/pipeline.yaml" --runs-dir "$dir/runs")
  local per; per=$(echo "scale=3; ($run - $cached) * 1000 / $n" | bc)
  echo "$n instances: first run ${run}s (--jobs 2), fully cached run ${cached}s, status ${status}s, overhead per stage ${per} ms"
}

bench_size e1k 10 10 10
bench_size e10k 10 10 100

if command -v snakemake >/dev/null; then
  d=$OUT/e1k
  (cd "$d" && snakemake --cores 2 --quiet >/dev/null 2>&1)
  snk=$(cd "$d" && reps snakemake -n --quiet)
  ours=$(reps $CLI status "$d/pipeline.yaml" --runs-dir "$d/runs")
  echo "1,001 instances, fully built: snakemake -n ${snk}s vs peftlab status ${ours}s → ratio $(echo "scale=1; $snk / $ours" | bc)x"
fi
