#!/usr/bin/python3
"""Black-box checks of the overlay pages against a webd whose hostd and jobd are not running:
scopes (private, system: admins only), names unique per scope, hostile fields, who sees and
changes what (the permission table), a script kept as LF text, builds refused when empty or
answered 503 while jobd is away, the in-use guard naming the blueprints, the seeding command
(idempotent, ids kept) and the user-delete guard.

    web_overlays.py PORT SOCKET_DIR BUILD_DIR WEB_DB SEED_DIR
"""
import json
import re
import sqlite3
import sys
import time

import webclient
from webclient import check, ctl, Client

webclient.setup(sys.argv[1], sys.argv[2], sys.argv[3])
WEB_DB, SEED_DIR = sys.argv[4], sys.argv[5]

ctl("web", "user", "create", "ov-admin", "--admin", password="ov-admin-pw-1")
ctl("web", "user", "create", "ov-owner", password="ov-owner-pw-1")
ctl("web", "user", "create", "ov-other", password="ov-other-pw-1")
admin, owner, other, anon = Client("10.8.0.1"), Client("10.8.0.2"), Client("10.8.0.3"), Client("10.8.0.4")
for c, u, p in ((admin, "ov-admin", "ov-admin-pw-1"), (owner, "ov-owner", "ov-owner-pw-1"),
                (other, "ov-other", "ov-other-pw-1")):
    c.login(u, p)



def post(c, path, form):
    form = dict(form)
    form.setdefault("csrf_token", c.token("/overlays"))
    return c.post(path, form)


def db(sql, *args):
    with sqlite3.connect(WEB_DB) as d:
        return d.execute(sql, args).fetchall()


def created_id(r):
    m = re.match(r"^/overlays/(\d+)\?m=overlay-created$", r.location() or "")
    check(r.status == 303 and m, f"create: {r.status} {r.location()} {r.body[:300]}")
    return int(m.group(1))


print("== create: private for everyone, system for admins only; names unique per scope")
mine = created_id(post(owner, "/overlays", {"type": "script", "name": "Maps", "scope": "private"}))
r = post(owner, "/overlays", {"type": "script", "name": "Maps", "scope": "private"})
check(r.status == 409 and "already have an overlay" in r.body, f"duplicate private name: {r.status}")
theirs = created_id(post(other, "/overlays", {"type": "script", "name": "Maps"}))  # scope defaults to private
r = post(owner, "/overlays", {"type": "script", "name": "Shared", "scope": "system"})
check(r.status == 403 and "Only an admin" in r.body, f"a user makes a system overlay: {r.status}")
check(db("SELECT COUNT(*) FROM overlays WHERE name = 'Shared'")[0][0] == 0, "the refused system overlay was stored")
system = created_id(post(admin, "/overlays", {"type": "script", "name": "Shared", "scope": "system"}))
r = post(admin, "/overlays", {"type": "script", "name": "Shared", "scope": "system"})
check(r.status == 409 and "system overlay with that name" in r.body, f"duplicate system name: {r.status}")
check(db("SELECT owner_id IS NULL FROM overlays WHERE id = ?", system)[0][0] == 1, "system overlay has an owner")
for form, want, why in (({"type": "external", "name": "x"}, 400, "an unknown type"),
                        ({"type": "workshop", "name": "x"}, 400, "a type not offered yet"),
                        ({"type": "script", "name": "x", "scope": "public"}, 400, "an unknown scope"),
                        ({"type": "script", "name": ""}, 400, "an empty name"),
                        ({"type": "script", "name": "A" * 129}, 400, "a long name"),
                        ({"type": "script", "name": "rtl\u202eevil"}, 400, "a bidi override"),
                        ({"type": "script", "name": "bell\x07"}, 400, "a control character")):
    n = db("SELECT COUNT(*) FROM overlays")[0][0]
    r = post(owner, "/overlays", form)
    check(r.status == want, f"{why}: {r.status}, expected {want}")
    check(db("SELECT COUNT(*) FROM overlays")[0][0] == n, f"{why}: a row was stored")
