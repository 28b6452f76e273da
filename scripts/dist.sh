#!/usr/bin/env bash
# Release artefacts into dist/:
#   dist/metricpipe-<version>-x86_64-linux.tar.gz  the portable binary, configs, units, deploy/
#   dist/metricpipe_<version>_amd64.deb             /usr/bin/metricpipe, the two units, conffiles
#
#   scripts/dist.sh                build the release binary (feature `dist`: OpenSSL and zlib
#                                  static) for glibc 2.28 with cargo-zigbuild, then package it
#   scripts/dist.sh --profile NAME the same build in another Cargo profile: CI uses
#                                  `ci-portable` (the same target, features, C libraries and
#                                  linker, unoptimised), whose artefacts are for checks only
#   scripts/dist.sh --bin FILE     package an already built binary (no build)
#
# cargo-zigbuild and zig come from PyPI (pinned below) into ~/.cache/metricpipe/zig-venv
# unless `cargo zigbuild` already works. scripts/check-dist.sh checks what this produces.
set -euo pipefail
cd "$(dirname "$0")/.."
ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
GLIBC=2.28
TARGET=x86_64-unknown-linux-gnu

bin=
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    *) echo "unknown argument $1; usage: scripts/dist.sh [--profile NAME | --bin FILE]" >&2; exit 2 ;;
  esac
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || { echo "no version in Cargo.toml's [workspace.package]" >&2; exit 1; }

if [ -z "$bin" ]; then
  if ! cargo zigbuild --help >/dev/null 2>&1; then
    venv=${XDG_CACHE_HOME:-$HOME/.cache}/metricpipe/zig-venv
    if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
      python3 -m venv "$venv"
      "$venv/bin/pip" install -q "cargo-zigbuild==$ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION"
    fi
    # cargo-zigbuild finds zig through `python3 -m ziglang` of the venv's python.
    export PATH="$venv/bin:$PATH"
  fi
  rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"
  # The git commit for --version: the build may run where .git is absent (a source tarball).
  METRICPIPE_COMMIT=${METRICPIPE_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)} \
    cargo zigbuild --profile "$profile" --locked -p metricpipe --features dist --target "$TARGET.$GLIBC"
  # Cargo's output directory for a profile: `dev` builds into debug/, the others by name.
  [ "$profile" = dev ] && dir=debug || dir=$profile
  bin=${CARGO_TARGET_DIR:-target}/$TARGET/$dir/metricpipe
fi
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }

mkdir -p dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Shell completions and the man page, when the binary has the subcommands for them.
extras=$work/extras
mkdir -p "$extras"
for shell in bash zsh fish; do
  "$bin" completions "$shell" >"$extras/metricpipe.$shell" 2>/dev/null || rm -f "$extras/metricpipe.$shell"
done
"$bin" man >"$extras/metricpipe.1" 2>/dev/null && gzip -9n "$extras/metricpipe.1" || rm -f "$extras/metricpipe.1"

# The tarball.
name=metricpipe-$version-x86_64-linux
t=$work/$name
mkdir -p "$t/config/modules.d" "$t/systemd"
install -m 0755 "$bin" "$t/metricpipe"
strip "$t/metricpipe" 2>/dev/null || true
install -m 0644 README.md "$t/"
install -m 0644 packaging/config/metricbeat.yml packaging/config/streams.toml "$t/config/"
install -m 0644 packaging/config/modules.d/system.yml "$t/config/modules.d/"
install -m 0644 packaging/deb/*.service "$t/systemd/"
cp -r deploy "$t/deploy"
cp "$extras"/* "$t/" 2>/dev/null || true
tar -C "$work" --owner=0 --group=0 --sort=name -czf "dist/$name.tar.gz" "$name"

# The Debian package, with dpkg-deb (cargo-deb would add a crate build to every CI run).
r=$work/deb
install -D -m 0755 "$t/metricpipe" "$r/usr/bin/metricpipe"
install -D -m 0644 packaging/deb/metricpipe-agent.service "$r/lib/systemd/system/metricpipe-agent.service"
install -D -m 0644 packaging/deb/metricpipe-streams.service "$r/lib/systemd/system/metricpipe-streams.service"
install -D -m 0644 packaging/config/metricbeat.yml "$r/etc/metricpipe/metricbeat.yml"
install -D -m 0644 packaging/config/modules.d/system.yml "$r/etc/metricpipe/modules.d/system.yml"
install -D -m 0644 packaging/config/streams.toml "$r/etc/metricpipe/streams.toml"
install -d "$r/usr/share/metricpipe"
install -D -m 0644 README.md "$r/usr/share/doc/metricpipe/README.md"
[ -f "$extras/metricpipe.bash" ] && install -D -m 0644 "$extras/metricpipe.bash" "$r/usr/share/bash-completion/completions/metricpipe"
[ -f "$extras/metricpipe.zsh" ] && install -D -m 0644 "$extras/metricpipe.zsh" "$r/usr/share/zsh/vendor-completions/_metricpipe"
[ -f "$extras/metricpipe.fish" ] && install -D -m 0644 "$extras/metricpipe.fish" "$r/usr/share/fish/vendor_completions.d/metricpipe.fish"
[ -f "$extras/metricpipe.1.gz" ] && install -D -m 0644 "$extras/metricpipe.1.gz" "$r/usr/share/man/man1/metricpipe.1.gz"
install -d "$r/DEBIAN"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$r/DEBIAN/"
(cd "$r" && find etc -type f | sed 's|^|/|' | sort) >"$r/DEBIAN/conffiles"
size_kb=$(du -sk --exclude=DEBIAN "$r" | cut -f1)
cat >"$r/DEBIAN/control" <<CONTROL
Package: metricpipe
Version: $version
Architecture: amd64
Maintainer: metricpipe developers <metricpipe@localhost>
Installed-Size: $size_kb
Depends: libc6 (>= $GLIBC), adduser
Section: admin
Priority: optional
Description: server-metrics pipeline over Apache Kafka
 metricpipe agent collects cpu and memory metrics like Metricbeat's system module
 and ships Metricbeat-compatible JSON to Kafka; metricpipe streams routes them to
 per-metricset topics and raises cpu alerts, like the Kafka Streams app it replaces.
 Neither service starts until configured and enabled.
CONTROL
dpkg-deb --root-owner-group -Zxz --build "$r" "dist/metricpipe_${version}_amd64.deb" >/dev/null
ls -l "dist/$name.tar.gz" "dist/metricpipe_${version}_amd64.deb"
