#!/bin/bash
# Overlay generations under a real systemd (issue 14, docs/host.md "Overlay generations"):
# a rebuild of an overlay a server runs on leaves the server's merged view as it was until the
# server restarts, then it sees the new build; overlay.delete is refused while it mounts it
# (and an overlay.delete job fails with that refusal);
# the old generation is collected once the server let go of it; instance.status shows what the
# run stacks, overlay.list what is current; hostd killed (-9) in the middle of a build leaves
# the overlay as it was, and the next build removes what the lost one left; a failed build
# changes nothing. Builds from the current generation (--from-current): the first one of an
# overlay starts empty; a hostile script, as the real build user, cannot change a byte or mode
# of the generation it inherited; a normal edit (rm and recreate) works; publishing keeps the
# inherited files shared (same inode), and an operator's plain directory is copied, not
# linked. Then removal of trees 5000 directories deep: an operator's overlay
# (overlay.delete), a game's upper dir (instance.reset, instance.delete).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$(dirname "$0")/build-lib.sh"

need_cli
need_daemon host
need_daemon jobs
PORT=27041
runtime_on_tmpfs
game_installed

cleanup() {
        ct touch "$(building gen1)/release" 2>/dev/null
        ct l4d2ctl delete g1 >/dev/null 2>&1
        ct l4d2ctl overlay delete gen1 >/dev/null 2>&1
        ct l4d2ctl overlay delete deep >/dev/null 2>&1
        ct l4d2ctl overlay delete inh >/dev/null 2>&1
        ct l4d2ctl overlay delete plain >/dev/null 2>&1
}
trap cleanup EXIT

# status_overlays NAME: instance.status's overlays as "id:gen id:gen" (or "nil").
status_overlays() {
        ct l4d2ctl call host instance.status name="$1" |
                /usr/bin/python3 -c 'import json,sys; o=json.load(sys.stdin)["overlays"]; print("nil" if o is None else " ".join("%s:%d" % (x["id"], x["generation"]) for x in o))'
}
# current ID: overlay.list's generation of ID (empty if it is not listed).
current() {
        ct l4d2ctl call host overlay.list |
                /usr/bin/python3 -c 'import json,sys; print("".join(str(x["generation"]) for x in json.load(sys.stdin) if x["id"] == sys.argv[1]))' "$1"
}
merged() { ct cat $L/runtime/g1/merged/left4dead2/which.txt; }

echo "--- generation 1, a server on it"
put_script v1 'mkdir -p "$OVERLAY/left4dead2" && echo v1 >"$OVERLAY/left4dead2/which.txt"'
run_build gen1 v1
[ "$RC" = 0 ] || fail "build v1: exit $RC"
assert_eq 1 "$(current gen1)" "overlay.list after the first build"
assert_eq "nil" "$(status_overlays g1 2>/dev/null || echo nil)" "status of a server that does not exist yet"
printf 'port: %s\noverlays: [gen1]\n' $PORT | ct sh -c 'cat >/tmp/g1.yaml'
assert_rc 0 "initialize g1" ct l4d2ctl initialize g1 -f /tmp/g1.yaml
assert_eq "nil" "$(status_overlays g1)" "status overlays before the start (not mounted)"
assert_rc 0 "start g1" ct l4d2ctl start g1
assert_eq v1 "$(merged)" "the server's view"
assert_eq "gen1:1" "$(status_overlays g1)" "status overlays of the running server"
assert_eq "gen1 1" "$(ct cat $L/runtime/g1/layers)" "runtime/g1/layers"

