#!/bin/bash
# The build sandbox against hostile scripts (issue 5), under a real systemd: each test is one
# attempt to get out, and asserts that it failed and that nothing changed on the host
# (build-lib.sh: hostile). What the container cannot enforce (MemoryMax, TasksMax, CPUQuota,
# IPAddressDeny: no delegated cgroup controllers, no cgroup BPF) is in build-limits.sh as
# property checks, named so.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$(dirname "$0")/build-lib.sh"

need_cli
need_daemon host

# What a build must not see: the databases (0644, as the original's DB was), instance files,
# other overlays, the installation, the config.
# The databases' dirs are 0700 to their daemons; the planted files are 0644 inside them, so
# only the dirs (and the sandbox) keep a build out. jobs.db is jobd's real one.
ct_sh "echo host >/dev/shm/left4me-host-shm" || fail "host shm file"
# A POSIX message queue of the host's (a file in /dev/mqueue is one).
ct_sh "touch /dev/mqueue/left4me-host-mq" || fail "host mqueue"
ct_sh "install -d -o left4me-steam -g left4me-steam $L/installation && install -d $L/instances/s1 &&
       echo 'SECRET-WEB' >$L/web/web.db && echo 'SECRET-JOBS' >$L/jobs/secret.db &&
       chmod 0644 $L/web/web.db $L/jobs/secret.db &&
       echo 'SECRET-INSTALL' >$L/installation/secret.txt && chmod 0644 $L/installation/secret.txt &&
       install -d -m 0755 $L/overlays/other && echo 'SECRET-OTHER' >$L/overlays/other/file &&
       chmod 0644 $L/overlays/other/file &&
       { grep -q SECRET-CONFIG /etc/left4me/left4me.yaml || echo '# SECRET-CONFIG' >>/etc/left4me/left4me.yaml; }" || fail "setup"
# A process of another user to signal and trace.
ct systemd-run --quiet --unit=build-victim -p User=nobody sleep 600 || fail "victim"
wait_for 10 sh -c "nsenter -t $E2E_PID1 -a systemctl show -P MainPID build-victim.service | grep -qv '^0$'"
VICTIM=$(ct systemctl show -P MainPID build-victim.service)
cleanup() {
        ct systemctl stop build-victim.service 2>/dev/null
        ct l4d2ctl overlay delete iso >/dev/null 2>&1
        ct l4d2ctl overlay delete other >/dev/null 2>&1
        ct rm -f $L/web/web.db $L/jobs/secret.db /dev/shm/left4me-host-shm /dev/mqueue/left4me-host-mq
}
trap cleanup EXIT
# The overlay exists before the snapshots (creating it changes overlays/'s mtime).
put_script warmup "echo warm"
run_build iso warmup
[ "$RC" = 0 ] || fail "a trivial build failed"

echo "--- read web.db / jobs.db"
hostile iso read-databases "
try 'read web.db' cat $L/web/web.db
try 'read jobs.db' cat $L/jobs/jobs.db
try 'read a file in jobs/' cat $L/jobs/secret.db
try 'find web.db or jobs.db anywhere' sh -c 'find / \( -path /proc -o -path /sys -o -path /usr \) -prune -o \( -name web.db -o -name jobs.db -o -name secret.db \) -print 2>/dev/null | grep .'
try 'grep for the secrets' sh -c 'grep -rsl -e SECRET-WEB -e SECRET-JOBS -e SECRET-OTHER -e SECRET-INSTALL -e SECRET-CONFIG /var /etc /run /tmp /home /root /srv /opt /mnt /media /overlay | grep .'"

echo "--- anything in /var/lib/left4me but /overlay"
hostile iso read-var-lib-left4me "
try 'list /var/lib/left4me' ls $L
try 'list /var/lib' sh -c 'ls -A /var/lib | grep .'
try 'read the installation' cat $L/installation/secret.txt
try 'list instances' ls $L/instances
try 'reach it through /proc/1/root' ls /proc/1/root$L
try 'reach it through the parent of /overlay' sh -c 'ls /overlay/../var/lib/left4me'"

