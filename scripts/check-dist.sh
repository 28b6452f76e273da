#!/usr/bin/env bash
# Checks what scripts/dist.sh produced in dist/:
#  - the binary (from the .deb, and the same one in the tarball): dynamic dependencies only
#    glibc's libraries, no glibc symbol version above 2.28, `--version` names the commit and
#    librdkafka;
#  - the .deb: its files, the three conffiles, the maintainer scripts;
#  - the units pass `systemd-analyze verify` (any warning fails) in a root holding the package;
#  - the packaged configs: `agent test config` on metricbeat.yml + modules.d with the agent
#    unit's own flags, and streams.toml through `streams --dry-run`.
#
#  - with --install, the package as an operator gets it: `dpkg -i` (dependencies, maintainer
#    scripts, the system user), the installed binary's `--version`, `agent test config` on
#    /etc/metricpipe/metricbeat.yml with the unit's own command line, streams' `--dry-run` on
#    /etc/metricpipe/streams.toml as the unit's user, the installed units verified, nothing
#    started or enabled, then `dpkg --purge`.
#
#   scripts/check-dist.sh                 everything but the install
#   scripts/check-dist.sh --install       everything, installing the package on this machine
#                                         (root only; CI's machines are throwaway)
#   scripts/check-dist.sh --no-portable   all but the dependency and glibc-floor checks, for a
#                                         package made from a dev build (dist.sh --bin)
set -euo pipefail
portable=1
install=0
for arg in "$@"; do
  case "$arg" in
    --no-portable) portable=0 ;;
    --install) install=1 ;;
    *) echo "unknown argument $arg; usage: scripts/check-dist.sh [--no-portable] [--install]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
MAX_GLIBC=2.28
# What the binary may link dynamically: glibc's own libraries (package libc6, the .deb's only
# library dependency). Not libgcc_s: the zig-linked binary does without it, and needing it
# would need the package to depend on libgcc-s1 too. OpenSSL, zlib, zstd and
# lz4 are static with the `dist` feature.
ALLOWED_NEEDED='^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|ld-linux-x86-64\.so\.2)$'

fail() { echo "check-dist: FAIL: $*" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
deb=dist/metricpipe_${version}_amd64.deb
tarball=dist/metricpipe-$version-x86_64-linux.tar.gz
[ -f "$deb" ] || fail "no $deb: run scripts/dist.sh first"
[ -f "$tarball" ] || fail "no $tarball: run scripts/dist.sh first"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$work/DEBIAN"
bin=$root/usr/bin/metricpipe

echo "== binary: $(du -h "$bin" | cut -f1) ($(stat -c %s "$bin") bytes), dynamic deps and glibc floor"
if [ "$portable" = 1 ]; then
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $(echo $needed)"
for lib in $needed; do
  echo "$lib" | grep -Eq "$ALLOWED_NEEDED" || fail "links $lib dynamically; only glibc's libraries are allowed"
done
floor=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
echo "highest glibc symbol version: $floor (allowed: $MAX_GLIBC)"
[ "$(printf '%s\n%s\n' "$floor" "$MAX_GLIBC" | sort -V | tail -1)" = "$MAX_GLIBC" ] ||
  fail "needs glibc $floor, above $MAX_GLIBC"
else
  echo "SKIP dynamic dependencies and glibc floor (--no-portable)"
fi
"$bin" --version | tee "$work/version"
# A source tree without git (a tarball, `git archive`) builds a binary whose commit is
# `unknown` by design (build.rs); only a git checkout must name it.
if git -C "$(dirname "$0")/.." rev-parse -q --verify HEAD >/dev/null 2>&1; then
  grep -q '^commit: [0-9a-f]\{7,\}' "$work/version" || fail "--version names no git commit"
else
  echo "SKIP commit in --version: not a git checkout"
fi
grep -q '^librdkafka: [0-9]' "$work/version" || fail "--version names no librdkafka version"

echo "== tarball"
tar -xzf "$tarball" -C "$work"
t=$work/metricpipe-$version-x86_64-linux
cmp "$t/metricpipe" "$bin" || fail "the tarball's binary differs from the package's"
for f in config/metricbeat.yml config/modules.d/system.yml config/streams.toml \
  systemd/metricpipe-agent.service systemd/metricpipe-streams.service deploy/Dockerfile; do
  [ -f "$t/$f" ] || fail "the tarball has no $f"
done

echo "== package"
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\|Installed-Size\):/&/p'
for f in /etc/metricpipe/metricbeat.yml /etc/metricpipe/modules.d/system.yml /etc/metricpipe/streams.toml; do
  grep -qx "$f" "$work/DEBIAN/conffiles" || fail "$f is not a conffile"
  [ -f "$root$f" ] || fail "the package has no $f"
