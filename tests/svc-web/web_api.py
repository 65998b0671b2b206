#!/usr/bin/python3
"""Black-box checks of API tokens and /api/v1/ against a webd whose hostd, jobd and logd are
not running: tokens made on /profile/tokens (secret shown once, hostile fields refused), the
scope table (every endpoint × every scope), Bearer only (a cookie is not enough, and a token
opens no page), revocation, expiry, deactivation, the address allow-list, a token limited to
one server, and the audit log (every call, with the token's name).

    web_api.py PORT SOCKET_DIR BUILD_DIR WEB_DB
"""
import http.client
import json
import re
import sqlite3
import sys
import time

import webclient
from webclient import check, ctl, Client

webclient.setup(sys.argv[1], sys.argv[2], sys.argv[3])
PORT = int(sys.argv[1])
WEB_DB = sys.argv[4]
SECRET_RE = re.compile(r'id="token-secret"[^>]* value="(l4m_[A-Za-z0-9_-]{43})"')

ctl("web", "user", "create", "api-owner", password="api-owner-pw-1")
ctl("web", "user", "create", "api-other", password="api-other-pw-1")
owner, other = Client("10.20.0.2"), Client("10.20.0.3")
owner.login("api-owner", "api-owner-pw-1")
other.login("api-other", "api-other-pw-1")


def api(method, path, secret=None, address="10.20.0.2", body=None, headers=None):
    h = {"X-Forwarded-For": address}
    if secret:
        h["Authorization"] = f"Bearer {secret}"
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    h.update(headers or {})
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        doc = json.loads(data) if hdrs.get("content-type", "").startswith("application/json") else None
    except ValueError:
        doc = None
    return r.status, doc, hdrs, data


def make_token(client, form, expect=201):
    form = dict(form)
    form.setdefault("csrf_token", client.token("/profile/tokens"))
    body = "&".join(f"{k}={v}" for k, vs in form.items() for v in (vs if isinstance(vs, list) else [vs]))
    r = client.request("POST", "/profile/tokens", body=body.encode(), ctype="application/x-www-form-urlencoded")
    check(r.status == expect, f"token create {form.get('name')}: {r.status}, expected {expect}: {r.body[:400]}")
    if expect != 201:
        return r
    m = SECRET_RE.search(r.body)
    check(m, "the new token's secret is not on the page")
    return m.group(1)


print("== a blueprint and two servers of api-owner, one of api-other (rows as hostd would have ports)")
r = owner.post("/blueprints", {"csrf_token": owner.token("/blueprints"), "name": "API bp", "config": "sv_cheats 0"})
check(r.status == 303, f"blueprint: {r.status}")
bp = int(re.search(r"/blueprints/(\d+)", r.location()).group(1))
r = other.post("/blueprints", {"csrf_token": other.token("/blueprints"), "name": "Other bp"})
other_bp = int(re.search(r"/blueprints/(\d+)", r.location()).group(1))
with sqlite3.connect(WEB_DB) as db:
    oid = db.execute("SELECT id FROM users WHERE username = 'api-owner'").fetchone()[0]
    xid = db.execute("SELECT id FROM users WHERE username = 'api-other'").fetchone()[0]
    ins = ("INSERT INTO servers (owner_id, blueprint_id, name, port, rcon_password, created_usec, updated_usec) "
           "VALUES (?, ?, ?, ?, 'pw', 1, 1)")
    s1 = db.execute(ins, (oid, bp, "api-one", 27101)).lastrowid
    s2 = db.execute(ins, (oid, bp, "api-two", 27102)).lastrowid
    sx = db.execute(ins, (xid, other_bp, "api-theirs", 27103)).lastrowid

r = owner.post("/overlays", {"csrf_token": owner.token("/overlays"), "type": "files", "name": "API files"})
check(r.status == 303, f"files overlay: {r.status}")
ov = int(re.search(r"/overlays/(\d+)", r.location()).group(1))
r = other.post("/overlays", {"csrf_token": other.token("/overlays"), "type": "files", "name": "Theirs"})
other_ov = int(re.search(r"/overlays/(\d+)", r.location()).group(1))
with sqlite3.connect(WEB_DB) as db:
    sys_ov = db.execute("INSERT INTO overlays (owner_id, type, name, created_usec, updated_usec) "
                        "VALUES (NULL, 'files', 'System files', 1, 1)").lastrowid

