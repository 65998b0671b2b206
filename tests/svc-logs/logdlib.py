"""Helpers for logd's black-box tests and benchmarks (run with /usr/bin/python3).

- Journal: writes journal files into a directory with systemd-journal-remote, from the
  journal export format, either all at once or live (a journal-remote process reading
  a FIFO), so that logd (started with its hidden --journal-dir option) reads a journal
  that the test controls exactly: units, invocation ids, timestamps, binary messages.
- Logd: starts left4me-logd under systemd-socket-activate on a temporary socket.
- Client: an independent MessagePack-RPC client (not proto/client.c): calls, streaming
  notifications, rpc.cancel, raw bytes.
"""
import atexit
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import msgpack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
import l4m  # noqa: E402

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT_ID = "0123456789abcdef0123456789abcdef"


def need_journal_remote():
    if not os.access(JOURNAL_REMOTE, os.X_OK):
        print("SKIP: %s is missing (package systemd-journal-remote; deploy/deps.sh installs it)"
              % JOURNAL_REMOTE)
        sys.exit(0)


def inv(n):
    """A deterministic invocation id."""
    return ("%032x" % (0xabc000 + n))


def export_entry(fields, realtime, monotonic):
    """One entry in the journal export format. fields: list of (name, bytes|str)."""
    out = bytearray()
    out += b"__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n" % (
        realtime, monotonic, BOOT_ID.encode())
    for k, v in fields:
        if isinstance(v, str):
            v = v.encode()
        if b"\n" in v:
            out += k.encode() + b"\n" + struct.pack("<Q", len(v)) + v + b"\n"
        else:
            out += k.encode() + b"=" + v + b"\n"
    out += b"\n"
    return bytes(out)


