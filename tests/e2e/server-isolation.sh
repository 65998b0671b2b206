#!/bin/bash
# A game server sees only its own layers (issue 13): an overlay's own srcds_run, which the
# unit runs as the game, probes for other tenants' overlays, the raw install and other
# servers' files, and writes what it found into its upper dir for us to read.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_daemon host
L=/var/lib/left4me
runtime_on_tmpfs
game_installed
cleanup() {
        for n in iso-evil iso-other; do ct l4d2ctl delete "$n" >/dev/null 2>&1; done
        ct rm -rf $L/overlays/iso-evil $L/overlays/iso-secret
        ct rm -f /dev/shm/left4me-host-shm /dev/shm/left4me-probe-shm /dev/mqueue/left4me-host-mq /dev/mqueue/left4me-probe-mq
}
trap cleanup EXIT

ct_sh "echo host >/dev/shm/left4me-host-shm && touch /dev/mqueue/left4me-host-mq" || fail "host shm file, mqueue"
ct_sh "mkdir -p $L/overlays/iso-secret $L/overlays/iso-evil/left4dead2 &&
       echo SECRET-TENANT >$L/overlays/iso-secret/file && chmod 0644 $L/overlays/iso-secret/file" ||
        fail "overlays"
ct_sh "cat >$L/overlays/iso-evil/srcds_run && chmod 0755 $L/overlays/iso-evil/srcds_run" <<'PROBE'
#!/bin/sh
out="$(dirname "$0")/left4dead2/probe.txt"
{
        cat /var/lib/left4me/overlays/iso-secret/file && echo "PROBE read another tenant's overlay"
        ls /var/lib/left4me/overlays/ | grep -q . && echo "PROBE listed overlays/"
        test -e /var/lib/left4me/installation/srcds_run && echo "PROBE saw the install by its path"
        ls /var/lib/left4me/runtime/iso-other/ >/dev/null 2>&1 && echo "PROBE saw another server's runtime"
        cat /var/lib/left4me/instances/iso-other/instance.env >/dev/null 2>&1 && echo "PROBE read another server's instance.env"
        test -r "$(dirname "$0")/left4dead2/maps/c1m1_hotel.bsp" && echo "own layers: ok"
        echo x >/dev/shm/left4me-probe-shm && echo "wrote /dev/shm"
        ls /dev/shm | grep -q left4me-host-shm && echo "PROBE saw the host's /dev/shm"
        touch /dev/mqueue/left4me-probe-mq && echo "wrote /dev/mqueue"
        ls /dev/mqueue | grep -q left4me-host-mq && echo "PROBE saw the host's /dev/mqueue"
        ls /proc | grep -qx "$OTHER_PID" && echo "PROBE saw another server's process"
        kill -0 "$OTHER_PID" 2>/dev/null && echo "PROBE may signal another server"
        kill -KILL -1 2>/dev/null
        echo done
} >"$out" 2>&1
exec sleep 600
PROBE
[ $? = 0 ] || fail "probe"

printf 'port: 27050\n' | ct_sh "cat >/tmp/iso-other.yaml"
printf 'port: 27051\noverlays: [iso-evil]\n' | ct_sh "cat >/tmp/iso-evil.yaml"
assert_rc 0 "initialize iso-other" ct l4d2ctl initialize iso-other -f /tmp/iso-other.yaml
assert_rc 0 "start iso-other (a neighbour to attack)" ct l4d2ctl start iso-other
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a systemctl show -P MainPID left4me-server@iso-other.service | grep -qv '^0$'"
other_pid=$(ct systemctl show -P MainPID left4me-server@iso-other.service)
ct_sh "sed -i 's/\\\$OTHER_PID/$other_pid/g' $L/overlays/iso-evil/srcds_run" || fail "probe pid"
assert_rc 0 "initialize iso-evil" ct l4d2ctl initialize iso-evil -f /tmp/iso-evil.yaml
assert_rc 0 "start iso-evil" ct l4d2ctl start iso-evil
wait_for 10 ct grep -q done $L/runtime/iso-evil/upper/left4dead2/probe.txt || fail "the probe did not finish"
probe=$(ct cat $L/runtime/iso-evil/upper/left4dead2/probe.txt)
echo "$probe" | sed 's/^/    /'
grep -q "own layers: ok" <<<"$probe" || fail "the probe could not read its own layers: $probe"
if grep "^PROBE" <<<"$probe"; then fail "the game server reached what is not its own"; fi
grep -q "wrote /dev/shm" <<<"$probe" || fail "the game has no writable /dev/shm: $probe"
ct test -e /dev/shm/left4me-probe-shm && fail "the game's /dev/shm file appeared in the host's /dev/shm"
ok "the game's /dev/shm is its own"
grep -q "wrote /dev/mqueue" <<<"$probe" || fail "the game has no /dev/mqueue of its own: $probe"
ct test -e /dev/mqueue/left4me-probe-mq && fail "the game's message queue appeared in the host's /dev/mqueue"
ok "the game's /dev/mqueue is its own (PrivateIPC=)"
sleep 1
assert_eq active "$(unit_state left4me-server@iso-other.service)" "the neighbour after kill -KILL -1"
assert_eq "$other_pid" "$(ct systemctl show -P MainPID left4me-server@iso-other.service)" "the neighbour's main pid"
u_evil=$(ct stat -c %U $L/runtime/iso-evil/upper); u_other=$(ct stat -c %U $L/runtime/iso-other/upper)
assert_eq "l4m-iso-evil l4m-iso-other" "$u_evil $u_other" "each server's upper dir belongs to its own user"
[ "$(ct stat -c %u $L/runtime/iso-evil/upper)" != "$(ct stat -c %u $L/runtime/iso-other/upper)" ] ||
        fail "two servers share a uid"
ok "servers run as users of their own and cannot signal each other"
ok "the game server sees its own layers and nothing of other tenants or servers"
exit 0
