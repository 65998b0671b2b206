#!/bin/bash
# jobd's scheduling end to end (real systemd, hostd, the build sandbox, the fake game), all
# through the lifecycle commands' --queue: a build of overlay jshared (a script that sleeps
# until the test releases it, then writes a file into $OVERLAY) runs while two servers whose specs use jshared are started
# concurrently with `start NAME --queue -f SPEC`: both wait `queued` while the build runs,
# start after it ended (their started_usec >= the build's finished_usec), overlap each other,
# come up (quakestat gets A2S answers) and their merged views show the built file. A build
# submitted while an identical one is queued is the same job (coalesced), also through
# `overlay build --queue`, which then exits 9 when that job is cancelled. Then the other
# --queue paths: install, stop, start without -f (the stored spec), a failing start (exit 1),
# Ctrl-C while watching (the job goes on), delete, reset.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
need_daemon jobs
ct l4d2ctl start --help 2>/dev/null | grep -q -- --queue || fail "l4d2ctl start has no --queue"
L=/var/lib/left4me
P1=27061
P2=27062
BUILD_MAX=90
T=$(mktemp -d /tmp/e2e-jobs-build.XXXXXX) || fail "mktemp"
runtime_on_tmpfs
stand_ins
cleanup() {
        local n p
        # On a failure: end what this scenario queued (the build waits for its release), then
        # the background l4d2ctl watchers (they are only watchers, but a watcher keeps jobd
        # from its idle exit, which the next scenario checks): each is the child of the
        # nsenter whose host pid bg() wrote down.
        ct touch "$(building jshared)/release" 2>/dev/null
        for n in ${A:-} ${S1:-} ${S2:-} ${B:-}; do ct l4d2ctl jobs cancel "$n" >/dev/null 2>&1; done
        for p in "$T"/*.pid; do
                [ -e "$p" ] || continue
                n=$(cat "$p")
                pkill -P "$n" 2>/dev/null
                kill "$n" 2>/dev/null
        done
        for n in jb1 jb2 jbad; do ct l4d2ctl delete $n >/dev/null 2>&1; done
        for n in jshared jctrl; do ct l4d2ctl overlay delete $n >/dev/null 2>&1; done
        rm -rf "$T"
}
trap cleanup EXIT

game_up() {
        local q
        q=$(ct quakestat -a2s 127.0.0.1:"$1" -raw , -nh 2>&1) || return 1
        case $q in *DOWN* | *TIMEOUT* | *ERROR* | "") return 1 ;; esac
}
game_down() { ! game_up "$1"; }
# job_id: the first "id" of a jobs --json result (the job's).
job_id() { grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*$'; }
# job_field ID FIELD: a scalar field of the job (jobs show --json).
job_field() { ct l4d2ctl jobs show "$1" --json | grep -o "\"$2\": *[^,}]*" | head -n 1 | sed 's/^[^:]*: *//; s/"//g'; }
# newest_id KIND SUBJECT STATE: the newest such job's id (empty if none).
newest_id() {
        ct l4d2ctl jobs list --kind "$1" --subject "$2" --state "$3" --limit 1 --json | job_id
}
has_job() { [ -n "$(newest_id "$@")" ]; }
# bg NAME CMD...: runs CMD in the container in the background; $T/NAME.out gets its output,
# $T/NAME.rc its exit status once it ended.
bg() {
        local name=$1; shift
        (
                ct "$@" >"$T/$name.out" 2>&1 &
                echo $! >"$T/$name.pid"
                rc=0; wait $! || rc=$?
                echo "$rc" >"$T/$name.rc"
        ) &
}
bg_rc() {
        wait_for "$2" test -s "$T/$1.rc" || { cat "$T/$1.out" >&2; fail "$1 did not end within $2 s"; }
        cat "$T/$1.rc"
}
show_bg() { sed "s/^/    $1 | /" "$T/$1.out"; }

echo "--- install --queue"
out=$(ct l4d2ctl install --queue 2>&1) || fail "install --queue failed: $out"
assert_contains "$out" "Step: installation complete." "install --queue output"
assert_contains "$out" "succeeded" "install --queue"

echo "--- a build of jshared runs; two servers using jshared are started meanwhile"
ct l4d2ctl overlay delete jshared >/dev/null 2>&1
# The build sleeps until the test releases it (a file the test puts into overlays/jshared),
# at most BUILD_MAX s: the queue is observed for as long as it takes, without a race.
ct_sh "cat >/tmp/jshared.sh" <<EOF
echo "build starts"
for i in \$(seq 1 $((BUILD_MAX * 5))); do [ -e "\$OVERLAY/release" ] && break; sleep 0.2; done
rm -f "\$OVERLAY/release"
sleep 1
mkdir -p "\$OVERLAY/left4dead2"
echo built-by-job >"\$OVERLAY/left4dead2/built.txt"
echo "build ends"
EOF
for n in 1 2; do
        port=$P1; [ $n = 2 ] && port=$P2
        ct_sh "cat >/tmp/jb$n.yaml" <<EOF
port: $port
overlays:
  - jshared
arguments: [+map, c1m1_hotel]
config:
  - hostname "jobs build e2e $n"
EOF
done
bg build l4d2ctl overlay build jshared -f /tmp/jshared.sh --queue
wait_for 20 has_job overlay.build overlay:jshared running ||
        { show_bg build; fail "the build job did not start running"; }
A=$(newest_id overlay.build overlay:jshared running)
ok "build job $A is running"
bg s1 l4d2ctl start jb1 --queue -f /tmp/jb1.yaml
bg s2 l4d2ctl start jb2 --queue -f /tmp/jb2.yaml
wait_for 10 has_job server.start server:jb1 queued || fail "no queued start job of jb1"
wait_for 10 has_job server.start server:jb2 queued || fail "no queued start job of jb2"
S1=$(newest_id server.start server:jb1 queued)
S2=$(newest_id server.start server:jb2 queued)
sleep 1 # give a wrong scheduler the chance to start them
assert_eq queued "$(job_field "$S1" state)" "start job $S1 of jb1 while the build runs"
assert_eq queued "$(job_field "$S2" state)" "start job $S2 of jb2 while the build runs"
assert_eq running "$(job_field "$A" state)" "build job $A while the servers wait"
assert_contains "$(ct l4d2ctl jobs show "$S1" --json | tr -d ' ')" '{"key":"overlay:jshared","mode":"shared"}' \
        "keys of the start job (from the spec's overlays)"
assert_contains "$(ct l4d2ctl jobs show "$A" --json | tr -d ' ')" '{"key":"overlay:jshared","mode":"exclusive"}' \
        "keys of the build job"

echo "--- an identical build submitted while one is queued is the same job"
outB=$(ct l4d2ctl jobs submit overlay.build --overlay jshared --script /tmp/jshared.sh --json) ||
        fail "submit build B: $outB"
B=$(echo "$outB" | job_id)
[ -n "$B" ] && [ "$B" != "$A" ] || fail "build B: expected a new job (A=$A runs), got '$B'"
assert_contains "$(echo "$outB" | tr -d ' ')" '"coalesced":false' "build B (A is running: not coalesced)"
assert_eq queued "$(job_field "$B" state)" "build B"
outC=$(ct l4d2ctl jobs submit overlay.build --overlay jshared --script /tmp/jshared.sh --json) ||
        fail "submit build C: $outC"
assert_eq "$B" "$(echo "$outC" | job_id)" "id of the identical build C"
assert_contains "$(echo "$outC" | tr -d ' ')" '"coalesced":true' "build C"
bg bq l4d2ctl overlay build jshared -f /tmp/jshared.sh --queue
wait_for 10 grep -q "^job $B queued" "$T/bq.out" || { show_bg bq; fail "overlay build --queue did not join job $B"; }
ok "overlay build --queue joined the queued job $B"
assert_eq queued "$(job_field "$B" state)" "build B after two joins"
assert_eq 1 "$(ct l4d2ctl jobs list --kind overlay.build --subject overlay:jshared --state queued --json | grep -o '"id"' | wc -l)" \
        "queued builds of jshared"
assert_rc 0 "cancel of the queued build $B" ct l4d2ctl jobs cancel "$B"
assert_eq 9 "$(bg_rc bq 10)" "exit status of overlay build --queue whose job was cancelled"
show_bg bq

echo "--- the build ends, then both servers start"
assert_eq running "$(job_field "$A" state)" "build job $A (still waiting for its release)"
ct touch "$(building jshared)/release" || fail "release the build"
assert_eq 0 "$(bg_rc build 60)" "exit status of overlay build --queue"
show_bg build
assert_contains "$(cat "$T/build.out")" "build ends" "the build's output, streamed by --queue"
assert_contains "$(cat "$T/build.out")" "job $A succeeded" "build --queue's last line"
assert_eq 0 "$(bg_rc s1 60)" "exit status of start jb1 --queue -f"
assert_eq 0 "$(bg_rc s2 60)" "exit status of start jb2 --queue -f"
show_bg s1
assert_contains "$(cat "$T/s1.out")" "Step: instance.initialize" "start --queue output"
assert_contains "$(cat "$T/s2.out")" "Step: instance.start" "start --queue output"
a_end=$(job_field "$A" finished_usec)
s1_created=$(job_field "$S1" created_usec); s1_start=$(job_field "$S1" started_usec); s1_end=$(job_field "$S1" finished_usec)
s2_created=$(job_field "$S2" created_usec); s2_start=$(job_field "$S2" started_usec); s2_end=$(job_field "$S2" finished_usec)
echo "build $A ended at $a_end; jb1: created $s1_created, ran $s1_start..$s1_end; jb2: created $s2_created, ran $s2_start..$s2_end"
[ "$s1_created" -lt "$a_end" ] && [ "$s2_created" -lt "$a_end" ] || fail "the starts were not submitted during the build"
[ "$s1_start" -ge "$a_end" ] || fail "jb1 started ($s1_start) before the build ended ($a_end)"
[ "$s2_start" -ge "$a_end" ] || fail "jb2 started ($s2_start) before the build ended ($a_end)"
ok "both starts ran after the build: +$((s1_start - a_end)) µs, +$((s2_start - a_end)) µs"
[ "$s1_start" -lt "$s2_end" ] && [ "$s2_start" -lt "$s1_end" ] || fail "the two starts did not overlap"
ok "the two starts overlapped (different servers run concurrently)"
summary "jobs-build-delays-servers: the two starts began $((s1_start - a_end))/$((s2_start - a_end)) µs after the build ended and took $(( (s1_end - s1_start) / 1000 ))/$(( (s2_end - s2_start) / 1000 )) ms (overlapping)"
assert_eq cancelled "$(job_field "$B" state)" "build B"
assert_eq null "$(job_field "$B" started_usec)" "started_usec of the cancelled build B"

wait_for 20 game_up $P1 || { journal left4me-server@jb1.service; fail "jb1 does not answer A2S"; }
wait_for 20 game_up $P2 || { journal left4me-server@jb2.service; fail "jb2 does not answer A2S"; }
assert_contains "$(ct quakestat -a2s 127.0.0.1:$P1 -raw , -nh)" "jobs build e2e 1" "quakestat jb1"
assert_contains "$(ct quakestat -a2s 127.0.0.1:$P2 -raw , -nh)" "jobs build e2e 2" "quakestat jb2"
assert_eq built-by-job "$(ct cat $L/runtime/jb1/merged/left4dead2/built.txt)" "built file in jb1's merged view"
assert_eq built-by-job "$(ct cat $L/runtime/jb2/merged/left4dead2/built.txt)" "built file in jb2's merged view"

echo "--- stop --queue, start --queue without -f (the stored spec)"
assert_rc 0 "stop jb1 --queue" ct l4d2ctl stop jb1 --queue
wait_for 20 game_down $P1 || fail "jb1 still answers after stop --queue"
ct mountpoint -q $L/runtime/jb1/merged && fail "jb1 still mounted after stop --queue"
out=$(ct l4d2ctl start jb1 --queue 2>&1) || fail "start jb1 --queue (stored spec) failed: $out"
assert_contains "$out" "Step: instance.initialize" "start --queue without -f"
id=$(ct l4d2ctl jobs list --kind server.start --subject server:jb1 --limit 1 --json | job_id)
assert_contains "$(ct l4d2ctl jobs show "$id" --json | tr -d ' ')" '{"key":"overlay:jshared","mode":"shared"}' \
        "keys of the start from the stored spec"
wait_for 20 game_up $P1 || fail "jb1 does not answer after start --queue"
ok "jb1 is back"
assert_rc 4 "start --queue of an instance never initialized, without -f" ct l4d2ctl start jbnever --queue
assert_rc 2 "stop --queue -f" ct l4d2ctl stop jb1 --queue -f /tmp/jb1.yaml
assert_rc 2 "status --queue" ct l4d2ctl status jb1 --queue

echo "--- a start that fails: exit 1, the job says why"
ct_sh "printf 'port: 27063\noverlays: [jmissing]\n' >/tmp/jbad.yaml"
out=$(ct l4d2ctl start jbad --queue -f /tmp/jbad.yaml 2>&1); rc=$?
echo "$out" | sed 's/^/    | /'
assert_eq 1 "$rc" "exit status of a start --queue whose job failed"
assert_contains "$out" "failed" "start --queue output"
assert_contains "$out" "overlays[0]" "the reason (hostd's invalid, naming the field)"

echo "--- Ctrl-C while watching leaves the job running"
ct_sh "printf 'sleep 3\necho ctrl-c-survivor >\"\$OVERLAY/done.txt\"\n' >/tmp/jctrl.sh"
out=$(ct timeout --preserve-status -s INT 1.5 l4d2ctl overlay build jctrl -f /tmp/jctrl.sh --queue 2>&1); rc=$?
echo "$out" | sed 's/^/    | /'
assert_eq 130 "$rc" "exit status after Ctrl-C"
assert_contains "$out" "stopped watching; the job goes on" "Ctrl-C message"
id=$(echo "$out" | sed -n 's/^job \([0-9]*\) queued$/\1/p' | head -n 1)
[ -n "$id" ] || fail "no 'job N queued' line"
assert_rc 0 "jobs watch $id after the Ctrl-C" ct l4d2ctl jobs watch "$id"
assert_eq ctrl-c-survivor "$(ct cat $L/overlays/jctrl/done.txt)" "the build's file"

echo "--- delete --queue, reset --queue"
assert_rc 0 "delete jb1 --queue" ct l4d2ctl delete jb1 --queue
assert_rc 0 "reset jb2 --queue" ct l4d2ctl reset jb2 --queue
wait_for 20 game_down $P2 || fail "jb2 still answers after reset --queue"
for n in jb1 jb2; do
        ct test -e $L/instances/$n && fail "instances/$n still there"
        ct test -e $L/runtime/$n && fail "runtime/$n still there"
done
ok "nothing of jb1 and jb2 is left"
exit 0
