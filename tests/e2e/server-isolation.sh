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
        ct rm -f /dev/shm/left4me-host-shm /dev/shm/left4me-probe-shm
}
trap cleanup EXIT

ct_sh "echo host >/dev/shm/left4me-host-shm" || fail "host shm file"
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
        echo done
} >"$out" 2>&1
exec sleep 600
PROBE
[ $? = 0 ] || fail "probe"

printf 'port: 27050\n' | ct_sh "cat >/tmp/iso-other.yaml"
printf 'port: 27051\noverlays: [iso-evil]\n' | ct_sh "cat >/tmp/iso-evil.yaml"
assert_rc 0 "initialize iso-other" ct l4d2ctl initialize iso-other -f /tmp/iso-other.yaml
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
ok "the game server sees its own layers and nothing of other tenants or servers"
exit 0
