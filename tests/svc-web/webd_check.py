#!/usr/bin/python3
"""Independent clients for webd's black-box test: MessagePack-RPC over web.sock (written
with python3-msgpack, not our proto/ code) and raw HTTP over TCP (no library, so hostile
requests can be sent byte for byte).

Usage: webd_check.py CHECK ARGS...   (exits non-zero with a message on failure)
"""
import json
import os
import socket
import sys
import time

import msgpack


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- MessagePack-RPC ----------------------------------------------------------------------

def rpc_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


def rpc_read(s, unpacker):
    """Returns the next message, or None if the server closed the connection."""
    while True:
        for msg in unpacker:
            return msg
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            return None
        if not data:
            return None
        unpacker.feed(data)


def rpc_call(path, method, params=None, msgid=1):
    s = rpc_connect(path)
    try:
        s.sendall(msgpack.packb([0, msgid, method, [] if params is None else [params]]))
        u = msgpack.Unpacker(raw=False)
        msg = rpc_read(s, u)
        if msg is None:
            fail("%s: connection closed without an answer" % method)
        if msg[0] != 1 or msg[1] != msgid:
            fail("%s: unexpected answer %r" % (method, msg))
        return msg[2], msg[3]
    finally:
        s.close()


def check_rpc(path):
    err, res = rpc_call(path, "sys.version")
    if err is not None or res.get("service") != "left4me-webd" or "version" not in res:
        fail("sys.version: %r %r" % (err, res))
    err, res = rpc_call(path, "sys.health", {}, msgid=7)
    if err is not None or res.get("status") != "ok" or res.get("service") != "left4me-webd":
        fail("sys.health: %r %r" % (err, res))
    for k in ("http_connections", "sse_streams", "connections", "uptime_usec"):
        if k not in res:
            fail("sys.health lacks %r: %r" % (k, res))
    err, res = rpc_call(path, "no.such.method")
    # The core's convention (proto/server.c) is "invalid" naming the method.
    if err is None or err.get("code") not in ("invalid", "not_found") or "no.such.method" not in err.get("message", ""):
        fail("unknown method: expected an error naming it, got %r %r" % (err, res))
    err, res = rpc_call(path, "sys.health", {"unexpected": 1})
    if err is None or err.get("code") != "invalid":
        fail("sys.health with a bogus argument: expected invalid, got %r %r" % (err, res))
    # Pipelining: three requests in one write, three answers in order.
    s = rpc_connect(path)
    s.sendall(b"".join(msgpack.packb([0, i, "sys.version", []]) for i in (10, 11, 12)))
    u = msgpack.Unpacker(raw=False)
    ids = [rpc_read(s, u)[1] for _ in range(3)]
    s.close()
    if ids != [10, 11, 12]:
        fail("pipelined answers: %r" % ids)
    print("rpc ok")


def expect_error_or_close(path, payload, what, trickle=False):
    s = rpc_connect(path)
    msg = None
    try:
        # The server may answer and close before all of the payload is sent (a refused
        # connection never reads): a failed send does not mean there is nothing to read.
        try:
            if trickle:
                for b in payload:
                    s.sendall(bytes([b]))
                    time.sleep(0.002)
            else:
                s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        u = msgpack.Unpacker(raw=False, max_buffer_size=1 << 20)
        try:
            msg = rpc_read(s, u)
        except (BrokenPipeError, ConnectionResetError):
            msg = None
    finally:
        s.close()
    if msg is None:
        return "closed"
    # An error response or an rpc.error notification, never a result.
    if msg[0] == 1 and msg[2] is not None:
        return "error " + msg[2].get("code", "?")
    if msg[0] == 2 and msg[1] == "rpc.error":
        return "error notification"
    fail("%s: got %r instead of an error" % (what, msg))