echo "--- no service user can swap a directory root relies on"
# Each of these is a path PID 1 or the mount helper resolves as a string, or a directory
# whose entries it does; the server's own dynamic user (l4m-g1, which owns upper/) too.
SUID=$(ct stat -c %u $L/runtime/g1/upper)
[ "$SUID" != 0 ] || fail "runtime/g1/upper is root's"
for u in left4me-jobs left4me-logs left4me-web left4me-steam left4me-game left4me-build left4me-build-0 left4me-build-15 "$SUID"; do
        for d in overlays/gen1 overlays/.gen overlays/.gen/gen1 overlays/.gen/gen1/1 instances/g1 runtime/g1 runtime/g1/upper \
                runtime/g1/layers instances/g1/instance.env; do
                rc=0; ct setpriv --reuid="$u" --regid="$u" --clear-groups -- mv $L/$d $L/$d.swapped 2>/dev/null || rc=$?
                [ "$rc" != 0 ] || { ct mv $L/$d.swapped $L/$d; fail "$u renamed $d"; }
        done
        rc=0; ct setpriv --reuid="$u" --regid="$u" --clear-groups -- ln -sfn /tmp $L/overlays/gen1 2>/dev/null || rc=$?
        [ "$rc" != 0 ] || fail "$u replaced the link overlays/gen1"
        rc=0; ct setpriv --reuid="$u" --regid="$u" --clear-groups -- mkdir $L/overlays/.gen/gen1/9 2>/dev/null || rc=$?
        [ "$rc" != 0 ] || fail "$u made a generation"
done
assert_eq ".gen/gen1/1" "$(ct readlink $L/overlays/gen1)" "overlays/gen1 after the attempts"
ok "no service user (nor the server's own) can rename, replace or add what root relies on"

echo "--- a rebuild under the running server"
put_script v2 'mkdir -p "$OVERLAY/left4dead2" && echo v2 >"$OVERLAY/left4dead2/which.txt"'
run_build gen1 v2
[ "$RC" = 0 ] || fail "build v2: exit $RC"
assert_eq 2 "$(current gen1)" "overlay.list after the rebuild"
out=$(ct l4d2ctl overlay list) || fail "l4d2ctl overlay list: $out"
echo "$out" | grep -Eq '^gen1 +2  20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8}$' || fail "l4d2ctl overlay list: $out"
ok "l4d2ctl overlay list shows generation 2 and when it was built"
assert_rc 2 "l4d2ctl overlay list with an argument" ct l4d2ctl overlay list gen1
assert_eq v2 "$(ct cat $L/overlays/gen1/left4dead2/which.txt)" "overlays/gen1 is the new build"
assert_eq v1 "$(merged)" "the running server's view after the rebuild"
assert_eq "gen1:1" "$(status_overlays g1)" "status overlays: still generation 1 (needs a restart)"
ct test -d $L/overlays/.gen/gen1/1 || fail "generation 1 was removed under the server"
ok "the running server keeps generation 1"

echo "--- delete while a server mounts it"
rc=0; out=$(ct l4d2ctl overlay delete gen1 2>&1) || rc=$?
assert_eq 5 "$rc" "l4d2ctl's exit status (conflict): $out"
assert_contains "$out" "server 'g1'" "the refusal names the server"
assert_eq v2 "$(ct cat $L/overlays/gen1/left4dead2/which.txt)" "overlays/gen1 after the refused delete"
assert_eq v1 "$(merged)" "the server's view after the refused delete"
rc=0; out=$(ct l4d2ctl jobs submit overlay.delete --overlay gen1 --wait 2>&1) || rc=$?
echo "$out" | sed 's/^/    | /'
assert_eq 1 "$rc" "an overlay.delete job while a server mounts it fails"
assert_contains "$out" "overlay.delete: conflict" "the job's error is hostd's refusal"
assert_contains "$out" "server 'g1'" "naming the server"
assert_eq v2 "$(ct cat $L/overlays/gen1/left4dead2/which.txt)" "overlays/gen1 after the failed job"

echo "--- a failed build changes nothing"
put_script bad 'echo v3 >"$OVERLAY/which.txt"; exit 3'
run_build gen1 bad
assert_eq 1 "$RC" "l4d2ctl's exit status of the failed build"
assert_eq 2 "$(current gen1)" "overlay.list after the failed build"
assert_eq "1 2" "$(ct ls $L/overlays/.gen/gen1 | sort -n | tr '\n' ' ' | sed 's/ $//')" "generations after the failed build"

