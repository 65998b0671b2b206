#!/usr/bin/python3
"""Black-box checks of the web UI's accounts, sessions and request safety, from outside:
a plain HTTP client (http.client, cookies by hand) and l4d2ctl against a running webd.

    web_auth.py PORT SOCKET_DIR BUILD_DIR

webd must run with web.trusted_proxies: [127.0.0.1], so each check can speak from an
address of its own (X-Forwarded-For) and the rate limits of one check do not touch the
next. Every check asserts; the first failure exits 1 with a message.
"""
import http.client
import json
import re
import socket
import sys
import threading
import time

import webclient
from webclient import SESSION, LOGIN, check, ctl, health, Client

webclient.setup(sys.argv[1], sys.argv[2], sys.argv[3])
PORT, SOCKDIR, BUILD = webclient.PORT, webclient.SOCKDIR, webclient.BUILD


def normalise(body):
    """The page without what differs by design: the fresh token, the name typed in."""
    body = re.sub(r'value="[A-Za-z0-9_-]{43}"', 'value="TOKEN"', body)
    return re.sub(r'(name="username" value=")[^"]*"', r'\1NAME"', body)


# ---- set-up ------------------------------------------------------------------------------------
ctl("web", "user", "create", "root-admin", "--admin", password="admin-password-1")
ctl("web", "user", "create", "alice", password="alice-password-1")
ctl("web", "user", "create", "dora", password="dora-password-1")
ctl("web", "user", "deactivate", "dora")

# ---- the CSRF and Origin rules on the login form ------------------------------------------------
print("== login form: token and origin")
c = Client("10.0.0.1")
tok = c.token()
check(c.jar.get(LOGIN) == tok, "the login form's token is not also its cookie")
del c.jar[LOGIN]
r = c.post("/login", {"csrf_token": tok, "username": "alice", "password": "alice-password-1"})
check(r.status == 403 and SESSION not in r.cookies, f"login without the login cookie: {r.status}")
tok = c.token()
r = c.post("/login", {"csrf_token": "x" * 43, "username": "alice", "password": "alice-password-1"})
check(r.status == 403 and SESSION not in r.cookies, f"login with a wrong token: {r.status}")
check("another site" in r.body and "csrf" not in r.body.lower().replace("csrf_token", ""),
      "the refusal page does not say what happened")
tok = c.token()
r = c.post("/login", {"csrf_token": tok, "username": "alice", "password": "alice-password-1"},
           headers={"Origin": "https://evil.example"})
check(r.status == 403 and SESSION not in r.cookies, f"a foreign Origin with a valid token: {r.status}")
tok = c.token()
r = c.post("/login", {"csrf_token": tok, "username": "alice", "password": "alice-password-1"},
           headers={"Sec-Fetch-Site": "cross-site"})
check(r.status == 403, f"Sec-Fetch-Site: cross-site with a valid token: {r.status}")
tok = c.token()
r = c.post("/login", {"csrf_token": tok, "username": "alice", "password": "alice-password-1"},
           headers={"Origin": f"http://127.0.0.1:{PORT}", "Sec-Fetch-Site": "same-origin"})
check(r.status == 303 and SESSION in r.cookies, f"a same-origin login: {r.status} {r.body[:200]}")
check(re.fullmatch(r"[0-9a-f]{32}", r.cookies[SESSION]), "the session id is not 128 bits of hex")
print("  refused: no login cookie, wrong token, foreign Origin, cross-site; same-origin logs in")

# ---- one answer for every failure ---------------------------------------------------------------
print("== unknown user, wrong password, deactivated user: one answer, the dummy hash runs")
answers = []
for i, (user, pw) in enumerate([("nobody-here", "whatever-pw"), ("alice", "wrong-password"),
                                 ("dora", "dora-password-1")]):
    c = Client(f"10.0.1.{i}")
    before = health()["dummy_hash_runs"]
    r = c.login(user, pw, expect=401)
    after = health()["dummy_hash_runs"]
    check(SESSION not in r.cookies, f"{user}: a session cookie on a failed login")
    answers.append(normalise(r.body))
    if user != "alice":
        check(after == before + 1, f"{user}: the dummy hash did not run ({before} -> {after})")
    else:
        check(after == before, "a real user's wrong password ran the dummy hash")
check(answers[0] == answers[1] == answers[2], "the three failures are told apart by their pages")
check("Wrong username or password." in answers[0], "the failure page says nothing")

