#!/bin/bash
# Abstract Unix sockets against a build (issue 12, docs/sandbox.md "Abstract Unix sockets"):
# a build shares the host's network namespace, hence its abstract Unix socket namespace.
# Where the kernel's Landlock can scope them (ABI 6, Linux 6.12; this machine's kernel, not
# Debian 12's 6.1), left4me-build-exec does, and a build cannot connect to a host process
# listening on an abstract name; where it cannot, the build says so in its output and does
# reach it (documented, not a wall), and the listener sees the build's leased uid.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$(dirname "$0")/build-lib.sh"

need_cli
need_daemon host
cleanup() {
        ct systemctl stop abstract-listener.service >/dev/null 2>&1
        ct rm -f /tmp/abstract.log
        ct l4d2ctl overlay delete abs >/dev/null 2>&1
}
trap cleanup EXIT

ct systemd-run --quiet --unit=abstract-listener -p User=nobody -p PrivateTmp=no /usr/bin/python3 -c '
import socket, struct
s = socket.socket(socket.AF_UNIX); s.bind("\0left4me-test-abstract"); s.listen(4)
while True:
    c, _ = s.accept()
    pid, uid, gid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    with open("/tmp/abstract.log", "a") as f:
        f.write("peer uid %d\n" % uid)
    c.close()
' || fail "listener"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a grep -q '@left4me-test-abstract' /proc/net/unix" || fail "no listener"

# The kernel is the container's too: ask it for its Landlock ABI.
abi=$(/usr/bin/python3 -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))')
echo "Landlock ABI of this kernel: $abi"
put_script abs 'python3 -c "
import socket
s = socket.socket(socket.AF_UNIX); s.connect(\"\\0left4me-test-abstract\"); print(\"connected to the abstract socket\")
" 2>&1 | tail -n 1
# Its own abstract sockets still work (tools talk to themselves).
python3 -c "
import socket
a = socket.socket(socket.AF_UNIX); a.bind(\"\\0left4me-build-own\"); a.listen(1)
b = socket.socket(socket.AF_UNIX); b.connect(\"\\0left4me-build-own\"); print(\"own abstract socket: ok\")
"
echo "uid $(id -u)"'
run_build abs abs
[ "$RC" = 0 ] || fail "the build failed"
assert_contains "$OUT" "own abstract socket: ok" "a build's own abstract socket"
if [ "$abi" -ge 6 ] 2>/dev/null; then
        assert_contains "$OUT" "PermissionError" "a build connecting to the host's abstract socket (Landlock ABI $abi)"
        case $OUT in *"connected to the abstract socket"*) fail "the build reached the host's abstract socket" ;; esac
        ct test ! -s /tmp/abstract.log || fail "the listener saw a connection: $(ct cat /tmp/abstract.log)"
        ok "Landlock scope: the host's abstract socket refused the build"
        summary "build-abstract: Landlock ABI $abi: a build cannot reach the host's abstract Unix sockets"
else
        uid=$(echo "$OUT" | sed -n 's/^uid \([0-9][0-9]*\)$/\1/p' | head -n 1)
        assert_contains "$OUT" "abstract Unix sockets of the host stay reachable" "the build's note on an older kernel"
        assert_contains "$OUT" "connected to the abstract socket" "a build reaches a host's abstract Unix socket (documented)"
        wait_for 5 ct grep -q "peer uid" /tmp/abstract.log || fail "the listener saw nothing"
        assert_contains "$(ct cat /tmp/abstract.log)" "peer uid ${uid:-?}" "the listener sees the build's own uid"
        summary "build-abstract: Landlock ABI $abi: a build reaches the host's abstract Unix sockets (known, docs/sandbox.md)"
fi
exit 0
