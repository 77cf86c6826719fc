#!/usr/bin/env bash
# ops.package: the Debian package of the CI build's binaries (ops/package --build-dir), lintian with
# no error, its files and library dependencies, `systemd-analyze verify` of its unit; then, unpacked
# into a scratch root, joconde-node-setup makes a root node there and the unit's ExecStart runs it as
# the unit's user with the unit's privileges (no capabilities, no new privileges, its umask and
# working directory) until /healthz over HTTPS (the node's root CA) says ready; SIGTERM must stop it.
# systemd is not PID 1 on the CI machines, so the unit's sandbox itself is not exercised here.
# Everything it makes is removed at the end: files, processes and, if it had to make it, the user.
# Usage: tests/ops/package_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail

src=${1:?usage: package_test.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: package_test.sh SOURCE_DIR BUILD_DIR}
instance=pkgtest
start=$SECONDS

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() {
  echo "== $* ($((SECONDS - start)) s)"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/joconde-package-test.XXXXXX")
node_pid=
made_user=
cleanup() {
  local status=$?
  if [[ -n $node_pid ]] && kill -0 "$node_pid" 2>/dev/null; then
    kill -KILL "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  if [[ -n $made_user ]]; then
    userdel "$made_user" 2>/dev/null || true
    if getent group "$made_user" >/dev/null; then
      groupdel "$made_user" 2>/dev/null || true
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- the package ------------------------------------------------------------------------------------
for tool in dh dpkg-buildpackage lintian systemd-analyze setpriv curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { "$src/ops/install-deps"; break; }
done
step "ops/package --build-dir $build"
# xz at level 1 (dpkg-deb's default is 6): the same package, compressed in a quarter of the time.
DPKG_DEB_COMPRESSOR_LEVEL=1 \
  "$src/ops/package" --build-dir "$build" --out "$tmp/out" --no-dbgsym --no-lintian >"$tmp/package.log" 2>&1 \
  || { cat "$tmp/package.log"; fail "ops/package failed"; }
debs=("$tmp"/out/joconde_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "ops/package wrote no joconde_*.deb to $tmp/out"
deb=${debs[0]}
version=$(sed -n 's/^project(joconde VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ $(basename "$deb") == "joconde_${version}-1_$(dpkg --print-architecture).deb" ]] \
  || fail "unexpected package name $(basename "$deb") (version $version-1)"
echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"

step "lintian"
lint_status=0
lint=$(lintian --fail-on error "$deb" 2>&1) || lint_status=$?
grep -v 'running with root privileges' <<<"$lint" || true
[[ $lint_status -eq 0 ]] || fail "lintian reports errors (exit status $lint_status)"

step "contents"
root=$tmp/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$tmp/control"
for f in usr/bin/joconde usr/lib/joconde/joconde-node usr/lib/joconde/joconde-sp usr/lib/joconde/joconde-vm \
         usr/sbin/joconde-node-setup; do
  [[ -f $root/$f && -x $root/$f ]] || fail "$f is not an executable in the package"
done
# joconde-node finds joconde-sp and joconde-vm next to its real path (/proc/self/exe).
[[ $(readlink -f "$root/usr/bin/joconde-node") == "$root/usr/lib/joconde/joconde-node" ]] \
  || fail "usr/bin/joconde-node does not lead to usr/lib/joconde/joconde-node"
for f in lib/systemd/system/joconde-node@.service etc/logrotate.d/joconde usr/share/man/man1/joconde-node.1.gz \
         usr/share/man/man8/joconde-node-setup.8.gz usr/share/doc/joconde/examples/member-node.ini \
         usr/share/doc/joconde/operations.md.gz; do
  [[ -f $root/$f ]] || fail "$f is not in the package"
done
for s in postinst prerm postrm; do
  sh -n "$tmp/control/$s" || fail "$s is not a valid shell script"
done
depends=$(dpkg-deb -f "$deb" Depends)
for lib in adduser libcaf-core libcaf-openssl libprotobuf liblmdb libssl libcurl4 libprometheus-cpp-core; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
"$root/usr/bin/joconde" --help >/dev/null || fail "joconde --help failed"
echo "layout and Depends ok"

step "systemd-analyze verify"
unit=$root/lib/systemd/system/joconde-node@.service
# The unit as installed, its program where the scratch root has it: verify checks that ExecStart's
# program exists and that the Documentation= man pages open. Any message fails (an unknown or
# malformed setting is only a warning there).
mkdir "$tmp/units"
sed "s#^ExecStart=/#ExecStart=$root/#" "$unit" >"$tmp/units/joconde-node@$instance.service"
verify=$(cd "$tmp/units" && MANPATH=$root/usr/share/man systemd-analyze verify "joconde-node@$instance.service" 2>&1) \
  || fail "systemd-analyze verify: $verify"
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
echo "no message"

# -- the node, as the unit runs it -------------------------------------------------------------------
setting() { # the last value of a [Service] setting of the unit, %i replaced
  sed -n "s/^$1=//p" "$unit" | tail -n 1 | sed "s/%i/$instance/g"
}
user=$(setting User)
group=$(setting Group)
[[ -n $user && -n $group ]] || fail "the unit names no User= and Group="
if [[ $(id -u) -ne 0 ]]; then
  echo "not root: the node runs as $(id -un), not as the unit's user $user"
  user=$(id -un)
  group=$(id -gn)
elif ! getent passwd "$user" >/dev/null; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "joconde package test (temporary)" "$user"
  made_user=$user
elif [[ $(getent passwd "$user" | cut -d: -f5) == "joconde package test (temporary)" ]]; then
  made_user=$user # left by an interrupted run
fi
[[ $(id -gn "$user") == "$group" ]] || fail "the unit's Group=$group is not $user's group"

chmod 0755 "$tmp"
ports=$(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
read -r link_port http_port metrics_port <<<"$ports"

step "joconde-node-setup $instance (root node, 127.0.0.1:$http_port)"
"$root/usr/sbin/joconde-node-setup" --config-dir "$root/etc/joconde" --state-dir "$root/var/lib/joconde" \
  --log-dir "$root/var/log/joconde" --user "$user" --node "$root/usr/bin/joconde-node" "$instance" --root \
  --domain joconde.test --org "Package Test" --email ops@joconde.test --listen "127.0.0.1:$link_port" \
  --http "127.0.0.1:$http_port" --metrics "127.0.0.1:$metrics_port" >"$tmp/setup.log" 2>&1 \
  || { cat "$tmp/setup.log"; fail "joconde-node-setup failed"; }
state=$root/var/lib/joconde/$instance
ini=$root/etc/joconde/$instance.ini
[[ -f $ini && $(stat -c '%U:%G %a' "$ini") == "$([[ $(id -u) -eq 0 ]] && echo root || id -un):$group 640" ]] \
  || fail "$ini: $(stat -c '%U:%G %a' "$ini" 2>&1)"
[[ $(readlink "$state/joconde.ini") == "$ini" ]] || fail "$state/joconde.ini does not link to $ini"
[[ $(stat -c '%U %a' "$state") == "$user 700" ]] || fail "$state: $(stat -c '%U %a' "$state")"
[[ $(stat -c %U "$state/node.key") == "$user" ]] || fail "node.key is not $user's"
grep -qx "data-dir = $state" "$ini" || fail "$ini does not name its data directory $state"

exec_start=$(setting ExecStart)
[[ $exec_start == "/usr/bin/joconde-node run --config /etc/joconde/$instance.ini" ]] \
  || echo "note: ExecStart is now: $exec_start"
read -ra command <<<"$exec_start"
for i in "${!command[@]}"; do
  [[ ${command[i]} == /* ]] && command[i]=$root${command[i]}
done
workdir=$root$(setting WorkingDirectory)
umask_value=$(setting UMask)
nofile=$(setting LimitNOFILE)
step "ExecStart as $user: ${command[*]}"
privileges=()
if [[ $(id -u) -eq 0 ]]; then
  # User=, Group=, CapabilityBoundingSet= (empty), AmbientCapabilities= (empty), NoNewPrivileges=yes.
  privileges=(setpriv --reuid="$user" --regid="$group" --init-groups --bounding-set=-all --inh-caps=-all
              --no-new-privs --)
fi
(
  cd "$workdir"
  umask "$umask_value"
  ulimit -n "$nofile" 2>/dev/null || true
  exec env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 USER="$user" LOGNAME="$user" \
    "${privileges[@]}" "${command[@]}"
) >"$tmp/node.out" 2>&1 &
node_pid=$!

health=
for _ in $(seq 1 120); do
  kill -0 "$node_pid" 2>/dev/null || { cat "$tmp/node.out"; fail "the node exited before it was healthy"; }
  health=$(curl -sS --max-time 2 --cacert "$state/root-ca.pem" "https://127.0.0.1:$http_port/healthz" 2>/dev/null) \
    && break
  health=
  sleep 0.5
done
[[ -n $health ]] || { cat "$tmp/node.out"; fail "no answer from https://127.0.0.1:$http_port/healthz"; }
echo "/healthz: $health"
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(0 if d.get("ready") is True and d.get("status") == "ok" and d.get("node") == sys.argv[2] else 1)' \
  "$health" "$instance" || fail "the node is not healthy"
[[ $(ps -o user= -p "$node_pid" | tr -d ' ') == "$user" ]] || fail "the node does not run as $user"
[[ -s $root/var/log/joconde/$instance.log ]] || fail "no log in var/log/joconde/$instance.log"
[[ -f $state/http-chain.pem ]] || fail "the node wrote nothing to its data directory $state"

timeout=$(setting TimeoutStopSec)
step "SIGTERM (TimeoutStopSec=$timeout)"
kill -TERM "$node_pid"
for _ in $(seq 1 $((${timeout%s} * 10))); do
  kill -0 "$node_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$node_pid" 2>/dev/null && fail "the node did not stop within TimeoutStopSec=$timeout"
status=0
wait "$node_pid" || status=$?
node_pid=
[[ $status -eq 0 ]] || { cat "$tmp/node.out"; fail "the node exited with status $status on SIGTERM"; }
step "ok"