# ---- next ---------------------------------------------------------------------------------------
print("== next: only local paths")
for i, (nxt, want) in enumerate([("/profile", "/profile"), ("//evil.example/", "/"), ("/\\evil.example", "/"),
                                  ("https://evil.example/", "/"), ("/%2f%2fevil.example", "/"),
                                  ("javascript:alert(1)", "/"), ("/%5cevil", "/")]):
    c = Client(f"10.0.2.{i}")
    r = c.login("alice", "alice-password-1", next_=nxt)
    check(r.location() == want, f"next={nxt!r} redirected to {r.location()!r}, not {want!r}")
c = Client("10.0.2.100")
r = c.get("/admin/users?x=1")
check(r.status == 303 and r.location() == "/login?next=/admin/users%3Fx%3D1",
      f"a protected page without a session: {r.status} {r.location()}")

# ---- rate limits --------------------------------------------------------------------------------
print("== rate limits: 20 attempts per 60 s per address and per username")
ctl("web", "user", "create", "victim", password="victim-password-1")
c = Client("10.0.3.1")
for i in range(20):
    c.login("victim", f"wrong-{i}", expect=401)
r = c.login("victim", "wrong-21", expect=429)
check(r.headers.get("retry-after", "").isdigit() and 1 <= int(r.headers["retry-after"]) <= 60,
      f"429 without a sane Retry-After: {r.headers.get('retry-after')}")
r = Client("10.0.3.2").login("victim", "victim-password-1", expect=429)  # the username's bucket is full
c = Client("10.0.3.3")
for i in range(20):
    c.login(f"user-{i}", "wrong-password", expect=401)
c.login("someone-else", "wrong-password", expect=429)  # the address's bucket is full
for i in range(25):  # from 25 addresses: were "" a bucket, the 21st would be refused
    c = Client(f"10.0.3.{100 + i}")
    r = c.post("/login", {"csrf_token": c.token(), "username": "", "password": "x"})
    check(r.status == 401, f"an empty username was limited or refused oddly: {r.status}")
c = Client("10.0.3.5")
ctl("web", "user", "create", "carol", password="carol-password-1")
for i in range(19):
    c.login("carol", f"wrong-{i}", expect=401)
c.login("carol", "carol-password-1")
Client("10.0.3.5").login("carol", "wrong-again", expect=401)  # success cleared both buckets
print("  username bucket, address bucket, empty username not bucketed, success clears")

# ---- sessions -----------------------------------------------------------------------------------
print("== sessions: a password change ends the others, deactivation and a role change end all")
a1, a2 = Client("10.0.4.1"), Client("10.0.4.2")
a1.login("alice", "alice-password-1")
a2.login("alice", "alice-password-1")
check(a2.get("/").status == 200, "a second session does not work")
old_sid = a1.jar[SESSION]
tok = a1.token("/profile")
r = a1.post("/profile/password", {"csrf_token": tok, "current_password": "wrong-password",
                                  "new_password": "alice-password-2", "confirm_new_password": "alice-password-2"})
check(r.status == 400 and "current password is wrong" in r.body, f"a wrong current password: {r.status}")
r = a1.post("/profile/password", {"csrf_token": tok, "current_password": "alice-password-1",
                                  "new_password": "short", "confirm_new_password": "short"})
check(r.status == 400 and "too short" in r.body, f"a short new password: {r.status}")
r = a1.post("/profile/password", {"csrf_token": tok, "current_password": "alice-password-1",
                                  "new_password": "alice-password-2", "confirm_new_password": "alice-password-X"})
check(r.status == 400 and "do not match" in r.body, f"mismatched new passwords: {r.status}")
r = a1.post("/profile/password", {"current_password": "alice-password-1",
                                  "new_password": "alice-password-2", "confirm_new_password": "alice-password-2"})
check(r.status == 403, f"a password change without a token: {r.status}")
r = a1.post("/profile/password", {"csrf_token": tok, "current_password": "alice-password-1",
                                  "new_password": "alice-password-2", "confirm_new_password": "alice-password-2"})
check(r.status == 303 and r.location() == "/profile?m=password-changed", f"password change: {r.status} {r.body[:200]}")
check(a1.jar.get(SESSION) == old_sid and a1.get("/").status == 200, "the changing session did not survive")
r = a2.get("/")
check(r.status == 303 and r.location() == "/login", f"the other session survived a password change: {r.status}")
Client("10.0.4.3").login("alice", "alice-password-1", expect=401)
b = Client("10.0.4.4")
b.login("alice", "alice-password-2")
ctl("web", "user", "deactivate", "alice")
check(b.get("/").status == 303 and a1.get("/").status == 303, "deactivation left a session alive")
ctl("web", "user", "activate", "alice")
check(b.get("/").status == 303, "activation revived an old session")

