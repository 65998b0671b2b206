#!/usr/bin/python3
"""Black-box tests of left4me-hostd under systemd-socket-activate, without systemd as PID 1:
what works with a temporary root and no systemd (initialize, delete, reset, status and list
degrade, the mount/umount subcommands), hostile arguments and specs (refused, nothing
written), callers outside root/group left4me, and l4d2ctl's exit codes.
Spoken to with python3-msgpack (tests/pylib), an independent implementation."""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from l4m import BUILD, Client, Daemon, RpcError  # noqa: E402

FAILED = []
IS_ROOT = os.geteuid() == 0


def hostd_has_no_a2s():
    """hostd parses nothing a game sends: no A2S code is linked into it."""
    out = subprocess.run(["nm", os.path.join(BUILD, "left4me-hostd")], capture_output=True, text=True)
    return out.returncode == 0 and "a2s_" not in out.stdout


def check(cond, what):
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}")
        FAILED.append(what)


def expect_error(fn, code, what, needle=None):
    try:
        fn()
    except RpcError as e:
        good = e.code == code and (needle is None or needle in e.message)
        check(good, f"{what}: {e.code}: {e.message}")
        return e
    check(False, f"{what}: no error (wanted {code})")
    return None


def snapshot(root):
    out = []
    for d, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            out.append((os.path.relpath(p, root), stat.S_IMODE(st.st_mode), st.st_uid, st.st_size))
    return sorted(out)


def make_root():
    top = tempfile.mkdtemp(prefix="l4m-hostd-")
    os.chmod(top, 0o755)
    root = os.path.join(top, "root")
    for d in ("instances", "runtime", "installation/left4dead2/cfg", "overlays/top/left4dead2/cfg",
              "overlays/bottom/left4dead2", "workshop_cache"):
        os.makedirs(os.path.join(root, d))
    for d in ("instances", "runtime"):
        os.chmod(os.path.join(root, d), 0o755)
    w = lambda p, s: open(os.path.join(root, p), "w").write(s)  # noqa: E731
    w("overlays/top/left4dead2/which.txt", "top\n")
    w("overlays/top/left4dead2/cfg/server.cfg", "sv_top 1\n")
    w("overlays/bottom/left4dead2/which.txt", "bottom\n")
    w("overlays/bottom/left4dead2/bottom.txt", "bottom only\n")
    w("installation/srcds_run", "#!/bin/sh\n")
    w("installation/left4dead2/install.txt", "install\n")
    os.symlink("/etc", os.path.join(root, "overlays/abs"))
    os.symlink("../installation", os.path.join(root, "overlays/up"))
    os.symlink("top", os.path.join(root, "overlays/alias_top"))
    return top, root


def config(top, root, steamcmd=None):
    return (f"paths: {{root: {root}, steamcmd: {steamcmd or top + '/steamcmd.sh'}, run: {top}}}\n"
            "ports: {start: 27015, end: 27115}\nlimits: {idle_exit_sec: 30, max_message_bytes: 4194304}\n")


GOOD = """port: 27020
overlays:
  - {path: top, alias: overlay_top}
  - bottom
arguments: [+map, c1m1_hotel]
config: [exec server_overlay_top, 'hostname "bläckbox"']
"""


def ctl(d, *args, user=None):
    link = os.path.join(d.dir, "host.sock")  # l4d2ctl looks for <socket-dir>/host.sock
    if not os.path.lexists(link):
        os.symlink(d.socket, link)
    cmd = [os.path.join(BUILD, "l4d2ctl"), "--socket-dir", d.dir, "--config", os.path.join(d.dir, "left4me.yaml")]
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, user=user)
    return p.returncode, p.stdout + p.stderr


