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
# `gw.localhost` with secret `gwsecret`; only loopback ports are opened. Their pubsub services
# keep up to 10000 items per node (Prosody `pubsub_max_items`, ejabberd `max_items_node`), as
# docs/deploy.md asks of a production server; XMPP_PUBSUB_MAX_ITEMS=N sets another cap (a test
# of what happens when a namespace outgrows it).
#
# Federation (s2s between two servers on one machine, for the federation test): set
#   XMPP_DOMAIN=a.test     the domain instead of `localhost` (components are <name>.<domain>)
#   XMPP_S2S_IP=127.x.y.z  a loopback address to take s2s port 5269 on (no TLS, dialback)
#   XMPP_HOSTS=FILE        a hosts file (`IP name...` lines) naming every server's domains:
#                          Prosody's only name resolution (no DNS server is asked)
#   XMPP_DNS=127.0.0.1:P   ejabberd: the DNS server to ask instead (its s2s resolves SRV
#                          records through DNS only); the test runs one serving the file.
# The same variables must be set for the -adduser call.
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
  local domain=${XMPP_DOMAIN:-localhost} s2s_ports='' s2s_module='"s2s"; ' resolver=''
  if [ -n "${XMPP_S2S_IP:-}" ]; then
    s2s_ports="5269 }
s2s_interfaces = { \"$XMPP_S2S_IP\""
    s2s_module=''
    # Names resolve from the hosts file only: a static zone answers everything else at once.
    resolver="unbound = { hoststxt = \"$XMPP_HOSTS\"; options = { [\"local-zone:\"] = \"${domain#*.}. static\" } }
s2s_secure_auth = false"
  fi
  # PROSODY_STORAGE=sql: SQLite storage (prosody.sqlite in DIR/data; needs lua-dbi-sqlite3).
  local storage='storage = "internal"'
  [ "${PROSODY_STORAGE:-internal}" = sql ] &&
    storage='storage = "sql"; sql = { driver = "SQLite3", database = "prosody.sqlite" }'
  mkdir -p "$dir/data" "$dir/certs"
  cat > "$dir/prosody.cfg.lua" <<CFG
-- Loopback-only test config for Prosody 0.12 (no TLS, no HTTP; s2s only with XMPP_S2S_IP)
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
s2s_ports = { $s2s_ports }
component_ports = { $comp }
component_interfaces = { "127.0.0.1" }
http_ports = { }
https_ports = { }
-- The gateway component may create nodes (mod_pubsub gives admins owner rights).
admins = { "admin@$domain", "gw.$domain" }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "pep"; "posix"; "dialback"; }
modules_disabled = { ${s2s_module}"offline"; }
$resolver
authentication = "internal_hashed"
$storage
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = false

VirtualHost "$domain"

-- Keep every item of a node (the gateway asks for pubsub#max_items = max, which Prosody caps at
-- this; its default, 256, would drop the oldest pages of a larger namespace).
Component "pubsub.$domain" "pubsub"
  pubsub_max_items = ${XMPP_PUBSUB_MAX_ITEMS:-10000}

-- A second pubsub service: the gateway's remote subscriptions (nodes of other services).
Component "pubsub2.$domain" "pubsub"
  pubsub_max_items = ${XMPP_PUBSUB_MAX_ITEMS:-10000}

Component "gw.$domain"
  component_secret = "gwsecret"
CFG
  prosody --config "$dir/prosody.cfg.lua" -F > "$dir/stdout.log" 2>&1 &
  echo $! > "$dir/launcher.pid"
  xmpp_wait_port 127.0.0.1 "$c2s" 20 && xmpp_wait_port 127.0.0.1 "$comp" 20 || return 1
  cat "$dir/launcher.pid"
}

prosody_adduser() { # DIR USER PASSWORD
  prosodyctl --config "$1/prosody.cfg.lua" register "$2" "${XMPP_DOMAIN:-localhost}" "$3" >/dev/null 2>&1
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
  local domain=${XMPP_DOMAIN:-localhost} s2s='' ip rest names
  mkdir -p "$dir/db" "$dir/logs"
  if [ -n "${XMPP_S2S_IP:-}" ]; then
    # ejabberd's s2s asks DNS only (inet_res), so the test's DNS server is the nameserver.
    {
      echo '{lookup,["file","dns"]}.'
      echo '{host,{127,0,0,1},["localhost"]}.'
      echo '{resolv_conf,""}.'
      printf '{nameserver,{%s},%s}.\n' "$(echo "${XMPP_DNS%:*}" | tr . ,)" "${XMPP_DNS##*:}"
      while read -r ip rest; do
        [ -n "$ip" ] || continue
        read -ra names <<< "$rest"
        printf '{host,{%s},[%s]}.\n' "${ip//./,}" "$(printf '"%s",' "${names[@]}" | sed 's/,$//')"
      done < "$XMPP_HOSTS"
    } > "$dir/inetrc"
    s2s="  -
    port: 5269
    ip: \"$XMPP_S2S_IP\"
    module: ejabberd_s2s_in
s2s_use_starttls: false
s2s_dns_timeout: 2
s2s_dns_retries: 1
s2s_max_retry_delay: 1"
  else
    cp /etc/ejabberd/inetrc "$dir/inetrc"
  fi
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
  - $domain
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
      gw.$domain:
        password: gwsecret
$s2s
auth_method: internal
auth_password_format: scram
acl:
  admin:
    user:
      - "admin@$domain"
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
  mod_s2s_dialback: {}
  mod_pubsub:
    hosts:
      - "pubsub.$domain"
      - "pubsub2.$domain"
    access_createnode: pubsub_createnode
    plugins:
      - "flat"
      - "pep"
    ignore_pep_from_offline: false
    last_item_cache: false
    # The cap on pubsub#max_items (the gateway asks for max): every page of a large namespace.
    max_items_node: ${XMPP_PUBSUB_MAX_ITEMS:-10000}
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
  _ejabberd_ctl "$1" register "$2" "${XMPP_DOMAIN:-localhost}" "$3" >/dev/null
}

ejabberd_stop() { # DIR
  local l b
  l=$(cat "$1/launcher.pid" 2>/dev/null) || return 0
  b=$(cat "$1/ejabberd.pid" 2>/dev/null || true)
  if [ -n "$b" ]; then kill -TERM "$b" 2>/dev/null || true; fi
  for _ in $(seq 1 200); do kill -0 "$l" 2>/dev/null || return 0; sleep 0.05; done
  if [ -n "$b" ]; then kill -KILL "$b" 2>/dev/null || true; fi
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
