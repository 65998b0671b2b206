"""Helpers for black-box tests: an independent MessagePack-RPC client (python3-msgpack,
not our C code) and a way to run a daemon under systemd-socket-activate.
Use with Debian's /usr/bin/python3."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import msgpack

BUILD = os.environ.get("BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def wait_listening(path, timeout=5, proc=None, what=None):
    """Waits until a stream connect to the AF_UNIX socket at path succeeds.

    The path existing is not enough: systemd-socket-activate (like any server) creates it at
    bind() and listens a moment later, and a connect in between is refused. The probe
    connection is closed at once; a socket-activated daemon sees a peer that went away."""
    deadline = time.time() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return
        except (FileNotFoundError, ConnectionRefusedError):
            pass
        finally:
            s.close()
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited before listening on %s" % (what or "the daemon", path))
        if time.time() > deadline:
            raise RuntimeError("%s is not listening on %s after %s s" % (what or "the daemon", path, timeout))
        time.sleep(0.01)


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Client:
    """One connection; call() sends a request and collects notifications until the reply."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=64 << 20)
        self.next_id = 1
        self.fds = []  # descriptors that came with answers (SCM_RIGHTS), oldest first

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.sock.close()

    def send(self, obj):
        self.sock.sendall(msgpack.packb(obj, use_bin_type=True))

    def read(self):
        """Next message, or None at EOF."""
        while True:
            for obj in self.unpacker:
                return obj
            data, fds, _, _ = socket.recv_fds(self.sock, 65536, 4)
            self.fds.extend(fds)
            if not data:
                return None
            self.unpacker.feed(data)

    def request(self, method, params=None, msgid=None):
        if msgid is None:
            msgid = self.next_id
            self.next_id += 1
        self.send([0, msgid, method, [] if params is None else [params]])
        return msgid

    def call(self, method, params=None, on_notify=None):
        msgid = self.request(method, params)
        notes = []
        while True:
            m = self.read()
            if m is None:
                raise ConnectionError("connection closed before the reply")
            if m[0] == 2 and m[1] == "rpc.error":
                raise RpcError(m[2][0]["code"], m[2][0]["message"])
            if m[0] == 2 and isinstance(m[2], list) and len(m[2]) == 2 and m[2][0] == msgid:
                notes.append(m[2][1])
                if on_notify and on_notify(m[2][1]) is False:
                    self.send([2, "rpc.cancel", [msgid]])
                continue
            if m[0] == 1 and m[1] == msgid:
                if m[2] is not None:
                    err = RpcError(m[2]["code"], m[2]["message"])
                    err.notes = notes
                    raise err
                if on_notify is None and notes:
                    return m[3], notes
                return m[3]


    def call_fd(self, method, params=None):
        """A call whose answer carries a descriptor: returns (result, fd); the fd is the
        caller's to close. AssertionError when none came with it."""
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        res = self.call(method, params)
        assert len(self.fds) == 1, "%s: %d descriptors came with the answer, not 1" % (method, len(self.fds))
        return res, self.fds.pop()


class Daemon:
    """Runs `binary args...` under systemd-socket-activate on temporary sockets."""

    def __init__(self, binary, args=(), sockets=("rpc",), tcp=None, config=None, env=None, sockname="test"):
        self.dir = tempfile.mkdtemp(prefix="l4m-bb-")
        self.socket = os.path.join(self.dir, sockname + ".sock")
        if config and "{dir}" in config:
            config = config.replace("{dir}", self.dir)
        cfg = os.path.join(self.dir, "left4me.yaml")
        with open(cfg, "w") as f:
            f.write(config or "")
        cmd = ["systemd-socket-activate"]
        # systemd-socket-activate passes only the environment it is told to: hand on the
        # sanitizer settings of `make asan` (h2o's known one-off leak is suppressed there).
        env = dict(env or {})
        env.setdefault("LSAN_OPTIONS", os.environ.get(
            "LSAN_OPTIONS", "suppressions=%s:print_suppressions=0" % os.path.abspath(
                os.path.join(os.path.dirname(__file__), "..", "svc-web", "lsan.supp"))))
        for k in env:
            cmd += ["-E", k]
        names = []
        if tcp:
            cmd += ["-l", tcp]
            names.append("http")
        cmd += ["-l", self.socket]
        names.append("rpc")
        if len(names) > 1:
            cmd += ["--fdname=" + ":".join(names)]
        cmd += [os.path.join(BUILD, binary), "--config", cfg] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, **env))
        try:
            wait_listening(self.socket, 5, self.proc, binary)
        except RuntimeError as e:
            raise RuntimeError("%s: %s" % (e, self.output()))

    def output(self):
        if self.proc.poll() is None or self.proc.stdout.closed:
            return ""
        return self.proc.stdout.read().decode(errors="replace")

    def client(self, timeout=10):
        return Client(self.socket, timeout)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def wait_exit(self, timeout):
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        self.proc.stdout.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