print("== /profile/tokens: hostile and wrong fields are refused and store nothing")
for form, expect, words in (
        ({"name": "none"}, 400, "at least one scope"),
        ({"name": "", "scope": "server.read"}, 400, "name"),
        ({"name": "x" * 65, "scope": "server.read"}, 400, "too long"),
        ({"name": "bad", "scope": "root.everything"}, 400, "Unknown scope"),
        ({"name": "bad", "scope": "server.read", "allow": "10.1.2.3/8"}, 400, "range"),
        ({"name": "bad", "scope": "server.read", "allow": "not-an-address"}, 400, "range"),
        ({"name": "bad", "scope": "server.read", "allow": " ".join(["10.0.0.0/8"] * 17)}, 400, "16"),
        ({"name": "bad", "scope": "server.read", "expires": "0d"}, 400, "duration"),
        ({"name": "bad", "scope": "server.read", "expires": "9999d"}, 400, "duration"),
        ({"name": "bad", "scope": "server.read", "server_ids": str(sx)}, 400, "no such server"),
        ({"name": "bad", "scope": "server.read", "server_ids": "1x"}, 400, "no such server")):
    r = make_token(owner, form, expect)
    check(words.lower() in r.body.lower(), f"{form}: the page does not say '{words}': {r.body[:300]}")
with sqlite3.connect(WEB_DB) as db:
    check(db.execute("SELECT COUNT(*) FROM api_tokens").fetchone()[0] == 0, "a refused token was stored")
r = owner.post("/profile/tokens", {"name": "no-csrf", "scope": "server.read"})
check(r.status == 403, f"a token created without the CSRF token: {r.status}")

print("== one token per scope, one with all, a restricted one; the secret is shown once")
SCOPES = ["server.read", "server.control", "server.console", "files.read", "files.write", "blueprint.read",
          "blueprint.write", "jobs.read"]
tok = {s: make_token(owner, {"name": f"only {s}", "scope": s}) for s in SCOPES}
all_tok = make_token(owner, {"name": "everything", "scope": SCOPES, "expires": "7d"})
one_srv = make_token(owner, {"name": "server one", "scope": ["server.read", "server.control", "jobs.read"],
                             "server_ids": str(s1)})
r = make_token(owner, {"name": "everything", "scope": "server.read"}, 409)
check("already" in r.body, "a duplicate name is not explained")
page = owner.get("/profile/tokens")
check(page.status == 200 and "only server.read" in page.body and "server one" in page.body, "the list")
for s in list(tok.values()) + [all_tok, one_srv]:
    check(s not in page.body, "a secret is shown again on the list")
with sqlite3.connect(WEB_DB) as db:
    rows = db.execute("SELECT COUNT(*), SUM(length(secret_hash) = 32) FROM api_tokens").fetchone()
    check(rows == (10, 10), f"tokens stored: {rows}")
    for s in list(tok.values()):
        check(db.execute("SELECT COUNT(*) FROM api_tokens WHERE CAST(secret_hash AS TEXT) = ?",
                         (s,)).fetchone()[0] == 0, "a secret stored in clear")
check(other.get("/profile/tokens").body.count("data-token=") == 0, "another user sees api-owner's tokens")

print("== the scope table: every endpoint × every scope")
# (method, path, the scope it needs, the status with that scope: no hostd/jobd here, so
# what needs jobd answers 503 and what reads web.db answers itself)
TABLE = [
    ("GET", "/api/v1/servers", "server.read", 200),
    ("GET", f"/api/v1/servers/{s1}", "server.read", 200),
    ("POST", f"/api/v1/servers/{s1}/start", "server.control", 503),
    ("POST", f"/api/v1/servers/{s1}/stop", "server.control", 503),
    ("POST", f"/api/v1/servers/{s1}/restart", "server.control", 503),
    ("GET", "/api/v1/jobs", "jobs.read", 503),
    ("GET", "/api/v1/jobs/1", "jobs.read", 503),
    ("GET", "/api/v1/blueprints", "blueprint.read", 200),
    ("GET", f"/api/v1/blueprints/{bp}", "blueprint.read", 200),
    ("POST", "/api/v1/blueprints", "blueprint.write", 400),
    ("POST", f"/api/v1/blueprints/{bp}", "blueprint.write", 400),
    ("GET", f"/api/v1/overlays/{ov}/files", "files.read", 503),
    ("GET", f"/api/v1/overlays/{ov}/files/content?path=a.cfg", "files.read", 503),
    ("PUT", f"/api/v1/overlays/{ov}/files/content?path=a.cfg", "files.write", 503),
    ("DELETE", f"/api/v1/overlays/{ov}/files/content?path=a.cfg", "files.write", 503),
]
for method, path, need, ok_status in TABLE:
    for scope, secret in tok.items():
        st, doc, _, raw = api(method, path, secret, body=b"x" if method in ("POST", "PUT") else None)
        if scope == need:
            check(st == ok_status, f"{method} {path} with {scope}: {st}, expected {ok_status}: {raw[:200]}")
        else:
            check(st == 403 and doc and doc["error"]["code"] == "missing_scope" and need in doc["error"]["message"],
                  f"{method} {path} with {scope}: {st} {raw[:200]}, expected 403 naming {need}")
    st, _, _, raw = api(method, path, all_tok, body=b"x" if method in ("POST", "PUT") else None)
    check(st == ok_status, f"{method} {path} with every scope: {st} {raw[:200]}")
