# Helpers for independent DokuWiki instances served by `php -S`, built from Debian 12's
# `dokuwiki` package. Source it (after common.sh); it defines functions only.
#
#   dw_ensure_packages                 install DokuWiki + PHP 8.2 (CLI and CGI, no apache2)
#   dw_create DIR URL PASS [TITLE]     a self-contained instance (code copy, own conf/ and data/)
#   dw_install_plugin DIR SRC          copy the wikisync plugin into it (lib/plugins/wikisync)
#   dw_serve DIR PORT [php args...]    start `php -S` in its own process group
#   dw_stop DIR                        stop that process group (master and workers)
#   dw_cli DIR [args...]               run the instance's bin/plugin.php (the plugin's cli.php)
#
# The system wiki under /var/lib/dokuwiki and /etc/dokuwiki is never touched.

DW_CODE=/usr/share/dokuwiki
DW_VAR=/var/lib/dokuwiki

dw_ensure_packages() {
  # php8.2-cgi in the same transaction keeps apt from pulling apache2 for the `php` dependency.
  ensure_packages php8.2-cli php8.2-cgi php8.2-xml php8.2-mbstring php8.2-curl dokuwiki
}

# dw_create DIR URL PASS [TITLE]: URL is the instance's base URL (http://127.0.0.1:PORT), written
# into its configuration so that command-line runs know their public address too.
dw_create() {
  local dir=$1 url=${2%/} pass=$3 title=${4:-$(basename "$1")}
  [ -e "$dir" ] && die "$dir exists"
  [ -d "$DW_CODE" ] || die "DokuWiki is not installed ($DW_CODE missing)"
  mkdir -p "$dir"
  cp -a "$DW_CODE/." "$dir/"
  # Debian's shared plugin and template folders become private copies.
  rm -f "$dir/lib/plugins" "$dir/lib/tpl" "$dir/.htaccess"
  cp -a "$DW_VAR/lib/plugins" "$dir/lib/plugins"
  cp -a "$DW_VAR/lib/tpl" "$dir/lib/tpl"
  # Debian's farm preload pins the configuration to /etc/dokuwiki: without it the upstream
  # defaults apply (conf/ inside the instance).
  rm -f "$dir/inc/preload.php"
  mkdir "$dir/conf"
  find /etc/dokuwiki -maxdepth 1 -type f ! -name local.php ! -name apache.conf ! -name lighttpd.conf \
    -exec cp {} "$dir/conf/" \;
  cp -a "$DW_VAR/data" "$dir/data"
  rm -rf "$dir/data/cache/"* "$dir/data/index/"* "$dir/data/meta/"* "$dir/data/attic/"* 2>/dev/null || true
  local hash
  hash=$(php -r 'echo password_hash($argv[1], PASSWORD_BCRYPT);' "$pass")
  cat >"$dir/conf/local.php" <<PHP
<?php
\$conf['title']       = '$title';
\$conf['savedir']     = '$dir/data';
\$conf['baseurl']     = '$url';
\$conf['basedir']     = '/';
\$conf['useacl']      = 1;
\$conf['authtype']    = 'authplain';
\$conf['superuser']   = '@admin';
\$conf['remote']      = 1;
\$conf['remoteuser']  = '@admin,@user';
\$conf['userewrite']  = 0;
\$conf['updatecheck'] = 0;
\$conf['dontlog']     = '';
PHP
  cat >"$dir/conf/users.auth.php" <<PHP
# login:passwordhash:Real Name:email:groups,comma,separated
admin:$hash:Wiki Admin:admin@example.invalid:admin,user
PHP
  cat >"$dir/conf/acl.auth.php" <<'PHP'
# <?php exit()?>
*	@ALL	1
*	@user	8
PHP
  # php -S ignores .htaccess: refuse what it would protect.
  cat >"$dir/router.php" <<'PHP'
<?php
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (preg_match('#^/(data|conf|bin|inc|vendor)(/|$)#', $path) || strpos($path, '/.ht') !== false) {
    http_response_code(403);
    echo "Forbidden\n";
    return true;
}
return false;
PHP
}

# dw_add_user DIR LOGIN PASS NAME GROUPS
dw_add_user() {
  local hash
  hash=$(php -r 'echo password_hash($argv[1], PASSWORD_BCRYPT);' "$3")
  echo "$2:$hash:$4:$2@example.invalid:$5" >>"$1/conf/users.auth.php"
}

dw_install_plugin() {
  rm -rf "$1/lib/plugins/wikisync"
  cp -a "$2" "$1/lib/plugins/wikisync"
}

# dw_serve DIR PORT [php args...]: prints nothing; the process group id is in DIR/server.pid.
dw_serve() {
  local dir=$1 port=$2 i
  shift 2
  # Several workers: a callback can arrive while a save of the same instance is publishing.
  PHP_CLI_SERVER_WORKERS=${PHP_CLI_SERVER_WORKERS:-4} setsid php "$@" -S "127.0.0.1:$port" -t "$dir" "$dir/router.php" \
    >"$dir/server.log" 2>&1 </dev/null &
  echo $! >"$dir/server.pid"
  for i in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/lib/exe/ajax.php" && return 0
    grep -q "Failed to listen" "$dir/server.log" 2>/dev/null && break
    sleep 0.1
  done
  cat "$dir/server.log" >&2
  die "php -S did not start on port $port"
}

dw_stop() {
  local dir=$1 pgid
  [ -f "$dir/server.pid" ] || return 0
  pgid=$(cat "$dir/server.pid")
  kill -TERM -- "-$pgid" 2>/dev/null || true
  sleep 0.2
  kill -KILL -- "-$pgid" 2>/dev/null || true
  rm -f "$dir/server.pid"
}

# dw_cli DIR [php args --] ARGS...: `php bin/plugin.php wikisync ARGS` in the instance.
dw_cli() {
  local dir=$1
  shift
  php ${WIKISYNC_PHP_ARGS:-} "$dir/bin/plugin.php" wikisync "$@"
}