done
for f in lib/systemd/system/metricpipe-agent.service lib/systemd/system/metricpipe-streams.service; do
  [ -f "$root/$f" ] || fail "the package has no /$f"
done
if "$bin" completions bash >/dev/null 2>&1; then
  for f in usr/share/bash-completion/completions/metricpipe usr/share/zsh/vendor-completions/_metricpipe \
    usr/share/fish/vendor_completions.d/metricpipe.fish usr/share/man/man1/metricpipe.1.gz; do
    [ -s "$root/$f" ] || fail "the package has no /$f"
  done
  zcat "$root/usr/share/man/man1/metricpipe.1.gz" | grep -q '^\.TH' || fail "the man page is not roff"
fi
for s in postinst prerm postrm; do sh -n "$work/DEBIAN/$s" || fail "$s is not valid sh"; done
grep -v '^[[:space:]]*#' "$work/DEBIAN/postinst" | grep -Eq 'systemctl (enable|start)' && fail "postinst starts or enables a service before it is configured"

echo "== systemd-analyze verify"
# The host's units (targets the services refer to) beside the package's, in one root.
mkdir -p "$work/sysroot/lib/systemd"
cp -a /lib/systemd/system "$work/sysroot/lib/systemd/"
cp -a "$root/." "$work/sysroot/"
out=$(systemd-analyze verify --man=no --root="$work/sysroot" metricpipe-agent.service metricpipe-streams.service 2>&1) ||
  fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
echo "units OK"

# The agent unit's flags: ExecStart's own, then its Environment= variables, with the sed
# expression $2 applied to paths (moving them into an unpacked package).
agent_unit_flags() {
  local unit=$1 rewrite=$2 var exec_flags
  exec_flags=$(sed -n 's/^ExecStart=\/usr\/bin\/metricpipe agent \(.*\) \$BEAT_LOG_OPTS.*/\1/p' "$unit")
  printf '%s' "$exec_flags"
  for var in BEAT_LOG_OPTS BEAT_CONFIG_OPTS BEAT_PATH_OPTS; do
    printf ' %s' "$(sed -n "s/^Environment=\"$var=\(.*\)\"$/\1/p" "$unit" | sed "$rewrite")"
  done
}

echo "== the packaged configs"
flags=$(agent_unit_flags "$root/lib/systemd/system/metricpipe-agent.service" \
  "s#/etc/metricpipe#$root/etc/metricpipe#g; s#/var/lib/#$work/var/lib/#g; s#/var/log/#$work/var/log/#g; s#/usr/share/#$root/usr/share/#g")
if "$bin" agent test config --help >/dev/null 2>&1; then
  # shellcheck disable=SC2086 # the unit's variables are word-split by systemd too
  "$bin" agent test config $flags || fail "agent test config failed on the packaged config with the unit's flags"