for secret in tok.values():
    st, doc, _, _ = api("GET", "/api/v1/me", secret)
    check(st == 200 and doc["user"]["username"] == "api-owner" and len(doc["token"]["scopes"]) == 1, f"/me: {st}")

print("== the answers: servers with the host away, a blueprint, 404 for another user's rows")
st, doc, _, _ = api("GET", "/api/v1/servers", all_tok)
names = sorted(s["name"] for s in doc["servers"])
check(names == ["api-one", "api-two"] and doc["host_available"] is False, f"servers: {doc}")
check(all(s["state"] == "unknown" for s in doc["servers"]), "a state was made up while hostd is away")
st, doc, _, _ = api("GET", f"/api/v1/blueprints/{bp}", all_tok)
check(doc["blueprint"]["config"] == "sv_cheats 0" and doc["blueprint"]["overlays"] == [], f"blueprint: {doc}")
for method, path in (("GET", f"/api/v1/servers/{sx}"), ("POST", f"/api/v1/servers/{sx}/start"),
                     ("GET", f"/api/v1/blueprints/{other_bp}"), ("GET", "/api/v1/servers/0"),
                     ("GET", "/api/v1/servers/01"), ("POST", f"/api/v1/servers/{s1}/delete"),
                     ("POST", f"/api/v1/servers/{s1}/reset"), ("GET", f"/api/v1/jobs?server={sx}"),
                     ("GET", f"/api/v1/overlays/{other_ov}/files"), ("PUT", f"/api/v1/overlays/{other_ov}/files/content?path=x"),
                     ("GET", f"/api/v1/overlays/{ov}/nothing"), ("GET", f"/api/v1/overlays/{ov}/files/other")):
    st, doc, _, raw = api(method, path, all_tok, body=b"x" if method in ("POST", "PUT") else None)
    check(st == 404 and doc["error"]["code"] == "not_found", f"{method} {path}: {st} {raw[:200]}")
for method, path, expect in (("PUT", f"/api/v1/overlays/{sys_ov}/files/content?path=x", 403),
                             ("DELETE", f"/api/v1/overlays/{sys_ov}/files/content?path=x", 403),
                             ("PUT", f"/api/v1/overlays/{ov}/files/content", 400),
                             ("PUT", f"/api/v1/overlays/{ov}/files/content?path=" + "a" * 5000, 400)):
    st, doc, _, raw = api(method, path, all_tok, body=b"x" if method == "PUT" else None)
    check(st == expect, f"{method} {path[:60]}: {st}, expected {expect}: {raw[:200]}")
st, _, _, _ = api("GET", "/api/v1/jobs?before=x", all_tok)
check(st == 400, f"a bad query: {st}")

print("== blueprints through the API: create, read back, update, refusals")
st, doc, _, raw = api("POST", "/api/v1/blueprints", all_tok, body=b"name=Via+API&arguments=%2Bmap+c2m1_highway&config=sv_cheats+0")
check(st == 201 and doc["blueprint"]["id"] > 0, f"create: {st} {raw[:200]}")
nb = doc["blueprint"]["id"]
st, doc, _, _ = api("GET", f"/api/v1/blueprints/{nb}", all_tok)
check(doc["blueprint"]["name"] == "Via API" and doc["blueprint"]["arguments"] == "+map c2m1_highway", f"read back: {doc}")
st, doc, _, raw = api("POST", f"/api/v1/blueprints/{nb}", all_tok, body=b"name=Via+API+2&config=sv_cheats+1")
check(st == 200, f"update: {st} {raw[:200]}")
st, doc, _, _ = api("GET", f"/api/v1/blueprints/{nb}", all_tok)
check(doc["blueprint"]["name"] == "Via API 2" and doc["blueprint"]["config"] == "sv_cheats 1", f"updated: {doc}")
for body, expect in ((b"name=API+bp", 409), (b"name=x&arguments=%2Bhostport+1", 400), (b"name=%3Cscript%3E&config=a%07b", 400),
                     (b"name=y&overlay_ids=standard", 503), (b"name=z&op=up:a", 400)):
    st, doc, _, raw = api("POST", "/api/v1/blueprints", all_tok, body=body)
    check(st == expect and doc and "error" in doc, f"blueprint {body[:30]}: {st}, expected {expect}: {raw[:200]}")