def test_lifecycle_without_systemd(d, root):
    c = d.client()
    h = c.call("sys.health")
    check(h.get("busy_instances") == 0 and h.get("installing") is False, f"sys.health has hostd's fields: {h}")
    check(hostd_has_no_a2s(), "left4me-hostd links no A2S code (nm)")

    r = c.call("instance.initialize", {"name": "web1", "spec": GOOD})
    check(r == {"name": "web1", "port": 27020, "overlays": 2, "arguments": 2}, f"initialize result {r}")
    inst = os.path.join(root, "instances/web1")
    env = open(os.path.join(inst, "instance.env")).read()
    check(f"L4D2_LOWERDIRS={root}/overlays/top:{root}/overlays/bottom:{root}/installation\n" in env,
          "instance.env lower dirs, top first")
    check(open(os.path.join(inst, "server.cfg")).read() == 'exec server_overlay_top\nhostname "bläckbox"\n',
          "server.cfg")
    check(open(os.path.join(inst, "server_overlay_top.cfg")).read() == "sv_top 1\n", "server_overlay_top.cfg")
    check(open(os.path.join(inst, "spec.yaml")).read() == GOOD, "spec.yaml kept verbatim")
    check(stat.S_IMODE(os.stat(inst).st_mode) == 0o750, "instances/web1 is 0750")
    for sub in ("upper", "work", "merged"):
        check(os.path.isdir(os.path.join(root, "runtime/web1", sub)), f"runtime/web1/{sub}")

    # Same spec through a symlink that stays inside overlays/, and binary spec bytes.
    r = c.call("instance.initialize", {"name": "web2", "spec": b"port: 27021\noverlays: [alias_top]\n"})
    check(r["port"] == 27021, "spec as bin, symlink inside overlays/ accepted")

    st = c.call("instance.status", {"name": "web1"})
    check(st["initialized"] is True and st["port"] == 27020 and st["mounted"] is False, f"status files: {st}")
    check(st["overlays"] is None, "status: no overlays while not mounted")
    ol = c.call("overlay.list")
    check([(o["id"], o["generation"]) for o in ol] == [("bottom", 0), ("top", 0)]
          and all(o["built_usec"] > 0 for o in ol),
          f"overlay.list: the operator's dirs are generation 0, an alias is no overlay: {ol}")
    if not os.path.exists("/run/systemd/private"):
        check(st["state"] == "unknown" and st["systemd_error"], "status degrades without systemd")
    # hostd reports systemd's view only: what the game says (A2S) is l4d2ctl's and webd's to ask.
    fields = {"name", "unit", "state", "initialized", "mounted", "port", "active_state", "sub_state", "load_state",
              "unit_file_state", "enabled", "invocation_id", "main_pid", "since_usec", "restarts", "memory_bytes",
              "cpu_usec", "systemd_error", "overlays"}
    check(set(st) == fields, f"status has exactly the documented fields: {sorted(set(st) ^ fields)}")
    check(st["unit"] == "left4me-server@web1.service", "unit name")

    lst = c.call("instance.list")
    check([s["name"] for s in lst] == ["web1", "web2"], f"list: {[s['name'] for s in lst]}")

    expect_error(lambda: c.call("instance.status", {"name": "nope"}), "not_found", "status of a missing instance")
    expect_error(lambda: c.call("instance.start", {"name": "nope"}), "not_found", "start of a missing instance")
    if not os.path.exists("/run/systemd/private"):
        expect_error(lambda: c.call("instance.start", {"name": "web1"}), "unavailable", "start without systemd")

    r = c.call("instance.delete", {"name": "web1"})
    check(r["existed"] is True and not os.path.exists(inst) and not os.path.exists(os.path.join(root, "runtime/web1")),
          f"delete removes both dirs: {r}")
    r = c.call("instance.delete", {"name": "web1"})
    check(r["existed"] is False, "delete twice succeeds")
    r = c.call("instance.reset", {"name": "web2"})
    check(r["existed"] is True and not os.path.exists(os.path.join(root, "instances/web2")), "reset wipes")
    check(c.call("instance.list") == [], "list is empty again")
    c.close()


