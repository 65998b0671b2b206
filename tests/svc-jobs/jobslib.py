"""Shared harness of jobd's black-box tests: a temporary directory with a config, the hostd
stand-in (fake-hostd.py) and left4me-jobd under systemd-socket-activate. Use /usr/bin/python3."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
import l4m  # noqa: E402

BUILD = os.environ.get("BUILD", os.path.join(HERE, "..", "..", "build"))
RpcError = l4m.RpcError


class Env:
    def __init__(self, workers=2, idle_exit=0, jobd_bin=None):
        # jobd_bin: another build of jobd (the benchmark's baseline); default $BUILD's.
        self.jobd_bin = jobd_bin or os.path.join(BUILD, "left4me-jobd")
        self.dir = tempfile.mkdtemp(prefix="l4m-jobs-")
        self.jobs_sock = os.path.join(self.dir, "jobs.sock")
        self.host_sock = os.path.join(self.dir, "host.sock")
        self.calls = os.path.join(self.dir, "calls.jsonl")
        self.behavior_file = os.path.join(self.dir, "behavior.json")
        self.db = os.path.join(self.dir, "jobs", "jobs.db")
        self.config = os.path.join(self.dir, "left4me.yaml")
        self.idle_exit = idle_exit
        with open(self.config, "w") as f:
            f.write("paths: {root: %s, run: %s}\njobs: {workers: %d}\n" % (self.dir, self.dir, workers))
        self.behave({})
        self.hostd = None
        self.jobd = None
        self.jobd_log = open(os.path.join(self.dir, "jobd.log"), "ab")

    # ---- hostd stand-in ----
    def start_hostd(self):
        self.hostd = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "fake-hostd.py"), self.host_sock,
                                       "--calls", self.calls, "--behavior", self.behavior_file])
        l4m.wait_listening(self.host_sock, 5, self.hostd, "fake hostd")

    def stop_hostd(self):
        if self.hostd:
            self.hostd.terminate()
            self.hostd.wait()
            self.hostd = None
        try:
            os.unlink(self.host_sock)
        except FileNotFoundError:
            pass

    def behave(self, conf):
        tmp = self.behavior_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(conf, f)
        os.rename(tmp, self.behavior_file)

    def host_calls(self):
        if not os.path.exists(self.calls):
            return []
        with open(self.calls) as f:
            return [json.loads(line) for line in f if line.strip()]

    # ---- jobd ----
    def start_jobd(self):
        try:
            os.unlink(self.jobs_sock)
        except FileNotFoundError:
            pass
        self.jobd = subprocess.Popen(["systemd-socket-activate", "-l", self.jobs_sock,
                                      self.jobd_bin, "--config", self.config,
                                      "--idle-exit", str(self.idle_exit)],
                                     stdout=self.jobd_log, stderr=subprocess.STDOUT)
        l4m.wait_listening(self.jobs_sock, 5, self.jobd, "jobd")

    def kill_jobd(self, sig=signal.SIGKILL):
        if self.jobd and self.jobd.poll() is None:
            self.jobd.send_signal(sig)
            self.jobd.wait()
        self.jobd = None

    def client(self, timeout=10):
        return l4m.Client(self.jobs_sock, timeout)

    def call(self, method, params=None, **kw):
        c = self.client()
        try:
            return c.call(method, params, **kw)
        finally:
            c.close()

    def submit(self, kind, payload=None, owner="u1", subjects=None):
        p = {"kind": kind, "owner": owner}
        if payload is not None:
            p["payload"] = payload
        if subjects is not None:
            p["subjects"] = subjects
        return self.call("jobs.submit", p)["job"]

    def get(self, jid):
        return self.call("jobs.get", {"id": jid})["job"]

    def wait_state(self, jid, states, timeout=10):
        states = (states,) if isinstance(states, str) else states
        deadline = time.time() + timeout
        while True:
            j = self.get(jid)
            if j["state"] in states:
                return j
            if time.time() > deadline:
                raise AssertionError("job %d is %s, not %s" % (jid, j["state"], states))
            time.sleep(0.02)

    def watch(self, jid, after_seq=None):
        p = {"id": jid}
        if after_seq is not None:
            p["after_seq"] = after_seq
        notes = []
        res = self.call("jobs.watch", p, on_notify=lambda n: notes.append(n))
        return res["job"], notes

    def log_lines(self, jid):
        return [(l["stream"], l["line"]) for l in self.call("jobs.log", {"id": jid, "limit": 5000})["lines"]]

    def sql(self, query, args=()):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def jobd_output(self):
        with open(os.path.join(self.dir, "jobd.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        self.kill_jobd(signal.SIGTERM)
        self.stop_hostd()
        self.jobd_log.close()
        if not os.environ.get("KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)