st, _, _, _ = api("POST", f"/api/v1/blueprints/{other_bp}", all_tok, body=b"name=mine+now")
check(st == 404, f"updating another user's blueprint: {st}")
with sqlite3.connect(WEB_DB) as db:
    check(db.execute("SELECT name FROM blueprints WHERE id = ?", (other_bp,)).fetchone()[0] == "Other bp",
          "another user's blueprint changed")
    check(db.execute("SELECT COUNT(*) FROM audit WHERE kind = 'blueprint.update' AND token = 'everything'").fetchone()[0] == 1,
          "the update's audit entry lacks the token")
out = json.loads(ctl("--json", "web", "audit", "--object", f"blueprint:{nb}").stdout)
kinds = [(e["kind"], e.get("token")) for e in out["entries"]]
check(kinds == [("blueprint.update", "everything"), ("blueprint.create", "everything")],
      f"l4d2ctl web audit --object blueprint:{nb}: {kinds}")
table = ctl("web", "audit", "--object", f"blueprint:{nb}").stdout
check("(API token everything)" in table, f"the audit table does not name the token: {table}")

print("== a token limited to one server sees only that one")
st, doc, _, _ = api("GET", "/api/v1/servers", one_srv)
check([s["id"] for s in doc["servers"]] == [s1], f"restricted list: {doc}")
for path in (f"/api/v1/servers/{s2}", f"/api/v1/jobs?server={s2}"):
    st, _, _, _ = api("GET", path, one_srv)
    check(st == 404, f"{path} through the restricted token: {st}")
st, _, _, _ = api("POST", f"/api/v1/servers/{s2}/start", one_srv, body=b"")
check(st == 404, f"starting another server through the restricted token: {st}")
st, _, _, _ = api("POST", f"/api/v1/servers/{s1}/start", one_srv, body=b"")
check(st == 503, f"its own server (jobd away): {st}")

print("== Bearer only: no header, garbage, a session cookie, two headers; a token opens no page")
st, doc, hdrs, _ = api("GET", "/api/v1/servers")
check(st == 401 and doc["error"]["code"] == "unauthenticated" and "bearer" in hdrs.get("www-authenticate", "").lower(),
      f"no token: {st} {hdrs}")
for bad in ("Bearer nope", "Bearer l4m_" + "A" * 43, "Basic dXNlcjpwdw==", "Bearer " + all_tok[:-1],
            "Bearer " + all_tok + "x", "Bearer " + all_tok.replace("l4m_", "L4M_")):
    st, _, _, _ = api("GET", "/api/v1/me", headers={"Authorization": bad})
    check(st == 401, f"{bad[:20]}…: {st}")
c2 = http.client.HTTPConnection("127.0.0.1", PORT, timeout=20)
c2.putrequest("GET", "/api/v1/me")
c2.putheader("Authorization", f"Bearer {all_tok}")
c2.putheader("Authorization", f"Bearer {all_tok}")
c2.endheaders()
r2 = c2.getresponse()
check(r2.status == 401 and b"one Authorization" in r2.read(), f"two Authorization headers: {r2.status}")
c2.close()
st, _, _, _ = api("GET", "/api/v1/me", headers={"Cookie": "; ".join(f"{k}={v}" for k, v in owner.jar.items())})
check(st == 401, f"a logged-in browser's cookie on the API: {st}")
r = owner.get("/api/v1/servers")
check(r.status == 401, f"the cookie client on the API: {r.status}")
c = Client("10.20.0.9")
r = c.get("/servers", headers={"Authorization": f"Bearer {all_tok}"})
check(r.status == 303 and "/login" in (r.location() or ""), f"a token on a page: {r.status}")
r = c.post("/profile/tokens", {"name": "via-token", "scope": "server.read"},
           headers={"Authorization": f"Bearer {all_tok}"})
check(r.status in (401, 403), f"a token creating a token through the page: {r.status}")
st, _, _, _ = api("GET", "/api/v1/nothing", all_tok)
check(st == 404, f"an unknown API path: {st}")