def check_hostile_rpc(path):
    cases = [
        ("array32 claiming 4G elements", b"\xdd\xff\xff\xff\xff"),
        ("map32 claiming 4G pairs", b"\xdf\xff\xff\xff\xff" + b"\x00" * 8),
        ("str32 claiming 4 GiB", b"\x94\x00\x01\xdb\xff\xff\xff\xff"),
        ("reserved byte 0xc1", b"\xc1"),
        ("not an array", msgpack.packb({"a": 1})),
        ("wrong envelope", msgpack.packb([0, "x", 3])),
        ("nesting 1000 deep", b"\x91" * 1000 + b"\x00"),
        ("message over the size limit", msgpack.packb([0, 1, "sys.health", ["x" * (2 << 20)]])),
        # Random bytes alone may form a well-capped message that is merely incomplete, which
        # the server rightly waits for: lead with a complete object that is not an envelope.
        ("garbage", b"\xa3abc" + os.urandom(4092)),
    ]
    for what, payload in cases:
        r = expect_error_or_close(path, payload, what)
        print("  %-30s -> %s" % (what, r))
    r = expect_error_or_close(path, msgpack.packb([0, 1, "sys.health", [{"a": "b" * 300}]]),
                              "trickled request with a bad argument", trickle=True)
    print("  %-30s -> %s" % ("trickle", r))
    # Still serving after all of that.
    err, res = rpc_call(path, "sys.health")
    if err is not None or res.get("status") != "ok":
        fail("after hostile input: %r %r" % (err, res))
    print("hostile rpc ok")


def check_hostile_tokens(path, user):
    """token.create with hostile params: every one answered "invalid", nothing stored, webd
    still serving. user must exist and be active."""
    def tokens():
        err, res = rpc_call(path, "token.list", {"username": user})
        if err is not None:
            fail("token.list %s: %r" % (user, err))
        return len(res["tokens"])

    ok = {"username": user, "name": "hostile", "scopes": ["server.read"]}
    cases = [
        ("username an int", {"username": 1}),
        ("name an int", {"name": 7}),
        ("name a map", {"name": {"a": 1}}),
        ("name binary", {"name": b"bin"}),
        ("name 10 KB", {"name": "n" * 10240}),
        ("name 65 bytes", {"name": "n" * 65}),
        ("name empty", {"name": ""}),
        ("name a control character", {"name": "a\x01b"}),
        ("name a newline", {"name": "a\nb"}),
        ("scopes a string", {"scopes": "server.read"}),
        ("scopes empty", {"scopes": []}),
        ("scopes ints", {"scopes": [1, 2]}),
        ("scopes nil", {"scopes": None}),
        ("1000 scopes", {"scopes": ["server.read"] * 1000}),
        ("a 10 KB scope", {"scopes": ["s" * 10240]}),
        ("an unknown scope", {"scopes": ["server.read", "root"]}),
        ("servers an int", {"servers": 1}),
        ("servers strings", {"servers": ["1"]}),
        ("servers negative", {"servers": [-1]}),
        ("servers zero", {"servers": [0]}),
        ("servers a float", {"servers": [1.5]}),
        ("servers 65", {"servers": list(range(1, 66))}),
        ("servers 2^64-1", {"servers": [2 ** 64 - 1]}),
        ("expires an int", {"expires": 90}),
        ("expires 10 KB", {"expires": "9" * 10240 + "d"}),
        ("expires 0d", {"expires": "0d"}),
        ("expires -1d", {"expires": "-1d"}),
        ("allow a string", {"allow": "10.0.0.0/8"}),
        ("allow ints", {"allow": [10]}),
        ("allow 17 ranges", {"allow": ["10.0.%d.0/24" % i for i in range(17)]}),
        ("allow host bits", {"allow": ["10.1.2.3/8"]}),
        ("allow a 10 KB item", {"allow": ["1" * 10240]}),
        ("an unknown argument", {"secret": "l4m_" + "A" * 43}),
    ]
    before = tokens()
    for what, change in cases:
        params = dict(ok)
        params.update(change)
        err, res = rpc_call(path, "token.create", params)
        if err is None or err.get("code") != "invalid":
            fail("token.create with %s: expected invalid, got %r %r" % (what, err, res))
    for what, params in [("no params", None), ("a list", [1, 2]), ("nil username", {"username": None})]:
        err, res = rpc_call(path, "token.create", params)
        if err is None or err.get("code") != "invalid":
            fail("token.create with %s: expected invalid, got %r %r" % (what, err, res))
    if tokens() != before:
        fail("a hostile token.create stored a token")
    err, res = rpc_call(path, "sys.health")
    if err is not None or res.get("status") != "ok":
        fail("after hostile token.create: %r %r" % (err, res))
    print("  %d hostile token.create params refused as invalid" % (len(cases) + 3))


# ---- HTTP -----------------------------------------------------------------------------------

