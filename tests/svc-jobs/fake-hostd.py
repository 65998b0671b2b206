#!/usr/bin/python3
"""A stand-in for left4me-hostd, for jobd's black-box tests: a MessagePack-RPC server on a Unix
socket implementing hostd's job-facing methods with scripted delays and failures.

Usage: fake-hostd.py SOCKET [--calls FILE] [--behavior FILE]

Behaviour comes from a JSON file re-read on every call, so a test can change it at any time:
  { "<method>" or "<method>:<name>": {"delay": SECONDS, "lines": N, "fail": [CODE, MESSAGE],
                                        "drop": true, "exit_code": N}, ... }
  "drop": close the connection mid-call (as if hostd died); "drop_first": N drops only the
  first N calls of that method and name.
overlay.build runs a tiny language in its script: `echo TEXT`, `sleep SEC`, `exit N`,
`result NAME` (success/failed/timeout/oom), `drop`; like hostd it first sends
{stream: "info", line, unit} naming its transient unit left4me-build-<id>-<n>.service, and
returns it in the result (behavior "unit": NAME sends another name, e.g. a hostile one).
Every call is appended to the calls file as one JSON line:
  {"method", "name", "start", "end", "outcome"} so tests can check order and overlap."""
import asyncio
import json
import os
import signal
import sys
import time

import msgpack

sock_path = sys.argv[1]
calls_file = None
behavior_file = None
args = sys.argv[2:]
while args:
    if args[0] == "--calls":
        calls_file = args[1]
        args = args[2:]
    elif args[0] == "--behavior":
        behavior_file = args[1]
        args = args[2:]
    else:
        sys.exit("unknown argument " + args[0])

initialized = set()
drop_counts = {}
build_seq = int(time.time())


def behavior(method, name):
    b = {}
    if behavior_file and os.path.exists(behavior_file):
        try:
            with open(behavior_file) as f:
                conf = json.load(f)
        except (OSError, ValueError):
            conf = {}
        b.update(conf.get(method, {}))
        if name is not None:
            b.update(conf.get(method + ":" + str(name), {}))
    return b


def record(entry):
    if calls_file:
        with open(calls_file, "a") as f:
            f.write(json.dumps(entry) + "\n")


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Drop(Exception):
    pass


