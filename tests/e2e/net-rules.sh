#!/bin/bash
# The suite's network rules, table inet left4me of left4me-firewall.service (docs/sandbox.md,
# "Network"; issues 12 and 13), in the container's own network namespace:
#   - a build reaches nothing on this host: not loopback, not the host's own public address
#     (IPAddressDeny= cannot list it, and is not enforced here at all), v4 or v6, TCP or UDP,
#     while a destination off the host is not rejected;
#   - a game server's RCON (TCP on its port) answers on loopback only, its UDP (A2S) on the
#     public address too;
#   - without the rules the same connections go through (so the test is of the rules), and a
#     build brings them back or does not run.
# 203.0.113.10 and 2001:db8::10 (documentation ranges) stand in for this host's public
# addresses, on one end of a veth pair (the container has only lo of its own).
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$(dirname "$0")/build-lib.sh"

need_cli
need_daemon host
ADDR=203.0.113.10
ADDR6=2001:db8::10
OFFHOST=198.51.100.1
cleanup() {
        ct rm -rf /run/systemd/system/left4me-firewall.service.d && ct systemctl daemon-reload
        ct systemctl start left4me-firewall.service >/dev/null 2>&1
        ct systemctl stop net-listener.service >/dev/null 2>&1
        ct l4d2ctl delete nr-game >/dev/null 2>&1
        ct l4d2ctl overlay delete nr >/dev/null 2>&1
        ct ip link del l4m-pub 2>/dev/null
}
trap cleanup EXIT

ct ip link add l4m-pub type veth peer name l4m-peer || fail "veth"
ct ip link set l4m-pub up && ct ip link set l4m-peer up || fail "veth up"
ct ip addr add $ADDR/32 dev l4m-pub && ct ip -6 addr add $ADDR6/128 dev l4m-pub nodad || fail "addresses"
# Off the host: out through the veth, where nothing answers (a SYN leaves and times out).
ct ip route add 198.51.100.0/24 dev l4m-pub || fail "route"

echo "--- the rules are loaded with the suite"
assert_eq active "$(unit_state left4me-firewall.service)" "left4me-firewall.service"
rules=$(ct nft list table inet left4me) || fail "no table inet left4me"
echo "$rules" | sed 's/^/    /'
for k in 0 7 15; do
        assert_contains "$rules" "$(ct id -u left4me-build-$k)" "the build uids in the rules (left4me-build-$k)"
done
assert_contains "$rules" "tcp dport 27015-27115" "the configured game port range"

# A service of this host's on every address: TCP (dual-stack) and UDP, each logging what
# reaches it. Run as nobody: a neighbour, not one of ours.
ct systemd-run --quiet --unit=net-listener -p User=nobody -p PrivateTmp=no /usr/bin/python3 -c '
import socket, select
t = socket.socket(socket.AF_INET6); t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("::", 8099)); t.listen(16)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
u.bind(("::", 8098))
while True:
    for s in select.select([t, u], [], [])[0]:
        if s is t:
            c, a = t.accept(); c.close(); what = "tcp"
        else:
            d, a = u.recvfrom(100); what = "udp"
        with open("/tmp/net-listener.log", "a") as f:
            f.write("%s %s\n" % (what, a[0]))
' || fail "listener"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a ss -ltn | grep -q ':8099 '" || fail "the listener is not up"
connect() { ct setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c \
        'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)' "$1" "$2"; }
for a in $ADDR 127.0.0.1 $ADDR6 ::1; do
        assert_rc 0 "nobody (no build user) connects to $a:8099" connect $a 8099
done
seen_before=$(ct cat /tmp/net-listener.log | wc -l)

echo "--- a build reaches nothing on this host"
put_script warmup "echo warm"
run_build nr warmup
[ "$RC" = 0 ] || fail "a trivial build failed"
hostile nr reach-host "
tcp() { python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)' \"\$@\"; }
for a in $ADDR 127.0.0.1 127.1.2.3 0.0.0.0 $ADDR6 ::1 :: ::ffff:127.0.0.1 ::ffff:$ADDR; do
        try \"TCP to \$a:8099\" tcp \$a 8099