echo "--- /etc/shadow, /etc/left4me"
hostile iso read-etc "
try 'read /etc/shadow' cat /etc/shadow
try 'read /etc/left4me/left4me.yaml' cat /etc/left4me/left4me.yaml
try 'list /etc/left4me' ls /etc/left4me
try 'read /etc/passwd' cat /etc/passwd
try 'find anything else in /etc' sh -c 'ls -A /etc | grep -vxE \"resolv.conf|ssl|ca-certificates|nsswitch.conf|alternatives\"'"

echo "--- write outside /overlay"
hostile iso write-outside "
for d in / /etc /usr /usr/local/bin /var /var/lib /var/lib/left4me /root /home /run /run/lock /var/lock /run/systemd /srv /opt /dev /dev/hugepages /boot /sys/fs/cgroup /proc/sys; do
        try \"write \$d\" sh -c \"echo x >\$d/escape-probe\"
        try \"mkdir in \$d\" mkdir \$d/escape-probe-dir
done
try 'write the script itself' sh -c 'echo x >>/script.sh'
# /tmp and /var/tmp (PrivateTmp), /dev/shm (a tmpfs of its own) are private: writable,
# thrown away, never the host's (PrivateDevices= alone binds the host's /dev/shm).
try \"see the host's /dev/shm\" test -e /dev/shm/left4me-host-shm
# /dev/mqueue: PrivateDevices= alone would bind the host's; PrivateIPC= mounts the queue file
# system of the build's own IPC namespace there instead.
try \"see the host's message queue in /dev/mqueue\" test -e /dev/mqueue/left4me-host-mq
echo mark >/tmp/escape-probe-tmp && echo mark >/var/tmp/escape-probe-vartmp &&
        echo mark >/dev/shm/escape-probe-shm && touch /dev/mqueue/escape-probe-mq && echo 'private tmp written'"
assert_contains "$OUT" "private tmp written" "write-outside"
for f in /tmp/escape-probe-tmp /var/tmp/escape-probe-vartmp /dev/shm/escape-probe-shm /dev/mqueue/escape-probe-mq /run/lock/escape-probe; do
        ct test ! -e $f || fail "$f appeared on the host"
done
ok "the writable /tmp, /var/tmp, /dev/shm and /dev/mqueue were private"

echo "--- write another overlay"
hostile iso write-other-overlay "
try 'write overlays/other by path' sh -c 'echo x >$L/overlays/other/file'
try 'list overlays/' ls $L/overlays
try 'climb out of /overlay' sh -c 'echo x >/overlay/../overlays/other/file'
try 'symlink to the other overlay' sh -c 'ln -s $L/overlays/other /overlay/link && echo x >/overlay/link/file'"
assert_eq "SECRET-OTHER" "$(ct cat $L/overlays/other/file)" "overlays/other/file after the attempts"

echo "--- unshare, mount, personality, bpf (syscalls on x86-64: unshare 272, mount 165, personality 135, bpf 321)"
hostile iso unshare "
try 'unshare -U (user namespace)' unshare -U true
try 'unshare -m (mount namespace)' unshare -m true
try 'unshare -n (network namespace)' unshare -n true
try 'unshare(CLONE_NEWUSER) syscall' sys 272 0x10000000
try 'clone into a new pid namespace' unshare -p -f true"
hostile iso mount "
mkdir -p /overlay/mnt
try 'mount tmpfs (setuid mount binary)' mount -t tmpfs none /overlay/mnt
try 'mount(2) syscall' sys 165 0 0 0 0 0
try 'bind mount' mount --bind /overlay /overlay/mnt
rmdir /overlay/mnt"
hostile iso personality "
try 'setarch linux32 (PER_LINUX32)' setarch linux32 true
try 'setarch -R (ADDR_NO_RANDOMIZE)' setarch -R true
try 'personality(READ_IMPLIES_EXEC) syscall' sys 135 0x0400000"
hostile iso bpf "
try 'bpf(BPF_MAP_CREATE) syscall' sys 321 0 0 0
try 'bpf(BPF_PROG_LOAD) syscall' sys 321 5 0 0"

