"""Protocol black-box tests: left4me-testd (daemon/daemon.c + proto/) under
systemd-socket-activate, driven by python3-msgpack and by l4d2ctl's C client."""
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pylib.l4m import BUILD, Daemon, RpcError  # noqa: E402


class Protocol(unittest.TestCase):
    def setUp(self):
        self.d = Daemon("left4me-testd", ["--idle-exit", "0"], config="limits: {max_connections: 8}\n")

    def tearDown(self):
        self.d.stop()

    def test_sys_methods(self):
        c = self.d.client()
        h = c.call("sys.health")
        self.assertEqual(h["status"], "ok")
        self.assertEqual(h["service"], "left4me-testd")
        self.assertEqual(h["connections"], 1)
        v = c.call("sys.version")
        self.assertEqual(v["protocol"], 1)
        with self.assertRaises(RpcError) as e:
            c.call("sys.health", {"extra": 1})
        self.assertEqual(e.exception.code, "invalid")

    def test_c_client_through_l4d2ctl(self):
        out = subprocess.run([os.path.join(BUILD, "l4d2ctl"), "--socket-dir", self.d.dir, "call", "test",
                              "test.echo", "text=hi there", "number=-7"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('"text":"hi there"', out.stdout)
        self.assertIn('"number":-7', out.stdout)
        bad = subprocess.run([os.path.join(BUILD, "l4d2ctl"), "--socket-dir", self.d.dir, "call", "test",
                              "test.echo", "number=5000"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 3, bad.stderr)  # invalid
        self.assertIn("number: must be between", bad.stderr)

    def test_errors_keep_the_connection(self):
        c = self.d.client()
        for method, params, code in [("nope", None, "invalid"), ("test.echo", {"bogus": 1}, "invalid"),
                                     ("test.fail", {"errno": 2}, "not_found"), ("test.fail", {"errno": 13}, "denied")]:
            with self.assertRaises(RpcError) as e:
                c.call(method, params)
            self.assertEqual(e.exception.code, code)
        self.assertEqual(c.call("test.echo", {"text": "still here"})["text"], "still here")

    def test_bad_envelope_with_msgid_gets_error_reply(self):
        c = self.d.client()
        c.send([0, 5, 42, []])  # method not a string
        m = c.read()
        self.assertEqual(m[:2], [1, 5])
        self.assertEqual(m[2]["code"], "invalid")
        self.assertEqual(c.call("sys.health")["status"], "ok")

    def hostile(self, payload):
        """Sends payload on a fresh connection; expects an rpc.error then EOF; the daemon keeps
        serving a connection that was open all along."""
        bystander = self.d.client()
        bystander.call("sys.health")
        c = self.d.client()
        c.sock.sendall(payload)
        m = c.read()
        self.assertIsNotNone(m, "expected an error notification")
        self.assertEqual(m[0:2], [2, "rpc.error"])
        self.assertIsNone(c.read(), "expected the connection to be closed")
        self.assertEqual(bystander.call("sys.health")["status"], "ok")
        return m[2][0]

    def test_hostile_array32_bomb(self):
        err = self.hostile(b"\xdd\xff\xff\xff\xff")
        self.assertIn("too many elements", err["message"])

    def test_hostile_str32_claim(self):
        err = self.hostile(b"\x94\x00\x01\xdb\xff\xff\xff\xff")
        self.assertIn("too large", err["message"])

    def test_hostile_never_used_byte(self):
        self.hostile(b"\xc1")

    def test_hostile_deep_nesting(self):
        err = self.hostile(b"\x91" * 100)
        self.assertIn("nested", err["message"])

    def test_hostile_oversized(self):
        self.hostile(b"\x94\x00\x01\xa4echo\x91\x81\xa4text\xdb\x00\x20\x00\x00" + b"x" * 1000)

    def test_bombs_do_not_grow_memory(self):
        before = self.d.rss_kib()
        for _ in range(200):
            c = self.d.client()
            c.sock.sendall(b"\x94\x00\x01\xaatest.echo\x91\xdf\x7f\xff\xff\xff")
            c.read()
            c.close()
        self.assertLess(self.d.rss_kib() - before, 8 * 1024, "RSS grew by more than 8 MiB")

    def test_not_a_request_is_ignored_or_refused(self):
        c = self.d.client()
        c.send("just a string")
        m = c.read()
        self.assertEqual(m[0:2], [2, "rpc.error"])
        self.assertEqual(c.call("sys.health")["status"], "ok")

    def test_truncated_message_then_close(self):
        c = self.d.client()
        c.sock.sendall(b"\x94\x00\x01\xaasys.he")
        c.close()
        self.assertEqual(self.d.client().call("sys.health")["status"], "ok")

    def test_slow_trickle(self):
        c = self.d.client()
        import msgpack
        data = msgpack.packb([0, 1, "test.echo", [{"text": "x" * 300}]])
        for i in range(len(data)):
            c.sock.sendall(data[i:i + 1])
            time.sleep(0.001)
        m = c.read()
        self.assertEqual(m[3]["text"], "x" * 300)

    def test_pipelining(self):
        c = self.d.client()
        import msgpack
        c.sock.sendall(b"".join(msgpack.packb([0, i, "test.echo", [{"number": i}]]) for i in range(1, 201)))
        got = [c.read() for _ in range(200)]
        self.assertEqual([m[3]["number"] for m in got], list(range(1, 201)))

    def test_stream_and_cancel(self):
        c = self.d.client()
        res, notes = c.call("test.stream", {"count": 5})
        self.assertEqual(res["sent"], 5)
        self.assertEqual([n["seq"] for n in notes], [0, 1, 2, 3, 4])
        seen = []

        def stop_after_three(n):
            seen.append(n)
            return len(seen) < 3

        with self.assertRaises(RpcError) as e:
            c.call("test.stream", {"count": 100000}, on_notify=stop_after_three)
        self.assertEqual(e.exception.code, "cancelled")
        self.assertEqual(c.call("sys.health")["status"], "ok")

    def test_client_vanishes_mid_stream(self):
        c = self.d.client()
        c.request("test.stream", {"count": 100000})
        c.read()
        c.close()
        time.sleep(0.1)
        h = self.d.client().call("sys.health")
        self.assertEqual(h["connections"], 1)

    def test_connection_limit(self):
        clients = [self.d.client() for _ in range(8)]
        for c in clients:
            c.call("sys.health")
        extra = self.d.client()
        m = extra.read()
        self.assertEqual(m[0:2], [2, "rpc.error"])
        self.assertEqual(m[2][0]["code"], "unavailable")
        for c in clients:
            c.close()
        time.sleep(0.1)
        self.assertEqual(self.d.client().call("sys.health")["status"], "ok")

    def test_access_by_peer_credentials(self):
        c = self.d.client()
        self.assertIsNone(c.call("test.root"))  # we are root
        os.chmod(self.d.socket, 0o666)
        os.chmod(self.d.dir, 0o755)
        code = ("import sys; sys.path.insert(0, %r)\n"
                "from pylib.l4m import Client, RpcError\n"
                "c = Client(%r)\n"
                "print(c.call('test.echo', {'text': 'ok'})['text'])\n"
                "for m in ('test.root', 'test.group'):\n"
                "    try:\n"
                "        c.call(m); print(m, 'allowed')\n"
                "    except RpcError as e:\n"
                "        print(m, e.code)\n") % (os.path.join(os.path.dirname(__file__), ".."), self.d.socket)
        out = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", code],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split("\n")[:3], ["ok", "test.root denied", "test.group denied"])


class IdleExit(unittest.TestCase):
    def test_exits_when_idle_not_before(self):
        d = Daemon("left4me-testd", ["--idle-exit", "1"])
        try:
            c = d.client()
            c.call("sys.health")
            time.sleep(1.6)
            self.assertTrue(d.alive(), "exited while a connection was open")
            c.close()
            t0 = time.time()
            self.assertTrue(d.wait_exit(5), "did not exit when idle")
            self.assertLess(time.time() - t0, 3)
            self.assertEqual(d.proc.returncode, 0)
        finally:
            d.stop()

    def test_stream_keeps_it_alive(self):
        d = Daemon("left4me-testd", ["--idle-exit", "1"])
        try:
            c = d.client()
            res, notes = c.call("test.stream", {"count": 1500})  # ~1.5 s+ of streaming
            self.assertEqual(len(notes), 1500)
            self.assertTrue(d.alive())
        finally:
            d.stop()


if __name__ == "__main__":
    unittest.main()
