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
#   scripts/check-dist.sh                 everything
#   scripts/check-dist.sh --no-portable   all but the dependency and glibc-floor checks, for a
#                                         package made from a dev build (dist.sh --bin)
set -euo pipefail
portable=1
[ "${1:-}" = --no-portable ] && portable=0
cd "$(dirname "$0")/.."
MAX_GLIBC=2.28
# What the binary may link dynamically: glibc's own libraries and libgcc_s (Rust's unwinder;
# essential on every glibc distribution). OpenSSL, zlib, zstd and lz4 are static with the
# `dist` feature.
ALLOWED_NEEDED='^(libgcc_s\.so\.1|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|ld-linux-x86-64\.so\.2)$'

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

echo "== the packaged configs"
# The agent unit's flags, paths moved into the unpacked package.
unit=$root/lib/systemd/system/metricpipe-agent.service
envval() { sed -n "s/^Environment=\"$1=\(.*\)\"$/\1/p" "$unit" | sed "s#/etc/metricpipe#$root/etc/metricpipe#g; s#/var/lib/#$work/var/lib/#g; s#/var/log/#$work/var/log/#g; s#/usr/share/#$root/usr/share/#g"; }
flags="$(envval BEAT_LOG_OPTS) $(envval BEAT_CONFIG_OPTS) $(envval BEAT_PATH_OPTS)"
exec_flags=$(sed -n 's/^ExecStart=\/usr\/bin\/metricpipe agent \(.*\) \$BEAT_LOG_OPTS.*/\1/p' "$unit")
if "$bin" agent test config --help >/dev/null 2>&1; then
  # shellcheck disable=SC2086 # the unit's variables are word-split by systemd too
  "$bin" agent test config $exec_flags $flags || fail "agent test config failed on the packaged config with the unit's flags"
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
echo "check-dist: OK"