print("== the allow-list judges the client address (X-Forwarded-For from the trusted proxy)")
fenced = make_token(owner, {"name": "fenced", "scope": "server.read", "allow": "10.50.0.0/16 2001:db8::/32"})
st, doc, _, _ = api("GET", "/api/v1/servers", fenced, address="10.50.3.4")
check(st == 200, f"from inside the range: {st}")
st, doc, _, _ = api("GET", "/api/v1/servers", fenced, address="10.51.0.1")
check(st == 403 and doc["error"]["code"] == "forbidden", f"from outside: {st}")
st, _, _, _ = api("GET", "/api/v1/servers", fenced, address="2001:db8::7")
check(st == 200, f"IPv6 inside: {st}")

print("== the audit log: every call with the token's name, refusals too; last use recorded")
with sqlite3.connect(WEB_DB) as db:
    n_ok = db.execute("SELECT COUNT(*) FROM audit WHERE kind = 'api.call' AND result = 'ok' AND token = 'everything' "
                      "AND actor = 'api-owner'").fetchone()[0]
    check(n_ok >= len(TABLE), f"api.call entries of 'everything': {n_ok}")
    denied = db.execute("SELECT detail FROM audit WHERE kind = 'api.call' AND result = 'denied' AND "
                        "token = 'only files.read' AND detail LIKE '%missing scope server.control%'").fetchall()
    check(denied, "no denied entry for a missing scope")
    check(db.execute("SELECT COUNT(*) FROM audit WHERE token = 'fenced' AND result = 'denied' AND detail LIKE "
                     "'%10.51.0.1%'").fetchone()[0] == 1, "the refused address is not in the audit log")
    last = db.execute("SELECT last_used_usec, last_used_address FROM api_tokens WHERE name = 'fenced'").fetchone()
    check(last[0] > 0 and last[1] == "10.50.3.4", f"last use: {last}")
    check(db.execute("SELECT COUNT(*) FROM audit WHERE kind = 'token.create' AND actor = 'api-owner'").fetchone()[0]
          == 11, "token.create entries")
page = owner.get("/profile/tokens")
check("from 10.50.3.4" in page.body, "the list does not show the last use")

print("== revoked at once; another user cannot revoke; expiry; deactivation ends every token")
tid = int(re.search(r'action="/profile/tokens/(\d+)/revoke"', page.body.split('data-token="only server.read"')[1]).group(1))
r = other.post(f"/profile/tokens/{tid}/revoke", {"csrf_token": other.token("/profile/tokens")})
check(r.status == 404, f"another user's revoke: {r.status}")
st, _, _, _ = api("GET", "/api/v1/servers", tok["server.read"])
check(st == 200, f"still works after the refused revoke: {st}")
r = owner.post(f"/profile/tokens/{tid}/revoke", {"csrf_token": owner.token("/profile/tokens")})
check(r.status == 303 and "token-revoked" in (r.location() or ""), f"revoke: {r.status}")
st, doc, _, _ = api("GET", "/api/v1/servers", tok["server.read"])
check(st == 401 and "revoked" in doc["error"]["message"], f"a revoked token: {st}")
r = owner.post(f"/profile/tokens/{tid}/revoke", {"csrf_token": owner.token("/profile/tokens")})
check(r.status == 404, f"revoking twice: {r.status}")
with sqlite3.connect(WEB_DB) as db:
    db.execute("UPDATE api_tokens SET expires_usec = ? WHERE name = 'everything'", (int(time.time() * 1e6) - 1,))
st, doc, _, _ = api("GET", "/api/v1/me", all_tok)
check(st == 401 and "expired" in doc["error"]["message"], f"an expired token: {st}")
ctl("web", "user", "deactivate", "api-owner")
st, _, _, _ = api("GET", "/api/v1/me", one_srv)
check(st == 401, f"a deactivated user's token: {st}")
ctl("web", "user", "activate", "api-owner")
st, _, _, _ = api("GET", "/api/v1/me", one_srv)
check(st == 401, f"reactivation brought a token back: {st}")
with sqlite3.connect(WEB_DB) as db:
    check(db.execute("SELECT COUNT(*) FROM api_tokens WHERE user_id = ?", (oid,)).fetchone()[0] == 0,
          "a deactivated user's tokens are still stored")
h = webclient.health()
check(h.get("api_refused", 0) > 0 and h.get("api_calls", 0) > 0, f"sys.health counters: {h}")
print("web_api.py: ok")