xss = created_id(post(owner, "/overlays", {"type": "script", "name": "<script>alert(1)</script>"}))
r = owner.get("/overlays")
check("<script>alert(1)" not in r.body and "&lt;script&gt;" in r.body, "a name reached the list unescaped")

print("== who sees what: the list, the detail, the script")
r = owner.get("/overlays")
check(r.status == 200 and "Maps" in r.body and "Shared" in r.body, f"owner's list: {r.status}")
check(f"/overlays/{theirs}" not in r.body, "another user's private overlay is listed")
r = admin.get("/overlays")
check(f"/overlays/{mine}" in r.body and f"/overlays/{theirs}" in r.body, "the admin does not see every overlay")
check("unknown for now" in r.body, "no word that hostd is away")
r = owner.get(f"/overlays/{system}")
check(r.status == 200 and 'name="script"' not in r.body, f"a user sees a system overlay's script form: {r.status}")
r = owner.get(f"/overlays/{mine}")
check(r.status == 200 and 'data-editor="bash"' in r.body and "/static/editor.js" in r.body,
      "the owner's detail has no editor")
check("web-%d" % mine in r.body, "the detail does not name the host overlay")
r = owner.get("/servers")
check("/static/editor.js" not in r.body, "a page without an editor loads it")

print("== the script: stored as LF text; empty builds refused; builds need jobd")
tok = owner.token(f"/overlays/{mine}")
body = "#!/bin/bash\r\necho hi > \"$OVERLAY/x\"\r\n"
r = owner.post(f"/overlays/{mine}", {"csrf_token": tok, "name": "Maps", "script": body, "action": "save"})
check(r.status == 303 and r.location().endswith("m=overlay-saved"), f"save: {r.status} {r.body[:200]}")
check(db("SELECT script FROM overlays WHERE id = ?", mine)[0][0] == "#!/bin/bash\necho hi > \"$OVERLAY/x\"\n",
      "CRLF was not stored as LF")
r = owner.post(f"/overlays/{mine}", {"csrf_token": tok, "name": "Maps", "script": "", "action": "build"})
check(r.status == 400 and "script is empty" in r.body, f"an empty build: {r.status}")
check(db("SELECT script FROM overlays WHERE id = ?", mine)[0][0] != "", "a refused build emptied the script")
r = owner.post(f"/overlays/{mine}", {"csrf_token": tok, "name": "Maps", "script": "echo", "action": "launch"})
check(r.status == 400, f"an unknown action: {r.status}")
r = owner.post(f"/overlays/{mine}", {"csrf_token": tok, "name": "Maps", "script": "A" * (256 * 1024 + 1)})
check(r.status in (400, 413), f"a script over the cap: {r.status}")
t0 = time.monotonic()
r = owner.post(f"/overlays/{mine}", {"csrf_token": tok, "name": "Maps", "script": "echo built", "action": "build"})
check(r.status == 503 and "unavailable" in r.body and time.monotonic() - t0 < 2, f"a build without jobd: {r.status}")
r = owner.post(f"/overlays/{mine}", {"csrf_token": tok, "name": "Shared", "action": "save"})
check(r.status == 303, f"a private name equal to a system one: {r.status}")
r = owner.post(f"/overlays/{mine}", {"csrf_token": tok, "name": "Maps", "action": "save"})
check(r.status == 303 and db("SELECT name FROM overlays WHERE id = ?", mine)[0][0] == "Maps", "rename back")
before = db("SELECT name, script, updated_usec FROM overlays WHERE id = ?", system)
r = owner.post(f"/overlays/{system}", {"csrf_token": tok, "name": "Hijacked", "script": "rm -rf /", "action": "save"})
check(r.status == 403, f"a user changes a system overlay: {r.status}")
r = other.post(f"/overlays/{mine}", {"csrf_token": other.token("/overlays"), "name": "Stolen", "action": "save"})
check(r.status == 404, f"another user changes a private overlay: {r.status}")
check(db("SELECT name, script, updated_usec FROM overlays WHERE id = ?", system) == before, "system overlay changed")
check(db("SELECT name FROM overlays WHERE id = ?", mine)[0][0] == "Maps", "private overlay renamed by another user")
r = admin.post(f"/overlays/{system}", {"csrf_token": admin.token("/overlays"), "name": "Shared", "script": "echo sys",
                                       "action": "save"})