def test_hostile(d, root):
    c = d.client()
    before = snapshot(root)
    many = "port: 27015\noverlays:\n" + "".join(f"  - top{'/x' if i % 2 else ''}\n" for i in range(500))
    specs = [
        ("port: 80\n", "port"),
        ("port: 27015\noverlays: [/etc]\n", "overlays[0]"),
        ("port: 27015\noverlays: [top, ../installation]\n", "overlays[1]"),
        ("port: 27015\noverlays: [abs]\n", "overlays[0]"),
        ("port: 27015\noverlays: [up]\n", "overlays[0]"),
        ("port: 27015\noverlays: [abs/passwd]\n", "overlays[0]"),
        ("port: 27015\noverlays: [missing]\n", "overlays[0]"),
        ("port: 27015\noverlays: [{path: top, alias: '../../x'}]\n", "overlays[0].alias"),
        ("port: 27015\nconfig: [\"a\\nrcon_password x\"]\n", "config[0]"),
        ("port: 27015\nconfig: [\"\\x1b[31m\"]\n", "config[0]"),
        ("port: 27015\narguments: [\"+map c1m1; id\"]\n", "arguments[0]"),
        ("port: 27015\na: &a [1]\nb: *a\n", "YAML"),
        (many, "overlays"),
        ("port: 27015\n" + "#" * (1024 * 1024), "spec"),
        ("\udcff".encode("utf-8", "surrogateescape") + b"port: 27015\n", "UTF-8"),
        (b"port: 27015\x00\n", "NUL"),
    ]
    for spec, needle in specs:
        expect_error(lambda: c.call("instance.initialize", {"name": "evil", "spec": spec}), "invalid",
                     f"spec refused ({needle})", needle)
    for name in ("../evil", "A", "", "a" * 65, "-a", "a/b", "é", 7, None, ["x"]):
        expect_error(lambda: c.call("instance.initialize", {"name": name, "spec": "port: 27015\n"}), "invalid",
                     f"name {name!r} refused", "name")
        for m in ("instance.start", "instance.stop", "instance.delete", "instance.reset", "instance.status",
                  "instance.spec"):
            expect_error(lambda: c.call(m, {"name": name}), "invalid", f"{m} name {name!r} refused", "name")
    expect_error(lambda: c.call("instance.initialize", {"name": "x"}), "invalid", "missing spec", "spec")
    expect_error(lambda: c.call("instance.initialize", {"name": "x", "spec": 5}), "invalid", "spec of the wrong type")
    expect_error(lambda: c.call("instance.initialize", {"name": "x", "spec": "port: 27015\n", "root": "/"}),
                 "invalid", "unknown argument", "unknown")
    expect_error(lambda: c.call("instance.list", {"all": True}), "invalid", "list takes no arguments")
    expect_error(lambda: c.call("game.install", {"app": "1"}), "invalid", "install takes no arguments")
    check(snapshot(root) == before, "hostile calls wrote nothing")
    c.close()