else
  # TODO(#16): `agent test config`, `--environment` and modules.d are the agent engineer's;
  # until they land, a one-shot run on the packaged module settings, inline.
  echo "SKIP agent test config: this binary has no 'agent test config' (issue #16); a --once run instead"
  { echo "metricbeat.modules:"; cat "$root/etc/metricpipe/modules.d/system.yml"; } >"$work/once.yml"
  "$bin" agent -c "$work/once.yml" --path.data "$work/data" --once \
    -E output.console.enabled=true >"$work/once.out" 2>"$work/once.err" ||
    fail "agent --once on the packaged module settings: $(cat "$work/once.err")"
  grep -q '"metricset":{"name":"cpu"' "$work/once.out" || grep -q '"name":"cpu"' "$work/once.out" ||
    fail "agent --once printed no cpu event: $(head -c 500 "$work/once.out")"
fi
"$bin" streams --config "$root/etc/metricpipe/streams.toml" --dry-run </dev/null ||
  fail "streams does not accept the packaged streams.toml"
[ "$install" = 1 ] || { echo "check-dist: OK"; exit 0; }

echo "== dpkg -i (this machine gets the package and a system user until the check ends)"
[ "$(id -u)" = 0 ] || fail "--install needs root"
# Never replace or remove an operator's own install.
! dpkg-query -W -f '${Status}\n' metricpipe 2>/dev/null | grep -q ' installed$' ||
  fail "metricpipe is already installed on this machine; --install only runs where it is not"
had_user=0
getent passwd metricpipe >/dev/null && had_user=1
uninstall() {
  dpkg --purge metricpipe >/dev/null 2>&1 || true
  # Debian's convention leaves a package's system user behind; the check removes its own.
  [ "$had_user" = 1 ] || userdel metricpipe >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap uninstall EXIT
dpkg -i "$deb" || fail "dpkg -i $deb failed"
getent passwd metricpipe >/dev/null || fail "postinst created no metricpipe user"
/usr/bin/metricpipe --version | tee "$work/installed-version"
cmp -s "$work/version" "$work/installed-version" || fail "the installed binary's --version differs from the package's"
flags=$(agent_unit_flags /lib/systemd/system/metricpipe-agent.service "")
echo "+ /usr/bin/metricpipe agent test config $flags"
# shellcheck disable=SC2086 # word-split as systemd splits the unit's variables
/usr/bin/metricpipe agent test config $flags ||
  fail "the installed agent's test config failed on /etc/metricpipe/metricbeat.yml with the unit's flags"
# streams' unit runs as the metricpipe user: the config must be readable by it.
runuser -u metricpipe -- /usr/bin/metricpipe streams --config /etc/metricpipe/streams.toml --dry-run </dev/null ||
  fail "streams as the metricpipe user does not accept /etc/metricpipe/streams.toml"
out=$(systemd-analyze verify --man=no metricpipe-agent.service metricpipe-streams.service 2>&1) ||
  fail "systemd-analyze verify on the installed units: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned on the installed units: $out"
echo "installed units OK"
# Nothing started: no process runs the installed binary; nothing enabled: no unit is wanted.
for p in /proc/[0-9]*; do
  [ "$(readlink "$p/exe" 2>/dev/null)" = /usr/bin/metricpipe ] && fail "pid ${p#/proc/} runs /usr/bin/metricpipe after the install"
done
enabled=$(find /etc/systemd/system -name 'metricpipe-*' 2>/dev/null)
[ -z "$enabled" ] || fail "the install enabled a unit: $enabled"
if [ -d /run/systemd/system ]; then
  for u in metricpipe-agent metricpipe-streams; do
    ! systemctl -q is-active "$u" || fail "$u is running after the install"
  done
fi
echo "nothing started or enabled"
dpkg --purge metricpipe >/dev/null || fail "dpkg --purge metricpipe failed"
for f in /usr/bin/metricpipe /etc/metricpipe /lib/systemd/system/metricpipe-agent.service; do
  [ ! -e "$f" ] || fail "$f is left after dpkg --purge"
done
echo "purged"
echo "check-dist: OK"
