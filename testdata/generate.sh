#!/usr/bin/env bash
# Regenerates the real-peer WebSocket capture corpus in testdata/corpus/.
#   sudo bash testdata/generate.sh [SCENARIO_NAME ...]     (default: all scenarios)
# Run as root on a Debian machine. Rerunnable and idempotent: installs what is
# missing, creates a private network namespace, runs every peer and capture on
# that namespace's loopback only, and removes the namespace on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NS="wsdissect-gen-$$"
WS_PY_VERSION="17.4"          # python websockets
AIOHTTP_VERSION="3.14.5"      # aiohttp
HYPERCORN_VERSION="0.18.0"    # hypercorn (WebSocket over HTTP/2 server, scenarios 24-26)
H2_VERSION="4.4.1"            # h2 (HTTP/2 client of peers/h2_peer.py; hypercorn uses it too)
WSPROTO_VERSION="1.3.2"       # wsproto (WebSocket frames of hypercorn and of peers/h2_peer.py)
# node ws version is pinned in peers/package.json
export WSD_WORK="${WSD_WORK:-/tmp/wsdissect-testdata-work}"
export PEER_TIMEOUT="${PEER_TIMEOUT:-60}"

log() { echo "[generate] $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  echo "generate.sh must run as root (network namespaces, iptables, packet capture)" >&2
  exit 1
fi

# ---------------------------------------------------------------- packages
need_apt=()
for pair in tcpdump:tcpdump tshark:tshark dumpcap:tshark editcap:tshark capinfos:tshark \
            mergecap:tshark iptables:iptables ethtool:ethtool ip:iproute2 node:nodejs npm:npm timeout:coreutils \
            python3:python3 openssl:openssl chromium:chromium; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then need_apt+=(python3-venv); fi
if ((${#need_apt[@]})); then
  # another apt/dpkg may be running: wait for the lock instead of fighting it
  for _ in $(seq 1 120); do
    if ! fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1 && ! fuser /var/lib/dpkg/lock >/dev/null 2>&1; then break; fi
    log "waiting for dpkg lock..."; sleep 5
  done
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [[ ! -x "$HERE/.venv/bin/python" ]]; then
  log "creating python venv"
  python3 -m venv "$HERE/.venv"
fi
if ! "$HERE/.venv/bin/python" - "$WS_PY_VERSION" "$AIOHTTP_VERSION" "$HYPERCORN_VERSION" "$H2_VERSION" \
     "$WSPROTO_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
have = tuple(version(p) for p in ("websockets", "aiohttp", "hypercorn", "h2", "wsproto"))
sys.exit(0 if have == tuple(sys.argv[1:6]) else 1)
EOF
then
  log "pip install websockets==$WS_PY_VERSION aiohttp==$AIOHTTP_VERSION hypercorn==$HYPERCORN_VERSION" \
      "h2==$H2_VERSION wsproto==$WSPROTO_VERSION"
  "$HERE/.venv/bin/pip" install -q "websockets==$WS_PY_VERSION" "aiohttp==$AIOHTTP_VERSION" \
      "hypercorn==$HYPERCORN_VERSION" "h2==$H2_VERSION" "wsproto==$WSPROTO_VERSION"
fi

WS_NODE_VERSION=$(sed -n 's/.*"ws": *"\([^"]*\)".*/\1/p' "$HERE/peers/package.json")
if [[ "$(node -p "try{require('$HERE/peers/node_modules/ws/package.json').version}catch(e){''}")" != "$WS_NODE_VERSION" ]]; then
  log "npm install ws@$WS_NODE_VERSION"
  (cd "$HERE/peers" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null)
fi

# ---------------------------------------------------------------- namespace
cleanup() {
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up mtu 1500
for f in gso tso gro; do
  ip netns exec "$NS" ethtool -K lo "$f" off 2>/dev/null || log "warning: could not turn off $f on lo"
done
ip netns exec "$NS" ethtool -k lo | grep -E '^(generic-segmentation-offload|tcp-segmentation-offload|generic-receive-offload):' >&2 || true
# IPv6 loopback must be usable (some scenarios use ::1)
ip netns exec "$NS" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null || true
for _ in $(seq 1 50); do
  ip netns exec "$NS" ip -6 addr show dev lo | grep -q '::1/128' && break
  sleep 0.1
done
ip netns exec "$NS" ip -6 addr show dev lo | grep -q '::1/128' || { echo "no ::1 on lo in $NS" >&2; exit 1; }

# ---------------------------------------------------------------- scenarios
"$HERE/.venv/bin/python" "$HERE/scenarios.py"
mkdir -p "$HERE/corpus" "$WSD_WORK"
log "running scenarios in netns $NS"
ip netns exec "$NS" "$HERE/.venv/bin/python" "$HERE/orchestrate.py" "$@"

log "corpus:"
ls -l "$HERE/corpus" >&2
du -sh "$HERE" --exclude=.venv --exclude=node_modules >&2
