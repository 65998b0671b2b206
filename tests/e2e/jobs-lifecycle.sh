#!/bin/bash
# jobd under a real systemd, end to end with hostd, the fake steamcmd and the fake game:
# an install and a server start through the queue (the game answers A2S), stop and delete;
# jobd's idle exit keeps the history; cancel of a running install kills steamcmd; SIGKILL
# of jobd under a running install: systemd restarts it and the install is run again.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
need_daemon jobs
ct l4d2ctl jobs --help >/dev/null 2>&1 || fail "l4d2ctl has no 'jobs' command (cli/commands.h must list cmd_jobs)"
L=/var/lib/left4me
PORT=27041
runtime_on_tmpfs
stand_ins
cleanup() {
        ct rm -f $L/steam/fake-steamcmd.delay
        ct l4d2ctl delete j1 >/dev/null 2>&1
}
trap cleanup EXIT

game_up() {
        local q
        q=$(ct quakestat -a2s 127.0.0.1:"$1" -raw , -nh 2>&1) || return 1
        case $q in *DOWN* | *TIMEOUT* | *ERROR* | "") return 1 ;; esac
}
game_down() { ! game_up "$1"; }
# job_id JSON: the first "id" of a `jobs submit --json` result is the job's.
job_id() { grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*$'; }
job_field() { ct l4d2ctl jobs show "$1" --json | grep -o "\"$2\": *[^,}]*" | head -n 1 | sed 's/^[^:]*: *//; s/"//g'; }

echo "--- install through jobd"
out=$(ct l4d2ctl jobs submit install --wait 2>&1) || fail "install job failed: $out"
assert_contains "$out" "Step: installation complete." "install job output"
assert_contains "$out" "succeeded" "install job"
ct test -x $L/installation/srcds_run || fail "no srcds_run in the installation"

echo "--- a server start through jobd"
ct_sh "mkdir -p $L/overlays/jtop/left4dead2 && echo jtop >$L/overlays/jtop/left4dead2/which.txt" || fail "overlay"
ct_sh "cat >/tmp/j1.yaml" <<EOF
port: $PORT
overlays:
  - jtop
config:
  - hostname jobs-e2e
EOF
out=$(ct l4d2ctl jobs submit server.start --server j1 --spec /tmp/j1.yaml --overlays jtop --wait 2>&1) ||
        fail "start job failed: $out"
assert_contains "$out" "Step: instance.initialize" "start job output"
assert_contains "$out" "Step: instance.start" "start job output"
wait_for 20 game_up $PORT || fail "the game does not answer A2S on $PORT"
ok "the game answers on $PORT"
list=$(ct l4d2ctl jobs list --subject server:j1 --json)
assert_contains "$list" '"state":"succeeded"' "jobs list --subject server:j1"

echo "--- stop and delete through jobd"
assert_rc 0 "stop job" ct l4d2ctl jobs submit server.stop --server j1 --wait
wait_for 20 game_down $PORT || fail "the game still answers after the stop job"
assert_rc 0 "delete job" ct l4d2ctl jobs submit server.delete --server j1 --wait

echo "--- idle exit keeps the history"
first=$(ct l4d2ctl jobs list --limit 500 --json | grep -o '"id": *[0-9]*' | tail -n 1 | grep -o '[0-9]*$')
wait_for $((E2E_IDLE + 15)) sh -c "! nsenter -t $E2E_PID1 -a systemctl -q is-active left4me-jobs.service" ||
        fail "jobd did not exit when idle"
ok "jobd exited when idle"
assert_eq "succeeded" "$(job_field "$first" state)" "job $first after the restart by socket activation"

echo "--- cancel of a running install"
ct_sh "echo 30 >$L/steam/fake-steamcmd.delay"
id=$(ct l4d2ctl jobs submit install --json | job_id)
[ -n "$id" ] || fail "no job id"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a pgrep -u left4me-steam -f steamcmd.sh >/dev/null" || fail "steamcmd did not start"
assert_rc 0 "cancel" ct l4d2ctl jobs cancel "$id"
assert_rc 9 "watch of the cancelled install" ct l4d2ctl jobs watch "$id"
wait_for 10 sh -c "! nsenter -t $E2E_PID1 -a pgrep -u left4me-steam -f 'steamcmd|sleep' >/dev/null" ||
        fail "steamcmd survived the cancel: $(ct pgrep -a -u left4me-steam)"
ok "steamcmd is gone"

echo "--- SIGKILL of jobd under a running install"
ct_sh "echo 3 >$L/steam/fake-steamcmd.delay"
id=$(ct l4d2ctl jobs submit install --json | job_id)
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a pgrep -u left4me-steam -f steamcmd.sh >/dev/null" || fail "steamcmd did not start"
ct systemctl kill -s KILL left4me-jobs.service || fail "kill jobd"
wait_for 15 sh -c "nsenter -t $E2E_PID1 -a systemctl -q is-active left4me-jobs.service" ||
        fail "systemd did not restart jobd (Restart=on-failure)"
assert_rc 0 "the install, run again after the crash" ct l4d2ctl jobs watch "$id"
assert_eq "2" "$(job_field "$id" attempts)" "attempts of the install"
assert_contains "$(ct l4d2ctl jobs show "$id")" "jobd stopped while this job was running" "the log says why"
exit 0