echo "--- ptrace, kill another user's process"
hostile iso ptrace "
sleep 60 & own=\$!
try 'ptrace(PTRACE_ATTACH) another user (pid $VICTIM)' sys 101 16 $VICTIM 0 0
try 'ptrace(PTRACE_ATTACH) even its own child' sys 101 16 \$own 0 0
try 'read another process memory' sh -c 'head -c 1 /proc/$VICTIM/mem'
kill \$own"
hostile iso kill-other-user "
try 'kill -TERM $VICTIM (user nobody)' kill -TERM $VICTIM
try 'kill -KILL $VICTIM' kill -KILL $VICTIM
try 'kill pid 1' kill -TERM 1"
ct kill -0 "$VICTIM" || fail "the victim process is gone"
assert_eq "active" "$(unit_state build-victim.service)" "the victim unit"

echo "--- sysctl, setuid binaries"
hostile iso sysctl "
try 'write /proc/sys/kernel/hostname' sh -c 'echo evil >/proc/sys/kernel/hostname'
try 'sysctl -w vm.swappiness' sysctl -w vm.swappiness=1
try 'read /proc/sys at all' ls /proc/sys/kernel
try 'sethostname' hostname evil"
assert_eq "$(ct cat /proc/sys/vm/swappiness)" "$(ct cat /proc/sys/vm/swappiness)" "swappiness"
hostile iso setuid "
try 'su to root' sh -c 'su -c \"id -u\" root </dev/null'
cp /bin/bash /overlay/b
try 'chmod u+s on its own file' chmod u+s /overlay/b
try 'chmod g+s on its own file' chmod g+s /overlay/b
try 'setuid(0)' perl -e '\$< = 0; \$> = 0; exit(\$> == 0 ? 0 : 1)'
rm -f /overlay/b"

echo "--- host processes in /proc"
hostile iso proc "
try 'see pid 1' ls /proc/1
try 'see the victim (pid $VICTIM)' ls /proc/$VICTIM
try 'a process of another user in /proc' sh -c 'for p in /proc/[0-9]*; do [ \"\$(stat -c %u \$p)\" = \"\$(id -u)\" ] || { echo \$p; exit 0; }; done; exit 1'
try 'ps -e shows more than its own' sh -c 'ps -eo user= | grep -v left4me | grep -v \"^ *\$(id -u)\$\" | grep .'
try 'read /proc/cmdline, kallsyms, /proc/sys' sh -c 'cat /proc/cmdline || cat /proc/kallsyms || ls /proc/sys'"

echo "--- the left4me sockets"
hostile iso sockets "
try 'list /run/left4me' ls /run/left4me
try 'connect to host.sock' python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/run/left4me/host.sock\")'
try 'connect to jobs.sock' python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/run/left4me/jobs.sock\")'
try 'connect to the system bus' python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/run/dbus/system_bus_socket\")'
try 'connect to systemd private' python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/run/systemd/private\")'
try 'a netlink socket' python3 -c 'import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)'
try 'send to journald (forge entries)' python3 -c 'import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\"MESSAGE=forged\\n\", \"/run/systemd/journal/socket\")'
try 'send to /dev/log (syslog)' python3 -c 'import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\"<13>forged\", \"/dev/log\")'
try 'connect to journald stdout' python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/run/systemd/journal/stdout\")'
try 'connect to userdb' sh -c 'for f in /run/systemd/userdb/*; do python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\" \$f && exit 0; done; exit 1'
try 'connect to nscd' python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/run/nscd/socket\")'
try 'a socket anywhere in /run' sh -c 'find /run -type s 2>/dev/null | grep .'
try 'a packet socket' python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)'"

echo "--- W+X memory, keyring, realtime, clock"
hostile iso misc-kernel "
try 'mmap PROT_WRITE|PROT_EXEC' python3 -c 'import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ|mmap.PROT_WRITE|mmap.PROT_EXEC)'
try 'realtime scheduling' chrt -f 1 true
try 'set the clock' sh -c 'date -s 2000-01-01 >/dev/null'
try 'settimeofday(2) syscall' sys 164 0 0
try 'finit_module(2) syscall' sys 313 0 0 0
try 'init_module(2) syscall' sys 175 0 0 0
try 'read the kernel log' dmesg"
exit 0