echo "--- restart: the new generation, the old one collected"
assert_rc 0 "stop g1" ct l4d2ctl stop g1
ct test ! -e $L/overlays/.gen/gen1/1 || fail "generation 1 is still there after the server stopped"
ok "generation 1 collected when its last server stopped"
assert_rc 0 "start g1 again" ct l4d2ctl start g1
assert_eq v2 "$(merged)" "the server's view after the restart"
assert_eq "gen1:2" "$(status_overlays g1)" "status overlays after the restart"

echo "--- hostd killed in the middle of a build"
put_script slow 'mkdir -p "$OVERLAY/left4dead2" && echo half >"$OVERLAY/left4dead2/which.txt"; echo started; while [ ! -e "$OVERLAY/release" ]; do sleep 0.2; done; echo v-lost >"$OVERLAY/left4dead2/which.txt"'
ct sh -c 'l4d2ctl overlay build gen1 -f /tmp/slow.sh >/tmp/gen-slow.log 2>&1 &'
wait_for 20 sh -c "nsenter -t $E2E_PID1 -a grep -q started /tmp/gen-slow.log" || fail "the slow build did not start"
LOST=$(unit_of gen1)
[ -n "$LOST" ] || fail "no unit for the slow build"
assert_eq "$L/overlays/.gen/gen1/3" "$(building gen1)" "the slow build's generation"
ct systemctl kill -s KILL left4me-host.service
wait_for 10 sh -c "! nsenter -t $E2E_PID1 -a systemctl is-active -q left4me-host.service" || fail "hostd still runs"
ct systemctl reset-failed left4me-host.service 2>/dev/null
ct systemctl start left4me-host.socket
assert_eq 2 "$(current gen1)" "overlay.list after hostd was killed mid-build"
assert_eq v2 "$(ct cat $L/overlays/gen1/left4dead2/which.txt)" "overlays/gen1 after hostd was killed mid-build"
assert_eq ".gen/gen1/2" "$(ct readlink $L/overlays/gen1)" "overlays/gen1's link"
assert_eq v2 "$(merged)" "the server's view"
# The lost build runs on (nobody to stop it) and ends; what it wrote never becomes current.
ct touch "$(building gen1)/release"
wait_for 30 sh -c "! nsenter -t $E2E_PID1 -a systemctl is-active -q $LOST" || fail "the lost build did not end"
ct systemctl reset-failed "$LOST" 2>/dev/null
assert_eq 2 "$(current gen1)" "overlay.list after the lost build ended"
assert_eq v2 "$(ct cat $L/overlays/gen1/left4dead2/which.txt)" "overlays/gen1 after the lost build ended"
ok "a build hostd lost published nothing"
put_script v4 'mkdir -p "$OVERLAY/left4dead2" && echo v4 >"$OVERLAY/left4dead2/which.txt"'
run_build gen1 v4
[ "$RC" = 0 ] || fail "build v4: exit $RC"
assert_eq 4 "$(current gen1)" "overlay.list after the next build"
assert_eq "2 4" "$(ct ls $L/overlays/.gen/gen1 | sort -n | tr '\n' ' ' | sed 's/ $//')" \
        "generations: 2 (mounted), 4 (current); 3, the lost one, removed"
assert_eq v2 "$(merged)" "the server's view (still generation 2)"
assert_eq "" "$(ct ls -A $L/tmp | grep '^build-gen1-')" "tmp/: the lost build's script removed by the next build"

echo "--- stop, then delete"
assert_rc 0 "stop g1" ct l4d2ctl stop g1
assert_eq "nil" "$(status_overlays g1)" "status overlays of the stopped server"
assert_eq "4" "$(ct ls $L/overlays/.gen/gen1)" "generations once the server stopped"
assert_rc 0 "overlay delete gen1" ct l4d2ctl overlay delete gen1
ct test ! -e $L/overlays/gen1 -a ! -L $L/overlays/gen1 || fail "overlays/gen1 still there"
ct test ! -e $L/overlays/.gen/gen1 || fail "overlays/.gen/gen1 still there"
assert_eq "" "$(current gen1)" "overlay.list after the delete"
ok "deleted with all its generations"