def test_spec(d, root, top):
    c = d.client()
    c.call("instance.initialize", {"name": "sp1", "spec": GOOD})
    r = c.call("instance.spec", {"name": "sp1"})
    check(r == {"name": "sp1", "spec": GOOD}, f"instance.spec returns the stored text: {r!r:.120}")
    expect_error(lambda: c.call("instance.spec", {"name": "nope"}), "not_found", "spec of a missing instance",
                 "not initialized")
    expect_error(lambda: c.call("instance.spec", {}), "invalid", "spec without a name", "name")
    expect_error(lambda: c.call("instance.spec", {"name": "sp1", "x": 1}), "invalid", "spec: unknown argument",
                 "unknown")
    inst = os.path.join(root, "instances/sp1")
    # The file is read beneath the root fd: no symlink is followed, no FIFO blocks, 1 MiB at most.
    os.rename(os.path.join(inst, "spec.yaml"), os.path.join(inst, "spec.keep"))
    expect_error(lambda: c.call("instance.spec", {"name": "sp1"}), "not_found", "spec.yaml missing",
                 "no spec.yaml")
    secret = os.path.join(top, "secret")
    open(secret, "w").write("secret\n")
    os.symlink(secret, os.path.join(inst, "spec.yaml"))
    e = expect_error(lambda: c.call("instance.spec", {"name": "sp1"}), "internal", "spec.yaml as a symlink",
                     "symlink")
    check(e is not None and "secret" not in e.message, "the symlink's target is not read")
    os.unlink(os.path.join(inst, "spec.yaml"))
    os.mkfifo(os.path.join(inst, "spec.yaml"))
    expect_error(lambda: c.call("instance.spec", {"name": "sp1"}), "internal", "spec.yaml as a FIFO",
                 "not a regular file")
    os.unlink(os.path.join(inst, "spec.yaml"))
    open(os.path.join(inst, "spec.yaml"), "w").write("#" * (1024 * 1024 + 1))
    expect_error(lambda: c.call("instance.spec", {"name": "sp1"}), "internal", "spec.yaml over 1 MiB", "1 MiB")
    os.rename(os.path.join(inst, "spec.keep"), os.path.join(inst, "spec.yaml"))
    os.rename(inst, inst + ".moved")
    os.symlink(inst + ".moved", inst)
    expect_error(lambda: c.call("instance.spec", {"name": "sp1"}), "internal", "instances/sp1 as a symlink")
    os.unlink(inst)
    os.rename(inst + ".moved", inst)
    check(c.call("instance.spec", {"name": "sp1"})["spec"] == GOOD, "spec readable again")

    rc, out = ctl(d, "spec", "sp1")
    check(rc == 0 and out == GOOD, f"l4d2ctl spec prints the spec as it is: {rc} {out!r:.80}")
    rc, out = ctl(d, "spec", "sp1", "--json")
    check(rc == 0 and json.loads(out) == {"name": "sp1", "spec": GOOD}, f"l4d2ctl spec --json: {rc}")
    rc, out = ctl(d, "spec", "nope")
    check(rc == 4 and "not initialized" in out, f"l4d2ctl spec of a missing instance exits 4: {rc} {out.strip()}")
    rc, out = ctl(d, "spec", "../x")
    check(rc == 3, f"l4d2ctl spec of a bad name exits 3: {rc} {out.strip()}")
    rc, out = ctl(d, "spec")
    check(rc == 2, f"l4d2ctl spec without a name exits 2: {rc}")
    # start --queue without -f fetches the stored spec from hostd, then submits to jobd (absent here).
    rc, out = ctl(d, "start", "nope", "--queue")
    check(rc == 4 and "-f SPEC.yaml" in out, f"start --queue of a missing instance exits 4: {rc} {out.strip()}")
    rc, out = ctl(d, "start", "sp1", "--queue")
    check(rc == 7 and "job" in out, f"start --queue with the stored spec reaches for jobd: {rc} {out.strip()}")
    c.close()


def test_install_unavailable(d):
    c = d.client()
    expect_error(lambda: c.call("game.install"), "unavailable", "install without steamcmd", "steamcmd")
    c.close()


def test_outsider(d, root):
    if not IS_ROOT:
        print("SKIP: outsider test needs root")
        return
    os.chmod(d.socket, 0o666)
    os.chmod(d.dir, 0o755)
    before = snapshot(root)
    code = ("import sys; sys.path.insert(0, %r); from l4m import Client, RpcError\n"
            "c = Client(%r)\n"
            "try:\n    c.call('instance.initialize', {'name': 'x', 'spec': 'port: 27015'})\n"
            "except RpcError as e:\n    print(e.code)\n"
            "try:\n    c.call('instance.list')\n"
            "except RpcError as e:\n    print(e.code)\n"
            "try:\n    c.call('instance.spec', {'name': 'sp1'})\n"
            "except RpcError as e:\n    print(e.code)\n") % (
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"), d.socket)
    p = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, user=65534, group=65534,
                       timeout=20)
    check(p.stdout.split() == ["denied"] * 3, f"uid 65534 denied: {p.stdout!r} {p.stderr[-300:]!r}")
    rc, out = ctl(d, "list", user=65534)
    check(rc == 6, f"l4d2ctl as nobody exits 6: {rc} {out.strip()}")
    rc, out = ctl(d, "spec", "sp1", user=65534)
    check(rc == 6 and "port" not in out, f"l4d2ctl spec as nobody exits 6: {rc} {out.strip()}")
    rc, out = ctl(d, "start", "sp1", "--queue", user=65534)
    check(rc == 6, f"start --queue (stored spec) as nobody exits 6: {rc} {out.strip()}")
    check(snapshot(root) == before, "the outsider changed nothing")


