#!/bin/bash
# overlay.build doing its job, under a real systemd: a script writes files and directories
# under $OVERLAY, uses bash, coreutils, tar, gzip, unzip and curl, sees its own environment;
# the output arrives line by line while it runs; exit codes are reported; the result is
# world-readable; two builds of one overlay conflict; delete refuses while building; cancel
# (the caller leaving, or rpc.cancel) stops the unit; delete removes the dir.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$(dirname "$0")/build-lib.sh"

need_cli
need_daemon host
cleanup() {
        ct sh -c 'kill $(cat /tmp/build-bg.pid 2>/dev/null) 2>/dev/null'
        for id in pos perm stream slow; do ct l4d2ctl overlay delete $id >/dev/null 2>&1; done
}
trap cleanup EXIT

echo "--- writes files and directories, uses the tools, sees its environment"
put_script pos 'set -e
wd=$PWD
umask 077                                  # private files: publishing makes them o+r anyway
mkdir -p "$OVERLAY/left4dead2/cfg" "$OVERLAY/left4dead2/addons"
echo "sv_cheats 0" >"$OVERLAY/left4dead2/cfg/server.cfg"
printf "#!/bin/sh\necho tool\n" >"$OVERLAY/tool.sh" && chmod 700 "$OVERLAY/tool.sh"
cd /tmp && mkdir src && echo payload >src/a.txt
tar czf pack.tgz src && tar xzf pack.tgz -C "$OVERLAY/left4dead2/addons"
gzip -k src/a.txt && gunzip -c src/a.txt.gz >"$OVERLAY/gz.txt"
python3 -c "import zipfile; z=zipfile.ZipFile(\"p.zip\",\"w\"); z.writestr(\"z/inner.txt\",\"zipped\"); z.close()"
unzip -q p.zip -d "$OVERLAY"
for t in bash ls cp mv rm mkdir cat sed grep awk find sort sha256sum tar gzip unzip curl; do
        command -v $t >/dev/null || { echo "missing $t"; exit 1; }
done
curl --version | head -n 1
echo "env: OVERLAY=$OVERLAY PWD=$wd HOME=$HOME UID=$(id -u) USER=${USER:-} PATH=$PATH"
echo "script: $0"'
run_build pos pos
[ "$RC" = 0 ] || fail "positive build: exit $RC"
assert_contains "$OUT" "env: OVERLAY=/overlay PWD=/overlay HOME=/tmp UID=" "environment"
# A leased build user: its uid is the pool user's; the published owner is the fixed one.
lease=$(echo "$OUT" | sed -n 's/.* USER=\(left4me-build-[0-9][0-9]*\) .*/\1/p' | head -n 1)
[ -n "$lease" ] || fail "the build did not run as a pool user: $(echo "$OUT" | grep 'env:')"
assert_contains "$OUT" "UID=$(ct id -u "$lease") USER=$lease" "the build's uid is its lease's ($lease)"
assert_contains "$OUT" "script: /script.sh" "the script path"
assert_contains "$OUT" "curl " "curl --version"
assert_contains "$OUT" "build of pos: success (exit code 0)" "result"
assert_eq "sv_cheats 0" "$(ct cat $L/overlays/pos/left4dead2/cfg/server.cfg)" "server.cfg written"
assert_eq "payload" "$(ct cat $L/overlays/pos/left4dead2/addons/src/a.txt)" "tar extracted"
assert_eq "payload" "$(ct cat $L/overlays/pos/gz.txt)" "gunzip"
assert_eq "zipped" "$(ct cat $L/overlays/pos/z/inner.txt)" "unzip"
assert_eq "755 left4me-build" "$(ct stat -c '%a %U' $L/overlays/pos/)" "the overlay's generation dir"
assert_eq ".gen/pos/1 root" "$(ct readlink $L/overlays/pos) $(ct stat -c %U $L/overlays/pos)" "overlays/pos: root's link to generation 1"
assert_eq "755 root 755 root" "$(ct stat -c '%a %U' $L/overlays/.gen $L/overlays/.gen/pos | tr '\n' ' ' | sed 's/ $//')" "the generations' dirs are root's"
assert_eq "604 left4me-build" "$(ct stat -c '%a %U' $L/overlays/pos/left4dead2/cfg/server.cfg)" "a 0600 file published o+r"
assert_eq "705" "$(ct stat -c '%a' $L/overlays/pos/left4dead2/cfg)" "a 0700 dir published o+rx"
assert_eq "705" "$(ct stat -c '%a' $L/overlays/pos/tool.sh)" "an executable published o+rx"
# The game user (not the build user, not in its group) can read everything.
ct setpriv --reuid=left4me-game --regid=left4me-game --clear-groups cat $L/overlays/pos/left4dead2/cfg/server.cfg >/dev/null ||
        fail "left4me-game cannot read the output"
