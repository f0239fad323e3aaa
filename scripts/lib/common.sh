# Shared helpers for the project's scripts. Source it; it defines functions only.

# Prints a sentence on stderr and exits non-zero.
die() {
  echo "error: $*" >&2
  exit 1
}

# Prints a script's header comment (its usage text), without the leading "# ".
print_usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"
}

# Prints a visible step header.
step() {
  printf '\n==> %s\n' "$*"
}

# Makes sure cargo is on PATH (rustup installs it under ~/.cargo/bin).
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup first (https://rustup.rs)"
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
}

# apt-get update once per run, retried because another apt may hold the lock.
_apt_updated=0
apt_update_once() {
  [ "$_apt_updated" = 1 ] && return 0
  local i
  for i in 1 2 3 4 5; do
    if apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1; then _apt_updated=1; return 0; fi
    sleep 5
  done
  die "apt-get update failed five times"
}

# Installs Debian packages that are missing, waiting up to 10 minutes for another apt run to
# release its lock. Usage: ensure_packages pkg...
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: run as root or install them with apt-get"
  apt_update_once
  echo "installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# Makes sure commands exist, installing the Debian package of the same name when missing.
ensure_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || ensure_packages "$t"
  done
}

# Sums the "test result:" lines of a cargo test log into one closing line.
summarize_cargo_tests() {
  awk '/^test result:/ {
         for (i = 1; i <= NF; i++) {
           if ($(i+1) ~ /^passed/) p += $i;
           if ($(i+1) ~ /^failed/) f += $i;
           if ($(i+1) ~ /^ignored/) s += $i;
         }
       }
       END {
         printf "\nrust: %d passed, %d failed\n", p, f
         if (s > 0) printf "(%d #[ignore]d: the XMPP suites, which need a server; scripts/test-xmpp runs them)\n", s
       }' "$1"
}

# What building the PHP extension (bindings-php, part of the workspace) needs: php-config and
# the PHP 8.2 headers for ext-php-rs, libclang + clang for its bindgen; php8.2-xml/mbstring
# and phpunit to run its tests.
ensure_php_build_deps() {
  ensure_packages php8.2-cli php8.2-dev php8.2-xml php8.2-mbstring libclang-dev clang phpunit
}