class Conn:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.tasks = {}

    def send(self, obj):
        if not self.writer.is_closing():
            self.writer.write(msgpack.packb(obj, use_bin_type=True))

    def notify(self, method, msgid, payload):
        self.send([2, method, [msgid, payload]])

    async def run(self):
        unpacker = msgpack.Unpacker(raw=False)
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                unpacker.feed(data)
                for msg in unpacker:
                    self.handle(msg)
        except (ConnectionError, ValueError):
            pass
        # The client is gone: cancel whatever it was waiting for, as hostd does.
        for t in list(self.tasks.values()):
            t.cancel()
        self.writer.close()

    def handle(self, msg):
        if msg[0] == 2 and msg[1] == "rpc.cancel":
            t = self.tasks.get(msg[2][0])
            if t:
                t.cancel()
            return
        if msg[0] != 0:
            return
        _, msgid, method, params = msg
        p = params[0] if params else {}
        self.tasks[msgid] = asyncio.ensure_future(self.call(msgid, method, p))

    async def call(self, msgid, method, p):
        name = p.get("name", p.get("id"))
        entry = {"method": method, "name": name, "start": time.time()}
        outcome = "ok"
        reply = None
        try:
            result = await self.dispatch(msgid, method, p, name)
            reply = [1, msgid, None, result]
        except asyncio.CancelledError:
            outcome = "cancelled"
            reply = [1, msgid, {"code": "cancelled", "message": "cancelled"}, None]
        except RpcError as e:
            outcome = "error:" + e.code
            reply = [1, msgid, {"code": e.code, "message": e.message}, None]
        except Drop:
            outcome = "dropped"
        finally:
            # Recorded before the answer goes out: a test that reads the calls file once its
            # job is over must find this call there (on a loaded machine this process can be
            # descheduled between the two).
            entry["end"] = time.time()
            entry["outcome"] = outcome
            record(entry)
            if reply is not None:
                self.send(reply)
            else:
                self.writer.transport.abort()
            self.tasks.pop(msgid, None)
            try:
                await self.writer.drain()
            except (ConnectionError, AttributeError):
                pass

    async def scripted(self, msgid, method, b):
        for i in range(int(b.get("lines", 0))):
            self.notify(method, msgid, {"stream": "stdout", "line": "%s line %d" % (method, i + 1)})
        if b.get("delay"):
            await asyncio.sleep(float(b["delay"]))
        if b.get("drop"):
            raise Drop()
        if b.get("drop_first"):
            key = method + ":" + str(b.get("_name"))
            drop_counts[key] = drop_counts.get(key, 0) + 1
            if drop_counts[key] <= int(b["drop_first"]):
                raise Drop()
        if b.get("fail"):
            raise RpcError(b["fail"][0], b["fail"][1])

    async def dispatch(self, msgid, method, p, name):
        b = behavior(method, name)
        b["_name"] = name
        if method == "sys.version":
            return {"name": "fake-hostd", "version": "0"}
        if method == "game.install":
            for step in ("Step: downloading windows platform payload...",
                         "Step: downloading linux platform payload..."):
                self.notify(method, msgid, {"stream": "step", "line": step})
            await self.scripted(msgid, method, b)
            if b.get("exit_code"):
                raise RpcError("internal", "steamcmd exited with code %d" % b["exit_code"])
            self.notify(method, msgid, {"stream": "step", "line": "Step: installation complete."})
            return {"exit_code": 0}
        if method == "instance.initialize":
            if not isinstance(p.get("spec"), str) or not p["spec"]:
                raise RpcError("invalid", "spec: required")
            if "invalid" in p["spec"]:
                raise RpcError("invalid", "spec.overlays[3]: must be a relative path inside overlays/")
            await self.scripted(msgid, method, b)
            initialized.add(name)
            return {"name": name, "port": 27015}
        if method in ("instance.start", "instance.stop"):
            if method == "instance.start" and name not in initialized:
                raise RpcError("not_found", "instance '%s' is not initialized" % name)
            await self.scripted(msgid, method, b)
            active = "active" if method == "instance.start" else "inactive"
            sub = "running" if method == "instance.start" else "dead"
            return {"unit": "left4me-server@%s.service" % name, "active_state": active, "sub_state": sub}
        if method in ("instance.reset", "instance.delete"):
            await self.scripted(msgid, method, b)
            if method == "instance.delete":
                initialized.discard(name)
            return {}
        if method == "overlay.build":
            # Like hostd: the transient unit is named in an info line when it starts, and in
            # the result ("unit" in the behavior overrides the name, e.g. a hostile one).
            global build_seq
            build_seq += 1
            unit = b.get("unit", "left4me-build-%s-%d.service" % (p.get("id"), build_seq))
            self.notify(method, msgid, {"stream": "info", "unit": unit,
                                        "line": "Running the build script in %s (as left4me-build)" % unit})
            await self.scripted(msgid, method, b)
            result, code = "success", 0
            for line in p.get("script", "").splitlines():
                words = line.split(" ", 1)
                arg = words[1] if len(words) > 1 else ""
                if words[0] == "echo":
                    self.notify(method, msgid, {"stream": "stdout", "line": arg})
                elif words[0] == "echoerr":
                    self.notify(method, msgid, {"stream": "stderr", "line": arg})
                elif words[0] == "sleep":
                    await asyncio.sleep(float(arg))
                elif words[0] == "exit":
                    code = int(arg)
                    result = "success" if code == 0 else "failed"
                    break
                elif words[0] == "result":
                    result = arg
                    code = 0 if arg == "success" else 1
                    break
                elif words[0] == "drop":
                    raise Drop()
            return {"result": result, "exit_code": code, "unit": unit, "lines": 0}
        raise RpcError("invalid", "unknown method '%s'" % method)


async def main():
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    server = await asyncio.start_unix_server(lambda r, w: Conn(r, w).run(), path=sock_path)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    async with server:
        await stop


asyncio.run(main())
