#!/usr/bin/env bash
# Throw-away XMPP servers for loopback tests (Debian 12 packages), each in its own directory,
# with no TLS, no s2s and no system service. Source it for the functions, or run it:
#
#   scripts/lib/xmpp.sh prosody-start  DIR C2S_PORT COMPONENT_PORT   # prints the PID
#   scripts/lib/xmpp.sh prosody-adduser DIR USER PASSWORD             # USER@localhost
#   scripts/lib/xmpp.sh prosody-stop   DIR
#   scripts/lib/xmpp.sh ejabberd-start DIR C2S_PORT COMPONENT_PORT ERL_DIST_PORT
#   scripts/lib/xmpp.sh ejabberd-adduser DIR USER PASSWORD            # server must be running
#   scripts/lib/xmpp.sh ejabberd-stop  DIR
#   scripts/lib/xmpp.sh free-port
#
# Both servers serve the domain `localhost`, the pubsub services `pubsub.localhost` and
# `pubsub2.localhost` (the second for remote subscriptions) and accept the component
# `gw.localhost` with secret `gwsecret`; only loopback ports are opened.
# Only the processes started here are stopped (by the PID recorded in DIR).

xmpp_wait_port() { # host port timeout_s
  local end=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    [ "$SECONDS" -ge "$end" ] && { echo "port $2 not ready" >&2; return 1; }
    sleep 0.05
  done
}

xmpp_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

prosody_start() { # DIR C2S COMP
  local dir=$1 c2s=$2 comp=$3
  mkdir -p "$dir/data" "$dir/certs"
  cat > "$dir/prosody.cfg.lua" <<CFG
-- Loopback-only test config for Prosody 0.12 (no TLS, no s2s, no HTTP)
run_as_root = true
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
log = { info = "$dir/prosody.log"; error = "$dir/prosody.err"; }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $c2s }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
s2s_ports = { }
component_ports = { $comp }
component_interfaces = { "127.0.0.1" }
http_ports = { }
https_ports = { }
-- The gateway component may create nodes (mod_pubsub gives admins owner rights).
admins = { "admin@localhost", "gw.localhost" }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "pep"; "posix"; }
modules_disabled = { "s2s"; "offline"; }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = false

VirtualHost "localhost"

Component "pubsub.localhost" "pubsub"

-- A second pubsub service: the gateway's remote subscriptions (nodes of other services).
Component "pubsub2.localhost" "pubsub"

Component "gw.localhost"
  component_secret = "gwsecret"
CFG
  prosody --config "$dir/prosody.cfg.lua" -F > "$dir/stdout.log" 2>&1 &
  echo $! > "$dir/launcher.pid"
  xmpp_wait_port 127.0.0.1 "$c2s" 20 && xmpp_wait_port 127.0.0.1 "$comp" 20 || return 1
  cat "$dir/launcher.pid"
}

prosody_adduser() { # DIR USER PASSWORD
  prosodyctl --config "$1/prosody.cfg.lua" register "$2" localhost "$3" >/dev/null 2>&1
}

prosody_stop() { # DIR
  local p
  p=$(cat "$1/launcher.pid" 2>/dev/null) || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.05; done
  kill -KILL "$p" 2>/dev/null || true
}

_ejabberd_ctl() { # DIR args...
  local dir=$1; shift
  ejabberdctl --config-dir "$dir" --config "$dir/ejabberd.yml" --ctl-config "$dir/ejabberdctl.cfg" \
    --logs "$dir/logs" --spool "$dir/db" "$@"
}

ejabberd_start() { # DIR C2S COMP DIST
  local dir=$1 c2s=$2 comp=$3 dist=$4
  mkdir -p "$dir/db" "$dir/logs"
  cp /etc/ejabberd/inetrc "$dir/inetrc"
  cat > "$dir/ejabberdctl.cfg" <<CFG
ERLANG_NODE=ejabberdtest$c2s@localhost
ERL_DIST_PORT=$dist
INET_DIST_INTERFACE=127.0.0.1
EJABBERD_PID_PATH=$dir/ejabberd.pid
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
CFG
  cat > "$dir/ejabberd.yml" <<CFG
loglevel: info
hosts:
  - localhost
listen:
  -
    port: $c2s
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    access: c2s
  -
    port: $comp
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      gw.localhost:
        password: gwsecret
auth_method: internal
auth_password_format: scram
acl:
  admin:
    user:
      - "admin@localhost"
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  pubsub_createnode:
    allow: all
  configure:
    allow: admin
modules:
  mod_admin_extra: {}
  mod_caps: {}
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_pubsub:
    hosts:
      - "pubsub.localhost"
      - "pubsub2.localhost"
    access_createnode: pubsub_createnode
    plugins:
      - "flat"
      - "pep"
    ignore_pep_from_offline: false
    last_item_cache: false
    max_items_node: 1000
    default_node_config:
      publish_model: open
      notify_delete: true
      notify_retract: true
CFG
  chown -R ejabberd:ejabberd "$dir"
  _ejabberd_ctl "$dir" foreground > "$dir/stdout.log" 2>&1 &
  echo $! > "$dir/launcher.pid"
  xmpp_wait_port 127.0.0.1 "$comp" 60 && xmpp_wait_port 127.0.0.1 "$c2s" 60 || return 1
  local end=$((SECONDS + 30))
  until grep -q "Start accepting TCP connections at 127.0.0.1:$c2s" "$dir/logs/ejabberd.log" "$dir/stdout.log" 2>/dev/null; do
    [ "$SECONDS" -ge "$end" ] && break
    sleep 0.1
  done
  cat "$dir/ejabberd.pid" 2>/dev/null || cat "$dir/launcher.pid"
}

ejabberd_adduser() { # DIR USER PASSWORD
  _ejabberd_ctl "$1" register "$2" localhost "$3" >/dev/null
}

ejabberd_stop() { # DIR
  local l b
  l=$(cat "$1/launcher.pid" 2>/dev/null) || return 0
  b=$(cat "$1/ejabberd.pid" 2>/dev/null || true)
  [ -n "$b" ] && kill -TERM "$b" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$l" 2>/dev/null || return 0; sleep 0.05; done
  [ -n "$b" ] && kill -KILL "$b" 2>/dev/null || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd=${1:-}; shift || true
  case "$cmd" in
    prosody-start) prosody_start "$@" ;;
    prosody-adduser) prosody_adduser "$@" ;;
    prosody-stop) prosody_stop "$@" ;;
    ejabberd-start) ejabberd_start "$@" ;;
    ejabberd-adduser) ejabberd_adduser "$@" ;;
    ejabberd-stop) ejabberd_stop "$@" ;;
    free-port) xmpp_free_port ;;
    *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
  esac
fi