ok "left4me-game reads the output"
echo "--- what a hostile build leaves is published closed"
put_script perm 'set -e
mkdir -m 0777 "$OVERLAY/open" && echo w >"$OVERLAY/open/file" && chmod 0666 "$OVERLAY/open/file"
echo s >"$OVERLAY/suid" && { chmod 06777 "$OVERLAY/suid" 2>/dev/null || chmod 0777 "$OVERLAY/suid"; }   # RestrictSUIDSGID= refuses set-id
chmod 01777 "$OVERLAY/open"
mkfifo "$OVERLAY/fifo"
python3 -c "import socket; socket.socket(socket.AF_UNIX).bind(\"$OVERLAY/sock\")"
echo orig >"$OVERLAY/a" && ln "$OVERLAY/a" "$OVERLAY/b"'
run_build perm perm
[ "$RC" = 0 ] || fail "perm build: exit $RC"
bad=$(ct find $L/overlays/perm/ \( -perm /022 -o -perm /7000 \) -printf '%m %p\n')
[ -z "$bad" ] || fail "group/world-writable or set-id entries after publish: $bad"
other=$(ct find $L/overlays/perm/ ! -type f ! -type d ! -type l -printf '%y %p\n')
[ -z "$other" ] || fail "FIFOs, sockets or devices left after publish: $other"
[ "$(ct stat -c %h $L/overlays/perm/a)" = 1 ] || fail "a hardlink was left"
ok "published: nothing writable by others or set-id, no FIFO or socket, no hardlink"
[ -z "$(ct ls -A $L/tmp | grep '^build-')" ] || fail "the script file was left in tmp/: $(ct ls -A $L/tmp)"
ok "tmp/ is empty again"
[ -z "$(unit_of pos)" ] || fail "the unit was not collected: $(unit_of pos)"
ok "the unit was collected"

echo "--- exit codes"
put_script exit7 'echo before; exit 7'
run_build pos exit7
assert_eq 1 "$RC" "l4d2ctl exit status of a failed build"
assert_contains "$OUT" "build of pos: failed (exit code 7)" "failed build"
out=$(ct l4d2ctl --json overlay build pos -f /tmp/exit7.sh 2>&1)
assert_contains "$out" '"result":"failed"' "json result"
assert_contains "$out" '"exit_code":7' "json exit code"
[ -z "$(unit_of pos)" ] || fail "a failed unit was left behind: $(unit_of pos)"
ok "the failed unit was reset and collected"
# A failed build changes nothing: generation 1 stays current, none of the failed ones is left.
assert_eq ".gen/pos/1" "$(ct readlink $L/overlays/pos)" "overlays/pos after failed builds"
assert_eq "sv_cheats 0" "$(ct cat $L/overlays/pos/left4dead2/cfg/server.cfg)" "the content after failed builds"
assert_eq "1" "$(ct ls $L/overlays/.gen/pos)" "the generations of pos after failed builds"
ok "a failed build leaves the overlay as it was"
put_script sig 'kill -KILL $$'
run_build pos sig
assert_contains "$OUT" "failed (exit code 137)" "killed by a signal"
put_script bad 'this-command-does-not-exist'
run_build pos bad
assert_contains "$OUT" "failed (exit code 127)" "command not found"
assert_contains "$OUT" "this-command-does-not-exist: command not found" "stderr line"

echo "--- output arrives line by line while the script runs"
put_script stream 'echo first; sleep 2; echo second >&2; sleep 1; echo third'
ct sh -c 'l4d2ctl overlay build stream -f /tmp/stream.sh 2>&1 | while IFS= read -r l; do echo "$(date +%s%N) $l"; done' >/tmp/build-stream.$$ ||
        fail "stream build"
