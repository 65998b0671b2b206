#!/usr/bin/python3
"""What the web UI's black-box checks share: a browser without JS (cookies by hand, an address
of its own through X-Forwarded-For), login, and l4d2ctl.

    import webclient; webclient.setup(PORT, SOCKET_DIR, BUILD_DIR)
"""
import http.client
import json
import os
import re
import subprocess
import sys
import urllib.parse

PORT = SOCKDIR = BUILD = None


def setup(port, sockdir, build):
    global PORT, SOCKDIR, BUILD
    PORT, SOCKDIR, BUILD = int(port), sockdir, build


SESSION = "__Host-left4me"
LOGIN = "__Host-left4me-login"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def ctl(*args, password=None, ok=True):
    env = dict(os.environ)
    if password is not None:
        env["LEFT4ME_ADMIN_PASSWORD"] = password
    p = subprocess.run([f"{BUILD}/l4d2ctl", "--socket-dir", SOCKDIR, *args], env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if ok and p.returncode != 0:
        fail(f"l4d2ctl {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p


def health():
    return json.loads(ctl("--json", "ping", "web").stdout)


class Resp:
    def __init__(self, r, body):
        self.status = r.status
        self.headers = {k.lower(): v for k, v in r.getheaders()}
        self.cookies = {}
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";")[0]
        self.body = body.decode("utf-8", "replace")

    def location(self):
        return self.headers.get("location")


class Client:
    """A browser without JS: a cookie jar and an address of its own."""

    def __init__(self, address):
        self.address = address
        self.jar = {}

    def request(self, method, path, form=None, body=None, headers=None, ctype=None):
        h = {"X-Forwarded-For": self.address}
        if self.jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            ctype = ctype or "application/x-www-form-urlencoded"
        if ctype:
            h["Content-Type"] = ctype
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        resp = Resp(r, r.read())
        c.close()
        for k, v in resp.cookies.items():
            if v == "":
                self.jar.pop(k, None)
            else:
                self.jar[k] = v
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form, **kw):
        return self.request("POST", path, form=form, **kw)

    def token(self, path="/login"):
        r = self.get(path)
        m = re.search(r'name="csrf_token" value="([^"]*)"', r.body)
        check(m, f"no csrf_token in {path} ({r.status})")
        return m.group(1)

    def login(self, user, pw, next_=None, expect=303):
        tok = self.token()
        form = {"csrf_token": tok, "username": user, "password": pw}
        if next_ is not None:
            form["next"] = next_
        r = self.post("/login", form)
        check(r.status == expect, f"login {user}: {r.status}, expected {expect}: {r.body[:300]}")
        return r


