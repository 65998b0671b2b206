#!/usr/bin/python3
"""Black-box checks of the blueprint, server and job pages against a webd whose hostd, jobd
and logd are not running (their sockets are missing): what works without them works, what
needs them answers 503 ("... service is unavailable") at once, and the permission table
holds for every route × anonymous / owner / other user / admin.

    web_fleet.py PORT SOCKET_DIR BUILD_DIR WEB_DB

A server row is written into web.db directly (sqlite3): creating one needs hostd's ports,
which the container tier (tests/e2e/web-20-servers.sh) covers with the real daemons.
"""
import re
import sqlite3
import sys
import time

import webclient
from webclient import check, ctl, Client

webclient.setup(sys.argv[1], sys.argv[2], sys.argv[3])
WEB_DB = sys.argv[4]

ctl("web", "user", "create", "fleet-admin", "--admin", password="fleet-admin-pw-1")
ctl("web", "user", "create", "owner", password="owner-password-1")
ctl("web", "user", "create", "other", password="other-password-1")
admin, owner, other, anon = Client("10.9.0.1"), Client("10.9.0.2"), Client("10.9.0.3"), Client("10.9.0.4")
for c, u, p in ((admin, "fleet-admin", "fleet-admin-pw-1"), (owner, "owner", "owner-password-1"),
                (other, "other", "other-password-1")):
    c.login(u, p)

def post(c, path, form, token_from="/blueprints"):
    form = dict(form)
    form.setdefault("csrf_token", c.token(token_from))
    return c.post(path, form)

print("== blueprints without hostd: a blueprint without overlays saves; one with overlays cannot be checked")
r = post(owner, "/blueprints", {"name": "Campaign", "arguments": "+map c1m1_hotel", "config": "sv_cheats 0"})
check(r.status == 303 and re.match(r"^/blueprints/\d+\?m=blueprint-saved$", r.location() or ""),
      f"create: {r.status} {r.location()} {r.body[:300]}")
bp = int(re.search(r"/blueprints/(\d+)", r.location()).group(1))
r = owner.get(f"/blueprints/{bp}")
check(r.status == 200 and "Campaign" in r.body and "sv_cheats 0" in r.body, f"detail: {r.status}")
check("The overlays cannot be listed" in r.body or "unavailable" in r.body, "no word that hostd is away")
r = owner.request("POST", "/blueprints", body=f"csrf_token={owner.token('/blueprints')}&name=X&overlay_ids=standard".encode(),
                  ctype="application/x-www-form-urlencoded")
check(r.status == 503, f"a blueprint with overlays while hostd is away: {r.status}")
with sqlite3.connect(WEB_DB) as db:
    check(db.execute("SELECT COUNT(*) FROM blueprints WHERE name = 'X'").fetchone()[0] == 0, "X was stored")

print("== blueprints: duplicates, hostile fields, reserved arguments, the picker without JS")
r = post(owner, "/blueprints", {"name": "Campaign"})
check(r.status == 409 and "already has a blueprint" in r.body, f"duplicate name: {r.status}")
r = post(other, "/blueprints", {"name": "Campaign"})
check(r.status == 303, f"the same name for another user: {r.status}")
hostile = ['<script>alert(1)</script>', '"quoted" \'name\'', "A" * 10240, "rtl\u202eevil", "nul\x01"]
for name in hostile:
    r = post(owner, "/blueprints", {"name": name})
    if len(name) > 128 or "\u202e" in name or "\x01" in name:
        check(r.status == 400, f"hostile name {name[:20]!r}: {r.status}")
    else:
        check(r.status == 303, f"name {name[:20]!r}: {r.status}")
        page = owner.get(r.location())
        check("<script>alert(1)" not in page.body, "a name reached the page unescaped")
