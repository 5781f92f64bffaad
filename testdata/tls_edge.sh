#!/usr/bin/env bash
# Regenerates the TLS edge captures in testdata/tls-edge/ (0-RTT, HelloRetryRequest, ALPN h2)
# with OpenSSL's s_server / s_client.
#   sudo bash testdata/tls_edge.sh [NAME ...]     (default: all; e.g. 22-tls13-hrr)
# Run as root on Debian. Like generate.sh: installs what is missing, creates a private
# network namespace, runs peers and tcpdump on its loopback only, removes it on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NS="wsdissect-tlsedge-$$"
export WSD_WORK="${WSD_WORK:-/tmp/wsdissect-testdata-work}"
export PEER_TIMEOUT="${PEER_TIMEOUT:-60}"

if [[ $(id -u) -ne 0 ]]; then
  echo "tls_edge.sh must run as root (network namespaces, packet capture)" >&2
  exit 1
fi

need_apt=()
for pair in tcpdump:tcpdump tshark:tshark ip:iproute2 ss:iproute2 ethtool:ethtool \
            timeout:coreutils python3:python3 openssl:openssl; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

cleanup() {
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up mtu 1500
for f in gso tso gro; do
  ip netns exec "$NS" ethtool -K lo "$f" off 2>/dev/null || echo "[tls_edge] warning: could not turn off $f on lo" >&2
done

mkdir -p "$HERE/tls-edge" "$WSD_WORK"
ip netns exec "$NS" python3 "$HERE/tls_edge.py" "$@"
ls -l "$HERE/tls-edge" >&2
