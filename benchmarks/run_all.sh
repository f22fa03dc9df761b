#!/usr/bin/env bash
# Every benchmark of benchmarks/README.md, one after another on a quiet machine.
# Makes a 1M-person folder first (about 4 GB in $BENCH, default /tmp/trustscore-bench).
# Usage: bash benchmarks/run_all.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
BENCH="${BENCH:-/tmp/trustscore-bench}"
mkdir -p "$BENCH"
DATA="$BENCH/1m"
[ -f "$DATA/logistics.csv" ] || uv run trustscore sample "$DATA" --persons 1000000 --seed 0 -f csv
echo "## sample (1M persons)"
uv run python benchmarks/bench_sample.py --persons 1000000 --runs "$RUNS"
echo "## features (1M persons)"
uv run python benchmarks/bench_commands.py features --data "$DATA" --runs "$RUNS"
echo "## build (1M persons)"
uv run python benchmarks/bench_commands.py build --data "$DATA" --runs "$RUNS"
uv run trustscore build "$DATA" --out "$BENCH/model-1m" --force -f json > /dev/null
echo "## score (1M persons)"
uv run python benchmarks/bench_commands.py score --data "$DATA" --model "$BENCH/model-1m" --runs "$RUNS"
echo "## card (cold start)"
uv run python benchmarks/bench_commands.py card --model "$BENCH/model-1m" --person P0000408 --runs 11
echo "## shops: build and features --entity merchant (50,000 shops)"
uv run python benchmarks/bench_commands.py shops --data "$DATA" --runs "$RUNS"
uv run trustscore build "$DATA" --entity merchant --out "$BENCH/shops-1m" --force -f json > /dev/null
uv run python benchmarks/bench_commands.py card --model "$BENCH/shops-1m" --person M000065 --runs 11
echo "## cards in bulk (4,000 ids)"
uv run python benchmarks/bench_cards.py --model "$BENCH/model-1m" --runs 5
echo "## points: leaf values vs pred_contribs"
uv run python benchmarks/bench_points.py
echo "## quality"
uv run python benchmarks/bench_quality.py
echo "## features: polars vs pandas"
uv run --with pandas --with pyarrow python benchmarks/features_pandas.py --check sample_data
uv run --with pandas --with pyarrow python benchmarks/features_pandas.py --time "$DATA" --runs 1