check(r.status == 303, f"the admin saves a system overlay: {r.status}")

print("== the permission table")
GET, POST = "GET", "POST"
table = [
    (GET, "/overlays", (303, 200, 200, 200)),
    (GET, f"/overlays/{mine}", (303, 200, 404, 200)),
    (GET, f"/overlays/{system}", (303, 200, 200, 200)),
    (GET, f"/overlays/{mine}/jobs", (303, 503, 404, 503)),
    (GET, f"/overlays/{mine}/history", (303, 200, 404, 200)),
    # A system overlay's history is the admins': everyone may see the overlay, not who changed it.
    (GET, f"/overlays/{system}/history", (303, 404, 404, 200)),
    (GET, f"/overlays/{mine}/history?before=x", (303, 400, 404, 400)),
    (GET, f"/overlays/{mine}/history/more", (303, 404, 404, 404)),
    (GET, f"/overlays/{mine}/nope", (303, 404, 404, 404)),
    (GET, "/overlays/999999", (303, 404, 404, 404)),
    (GET, "/overlays/0", (303, 404, 404, 404)),
    (POST, f"/overlays/{mine}/delete", (401, 503, 404, 503)),
    (POST, f"/overlays/{system}/delete", (401, 403, 403, 503)),
    (POST, "/overlays/999999/delete", (401, 404, 404, 404)),
]
for method, path, want in table:
    for c, who, expected in zip((anon, owner, other, admin), ("anonymous", "owner", "other", "admin"), want):
        t0 = time.monotonic()
        if method == GET:
            r = c.get(path)
        else:
            r = c.post(path, {} if c is anon else {"csrf_token": c.token("/overlays")})
        check(r.status == expected, f"{method} {path} as {who}: {r.status}, expected {expected}: {r.body[:200]}")
        check(time.monotonic() - t0 < 2, f"{method} {path} as {who}: a missing daemon stalled the page")
check(db("SELECT COUNT(*) FROM overlays WHERE id IN (?, ?)", mine, system)[0][0] == 2, "a refused delete deleted")

print("== history: each overlay's own audit entries, for who may see them")


def history_section(body):
    m = re.search(r'<section class="card" id="history">(.*?)</section>', body, re.S)
    return m.group(1) if m else None


r = other.post(f"/overlays/{theirs}", {"csrf_token": other.token("/overlays"), "name": "Theirs renamed",
                                       "action": "save"})
check(r.status == 303, f"the other user renames their overlay: {r.status}")
r = owner.get(f"/overlays/{mine}")
sec = history_section(r.body)
check(sec is not None and "overlay.update" in sec and "ov-owner" in sec and "Maps" in sec,
      f"the owner's overlay page lacks its history: {sec and sec[:500]}")
check("Theirs renamed" not in sec and "ov-other" not in sec, "another overlay's entry is in this one's history")
check(f'href="/overlays/{mine}/history"' in sec and "All history" in sec, "no link to the whole history")
r = owner.get(f"/overlays/{mine}/history")
check(r.status == 200 and 'id="history"' in r.body and r.body.count("overlay.update") >= 2,
      f"the history page: {r.status} {r.body[:300]}")
check(f'href="/overlays/{mine}"' in r.body, "the history page has no way back")
r = owner.get(f"/overlays/{system}")
check(r.status == 200 and history_section(r.body) is None, "a user sees a system overlay's history")
r = admin.get(f"/overlays/{system}")
sec = history_section(r.body)
check(sec is not None and "denied" in sec and "ov-owner" in sec and "ov-admin" in sec,
      f"the admin's view of a system overlay's history: {sec and sec[:500]}")
r = admin.get(f"/admin/audit?object=overlay:{mine}")
check(r.status == 200 and "overlay.update" in r.body and f"overlay:{theirs}" not in r.body
      and f'value="overlay:{mine}"' in r.body, f"/admin/audit filtered by object: {r.status}")