def test_cli(d, root, top):
    spec = os.path.join(top, "s.yaml")
    open(spec, "w").write(GOOD)
    rc, out = ctl(d, "initialize", "cli1", "-f", spec)
    check(rc == 0 and "initialized cli1 (port 27020, 2 overlays)" in out, f"l4d2ctl initialize: {rc} {out.strip()}")
    rc, out = ctl(d, "--json", "status", "cli1")
    check(rc == 0 and json.loads(out)["port"] == 27020, f"l4d2ctl --json status: {rc}")
    rc, out = ctl(d, "status", "cli1")
    check(rc == 0 and "port 27020" in out, f"l4d2ctl status: {out.strip()}")
    rc, out = ctl(d, "list", "--json")
    check(rc == 0 and [s["name"] for s in json.loads(out)] == ["cli1"], f"l4d2ctl list --json: {rc}")
    open(spec, "w").write("port: 1\n")
    rc, out = ctl(d, "initialize", "cli2", "-f", spec)
    check(rc == 3 and "port" in out, f"invalid spec exits 3: {rc} {out.strip()}")
    rc, out = ctl(d, "status", "nope")
    check(rc == 4, f"missing instance exits 4: {rc}")
    rc, out = ctl(d, "initialize", "cli2")
    check(rc == 2, f"missing -f is a usage error: {rc}")
    rc, out = ctl(d, "install")
    check(rc == 7, f"install without steamcmd exits 7: {rc} {out.strip()}")
    p = subprocess.run([os.path.join(BUILD, "l4d2ctl"), "--socket-dir", d.dir, "--config",
                        os.path.join(d.dir, "left4me.yaml"), "initialize", "cli3", "-f", "-"],
                       input="port: 27030\n", capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"initialize -f - reads stdin: {p.stdout}{p.stderr}")
    for n in ("cli1", "cli3"):
        rc, out = ctl(d, "delete", n)
        check(rc == 0, f"l4d2ctl delete {n}: {rc} {out.strip()}")


def hostd(top, *args):
    return subprocess.run([os.path.join(BUILD, "left4me-hostd"), "--config", os.path.join(top, "sub.yaml")] +
                          list(args), capture_output=True, text=True, timeout=30)