echo "--- a build from the current generation"
# gen_snapshot DIR: path, mode, owner, size, mtime and content hash of everything below DIR
# (not the link count or ctime: a hardlink into a new generation changes those, not the file).
gen_snapshot() {
        ct sh -c "cd '$1' && find . -printf '%p %M %u:%g %s %T@ %l\n' | sort && find . -type f -exec sha256sum {} + | sort"
}
put_script first 'echo hi >"$OVERLAY/first.txt"'
run_build inh first --from-current
[ "$RC" = 0 ] || fail "a first build from current: exit $RC"
assert_contains "$OUT" "starts empty: 'inh' has no current generation" "current of nothing is empty"
put_script base 'cd "$OVERLAY" && mkdir -p sub/dir many && echo original >a.txt && chmod 0644 a.txt &&
printf "#!/bin/sh\necho run\n" >exec.sh && chmod 0755 exec.sh && echo b >sub/dir/b.txt && ln -s a.txt link &&
for i in $(seq 1 5000); do echo "$i" >many/f$i; done'
run_build inh base
[ "$RC" = 0 ] || fail "build of the base generation: exit $RC"
g=$(current inh)
old=$L/overlays/.gen/inh/$g
before=$(gen_snapshot "$old")
ino=$(ct stat -c %i "$old/many/f1")
put_script attack "$PRELUDE"'cd "$OVERLAY" || exit 3
[ "$(cat a.txt)" = original ] && [ -x exec.sh ] && [ "$(readlink link)" = a.txt ] && [ -f many/f5000 ] || { echo "not inherited"; exit 3; }
try "append to an inherited file" sh -c "echo x >>a.txt"
try "open it for writing" python3 -c "import os; os.open(\"a.txt\", os.O_WRONLY)"
try "truncate it" truncate -s 0 a.txt
try "chmod it" chmod 0666 a.txt
try "chmod an inherited executable" chmod 0700 exec.sh
try "chown it to the build user" chown "$(id -u)" a.txt
try "set its times" touch -d 2000-01-01 a.txt
try "touch it (now)" touch a.txt
try "set a user xattr" python3 -c "import os; os.setxattr(\"a.txt\", \"user.x\", b\"1\")"
try "write through the symlink" sh -c "echo x >>link"
try "write sub/dir/b.txt" sh -c "echo x >sub/dir/b.txt"
ln a.txt again 2>/dev/null && { try "append through a hardlink of its own" sh -c "echo x >>again"; }
echo "uid $(id -u)"
'"$EPILOGUE"'
exit 5'
run_build inh attack --from-current
assert_eq 1 "$RC" "the hostile build (ends with exit 5, so it is discarded)"
case $OUT in *ESCAPE:*) fail "an attempt on an inherited file succeeded" ;; esac
assert_contains "$OUT" "done, escapes=0" "every attempt was made and failed"
lease=$(grep -Eo 'as left4me-build-[0-9]+' <<<"$OUT" | head -n 1 | cut -d' ' -f2)
[ -n "$lease" ] || fail "no lease named in: $OUT"
assert_contains "$OUT" "uid $(ct id -u "$lease")" "it ran as $lease, the real build user"
assert_contains "$OUT" "5003 files linked, 0 copied" "published files are linked, not copied"
after=$(gen_snapshot "$old")
if [ "$before" != "$after" ]; then
        diff <(echo "$before") <(echo "$after") | head -n 20 >&2
        fail "the inherited generation changed"