r = post(owner, "/blueprints", {"name": "Ports", "arguments": "+hostport 1234"})
check(r.status == 400 and "hostport" in r.body, f"a reserved argument: {r.status}")
r = post(owner, "/blueprints", {"name": "Shell", "arguments": "$(reboot)"})
check(r.status == 400, f"a shell argument: {r.status}")
r = post(owner, "/blueprints", {"name": "Cfg", "config": "ok\nbad\x07line"})
check(r.status == 400 and "line 2" in r.body, f"a control character in the config: {r.status}")
body = "&".join(["csrf_token=" + owner.token("/blueprints"), "name=Pick", "overlay_ids=one", "overlay_ids=two",
                 "expose_overlay_ids=two", "op=up:two"])
r = owner.request("POST", "/blueprints", body=body.encode(), ctype="application/x-www-form-urlencoded")
check(r.status == 200, f"the picker's up button: {r.status}")
ids = re.findall(r'name="overlay_ids" value="([^"]*)"', r.body)
check(ids == ["two", "one"], f"up moved nothing: {ids}")
check("exec server_overlay_two" in r.body, "the preview lacks the exposed overlay")
with sqlite3.connect(WEB_DB) as db:
    check(db.execute("SELECT COUNT(*) FROM blueprints WHERE name = 'Pick'").fetchone()[0] == 0,
          "a picker button saved the blueprint")

print("== a server row (as if hostd had given the port), and the permission table")
with sqlite3.connect(WEB_DB) as db:
    oid = db.execute("SELECT id FROM users WHERE username = 'owner'").fetchone()[0]
    cur = db.execute("INSERT INTO servers (owner_id, blueprint_id, name, port, rcon_password, created_usec, "
                     "updated_usec) VALUES (?, ?, 'srv', 27015, 'pw', 1, 1)", (oid, bp))
    sid = cur.lastrowid

# route → expected status for (anonymous, owner, other, admin). 503: the page needs a daemon
# that is not running; 404 for another user's rows (not 403: ids are not confirmed).
GET, POST = "GET", "POST"
table = [
    (GET, "/servers", (303, 200, 200, 200)),
    (GET, f"/servers/{sid}", (303, 200, 404, 200)),
    (GET, f"/servers/{sid}/jobs", (303, 503, 404, 503)),
    (GET, f"/servers/{sid}/log/events", (303, 200, 404, 200)),
    (GET, f"/servers/{sid}/history", (303, 200, 404, 200)),
    (GET, f"/servers/{sid}/history?before=1", (303, 200, 404, 200)),
    (GET, f"/servers/{sid}/history?before=x", (303, 400, 404, 400)),
    (GET, f"/servers/{sid}/history/x", (303, 404, 404, 404)),
    (GET, "/servers/999999/history", (303, 404, 404, 404)),
    (GET, "/blueprints", (303, 200, 200, 200)),
    (GET, f"/blueprints/{bp}", (303, 200, 404, 200)),
    (GET, "/jobs/1", (303, 503, 503, 503)),
    (GET, "/jobs/1/events", (303, 200, 200, 200)),
    (GET, "/admin/jobs", (303, 403, 403, 503)),
    (POST, f"/servers/{sid}/start", (401, 503, 404, 503)),
    (POST, f"/servers/{sid}/stop", (401, 503, 404, 503)),
    (POST, f"/servers/{sid}/restart", (401, 503, 404, 503)),
    (POST, f"/servers/{sid}/reset", (401, 503, 404, 503)),
    (POST, f"/servers/{sid}/delete", (401, 503, 404, 503)),
    (POST, "/jobs/1/cancel", (401, 503, 503, 503)),
    (POST, "/admin/install", (401, 403, 403, 503)),
    (POST, "/admin/instances/demo/delete", (401, 403, 403, 503)),
    (POST, "/admin/instances/bad..name/delete", (401, 403, 403, 404)),
    (POST, f"/blueprints/{bp}/clone", (401, 303, 404, 303)),
    (POST, "/servers/999999/start", (401, 404, 404, 404)),
    (GET, "/servers/0", (303, 404, 404, 404)),
    (GET, "/servers/01", (303, 404, 404, 404)),
    (GET, "/servers/1x", (303, 404, 404, 404)),
]
for method, path, want in table:
    for c, who, expected in zip((anon, owner, other, admin), ("anonymous", "owner", "other", "admin"), want):
        t0 = time.monotonic()
        if method == GET:
            r = c.get(path)
        else:
            form = {} if c is anon else {"csrf_token": c.token("/servers")}
            r = c.post(path, form)
        took = time.monotonic() - t0
        check(r.status == expected, f"{method} {path} as {who}: {r.status}, expected {expected}: {r.body[:200]}")
        check(took < 2, f"{method} {path} as {who} took {took:.1f} s: a missing daemon must not stall a page")
        if r.status == 503 and method == GET:
            check("unavailable" in r.body, f"{path}: the 503 does not say what is unavailable")
        if r.status == 200 and path.endswith("/events"):
            # A stream that says the service is away and ends: EventSource retries by itself.
            check("event: unavailable" in r.body and "retry:" in r.body, f"{path} as {who}: {r.body[:200]}")