adm = Client("10.0.4.5")
adm.login("root-admin", "admin-password-1")
users = adm.get("/admin/users")
check(users.status == 200 and "alice" in users.body, f"admin users page: {users.status}")
uid = {}
for m in re.finditer(r"<tr><td>(\w[\w-]*).*?/admin/users/(\d+)/password", users.body):
    uid[m.group(1)] = m.group(2)
check("alice" in uid and "root-admin" in uid, f"user ids not found on the users page: {uid}")
b.login("alice", "alice-password-2")
tok = adm.token("/admin/users")
r = adm.post(f"/admin/users/{uid['alice']}/admin", {"csrf_token": tok})
check(r.status == 303, f"promote alice: {r.status} {r.body[:200]}")
check(b.get("/").status == 303, "a role change left the session alive")
r = adm.post(f"/admin/users/{uid['root-admin']}/deactivate", {"csrf_token": tok})
check(r.status == 409 and "yourself" in r.body, f"deactivating oneself: {r.status}")
r = adm.post(f"/admin/users/{uid['alice']}/regular", {"csrf_token": tok})
check(r.status == 303, f"demote alice: {r.status}")
regular = Client("10.0.4.6")
regular.login("carol", "carol-password-1")
check(regular.get("/admin/users").status == 403, "a regular user reached the admin page")
r = regular.post(f"/admin/users/{uid['root-admin']}/deactivate", {"csrf_token": regular.token("/profile")})
check(r.status == 403, f"a regular user posted an admin action: {r.status}")
r = adm.post("/admin/users", {"csrf_token": tok, "username": "alice", "password": "whatever-1234"})
check(r.status == 409, f"a duplicate user name: {r.status}")
r = adm.post("/admin/users", {"csrf_token": tok, "username": "eve", "password": "eve-password-1", "must_change": "1"})
check(r.status == 303, f"create eve: {r.status} {r.body[:300]}")
e = Client("10.0.4.7")
r = e.login("eve", "eve-password-1")
check(r.location() == "/profile?m=must-change", f"must-change login went to {r.location()}")
r = e.get("/")
check(r.status == 303 and r.location() == "/profile?m=must-change", "a must-change user reached the dashboard")
audit = json.loads(ctl("--json", "web", "audit", "--kind", "login", "--limit", "500").stdout)
results = {x["result"] for x in audit["entries"]}
check({"ok", "failed", "rate-limited"} <= results, f"login audit results: {results}")
check(any(x["actor"] == "nobody-here" and x["result"] == "failed" for x in audit["entries"]),
      "a failed login of an unknown name is not in the audit log")
print("  password change, deactivation, role change; admin guards; must-change; audit entries")

# ---- hostile input ------------------------------------------------------------------------------
print("== hostile forms and headers: a clear 4xx, nothing changes")
h = Client("10.0.5.1")
h.login("carol", "carol-password-1")
tok = h.token("/profile")
before = health()["dummy_hash_runs"]
for name, body, ctype, want in [
    ("over-long value", b"csrf_token=" + tok.encode() + b"&current_password=" + b"x" * 300000, None, 413),
    ("invalid UTF-8", b"csrf_token=" + tok.encode() + b"&current_password=%ff%fe", None, 400),
    ("NUL byte", b"csrf_token=" + tok.encode() + b"&current_password=a%00b", None, 400),
    ("thousands of fields", b"&".join(b"f%d=1" % i for i in range(3000)), None, 413),
    ("bad escape", b"csrf_token=%zz", None, 400),
    ("another content type", b'{"csrf_token": "x"}', "application/json", 415),
]:
    r = h.request("POST", "/profile/password", body=body, ctype=ctype or "application/x-www-form-urlencoded")
    check(r.status == want, f"{name}: {r.status}, expected {want}")
r = h.post("/profile/password", [("csrf_token", tok), ("current_password", "carol-password-1"),
                                 ("new_password", "carol-password-2"), ("new_password", "carol-password-3"),
                                 ("confirm_new_password", "carol-password-2")])
