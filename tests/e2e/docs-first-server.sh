#!/bin/bash
# deploy/README.md, pasted: every `sh` block between its docs-test markers runs in the
# container, in order, as an admin would paste it (sudo is a shim: the test runs as root).
# A block after a "skip" marker is left out; one after "instead: CMD" runs CMD (the
# stand-ins: the fake steamcmd, a tmpfs under runtime/). Then the server the docs create
# must be running and answering A2S. So the install guide cannot drift from the code.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

need_cli
need_file "$E2E_PREFIX/lib/left4me/testing/fake-steamcmd" "make install-fixtures"
DOC=$E2E_REPO/deploy/README.md
WORK=/root/docs-test

cleanup() {
        ct l4d2ctl delete first >/dev/null 2>&1
        ct l4d2ctl delete hostmd-example >/dev/null 2>&1
        ct l4d2ctl overlay delete standard >/dev/null 2>&1
        ct rm -rf $WORK
}
trap cleanup EXIT

blocks=$(mktemp -d)
trap 'cleanup; rm -rf "$blocks"' EXIT
# One file per block: NNN.sh (the commands), NNN.how (run, instead or skip).
awk -v out="$blocks" '
        /<!-- docs-test: begin/ { on = 1; next }
        /<!-- docs-test: end/ { on = 0; next }
        !on { next }
        /^<!-- docs-test: skip/ { pending = "skip"; next }
        /^<!-- docs-test: instead: / {
                cmd = $0; sub(/^<!-- docs-test: instead: /, "", cmd); sub(/ -->$/, "", cmd)
                pending = "instead"; next
        }
        inblock && /^```/ { inblock = 0; close(f); next }
        inblock { if (how != "instead") print > f; next }
        /^```sh$/ {
                n++; f = sprintf("%s/%03d.sh", out, n); how = pending ? pending : "run"
                printf "%s\n", how > (out "/" sprintf("%03d", n) ".how"); close(out "/" sprintf("%03d", n) ".how")
                if (how == "instead") print cmd > f
                else printf "" > f
                pending = ""; inblock = 1; next
        }
        /^```/ { pending = "" }
' "$DOC"

nrun=0 ninstead=0 nskip=0
for how in "$blocks"/*.how; do
        case $(cat "$how") in run) nrun=$((nrun + 1)) ;; instead) ninstead=$((ninstead + 1)) ;; skip) nskip=$((nskip + 1)) ;; esac
done
echo "deploy/README.md: $nrun blocks to run, $ninstead replaced by stand-ins, $nskip skipped"
[ "$nrun" -ge 8 ] || fail "expected at least 8 runnable sh blocks between the docs-test markers, found $nrun"
[ "$ninstead" -ge 2 ] || fail "expected the steamcmd and runtime/ stand-ins, found $ninstead"

# What the admin's shell has and the container lacks: sudo (we are root already).
prelude='sudo() {
        if [ "${1:-}" = -u ]; then local u=$2; shift 2
                setpriv --reuid="$u" --regid="$(id -gn "$u")" --init-groups -- "$@"
        else "$@"; fi
}
set -eo pipefail'
ct mkdir -p $WORK
for f in "$blocks"/*.sh; do
        how=$(cat "${f%.sh}.how")
        [ "$how" = skip ] && continue
        echo "--- block $(basename "$f" .sh) ($how):"
        sed 's/^/    $ /' "$f"
        rc=0; out=$(ct bash -c "cd $WORK && $prelude
$(cat "$f")" 2>&1) || rc=$?
        printf '%s\n' "$out" | tail -n 15 | sed 's/^/    | /'
        [ "$rc" = 0 ] || fail "the block above exits $rc"
done

echo "--- the server the guide made"
wait_for 20 sh -c "nsenter -t $E2E_PID1 -a quakestat -a2s 127.0.0.1:27015 -raw , -nh 2>&1 | grep -v 'DOWN\|TIMEOUT\|ERROR' | grep -q ." ||
        fail "nothing answers A2S on port 27015"
ok "the game answers A2S on 27015: $(ct quakestat -a2s 127.0.0.1:27015 -raw , -nh 2>&1)"
assert_eq active "$(ct systemctl is-active left4me-server@first.service)" "left4me-server@first.service"
assert_contains "$(ct cat /var/lib/left4me/runtime/first/merged/left4dead2/cfg/server_standard.cfg)" "sv_region 3" \
        "the overlay's server.cfg, kept as server_standard.cfg"
assert_contains "$(ct l4d2ctl spec first)" "my first left4me server" "the stored spec"

echo "--- docs/host.md's example spec, as written, once the guide's overlay exists"
# It takes the guide's port too (one port, one instance): the guide's server goes first.
ct l4d2ctl delete first >/dev/null || fail "delete first"
example=$(awk '/^## Instance spec/ { on = 1 } on && /^```yaml$/ { inb = 1; next } inb && /^```/ { exit } inb' \
        "$E2E_REPO/docs/host.md")
[ -n "$example" ] || fail "no yaml block under '## Instance spec' in docs/host.md"
printf '%s\n' "$example" | ct l4d2ctl initialize hostmd-example -f - || fail "docs/host.md's example spec is refused"
ct l4d2ctl delete hostmd-example >/dev/null || fail "delete hostmd-example"
ok "docs/host.md's example spec initializes"
exit 0