class Journal:
    """A directory of journal files that tests append to."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.t0 = int(time.time() * 1e6) - 3600 * 1000000
        self.n = 0
        self.proc = None
        self.fifo = None
        self.file_no = 0

    def _fields(self, unit, message, invocation=None, priority=6, pid1=False, extra=()):
        f = []
        if pid1:
            f += [("_PID", "1"), ("_SYSTEMD_UNIT", "init.scope"), ("UNIT", unit)]
            if invocation:
                f.append(("INVOCATION_ID", invocation))
        else:
            f += [("_PID", "4242"), ("_SYSTEMD_UNIT", unit)]
            if invocation:
                f.append(("_SYSTEMD_INVOCATION_ID", invocation))
        if priority is not None:
            f.append(("PRIORITY", str(priority)))
        f.append(("MESSAGE", message))
        f += list(extra)
        return f

    def entry(self, unit, message, **kw):
        self.n += 1
        realtime = kw.pop("realtime", None) or (self.t0 + self.n * 1000)
        return export_entry(self._fields(unit, message, **kw), realtime, self.n * 1000)

    def write_batch(self, entries):
        """Writes entries (export bytes) into a new journal file at once."""
        self.file_no += 1
        path = os.path.join(self.dir, "batch-%d.journal" % self.file_no)
        p = subprocess.run([JOURNAL_REMOTE, "--output=" + path, "-"], input=b"".join(entries),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise RuntimeError("journal-remote failed: %s" % p.stderr.decode())
        return path

    def start_live(self, name="live"):
        """Starts a journal-remote that appends what live() writes to DIR/<name>.journal."""
        self.stop_live()
        self.fifo = os.path.join(self.dir, ".fifo-" + name)
        if os.path.exists(self.fifo):
            os.unlink(self.fifo)
        os.mkfifo(self.fifo)
        path = os.path.join(self.dir, name + ".journal")
        # Read from stdin: given a file name instead, journal-remote writes only at its end.
        rfd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.fd = os.open(self.fifo, os.O_WRONLY)
        os.set_blocking(rfd, True)
        self.proc = subprocess.Popen([JOURNAL_REMOTE, "--output=" + path, "-"], stdin=rfd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(rfd)
        atexit.register(self.stop_live)
        return path

    def live(self, *entries):
        os.write(self.fd, b"".join(entries))

    def stop_live(self):
        if self.proc and self.proc.poll() is None:
            os.close(self.fd)
            self.proc.wait(timeout=10)
            os.unlink(self.fifo)
            self.proc = None


class Logd:
    """left4me-logd under systemd-socket-activate, reading the journal files of jdir."""

    def __init__(self, build, tmp, jdir, extra_config=""):
        self.build, self.tmp, self.jdir = build, tmp, jdir
        self.sock = os.path.join(tmp, "logs.sock")
        self.config = os.path.join(tmp, "left4me.yaml")
        with open(self.config, "w") as f:
            f.write("paths: {run: %s}\nlimits: {idle_exit_sec: 0}\n%s" % (tmp, extra_config))
        self.proc = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.log = open(os.path.join(self.tmp, "logd.log"), "ab")
        if self.proc is None:
            atexit.register(self.kill)  # a failing test must not leave logd behind
        self.proc = subprocess.Popen(
            ["systemd-socket-activate", "-l", self.sock, "-E", "LEFT4ME_LOG_LEVEL",
             os.path.join(self.build, "left4me-logd"),
             "--config", self.config, "--journal-dir", self.jdir],
            stdout=self.log, stderr=self.log)
        l4m.wait_listening(self.sock, 5, self.proc, "logd")
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def alive(self):
        return self.proc and self.proc.poll() is None

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class RpcError(Exception):
    def __init__(self, err):
        self.code = err.get("code")
        self.message = err.get("message")
        super().__init__("%s: %s" % (self.code, self.message))


class Client:
    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.u = msgpack.Unpacker(raw=False, unicode_errors="strict", max_buffer_size=64 << 20)
        self.msgid = 0

    def close(self):
        self.s.close()

    def send(self, obj):
        self.s.sendall(msgpack.packb(obj, use_bin_type=True))

    def recv(self):
        while True:
            for m in self.u:
                return m
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError("connection closed")
            self.u.feed(d)

    def start(self, method, params=None):
        self.msgid += 1
        self.send([0, self.msgid, method, [params] if params is not None else []])
        return self.msgid

    def call(self, method, params=None):
        mid = self.start(method, params)
        while True:
            m = self.recv()
            if m[0] == 1 and m[1] == mid:
                if m[2] is not None:
                    raise RpcError(m[2])
                return m[3]

    def cancel(self, mid):
        self.send([2, "rpc.cancel", [mid]])

    def next_notify(self, mid):
        """The next notification payload of call mid; raises on its final response."""
        while True:
            m = self.recv()
            if m[0] == 2 and m[2][0] == mid:
                return m[2][1]
            if m[0] == 1 and m[1] == mid:
                if m[2] is not None:
                    raise RpcError(m[2])
                raise EOFError("call ended: %r" % (m[3],))


def server(name):
    return {"kind": "server", "name": name}


def unit_of(name):
    return "left4me-server@%s.service" % name


_tmpdirs = []


def _cleanup_tmpdirs():
    if not os.environ.get("LOGD_TEST_KEEP"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


def tmpdir():
    """A temporary directory, removed at exit (kept with LOGD_TEST_KEEP=1)."""
    d = tempfile.mkdtemp(prefix="logd-test-")
    if not _tmpdirs:
        atexit.register(_cleanup_tmpdirs)  # registered first, so it runs after the kills
    _tmpdirs.append(d)
    return d


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        for d in _tmpdirs:
            log = os.path.join(d, "logd.log")
            if os.path.exists(log):
                print("--- %s (last 20 lines)" % log)
                with open(log, errors="replace") as f:
                    print("".join(f.readlines()[-20:]), end="")
        sys.exit(1)
    print("ok: " + what)


class FakeJobd:
    """A stand-in for jobd on DIR/jobs.sock: answers jobs.get {id} from self.jobs (id → job map,
    changeable while it runs) like jobd does ({job: {...}} or not_found). self.calls records
    every request's (method, params); self.mode: None, "hang" (never answers) or "drop"
    (closes the connection)."""

    def __init__(self, directory):
        import threading
        self.path = os.path.join(directory, "jobs.sock")
        self.jobs = {}
        self.calls = []
        self.mode = None
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind(self.path)
        self.s.listen(64)
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    def job(self, jid, units, started, finished=None, state=None):
        self.jobs[jid] = {"id": jid, "kind": "overlay.build", "owner": "u", "state": state or (
            "succeeded" if finished else "running"), "subjects": [], "keys": [], "payload": {},
            "exit_code": None, "error": None, "attempts": 1, "created_usec": started or 1,
            "started_usec": started, "finished_usec": finished, "updated_usec": started or 1,
            "lines": 0, "units": list(units)}
        return self.jobs[jid]

    def stop(self):
        self.running = False
        try:
            self.s.close()
            os.unlink(self.path)
        except OSError:
            pass

    def _serve(self):
        import threading
        while self.running:
            try:
                conn, _ = self.s.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(conn,), daemon=True).start()

    def _conn(self, conn):
        u = msgpack.Unpacker(raw=False)
        try:
            while True:
                d = conn.recv(65536)
                if not d:
                    return
                u.feed(d)
                for m in u:
                    if m[0] != 0:
                        continue
                    params = m[3][0] if m[3] else {}
                    self.calls.append((m[2], params))
                    if self.mode == "hang":
                        time.sleep(30)
                        return
                    if self.mode == "drop":
                        return
                    err, res = None, None
                    if m[2] != "jobs.get":
                        err = {"code": "invalid", "message": "unknown method"}
                    elif params.get("id") in self.jobs:
                        res = {"job": self.jobs[params["id"]]}
                    else:
                        err = {"code": "not_found", "message": "job %r: no such job" % (params.get("id"),)}
                    conn.sendall(msgpack.packb([1, m[1], err, res], use_bin_type=True))
        except OSError:
            pass
        finally:
            conn.close()