# The state feed stays open (it has nothing to say while hostd is away): read its head only.
import socket  # noqa: E402
for c, expected in ((anon, b" 303 "), (owner, b" 200 ")):
    sk = socket.create_connection(("127.0.0.1", webclient.PORT), timeout=5)
    cookie = f"Cookie: __Host-left4me={c.jar['__Host-left4me']}\r\n" if c.jar.get("__Host-left4me") else ""
    sk.sendall(f"GET /servers/events HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {c.address}\r\n{cookie}\r\n".encode())
    head = sk.recv(4096)
    sk.close()
    check(expected in head.split(b"\r\n")[0] and (expected == b" 303 " or b"text/event-stream" in head),
          f"/servers/events: {head[:120]!r}")

print("== server changes: rename checks, hostname quotes, another user's blueprint, rcon rotation")
tok = owner.token(f"/servers/{sid}")
r = owner.post(f"/servers/{sid}", {"csrf_token": tok, "name": "renamed", "hostname": 'a"b', "blueprint_id": bp})
check(r.status == 400 and "double quotes" in r.body, f"a hostname with a quote: {r.status}")
with sqlite3.connect(WEB_DB) as db:
    other_bp = db.execute("SELECT b.id FROM blueprints b JOIN users u ON u.id = b.owner_id "
                          "WHERE u.username = 'other'").fetchone()[0]
r = owner.post(f"/servers/{sid}", {"csrf_token": tok, "name": "renamed", "hostname": "", "blueprint_id": other_bp})
check(r.status == 400, f"another user's blueprint: {r.status}")
r = owner.post(f"/servers/{sid}", {"csrf_token": tok, "name": "renamed", "hostname": "My host",
                                   "blueprint_id": bp})
check(r.status == 303, f"rename: {r.status} {r.body[:200]}")
with sqlite3.connect(WEB_DB) as db:
    row = db.execute("SELECT name, hostname, rcon_password FROM servers WHERE id = ?", (sid,)).fetchone()
check(row[0] == "renamed" and row[1] == "My host", f"not stored: {row}")
r = owner.post(f"/servers/{sid}/rcon", {"csrf_token": tok})
with sqlite3.connect(WEB_DB) as db:
    new = db.execute("SELECT rcon_password FROM servers WHERE id = ?", (sid,)).fetchone()[0]
check(r.status == 303 and new != row[2] and re.fullmatch(r"[A-Za-z0-9]{24}", new), f"rotation: {r.status} {new}")
r = other.post(f"/servers/{sid}/rcon", {"csrf_token": other.token("/servers")})
check(r.status == 404, f"another user rotates the password: {r.status}")
r = owner.get(f"/servers/{sid}")
check(new in r.body and "steam://run/550//+connect" in r.body, "the detail page lacks the password or link")

print("== history: a server's page shows its own audit entries, not another server's")


