#!/usr/bin/env bash
# Throughput and peak memory of wsdissect against tshark on large generated captures.
#
#   bench/compare.sh [SIZE]            SIZE of each capture, default 256MiB
#
# Environment: BENCH_DIR (where captures go; default a fresh temporary directory, removed
# at the end), RUNS (wsdissect runs per capture, default 5), TSHARK_RUNS (default 1),
# X4=1 (also measure peak memory on captures 4x as large, to show it is flat).
# Needs hyperfine, tshark, jq and GNU time (/usr/bin/time).
set -euo pipefail

size=${1:-256MiB}
runs=${RUNS:-5}
truns=${TSHARK_RUNS:-1}
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cargo build -q --release --bin wsdissect --example gen_capture
bin=$CARGO_TARGET_DIR/release/wsdissect
gen=$CARGO_TARGET_DIR/release/examples/gen_capture

if [[ -n ${BENCH_DIR:-} ]]; then
    dir=$BENCH_DIR
    mkdir -p "$dir"
else
    dir=$(mktemp -d)
fi
made=()
cleanup() { rm -f "${made[@]}" "$dir"/*.hf.json; [[ -z ${BENCH_DIR:-} ]] && rmdir "$dir" 2>/dev/null; true; }
trap cleanup EXIT

# Peak resident set size in MB of a command (output discarded).
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}'; }
# Mean seconds of a hyperfine run.
mean() { jq '.results[0].mean' "$1"; }

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tshark: $(tshark --version 2>/dev/null | head -1)"
printf '\n%-8s %8s | %9s %9s %8s | %9s %8s %8s | %7s\n' capture MB "ws s" "ws MB/s" "ws RSS" "tshark s" "MB/s" "RSS" ratio
for kind in plain deflate; do
    f=$dir/$kind-$size.pcap
    made+=("$f")
    $gen --size "$size" $([[ $kind == deflate ]] && echo --deflate) --out "$f" 2>/dev/null
    mb=$(stat -c %s "$f" | awk '{printf "%.1f", $1/1e6}')
    hyperfine -N -w 1 -r "$runs" --output=null --export-json "$dir/ws.hf.json" \
        "$bin --format jsonl $f" >/dev/null
    hyperfine -w 0 -r "$truns" --output=null --export-json "$dir/ts.hf.json" \
        "tshark -r $f -Y websocket -T ek" >/dev/null 2>&1
    ws=$(mean "$dir/ws.hf.json")
    ts=$(mean "$dir/ts.hf.json")
    wsr=$(rss "$bin" --format jsonl "$f")
    tsr=$(rss tshark -r "$f" -Y websocket -T ek)
    awk -v k=$kind -v mb=$mb -v ws=$ws -v ts=$ts -v wsr=$wsr -v tsr=$tsr 'BEGIN {
        printf "%-8s %8.1f | %9.3f %9.0f %8s | %9.2f %8.1f %8s | %6.0fx\n",
            k, mb, ws, mb/ws, wsr, ts, mb/ts, tsr, ts/ws }'
    if [[ ${X4:-} == 1 ]]; then
        big=$dir/$kind-x4.pcap
        made+=("$big")
        bytes=$($gen --size "$size" --out /dev/null 2>&1 | awk '{print $2}')
        $gen --size $((bytes * 4)) $([[ $kind == deflate ]] && echo --deflate) --out "$big" 2>/dev/null
        echo "         4x: $(stat -c %s "$big" | awk '{printf "%.1f", $1/1e6}') MB, wsdissect peak RSS $(rss "$bin" --format jsonl "$big") MB"
        rm -f "$big"
    fi
    rm -f "$f"
done