def http_raw(port, data, read_timeout=5):
    """Sends raw bytes, returns everything the server sends until it closes or goes quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        s.close()
    return out


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def check_hostile_http(port):
    cases = [
        ("garbage", os.urandom(2048)),
        ("huge header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1000000 + b"\r\n\r\n"),
        ("500 headers", b"GET /health HTTP/1.1\r\nHost: x\r\n" +
         b"".join(b"X-%d: y\r\n" % i for i in range(500)) + b"\r\n"),
        ("bad request line", b"GET\r\n\r\n"),
        ("NUL in path", b"GET /he\x00alth HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("huge body", b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nxx"),
        ("bad chunked", b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        ("path traversal", b"GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("encoded traversal", b"GET /static/%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n"
         b"Connection: close\r\n\r\n"),
    ]
    for what, payload in cases:
        resp = http_raw(port, payload, read_timeout=3)
        st = status_of(resp)
        if b"root:" in resp:
            fail("%s: leaked /etc/passwd" % what)
        if st is not None and st < 400:
            fail("%s: status %s" % (what, st))
        print("  %-20s -> %s" % (what, st if st else "closed"))
    resp = http_raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    if status_of(resp) != 200:
        fail("after hostile input, /health: %r" % resp[:200])
    print("hostile http ok")


def check_health_json(port):
    resp = http_raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = resp.partition(b"\r\n\r\n")
    if status_of(resp) != 200:
        fail("/health status: %r" % head)
    if b"content-type: application/json" not in head.lower():
        fail("/health content type: %r" % head)
    doc = json.loads(body)
    if doc.get("status") != "ok" or doc.get("service") != "left4me-webd" or not doc.get("version"):
        fail("/health body: %r" % doc)
    print("health ok", doc)


def hold_keepalive(port, seconds):
    """Keeps one HTTP/1.1 connection open, sending a request every 0.5 s on it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf or len(buf.partition(b"\r\n\r\n")[2]) < 10:
            chunk = s.recv(4096)
            if not chunk:
                fail("server closed the keep-alive connection after %d requests" % n)
            buf += chunk
        if status_of(buf) != 200:
            fail("keep-alive request %d: %r" % (n, buf[:100]))
        n += 1
        time.sleep(0.5)
    s.close()
    print("keep-alive ok (%d requests on one connection)" % n)


def hold_idle_socket(port, seconds):
    """Opens an HTTP connection and keeps it open without sending anything."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    time.sleep(seconds)
    s.close()


def hold_rpc(path, seconds):
    s = rpc_connect(path)
    time.sleep(seconds)
    s.close()


def check_limits(port, path, n):
    """limits.max_connections = n: the (n+1)th RPC connection gets an error and is closed;
    the (n+1)th HTTP connection is not served until one of the n closes."""
    held = [rpc_connect(path) for _ in range(n)]
    time.sleep(0.2)
    r = expect_error_or_close(path, msgpack.packb([0, 1, "sys.health", []]), "connection over the limit")
    if not r.startswith("error"):
        fail("RPC connection over the limit: %s" % r)
    for s in held:
        s.close()
    time.sleep(0.2)
    err, res = rpc_call(path, "sys.health")
    if err is not None:
        fail("RPC after the limit was lifted: %r" % err)
    print("  rpc limit: connection %d refused with an error" % (n + 1))

    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
    time.sleep(0.2)
    s = socket.create_connection(("127.0.0.1", port), timeout=1)  # the kernel backlog takes it
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    try:
        data = s.recv(100)
        fail("HTTP connection over the limit was served: %r" % data)
    except socket.timeout:
        pass
    held.pop().close()
    s.settimeout(5)
    data = s.recv(100)
    if status_of(data) != 200:
        fail("HTTP connection over the limit, after one closed: %r" % data)
    s.close()
    for h in held:
        h.close()
    print("  http limit: connection %d waited in the backlog until one closed" % (n + 1))
    print("limits ok")


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    check, args = sys.argv[1], sys.argv[2:]
    if check == "rpc":
        check_rpc(args[0])
    elif check == "hostile-rpc":
        check_hostile_rpc(args[0])
    elif check == "hostile-tokens":
        check_hostile_tokens(args[0], args[1])
    elif check == "health":
        check_health_json(int(args[0]))
    elif check == "hostile-http":
        check_hostile_http(int(args[0]))
    elif check == "keepalive":
        hold_keepalive(int(args[0]), float(args[1]))
    elif check == "idle-socket":
        hold_idle_socket(int(args[0]), float(args[1]))
    elif check == "limits":
        check_limits(int(args[0]), args[1], int(args[2]))
    elif check == "hold-rpc":
        hold_rpc(args[0], float(args[1]))
    else:
        fail("unknown check %r" % check)


if __name__ == "__main__":
    main()
