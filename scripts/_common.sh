# Shared steps of scripts/demo and scripts/test. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${FACEFINDER_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
REDIS_URL="${REDIS_URL:-redis://localhost:6379/0}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are missing (one apt-get update, only when something is missing).
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
}

# Create the virtual environment and install a requirements file; skipped when unchanged.
ensure_venv() {
  local requirements="$1"
  local stamp="$VENV/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$requirements")"
  if [ ! -x "$PY" ]; then
    say "Creating virtual environment in $VENV"
    local python; python="$(command -v python3.11 || command -v python3)"
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
      # Debian and Ubuntu ship venv/ensurepip separately.
      rm -rf "$VENV"
      ensure_apt "python3-venv" "$(basename "$python")-venv"
      "$python" -m venv "$VENV"
    fi
  fi
  if [ ! -f "$stamp" ]; then
    say "Installing Python packages from $requirements (torch is large: a few minutes)"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -r "$requirements"
    touch "$stamp"
  fi
}

# Start a local Redis when nothing answers at REDIS_URL's host and port.
ensure_redis() {
  local hostport host port
  hostport="${REDIS_URL#redis://}"; hostport="${hostport##*@}"; hostport="${hostport%%/*}"
  host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=6379
  if "$PY" - "$host" "$port" <<'PYEOF'
import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PYEOF
  then return 0; fi
  case "$host" in localhost|127.0.0.1) ;; *) echo "Redis at $REDIS_URL does not answer." >&2; return 1;; esac
  ensure_apt redis-server
  say "Starting redis-server on port $port"
  mkdir -p "$ROOT/var"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$ROOT/var" --logfile "$ROOT/var/redis.log"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis-server did not start; see var/redis.log" >&2; return 1
}