print("== in use: the delete is refused naming the blueprints (other users' counted, not named)")
uid = {n: i for i, n in db("SELECT id, username FROM users")}
with sqlite3.connect(WEB_DB) as d:
    for user, name in (("ov-owner", "Mine uses it"), ("ov-other", "Theirs uses it")):
        bid = d.execute("INSERT INTO blueprints (owner_id, name, created_usec, updated_usec) VALUES (?, ?, 1, 1)",
                        (uid[user], name)).lastrowid
        d.execute("INSERT INTO blueprint_overlays (blueprint_id, position, overlay) VALUES (?, 0, ?)",
                  (bid, f"web-{system}"))
    bid = d.execute("INSERT INTO blueprints (owner_id, name, created_usec, updated_usec) VALUES (?, 'Private use', 1, 1)",
                    (uid["ov-owner"],)).lastrowid
    d.execute("INSERT INTO blueprint_overlays (blueprint_id, position, overlay) VALUES (?, 0, ?)", (bid, f"web-{mine}"))
r = post(admin, f"/overlays/{system}/delete", {})
check(r.status == 409 and "Mine uses it" in r.body and "Theirs uses it" in r.body, f"admin in-use delete: {r.status}")
r = owner.get(f"/overlays/{system}")
check("Mine uses it" in r.body and "Theirs uses it" not in r.body and "1 blueprint of other users" in r.body,
      "a user sees another user's blueprint name on a system overlay")
r = post(owner, f"/overlays/{mine}/delete", {})
check(r.status == 409 and "Private use" in r.body, f"owner in-use delete: {r.status}")
check(db("SELECT COUNT(*) FROM overlays WHERE id IN (?, ?)", mine, system)[0][0] == 2, "an overlay in use went")

print("== seed-script-overlays: system script overlays, idempotent, ids kept, bodies refreshed")
p = ctl("--json", "web", "seed-script-overlays", SEED_DIR)
first = json.loads(p.stdout)
check(len(first) >= 2 and all(x["result"]["created"] for x in first), f"first seed: {first}")
ids = {x["file"]: x["result"]["id"] for x in first}
names = db("SELECT name, owner_id IS NULL, type FROM overlays WHERE id IN (%s)" % ",".join(map(str, ids.values())))
check(all(sys_ == 1 and t == "script" for _, sys_, t in names), f"seeded rows: {names}")
check("Tickrate 100 (cfg)" in [n for n, _, _ in names], f"the '# name:' line was not used: {names}")
with sqlite3.connect(WEB_DB) as d:
    d.execute("UPDATE overlays SET script = 'stale' WHERE id = ?", (ids["tickrate.sh"],))
second = json.loads(ctl("--json", "web", "seed-script-overlays", SEED_DIR).stdout)
check(all(not x["result"]["created"] for x in second), f"second seed created rows: {second}")
check({x["file"]: x["result"]["id"] for x in second} == ids, "ids changed on a second seed")
check(db("SELECT script FROM overlays WHERE id = ?", ids["tickrate.sh"])[0][0].startswith("#!/bin/bash"),
      "the body was not refreshed")
check(db("SELECT COUNT(*) FROM audit WHERE kind = 'overlay.seed'")[0][0] == 2 * len(ids), "seeds not audited")
r = ctl("web", "seed-script-overlays", "/nonexistent-dir", ok=False)
check(r.returncode == 4 and "/nonexistent-dir" in r.stderr, f"a missing dir: {r.returncode} {r.stderr}")
r = ctl("web", "seed-script-overlays", ok=False)
check(r.returncode == 2, f"no dir: {r.returncode}")

print("== seed-script-overlays: a bad file is named and skipped, the others are seeded")
import os  # noqa: E402
import tempfile  # noqa: E402
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "good.sh"), "w") as f:
        f.write("# name: Seeded beside bad ones\necho ok\n")
    with open(os.path.join(d, "binary.sh"), "wb") as f:
        f.write(b"echo \x00 nul\n")
    with open(os.path.join(d, "big.sh"), "w") as f:
        f.write("#" * (256 * 1024 + 1))
    os.symlink("/etc/shadow", os.path.join(d, "link.sh"))
    r = ctl("web", "seed-script-overlays", d, ok=False)