cat /tmp/build-stream.$$
t1=$(awk '$2 == "first" {print $1}' /tmp/build-stream.$$)
t2=$(awk '$2 == "second" {print $1}' /tmp/build-stream.$$)
t3=$(awk '$2 == "third" {print $1}' /tmp/build-stream.$$)
rm -f /tmp/build-stream.$$
[ -n "$t1" ] && [ -n "$t2" ] && [ -n "$t3" ] || fail "lines missing"
d12=$(( (t2 - t1) / 1000000 )); d23=$(( (t3 - t2) / 1000000 ))
echo "first -> second: ${d12} ms, second -> third: ${d23} ms"
[ "$d12" -ge 1700 ] && [ "$d12" -le 3000 ] || fail "second line did not arrive ~2 s after the first (${d12} ms)"
[ "$d23" -ge 700 ] && [ "$d23" -le 2000 ] || fail "third line did not arrive ~1 s after the second (${d23} ms)"
ok "lines arrive as they are written (stdout and stderr)"
summary "build-run: output gaps ${d12} ms / ${d23} ms for sleeps of 2 s / 1 s"

echo "--- conflict, delete while building, cancel by leaving"
put_script okay "echo okay"
put_script slow 'echo started; sleep 300; echo never'
ct sh -c 'l4d2ctl overlay build slow -f /tmp/slow.sh >/tmp/build-bg.log 2>&1 & echo $! >/tmp/build-bg.pid'
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a grep -q started /tmp/build-bg.log" || fail "slow build did not start"
UNIT=$(unit_of slow)
[ -n "$UNIT" ] || fail "no unit for the slow build"
assert_eq active "$(unit_state "$UNIT")" "$UNIT"
assert_rc 5 "a second build of the same overlay" ct l4d2ctl overlay build slow -f /tmp/slow.sh
assert_rc 5 "delete while building" ct l4d2ctl overlay delete slow
assert_rc 0 "another overlay builds meanwhile" ct l4d2ctl overlay build stream -f /tmp/okay.sh
ct sh -c 'kill -TERM $(cat /tmp/build-bg.pid)'
t0=$(date +%s%N)
wait_for 20 sh -c "! nsenter -t $E2E_PID1 -a systemctl is-active -q $UNIT" || fail "$UNIT still active after the caller left"
echo "unit stopped $(( ($(date +%s%N) - t0) / 1000000 )) ms after the caller left"
p=$(build_procs) && fail "processes of a build user survived: $p"
ok "the caller left: the unit and its processes are gone"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a journalctl -u left4me-host.service --no-pager | grep -q 'Build of overlay .slow. cancelled'" ||
        fail "hostd did not log the cancel"

echo "--- rpc.cancel (python3-msgpack client)"
mkdir -p "$E2E_ROOT/root/build-e2e" && cp -r "$E2E_REPO/tests/pylib" "$E2E_ROOT/root/build-e2e/"
out=$(ct /usr/bin/python3 -c '
import sys, time
sys.path.insert(0, "/root/build-e2e")
from pylib.l4m import Client, RpcError
c = Client("/run/left4me/host.sock", timeout=60)
seen = []
def note(n):
    seen.append(n)
    return not (n.get("stream") == "stdout" and n.get("line") == "started")   # False: rpc.cancel
t0 = time.time()
try:
    c.call("overlay.build", {"id": "slow", "script": "echo started; sleep 300"}, on_notify=note)
    print("NO ERROR")
except RpcError as e:
    print("error", e.code, "after %.1f s" % (time.time() - t0))
' 2>&1)
echo "$out"
assert_contains "$out" "error cancelled" "rpc.cancel"
[ -z "$(build_procs)" ] || fail "processes of a build user survived rpc.cancel"
ok "rpc.cancel stopped the unit"
assert_rc 0 "a build after the cancels" ct l4d2ctl overlay build slow -f /tmp/okay.sh

echo "--- delete"
assert_rc 0 "delete pos" ct l4d2ctl overlay delete pos
ct test ! -e $L/overlays/pos || fail "overlays/pos still there"
ct test ! -e $L/overlays/.gen/pos || fail "overlays/.gen/pos still there"
out=$(ct l4d2ctl overlay delete pos 2>&1) || fail "delete twice: $out"
assert_contains "$out" "nothing was there" "delete twice"
assert_rc 3 "delete a bad id" ct l4d2ctl overlay delete ../etc
assert_rc 3 "build a bad id" ct l4d2ctl overlay build A -f /tmp/exit7.sh
exit 0