fi
assert_eq "$g" "$(current inh)" "the old generation stays current"
ok "no byte or mode of the old generation changed"
put_script edit 'cd "$OVERLAY" && rm a.txt && echo edited >a.txt && rm -r sub && mv exec.sh run.sh && echo new >new.txt'
t0=$(date +%s%N)
run_build inh edit --from-current
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$RC" = 0 ] || fail "an edit from current: exit $RC"
fill=$(grep -o 'starts from generation [0-9]*: .*' <<<"$OUT")
new=$L/overlays/.gen/inh/$(current inh)
assert_eq edited "$(ct cat $L/overlays/inh/a.txt)" "the edited file"
assert_eq new "$(ct cat $L/overlays/inh/new.txt)" "a new file"
ct test ! -e $L/overlays/inh/sub -a -x $L/overlays/inh/run.sh -a -f $L/overlays/inh/many/f5000 ||
        fail "the edit's removals and renames, or the inherited files, are not there"
assert_eq "$ino" "$(ct stat -c %i "$new/many/f1")" "publishing kept the inherited file shared (same inode)"
assert_eq "left4me-build 644" "$(ct stat -c '%U %a' "$new/many/f1")" "an inherited file's owner and mode"
assert_eq "left4me-build 644" "$(ct stat -c '%U %a' "$new/a.txt")" "the edited file, published"
put_script empty 'true'
t1=$(date +%s%N)
run_build inh empty
ms_empty=$(( ($(date +%s%N) - t1) / 1000000 ))
[ "$RC" = 0 ] || fail "an empty build: exit $RC"
summary "host-generations: a build from current over 5000 files: $fill; whole build ${ms} ms (an empty one: ${ms_empty} ms)"

echo "--- an operator's plain directory (generation 0) is copied, not linked"
ct_sh "mkdir -p $L/overlays/plain && echo mine >$L/overlays/plain/f && chmod 0666 $L/overlays/plain/f" || fail "setup"
pbefore=$(gen_snapshot $L/overlays/plain)
put_script plainw 'cd "$OVERLAY" && echo changed >>f && [ "$(head -n 1 f)" = mine ] && exit 4'
run_build plain plainw --from-current
assert_eq 1 "$RC" "the build (writes its copy, then fails on purpose)"
assert_contains "$OUT" "1 copied" "the world-writable file is copied"
assert_eq "$pbefore" "$(gen_snapshot $L/overlays/plain)" "the plain directory is unchanged"
ok "a writable file of generation 0 was copied; the build changed only its copy"

echo "--- trees 5000 directories deep"
# deep DIR: 5000 nested directories below DIR (a relative walk: the path is far beyond PATH_MAX).
deep() { ct /usr/bin/python3 -c 'import os, sys; os.chdir(sys.argv[1]); [(os.mkdir("d"), os.chdir("d")) for _ in range(5000)]; open("f", "w").write("bottom")' "$1"; }
ct mkdir -p $L/overlays/deep
deep $L/overlays/deep || fail "make overlays/deep"
t0=$(date +%s%N)
assert_rc 0 "overlay delete of a 5000-deep operator's overlay" ct l4d2ctl overlay delete deep
echo "removed in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ct test ! -e $L/overlays/deep || fail "overlays/deep still there"
ct sh -c "cd $L/runtime/g1/upper" || fail "no runtime/g1/upper"
deep $L/runtime/g1/upper || fail "a deep upper dir"
assert_rc 0 "reset of a server whose upper dir is 5000 deep" ct l4d2ctl reset g1
ct test ! -e $L/runtime/g1 || fail "runtime/g1 still there after the reset"
ok "reset removed the deep upper dir"
printf 'port: %s\n' $PORT | ct sh -c 'cat >/tmp/g1.yaml'
assert_rc 0 "initialize g1 again" ct l4d2ctl initialize g1 -f /tmp/g1.yaml
deep $L/runtime/g1/upper || fail "a deep upper dir"
assert_rc 0 "delete of a server whose upper dir is 5000 deep" ct l4d2ctl delete g1
ct test ! -e $L/runtime/g1 -a ! -e $L/instances/g1 || fail "g1 still there after the delete"
ok "delete removed the deep upper dir"
exit 0
