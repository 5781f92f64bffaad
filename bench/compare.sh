#!/usr/bin/env bash
# Throughput and peak memory of wsdissect against tshark on large generated captures.
#
#   bench/compare.sh [SIZE]            SIZE of each capture, default 256MiB
#
# Three captures from examples/gen_capture: plain, permessage-deflate, and tls (the plain
# traffic in TLS 1.3 AES-128-GCM, decrypted by both tools with the generator's NSS key log:
# `wsdissect --keylog K`, `tshark -o tls.keylog_file:K`). The last line gives the tls
# capture's wsdissect throughput as a percentage of the plain one's.
#
# Environment: BENCH_DIR (where captures go; default a fresh temporary directory, removed
# at the end), KINDS (captures to measure, default "plain deflate tls"), RUNS (wsdissect
# runs per capture, default 5), TSHARK_RUNS (default 1), TSHARK_MAX (seconds one tshark
# run may take, default 600: a capture tshark cannot read in time is timed again at an
# eighth of SIZE and the time scaled by the size ratio, which the output says), X4=1
# (also measure peak memory on captures 4x as large, to show it is flat), FORMATS (more
# output formats of wsdissect to time against JSON Lines on the same capture, e.g.
# "parquet arrow" or "parquet --compression=lz4": a line each, with its throughput as a
# percentage of JSON Lines' and its peak memory).
# Needs hyperfine, tshark, jq, timeout and GNU time (/usr/bin/time).
set -euo pipefail

size=${1:-256MiB}
kinds=${KINDS:-plain deflate tls}
runs=${RUNS:-5}
truns=${TSHARK_RUNS:-1}
tmax=${TSHARK_MAX:-600}
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