def test_mount(top, root):
    if not IS_ROOT:
        print("SKIP: mount tests need root")
        return
    with open(os.path.join(top, "sub.yaml"), "w") as f:
        f.write(config(top, root))
    d = Daemon("left4me-hostd", config=config(top, root))
    try:
        d.client().call("instance.initialize", {"name": "m1", "spec": GOOD})
    finally:
        d.stop()
    merged = os.path.join(root, "runtime/m1/merged")
    p = hostd(top, "mount", "m1")
    if p.returncode != 0 and "not supported as upperdir" in p.stderr + p.stdout:
        print("SKIP: this file system cannot hold an overlay upper dir")
        return
    check(p.returncode == 0, f"mount m1: {p.stderr.strip()}")
    check(os.path.ismount(merged), "merged is a mount point")
    rd = lambda p: open(os.path.join(merged, p)).read()  # noqa: E731
    check(rd("left4dead2/which.txt") == "top\n", "the first overlay is the top layer")
    check(rd("left4dead2/bottom.txt") == "bottom only\n", "lower overlay shows through")
    check(rd("left4dead2/install.txt") == "install\n", "the installation is the bottom layer")
    check('hostname "bläckbox"' in rd("left4dead2/cfg/server.cfg"), "server.cfg staged into the upper dir")
    check(rd("left4dead2/cfg/server_overlay_top.cfg") == "sv_top 1\n", "server_<alias>.cfg staged")
    with open("/proc/self/mountinfo") as f:
        mi = [l for l in f if merged in l]
    check(len(mi) == 1 and "nosuid" in mi[0] and "nodev" in mi[0], f"one nosuid,nodev mount: {mi}")
    p = hostd(top, "mount", "m1")
    check(p.returncode == 0 and "already mounted" in p.stderr, "mount is idempotent")
    layers = os.path.join(root, "runtime/m1/layers")
    check(open(layers).read() == "top 0\nbottom 0\n" and os.stat(layers).st_uid == 0,
          "the mount records its layers (root's runtime/m1/layers)")
    d = Daemon("left4me-hostd", config=config(top, root))
    try:
        st = d.client().call("instance.status", {"name": "m1"})
        check(st["overlays"] == [{"id": "top", "generation": 0}, {"id": "bottom", "generation": 0}],
              f"status: the mounted layers in order: {st['overlays']}")
        expect_error(lambda: d.client().call("overlay.delete", {"id": "top"}), "conflict",
                     "overlay.delete refuses an overlay a server mounts", "'m1'")
        check(os.path.exists(os.path.join(root, "overlays/top/left4dead2/which.txt")), "nothing of it removed")
    finally:
        d.stop()
    with open("/proc/self/mountinfo") as f:
        check(sum(merged in l for l in f) == 1, "still one mount")
    p = hostd(top, "umount", "m1")
    check(p.returncode == 0 and not os.path.ismount(merged), f"umount: {p.stderr.strip()}")
    check(not os.path.exists(layers), "umount removes the record")
    check(not os.path.exists(os.path.join(root, "runtime/m1/work/work")), "work/work removed")
    p = hostd(top, "umount", "m1")
    check(p.returncode == 0, "umount twice")

    env = os.path.join(root, "instances/m1/instance.env")
    orig = open(env).read()
    os.makedirs(os.path.join(root, "overlays/.gen/top/1"), exist_ok=True)
    os.makedirs(os.path.join(root, "workshop_cache"), exist_ok=True)
    # A bare allowed root is no layer (it would stack every tenant's overlays); the
    # installation is the last layer, itself, and only there.
    for bad in (f"{root}/overlays:{root}/installation", f"{root}/overlays/:{root}/installation",
                f"{root}/workshop_cache:{root}/installation", f"{root}/overlays/top",
                f"{root}/installation:{root}/overlays/top", f"{root}/overlays/top:{root}/installation/left4dead2",
                f"{root}/installation:{root}/installation", f"{root}/overlays/top:{root}/installationx"):
        open(env, "w").write(orig.replace(orig.split("L4D2_LOWERDIRS=")[1].split("\n")[0], bad))
        p = hostd(top, "mount", "m1")
        check(p.returncode != 0 and not os.path.ismount(merged) and "refusing to mount" in p.stderr,
              f"mount refuses the layers {bad[len(root):][:70]!r}")
    for bad in ("/etc", f"{root}/overlays/abs", f"{root}/overlays/.gen/top/1:{root}/installation", f"{root}/overlays/up/../../..", f"{root}/runtime/m1/upper",
                f"{root}/overlays/top::{root}/installation", "", ":".join([f"{root}/installation"] * 501)):
        open(env, "w").write(orig.replace(orig.split("L4D2_LOWERDIRS=")[1].split("\n")[0], bad))
        p = hostd(top, "mount", "m1")
        check(p.returncode != 0 and not os.path.ismount(merged), f"mount refuses lower dirs {bad[:60]!r}: "
              f"{p.stderr.strip()[-120:]}")
    open(env, "w").write(orig)
    p = hostd(top, "mount", "../m1")
    check(p.returncode != 0, "mount refuses a bad name")
    p = hostd(top, "mount")
    check(p.returncode != 0, "mount without a name is an error")
    # A symlink planted in the game-owned upper dir is not followed when staging cfgs.
    upper_cfg = os.path.join(root, "runtime/m1/upper/left4dead2/cfg")
    shutil.rmtree(upper_cfg)
    victim = os.path.join(top, "victim")
    os.makedirs(victim)
    os.symlink(victim, upper_cfg)
    p = hostd(top, "mount", "m1")
    check(p.returncode != 0 and os.listdir(victim) == [] and not os.path.ismount(merged),
          f"staging refuses a symlinked cfg dir: {p.stderr.strip()[-100:]}")
    os.unlink(upper_cfg)
    p = hostd(top, "mount", "m1")
    check(p.returncode == 0, "mount works again")
    d = Daemon("left4me-hostd", config=config(top, root))
    try:
        expect_error(lambda: d.client().call("instance.delete", {"name": "m1"}), "conflict",
                     "delete refuses while mounted", "mounted")
        check(os.path.exists(os.path.join(merged, "left4dead2/install.txt")), "nothing deleted through the mount")
        hostd(top, "umount", "m1")
        d.client().call("instance.delete", {"name": "m1"})
        check(not os.path.exists(os.path.join(root, "runtime/m1")), "deleted after umount")
    finally:
        d.stop()