def history_section(body):
    m = re.search(r'<section class="card" id="history">(.*?)</section>', body, re.S)
    return m.group(1) if m else None


with sqlite3.connect(WEB_DB) as db:
    sid2 = db.execute("INSERT INTO servers (owner_id, blueprint_id, name, port, rcon_password, created_usec, "
                      "updated_usec) VALUES (?, ?, 'second', 27016, 'pw', 1, 1)", (oid, bp)).lastrowid
r = owner.post(f"/servers/{sid2}", {"csrf_token": tok, "name": "second-renamed", "hostname": "", "blueprint_id": bp})
check(r.status == 303, f"rename of the second server: {r.status}")
r = owner.get(f"/servers/{sid}")
sec = history_section(r.body)
check(sec is not None and "server.update" in sec and "renamed" in sec and "server.rcon" in sec,
      f"the server's page lacks its history: {sec and sec[:600]}")
check("second-renamed" not in sec, "another server's entry is in this one's history")
check(f'href="/servers/{sid}/history"' in sec, "no link to the whole history")
# An entry made with an API token says so; addresses are the admin log's only.
now = int(time.time() * 1e6)
with sqlite3.connect(WEB_DB) as db:
    db.execute("INSERT INTO audit (at_usec, actor, kind, object, address, result, detail, token) VALUES "
               "(?, 'owner', 'server.start', ?, '192.0.2.77', 'ok', NULL, 'deploy-bot')", (now, f"server:{sid}"))
r = owner.get(f"/servers/{sid}")
sec = history_section(r.body)
check("via token" in sec and "deploy-bot" in sec, f"the token is not named: {sec[:600]}")
check("192.0.2.77" not in r.body, "the owner is shown an address")
r = admin.get(f"/admin/audit?object=server:{sid}")
check(r.status == 200 and "deploy-bot" in r.body and "192.0.2.77" in r.body and "second-renamed" not in r.body,
      f"/admin/audit filtered by object: {r.status}")
# The whole history pages 100 at a time, newest first.
with sqlite3.connect(WEB_DB) as db:
    db.executemany("INSERT INTO audit (at_usec, actor, kind, object, result, detail) VALUES "
                   "(?, 'system', 'server.test', ?, 'ok', ?)",
                   [(now + i, f"server:{sid}", f"entry-{i:03d}") for i in range(120)])
r = owner.get(f"/servers/{sid}/history")
rows = re.findall(r"entry-(\d{3})", r.body)
check(r.status == 200 and len(rows) == 100 and rows[0] == "119" and rows[-1] == "020",
      f"first page: {r.status} {len(rows)} {rows[:2]} {rows[-2:]}")
more = re.search(r'<a href="([^"]*)" rel="next">Older entries', r.body)
check(more and more.group(1).startswith(f"/servers/{sid}/history?before="), "no link to older entries")
r = owner.get(more.group(1).replace("&amp;", "&"))
rows = re.findall(r"entry-(\d{3})", r.body)
check(r.status == 200 and rows[0] == "019" and rows[-1] == "000" and "server.update" in r.body
      and 'rel="next"' not in r.body, f"second page: {r.status} {rows[:2]} {rows[-2:]}")
r = owner.get(f"/servers/{sid}")
check(len(re.findall(r"entry-\d{3}", history_section(r.body))) == 20, "the page's section is not the last 20")

print("== blueprint delete: refused while a server uses it, naming it; the user delete guard")
r = owner.post(f"/blueprints/{bp}/delete", {"csrf_token": tok})
check(r.status == 409 and "renamed" in r.body, f"delete of a used blueprint: {r.status}")
with sqlite3.connect(WEB_DB) as db:
    owner_id = db.execute("SELECT id FROM users WHERE username = 'owner'").fetchone()[0]
r = admin.post(f"/admin/users/{owner_id}/delete", {"csrf_token": admin.token("/admin/users")})
check(r.status == 409 and "owns" in r.body, f"deleting a user who owns servers: {r.status} {r.body[:200]}")
print("OK")