check(r.returncode == 3, f"bad files: exit {r.returncode}: {r.stderr}")
for name, why in (("binary.sh", "not a text file"), ("big.sh", "larger than 256 KiB"), ("link.sh", "")):
    check(f"/{name}:" in r.stderr and why in r.stderr, f"{name} is not named: {r.stderr}")
check(db("SELECT COUNT(*) FROM overlays WHERE name = 'Seeded beside bad ones' AND owner_id IS NULL")[0][0] == 1,
      "the good file was not seeded")
check(db("SELECT COUNT(*) FROM overlays WHERE name IN ('binary', 'big', 'link')")[0][0] == 0, "a bad file was seeded")

print("== files pages: only a files overlay has them, only who may see it, hostd away is a 503")
files = created_id(post(owner, "/overlays", {"type": "files", "name": "Configs"}))
r = owner.get(f"/overlays/{files}")
check(r.status == 200 and f"/overlays/{files}/files" in r.body, f"files overlay page: {r.status}")
r = owner.get(f"/overlays/{files}/files?path=cfg")
check(r.status == 503 and "host service is unavailable" in r.body, f"files with hostd away: {r.status} {r.body[:200]}")
for path, want, why in ((f"/overlays/{mine}/files", 404, "a script overlay's files"),
                        (f"/overlays/{files}/nofiles", 404, "a path that only starts like files"),
                        (f"/overlays/{files}/files/nope", 404, "an unknown files page"),
                        (f"/overlays/{files}/files?path=" + "a" * 5000, 400, "a path over 4095 bytes")):
    r = owner.get(path)
    check(r.status == want, f"{why}: {r.status}, expected {want}")
for c, who in ((other, "another user"), (anon, "no session")):
    r = c.get(f"/overlays/{files}/files")
    check(r.status in (404, 303), f"{who} sees the files page: {r.status}")
r = other.post(f"/overlays/{files}/files/mkdir", {"csrf_token": other.token("/overlays"), "path": "", "name": "x"})
check(r.status == 404, f"another user makes a folder: {r.status}")
r = owner.post(f"/overlays/{files}/files/mkdir", {"path": "", "name": "x"})
check(r.status == 403, f"a folder made without the CSRF token: {r.status}")
r = post(owner, f"/overlays/{files}/files/mkdir", {"path": ""})
check(r.status == 400 and "Name the new folder" in r.body, f"a folder without a name: {r.status}")
r = post(owner, f"/overlays/{files}/files/rename", {"path": "a"})
check(r.status == 400 and "new name" in r.body, f"a rename without a name: {r.status}")
r = post(owner, f"/overlays/{files}/files/save", {"path": "a.cfg"})
check(r.status == 400 and "no content" in r.body, f"a save without content: {r.status}")
r = post(owner, f"/overlays/{files}/files/frobnicate", {"path": "a"})
check(r.status == 404, f"an unknown files action: {r.status}")
r = post(owner, f"/overlays/{files}/files/mkdir", {"path": "", "name": "cfg"})
check(r.status == 503, f"a folder made with hostd away: {r.status}")
r = post(admin, f"/overlays/{system}/files/mkdir", {"path": "", "name": "cfg"})
check(r.status == 404, f"files of a script overlay, as admin: {r.status}")
r = owner.get(f"/overlays/{files}/files/edit?dir=cfg&name=server.cfg")
check(r.status == 200 and 'data-editor="srccfg"' in r.body and 'name="create" value="1"' in r.body,
      f"a new file's editor: {r.status}")
r = owner.get(f"/overlays/{files}/files/edit?dir=cfg&name=")
check(r.status == 400, f"a new file without a name: {r.status}")

print("== the user-delete guard counts private overlays")
with sqlite3.connect(WEB_DB) as d:
    d.execute("DELETE FROM blueprint_overlays")
    d.execute("DELETE FROM blueprints WHERE owner_id = ?", (uid["ov-other"],))
r = admin.post(f"/admin/users/{uid['ov-other']}/delete", {"csrf_token": admin.token("/admin/users")})
check(r.status == 409 and "1 private overlay" in r.body, f"deleting a user who owns an overlay: {r.status} {r.body[:300]}")
print("OK")