done
udp() { python3 -c 'import socket, sys; f, t, p, c, a = socket.getaddrinfo(sys.argv[1], 8098, type=socket.SOCK_DGRAM)[0]; socket.socket(f, t).sendto(b\"x\", a)' \"\$1\" 2>&1; }
for a in $ADDR 127.0.0.1 $ADDR6 ::1; do
        echo \"UDP to \$a:8098: \$(udp \$a | tail -n 1)\"
done
try 'TCP to the game port on loopback' tcp 127.0.0.1 27061
try 'TCP to the game port on the public address' tcp $ADDR 27061
# Off the host the rule does not apply: the SYN leaves (and times out, nothing is there).
out=\$(tcp $OFFHOST 80 2>&1); case \$out in *'timed out'*) echo 'off the host: the SYN left (timed out)' ;; *) echo \"off the host: \$out\" ;; esac"
assert_contains "$OUT" "off the host: the SYN left (timed out)" "a destination off the host is not rejected"
sleep 0.5
seen_after=$(ct cat /tmp/net-listener.log | wc -l)
assert_eq "$seen_before" "$seen_after" "what reached the host's listener from the build (lines of its log)"
counted=$(ct nft list chain inet left4me build_output | grep -o 'packets [0-9]*' | awk '{print $2}')
[ "${counted:-0}" -gt 0 ] || fail "the build rule counted no packet"
ok "the build rule rejected $counted packets"

echo "--- RCON from loopback only, UDP open (issue 13)"
runtime_on_tmpfs
game_installed
printf 'port: 27061\n' | ct_sh "cat >/tmp/nr-game.yaml"
assert_rc 0 "initialize nr-game" ct l4d2ctl initialize nr-game -f /tmp/nr-game.yaml
assert_rc 0 "start nr-game" ct l4d2ctl start nr-game
A2S=$E2E_PREFIX/lib/left4me/testing/a2s-query
wait_for 15 ct "$A2S" -t 500 127.0.0.1 27061 || fail "the game does not answer A2S on loopback"
assert_rc 0 "RCON (TCP) on 127.0.0.1:27061" connect 127.0.0.1 27061
assert_rc 1 "RCON (TCP) on $ADDR:27061 (the public address)" connect $ADDR 27061
out=$(ct "$A2S" -t 1000 $ADDR 27061 2>&1) || fail "A2S (UDP) on $ADDR:27061: $out"
ok "A2S (UDP) on $ADDR:27061: $(echo "$out" | grep '^name=')"

echo "--- without the rules the same connections go through"
ct systemctl stop left4me-firewall.service
ct nft list table inet left4me >/dev/null 2>&1 && fail "the table is still there after stopping the unit"
ok "stopping left4me-firewall.service removes table inet left4me"
assert_eq active "$(unit_state left4me-server@nr-game.service)" "the game after the rules stopped (Wants=, not Requires=)"
assert_rc 0 "RCON on $ADDR:27061 without the rules" connect $ADDR 27061
put_script reach 'python3 -c "import socket; socket.create_connection((\"'$ADDR'\", 8099), 3)" && echo "reached the host" || echo "blocked"'
run_build nr reach
assert_contains "$OUT" "blocked" "a build started while the rules were down"
assert_eq active "$(unit_state left4me-firewall.service)" "the rules, back: a build Requires= them, After= them"
ct nft list table inet left4me >/dev/null || fail "the table is not back"

echo "--- no rules, no build"
# The rules' unit fails to start (say nft is gone): a build does not run without it.
ct mkdir -p /run/systemd/system/left4me-firewall.service.d
printf '[Service]\nExecStart=\nExecStart=/bin/false\n' | ct_sh "cat >/run/systemd/system/left4me-firewall.service.d/broken.conf"
ct systemctl daemon-reload
ct systemctl stop left4me-firewall.service
run_build nr warmup
[ "$RC" != 0 ] || fail "a build ran without the network rules"
assert_contains "$OUT" "left4me-firewall.service, the build network rules, is not running" "the refusal"
assert_eq 7 "$RC" "l4d2ctl's exit status (unavailable)"
ct rm -rf /run/systemd/system/left4me-firewall.service.d
ct systemctl daemon-reload
assert_rc 0 "start the rules again" ct systemctl start left4me-firewall.service
exit 0