def test_privileges(top, root):
    """hostd refuses to start without root or a capability it needs, and, under systemd, with
    one it does not need; by hand (as these tests run it) more is only a warning."""
    cfg = os.path.join(top, "priv.yaml")
    with open(cfg, "w") as f:
        f.write(config(top, root))
    env = {k: v for k, v in os.environ.items() if k not in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                                                             "INVOCATION_ID")}

    def run(prefix, extra_env=None):
        sock = os.path.join(top, "priv.sock")
        p = subprocess.run(prefix + [os.path.join(BUILD, "left4me-hostd"), "--config", cfg, "--listen", sock,
                                     "--idle-exit", "1"], capture_output=True, text=True, timeout=20,
                           env=dict(env, **(extra_env or {})))
        return p.returncode, p.stderr

    rc, err = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    check(rc != 0 and "must run as root" in err, f"hostd as nobody refused: {rc} {err.strip()[-200:]}")
    rc, err = run(["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"])
    check(rc != 0 and "lacks CAP_SYS_ADMIN" in err, f"hostd without CAP_SYS_ADMIN refused: {rc} {err.strip()[-200:]}")
    rc, err = run([], {"INVOCATION_ID": "0" * 32})
    check(rc != 0 and "does not need" in err, f"under systemd with extra capabilities refused: {rc} {err.strip()[-200:]}")
    rc, err = run([])
    check(rc == 0 and "does not need" in err, f"by hand with extra capabilities: a warning, then it runs: {rc}")
    # Exactly the unit's CapabilityBoundingSet=: accepted under systemd. steamcmd runs in units of
    # its own now, so CAP_KILL, CAP_SETUID and CAP_SETGID are beyond what hostd needs.
    unit_set = "-all,+sys_admin,+chown,+fowner,+dac_override"
    rc, err = run(["setpriv", "--bounding-set=" + unit_set], {"INVOCATION_ID": "0" * 32})
    check(rc == 0 and "does not need" not in err and "lacks" not in err,
          f"under systemd with the unit's four capabilities it runs: {rc} {err.strip()[-200:]}")
    for cap in ("kill", "setuid", "setgid"):
        rc, err = run(["setpriv", f"--bounding-set={unit_set},+{cap}"], {"INVOCATION_ID": "0" * 32})
        check(rc != 0 and "does not need" in err, f"under systemd CAP_{cap.upper()} is one too many: {rc}")


def main():
    top, root = make_root()
    try:
        d = Daemon("left4me-hostd", config=config(top, root))
        try:
            test_lifecycle_without_systemd(d, root)
            test_hostile(d, root)
            test_install_unavailable(d)
            test_cli(d, root, top)
            test_spec(d, root, top)
            test_outsider(d, root)
            d.client().call("instance.delete", {"name": "sp1"})
            check(d.alive(), "hostd survived everything")
        finally:
            d.stop()
        test_mount(top, root)
        if os.geteuid() == 0:
            test_privileges(top, root)
    finally:
        subprocess.run(["umount", os.path.join(root, "runtime/m1/merged")], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
    print(f"{len(FAILED)} failed" if FAILED else "all passed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