check(r.status == 400, f"a duplicated field: {r.status}")
r = h.get("/", headers={"Cookie": f"{SESSION}={h.jar[SESSION]}; " + "junk=" + "a" * 6000})
check(r.status == 200, f"a large cookie header next to the session: {r.status}")
r = h.get("/", headers={"Cookie": f"{SESSION}={h.jar[SESSION]}; {SESSION}=" + "0" * 32})
check(r.status == 303, f"two session cookies were trusted: {r.status}")
r = h.get("/", headers={"Cookie": f"{SESSION}=" + "A" * 32})
check(r.status == 303, "a malformed session id was accepted")
Client("10.0.5.2").login("carol", "carol-password-1")  # the password did not change
check(health()["dummy_hash_runs"] == before, "hostile forms reached the hash")

# ---- HTTP/2 --------------------------------------------------------------------------------------
print("== HTTP/2 is refused: prior knowledge and h2c upgrade")
s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
data = b""
try:
    while len(data) < 64:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
s.close()
# A server speaking HTTP/2 answers the preface with a SETTINGS frame (type 4 at byte 3).
check(not (len(data) >= 9 and data[3] == 4), f"the prior-knowledge preface got HTTP/2: {data[:32]!r}")
s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
          b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
data = s.recv(4096)
s.close()
check(data.startswith(b"HTTP/1.1 200"), f"h2c upgrade answered {data[:40]!r}")

# ---- event streams ------------------------------------------------------------------------------
print("== event streams: none for anonymous clients, caps per session, per address and in all")


def open_stream(client):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(f"GET /events HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {client.address}\r\n"
              f"Cookie: {SESSION}={client.jar.get(SESSION, '0' * 32)}\r\n\r\n".encode())
    head = s.recv(4096)
    return s, int(head.split(b" ")[1])


s, st = open_stream(Client("10.0.6.1"))
s.close()
check(st == 401, f"an anonymous event stream: {st}")
u1, u2, u3 = Client("10.0.6.2"), Client("10.0.6.2"), Client("10.0.6.3")
for u in (u1, u2, u3):
    u.login("carol", "carol-password-1")
held = []
for i in range(4):
    s, st = open_stream(u1)
    check(st == 200, f"stream {i + 1} of a session: {st}")
    held.append(s)
s, st = open_stream(u1)
s.close()
check(st == 503, f"a 5th stream of one session: {st}")
for i in range(4):
    s, st = open_stream(u2)
    check(st == 200, f"stream {i + 1} of a second session from the same address: {st}")
    held.append(s)
s, st = open_stream(u3)
s.close()
streams_cap = health().get("sse_streams")
check(st == 503 and streams_cap == 8, f"a stream past the global cap (8 of 16 connections): {st}, open {streams_cap}")
t0 = time.monotonic()
r = u3.get("/")
check(r.status == 200 and time.monotonic() - t0 < 2, "ordinary requests starve while streams are open")
for s in held:
    s.close()
# A stream the client closed frees its slot at once (webd watches for the EOF itself; h2o
# would notice only when a heartbeat write fails): a user who navigates quickly, opening a
# stream per page, never runs into the per-session cap.
for i in range(12):
    s, st = open_stream(u1)
    check(st == 200, f"stream {i + 1} after the earlier ones were closed: {st} (closed streams hold slots)")
    s.close()
    time.sleep(0.05)
print("  401 anonymous; 4 per session; 8 in all (half the connections); pages still served; closed streams free")

# ---- hashing is bounded ---------------------------------------------------------------------------
print("== a login flood: bounded queue, 503 with Retry-After, the loop stays responsive")
results, lock = [], threading.Lock()


def flood(i):
    c = Client(f"10.1.{i // 200}.{i % 200}")
    tok = c.token()
    r = c.post("/login", {"csrf_token": tok, "username": f"flood{i}", "password": "flood-password"})
    with lock:
        results.append((r.status, r.headers.get("retry-after")))


threads = [threading.Thread(target=flood, args=(i,)) for i in range(80)]
for t in threads:
    t.start()
t0 = time.monotonic()
hc = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
hc.request("GET", "/health")
check(hc.getresponse().status == 200, "/health during the flood")
health_ms = (time.monotonic() - t0) * 1000
for t in threads:
    t.join()
statuses = [s for s, _ in results]
check(set(statuses) <= {401, 503}, f"flood answers: {sorted(set(statuses))}")
check(all(ra == "1" for s, ra in results if s == 503), "a 503 without Retry-After")
print(f"  80 concurrent logins: {statuses.count(401)} checked, {statuses.count(503)} told to retry; "
      f"/health answered in {health_ms:.0f} ms meanwhile")
print("web auth: all checks passed")