# Writes capture FILE of kind KIND and SIZE (with its key log FILE.keys for tls).
generate() {
    local kind=$1 sz=$2 f=$3
    case $kind in
        plain) $gen --size "$sz" --out "$f" 2>/dev/null ;;
        deflate) $gen --size "$sz" --deflate --out "$f" 2>/dev/null ;;
        tls) $gen --size "$sz" --tls --keylog-out "$f.keys" --out "$f" 2>/dev/null ;;
    esac
}
# The arguments each tool needs to decrypt capture FILE of kind KIND.
ws_keys() { [[ $1 == tls ]] && echo "--keylog $2.keys" || true; }
ts_keys() { [[ $1 == tls ]] && echo "-o tls.keylog_file:$2.keys" || true; }
# Peak resident set size in MB of a command (output discarded).
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}'; }
# Mean seconds of a hyperfine run.
mean() { jq '.results[0].mean' "$1"; }
# "seconds MB" of tshark on FILE of kind KIND: mean wall time over TSHARK_RUNS runs and
# the largest peak RSS, one run measuring both; "timeout" when a run takes over MAX seconds.
tshark_run() {
    local kind=$1 f=$2 max=$3 i out s kb total=0 peak=0
    for ((i = 0; i < truns; i++)); do
        # shellcheck disable=SC2046
        if ! out=$(/usr/bin/time -f '%e %M' timeout "$max" \
            tshark -r "$f" $(ts_keys "$kind" "$f") -Y websocket -T ek 2>&1 >/dev/null | tail -1); then
            echo timeout
            return
        fi
        read -r s kb <<<"$out"
        total=$(awk -v a="$total" -v b="$s" 'BEGIN { print a + b }')
        peak=$(awk -v a="$peak" -v b="$kb" 'BEGIN { print (b > a ? b : a) }')
    done
    awk -v t="$total" -v n="$truns" -v p="$peak" 'BEGIN { printf "%.2f %.1f", t / n, p / 1024 }'
}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tshark: $(tshark --version 2>/dev/null | head -1)"
printf '\n%-8s %8s | %9s %9s %8s | %9s %8s %8s | %7s\n' capture MB "ws s" "ws MB/s" "ws RSS" "tshark s" "MB/s" "RSS" ratio
declare -A rate
notes=()
for kind in $kinds; do
    f=$dir/$kind-$size.pcap
    made+=("$f" "$f.keys")
    generate "$kind" "$size" "$f"
    bytes=$(stat -c %s "$f")
    mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    # shellcheck disable=SC2046
    hyperfine -N -w 1 -r "$runs" --output=null --export-json "$dir/ws.hf.json" \
        "$bin $(ws_keys "$kind" "$f") --format jsonl $f" >/dev/null
    ws=$(mean "$dir/ws.hf.json")
    # shellcheck disable=SC2046
    wsr=$(rss "$bin" $(ws_keys "$kind" "$f") --format jsonl "$f")
    read -r ts tsr <<<"$(tshark_run "$kind" "$f" "$tmax")"
    if [[ $ts == timeout ]]; then
        small=$dir/$kind-small.pcap
        made+=("$small" "$small.keys")
        generate "$kind" "$(awk -v b="$bytes" 'BEGIN { printf "%d", b / 8 }')" "$small"
        sbytes=$(stat -c %s "$small")
        read -r ts tsr <<<"$(tshark_run "$kind" "$small" 86400)"
        notes+=("tshark on $kind took over ${tmax} s: timed on a $(awk -v b="$sbytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB capture ($ts s, peak RSS $tsr MB there), time scaled by the size ratio")
        ts=$(awk -v t="$ts" -v a="$bytes" -v b="$sbytes" 'BEGIN { printf "%.2f", t * a / b }')
        rm -f "$small" "$small.keys"
    fi
    rate[$kind]=$(awk -v mb="$mb" -v ws="$ws" 'BEGIN { print mb / ws }')
    awk -v k="$kind" -v mb="$mb" -v ws="$ws" -v ts="$ts" -v wsr="$wsr" -v tsr="$tsr" 'BEGIN {
        printf "%-8s %8.1f | %9.3f %9.0f %8s | %9.2f %8.1f %8s | %6.0fx\n",
            k, mb, ws, mb/ws, wsr, ts, mb/ts, tsr, ts/ws }'
    formats=()
    for word in ${FORMATS:-}; do
        # A word starting with -- adds an argument to the format before it.
        if [[ $word == --* && ${#formats[@]} -gt 0 ]]; then
            formats[-1]+=" $word"
        else
            formats+=("$word")
        fi
    done
    for fmt in "${formats[@]}"; do
        # shellcheck disable=SC2046,SC2086
        hyperfine -N -w 1 -r "$runs" --output=null --export-json "$dir/fmt.hf.json" \
            "$bin $(ws_keys "$kind" "$f") --format $fmt $f" >/dev/null
        # shellcheck disable=SC2046,SC2086
        fr=$(rss "$bin" $(ws_keys "$kind" "$f") --format $fmt "$f")
        awk -v k="$kind" -v fmt="$fmt" -v mb="$mb" -v t="$(mean "$dir/fmt.hf.json")" -v ws="$ws" -v r="$fr" 'BEGIN {
            printf "  %-38s %7.3f s %6.0f MB/s %6s MB RSS, %3.0f%% of jsonl throughput\n",
                "--format " fmt, t, mb/t, r, 100*ws/t }'
    done
    if [[ ${X4:-} == 1 ]]; then
        big=$dir/$kind-x4.pcap
        made+=("$big" "$big.keys")
        generate "$kind" $((bytes * 4)) "$big"
        # shellcheck disable=SC2046
        echo "         4x: $(stat -c %s "$big" | awk '{printf "%.1f", $1/1e6}') MB, wsdissect peak RSS $(rss "$bin" $(ws_keys "$kind" "$big") --format jsonl "$big") MB"
        rm -f "$big" "$big.keys"
    fi
    rm -f "$f" "$f.keys"
done
for n in "${notes[@]}"; do
    echo "note: $n"
done
if [[ -n ${rate[plain]:-} && -n ${rate[tls]:-} ]]; then
    awk -v p="${rate[plain]}" -v t="${rate[tls]}" 'BEGIN {
        printf "tls throughput: %.0f%% of plain (%.0f vs %.0f MB/s)\n", 100 * t / p, t, p }'
fi
