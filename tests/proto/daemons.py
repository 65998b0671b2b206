"""The same protocol checks against each real daemon (hostd, jobd, logd, webd's RPC socket),
each under systemd-socket-activate on a temporary socket: our client (l4d2ctl ping) and an
independent one (python3-msgpack) get sys.health; hostile messages get an error or a closed
connection while a bystander keeps being served; the daemon exits when idle."""
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pylib.l4m import BUILD, Daemon, RpcError  # noqa: E402

HOSTILE = [
    ("array32 bomb", b"\xdd\xff\xff\xff\xff"),
    ("map32 bomb", b"\xdf\xff\xff\xff\xff"),
    ("str32 claim", b"\x94\x00\x01\xdb\xff\xff\xff\xff"),
    ("bin32 claim", b"\xc6\xff\xff\xff\xff"),
    ("reserved byte", b"\xc1"),
    ("deep nesting", b"\x91" * 200),
    ("garbage", bytes(range(0xc1, 0x100)) * 4),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Base:
    binary = None
    service = None
    config = "paths: {root: {dir}/root, run: {dir}}\n"
    tcp = False

    def start(self, idle="0", extra_config=""):
        root = None
        kwargs = {}
        if self.tcp:
            kwargs["tcp"] = "127.0.0.1:%d" % free_port()
        d = Daemon(self.binary, ["--idle-exit", idle], config=self.config + extra_config, sockname=self.service,
                   **kwargs)
        root = os.path.join(d.dir, "root")
        os.makedirs(root, exist_ok=True)
        for sub in ("instances", "runtime", "overlays", "installation", "tmp"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        return d

    def setUp(self):
        self.d = self.start()

    def tearDown(self):
        self.d.stop()

    def test_health_from_both_clients(self):
        h = self.d.client().call("sys.health")
        self.assertEqual(h["status"], "ok")
        self.assertEqual(h["service"], self.binary)
        out = subprocess.run([os.path.join(BUILD, "l4d2ctl"), "--socket-dir", self.d.dir, "ping", self.service],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(self.binary, out.stdout)

    def test_unknown_method_and_bad_args(self):
        c = self.d.client()
        with self.assertRaises(RpcError) as e:
            c.call("no.such.method")
        self.assertEqual(e.exception.code, "invalid")
        with self.assertRaises(RpcError) as e:
            c.call("sys.version", {"junk": True})
        self.assertEqual(e.exception.code, "invalid")

    def test_hostile_input(self):
        bystander = self.d.client()
        bystander.call("sys.health")
        for name, payload in HOSTILE:
            c = self.d.client()
            c.sock.sendall(payload)
            m = c.read()
            if m is not None:
                self.assertEqual(m[0:2], [2, "rpc.error"], name)
                self.assertIsNone(c.read(), name + ": connection should close")
            c.close()
            self.assertEqual(bystander.call("sys.health")["status"], "ok", name)
        self.assertTrue(self.d.alive())

    @unittest.skipUnless(os.geteuid() == 0, "needs root to act as another user")
    def test_one_user_cannot_hog_the_connections(self):
        """uid 65534 opens 200 connections and holds them; root still gets through."""
        os.chmod(self.d.dir, 0o755)
        os.chmod(self.d.socket, 0o666)
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(65534)
                os.setuid(65534)
                held = []
                for _ in range(200):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(2)
                    try:
                        s.connect(self.d.socket)
                    except OSError:
                        break
                    held.append(s)
                os.write(ready_w, str(len(held)).encode())
                time.sleep(60)
            finally:
                os._exit(0)
        os.close(ready_w)
        try:
            opened = int(os.read(ready_r, 16) or b"0")
            self.assertGreater(opened, 16, "the hog could not even connect")
            time.sleep(0.3)
            out = subprocess.run([os.path.join(BUILD, "l4d2ctl"), "--socket-dir", self.d.dir, "ping",
                                  self.service], capture_output=True, text=True, timeout=20)
            self.assertEqual(out.returncode, 0, "root's ping while uid 65534 holds %d connections: %s"
                             % (opened, out.stderr))
            self.assertEqual(self.d.client().call("sys.health")["status"], "ok")
        finally:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(ready_r)

    def run_plain(self, *args):
        """Runs the daemon outside systemd-socket-activate, with a config of defaults."""
        # A root of its own: the socket-activated daemon of setUp may hold root/jobs.db's lock.
        root = os.path.join(self.d.dir, "plain-root")
        for sub in ("", "instances", "runtime", "overlays", "installation", "tmp"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        cfg = os.path.join(self.d.dir, "empty.yaml")
        with open(cfg, "w") as f:
            f.write("paths: {root: %s, run: %s}\n" % (root, self.d.dir))
        env = dict(os.environ)
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            env.pop(k, None)
        return subprocess.run([os.path.join(BUILD, self.binary), "--config", cfg] + list(args),
                              capture_output=True, text=True, timeout=10, env=env)

    def test_listen_never_removes_a_regular_file(self):
        path = os.path.join(self.d.dir, "precious")
        with open(path, "w") as f:
            f.write("data\n")
        out = self.run_plain("--listen", path, "--idle-exit", "1")
        self.assertNotEqual(out.returncode, 0, "listened on a regular file's path")
        self.assertIn("precious", out.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "data\n")

    def test_listen_replaces_a_stale_socket(self):
        path = os.path.join(self.d.dir, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()  # the file stays, nobody listens: what a killed daemon leaves behind
        out = self.run_plain("--listen", path, "--idle-exit", "1")
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_idle_exit_range(self):
        for bad in ("-1", "86401", "banana"):
            out = self.run_plain("--listen", os.path.join(self.d.dir, "x.sock"), "--idle-exit", bad)
            self.assertNotEqual(out.returncode, 0, "--idle-exit " + bad + " accepted")
            self.assertIn("0..86400", out.stderr, bad)

    TIMEOUTS = "limits: {idle_connection_sec: 2, message_timeout_sec: 1}\n"

    def start_with_timeouts(self):
        return self.start(extra_config=self.TIMEOUTS)

    def raw(self, d):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(d.socket)
        return s

    @staticmethod
    def until_eof(s):
        """Reads until EOF; returns (seconds it took, bytes read)."""
        t0, data = time.monotonic(), b""
        while True:
            k = s.recv(65536)
            if not k:
                return time.monotonic() - t0, data
            data += k

    def test_idle_connection_is_closed(self):
        """limits.idle_connection_sec: a connection that sends nothing is closed, quietly."""
        d = self.start_with_timeouts()
        try:
            s = self.raw(d)
            took, data = self.until_eof(s)
            self.assertGreaterEqual(took, 1.5, "closed before the idle time")
            self.assertLess(took, 4.5, "not closed after the idle time")
            self.assertEqual(data, b"", "an idle close says nothing")
            self.assertEqual(d.client().call("sys.health")["status"], "ok")
        finally:
            d.stop()

    def test_partial_message_is_closed_with_an_error(self):
        """limits.message_timeout_sec: half a message gets an error, then EOF."""
        d = self.start_with_timeouts()
        try:
            s = self.raw(d)
            s.sendall(b"\x94\x00\x01\xaa" + b"sys.he")  # [0, 1, "sys.he... (10 bytes claimed)
            took, data = self.until_eof(s)
            self.assertLess(took, 3.5, "a stalled message was not timed out")
            self.assertGreaterEqual(took, 0.5)
            self.assertIn(b"incomplete", data, "no error before the close")
        finally:
            d.stop()

    def test_a_held_connection_does_not_keep_the_daemon(self):
        """A client that connects and sends nothing no longer keeps the daemon from its idle exit."""
        d = self.start(idle="1", extra_config=self.TIMEOUTS)
        try:
            s = self.raw(d)
            self.assertTrue(d.wait_exit(8), "a silent connection kept the daemon alive")
            self.assertEqual(d.proc.returncode, 0)
            s.close()
        finally:
            d.stop()

    def test_a_busy_connection_is_not_idle(self):
        """A request every 0.5 s for 3.5 s on one connection: the idle time restarts each time."""
        d = self.start_with_timeouts()
        try:
            c = d.client()
            for _ in range(7):
                self.assertEqual(c.call("sys.health")["status"], "ok")
                time.sleep(0.5)
        finally:
            d.stop()

    def test_idle_exit(self):
        d = self.start(idle="1")
        try:
            d.client().call("sys.health")
            self.assertTrue(d.wait_exit(6), "did not exit when idle")
            self.assertEqual(d.proc.returncode, 0)
        finally:
            d.stop()


class Hostd(Base, unittest.TestCase):
    binary, service = "left4me-hostd", "host"


class Jobd(Base, unittest.TestCase):
    binary, service = "left4me-jobd", "jobs"


class Logd(Base, unittest.TestCase):
    binary, service = "left4me-logd", "logs"

    def test_a_stream_keeps_its_connection(self):
        """logs.follow in flight is not idle: the connection outlives idle_connection_sec."""
        d = self.start_with_timeouts()
        try:
            c = d.client()
            c.request("logs.follow", {"target": {"kind": "service", "name": "host"}, "lines": 0})
            c.sock.settimeout(4)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3.5:
                try:
                    m = c.read()
                except socket.timeout:
                    break
                self.assertIsNotNone(m, "the stream's connection was closed after %.1f s"
                                     % (time.monotonic() - t0))
                self.assertNotEqual(m[0], 1, "the stream ended: %r" % (m,))
        finally:
            d.stop()


class Webd(Base, unittest.TestCase):
    binary, service, tcp = "left4me-webd", "web", True


class CliErrors(unittest.TestCase):
    """What l4d2ctl tells a user who cannot get through: the unit to check, the group to join."""

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="l4m-cli-")
        self.cfg = os.path.join(self.dir, "left4me.yaml")
        with open(self.cfg, "w") as f:
            f.write("paths: {root: %s, run: %s}\n" % (self.dir, self.dir))

    def tearDown(self):
        import shutil
        shutil.rmtree(self.dir)

    def l4d2ctl(self, *args, user=None):
        cmd = [os.path.join(BUILD, "l4d2ctl"), "--config", self.cfg] + list(args)
        if user is not None:
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups", "--"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, USER="someone"))

    def test_unavailable_names_the_socket_unit(self):
        for service, unit in (("host", "left4me-host.socket"), ("jobs", "left4me-jobs.socket"),
                              ("logs", "left4me-logs.socket"), ("web", "left4me-web-rpc.socket")):
            r = self.l4d2ctl("ping", service)
            self.assertEqual(r.returncode, 7, r.stderr)
            self.assertIn("(is %s running?)" % unit, r.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to drop to another user")
    def test_unreadable_config_names_the_group(self):
        os.chmod(self.cfg, 0o600)
        os.chmod(self.dir, 0o755)
        r = self.l4d2ctl("ping", user=65534)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("you may not read the configuration", r.stderr)
        self.assertIn("member of group 'left4me'", r.stderr)
        self.assertIn("usermod -aG left4me someone", r.stderr)
        self.assertNotIn("bad configuration", r.stderr)


if __name__ == "__main__":
    unittest.main()
