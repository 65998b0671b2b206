#!/bin/bash
# hostd's file operations (docs/host.md, "File operations") under a real systemd, as webd's
# user (left4me-web) calls them, and as others: webd edits web-<id> overlays and nothing
# else, an operator edits its own but never a web UI's, a user of no class is refused, each
# edit makes a new generation while a running server keeps the one it mounted; an upload
# through the descriptor hostd hands out (refused while still open for writing), a download
# through a read-only one, a folder walked from its descriptor; a symlink planted to
# /etc/shadow is listed and never followed; the merged view names each file's layer. Also
# measures an edit of a 5000-file overlay.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/build-lib.sh
. "$(dirname "$0")/build-lib.sh"

need_cli
need_operator
need_daemon host
PORT=27043
runtime_on_tmpfs
game_installed

cleanup() {
        ct l4d2ctl delete web-7 >/dev/null 2>&1
        for o in web-1 web-2 opfiles bench5k; do ct l4d2ctl overlay delete "$o" >/dev/null 2>&1; done
}
trap cleanup EXIT

# The client library, where every user may read it.
mkdir -p "$E2E_ROOT/var/tmp/host-files" && cp -r "$E2E_REPO/tests/pylib" "$E2E_ROOT/var/tmp/host-files/" &&
        chmod -R a+rX "$E2E_ROOT/var/tmp/host-files" || fail "copy pylib"
# py WHO CODE: runs CODE with c, a Client of hostd, as root, op (l4m-op), webd (left4me-web
# with its unit's groups), jobd (left4me-jobs, likewise: a caller class the file methods are
# not for) or game (left4me-game without the operators' group: no caller class); call(method, **params) prints "ok <result>" or "error <code>: <message>".
py() {
        local who=$1 code=$2
        local pre='import sys, os, json, hashlib, time
sys.path.insert(0, "/var/tmp/host-files")
from pylib.l4m import Client, RpcError
c = Client("/run/left4me/host.sock", timeout=60)
def call(m, **p):
    try:
        r = c.call(m, p)
        print("ok", json.dumps(r, default=repr))
        return r
    except RpcError as e:
        print("error %s: %s" % (e.code, e.message))
        return None
'
        case $who in
        root) ct /usr/bin/python3 -c "$pre$code" ;;
        op) ct_as l4m-op /usr/bin/python3 -c "$pre$code" ;;
        webd) ct_daemon left4me-web /usr/bin/python3 -c "$pre$code" ;;
        jobd) ct_daemon left4me-jobs /usr/bin/python3 -c "$pre$code" ;;
        game) ct setpriv --reuid=left4me-game --regid=left4me-game --clear-groups -- /usr/bin/python3 -c "$pre$code" ;;
        esac 2>&1
}
gen_of() { ct readlink $L/overlays/"$1"; }

echo "--- webd edits a web UI overlay: every edit a new generation"
out=$(py webd '
call("file.list", overlay="web-1", path="")
call("file.mkdir", overlay="web-1", path="left4dead2/cfg")
call("file.write", overlay="web-1", path="left4dead2/cfg/a.cfg", data=b"sv_cheats 0\n")
call("file.write", overlay="web-1", path="left4dead2/cfg/a.cfg", data="exists", create=True)
call("file.write", overlay="web-1", path="left4dead2/cfg/b.cfg", data="hostname x\n")
call("file.list", overlay="web-1", path="left4dead2/cfg")
call("file.read", overlay="web-1", path="left4dead2/cfg/a.cfg")
call("file.rename", overlay="web-1", path="left4dead2/cfg/b.cfg", name="c.cfg")
call("file.mkdir", overlay="web-1", path="left4dead2/addons")
call("file.move", overlay="web-1", path="left4dead2/cfg/c.cfg", to="left4dead2/addons")
call("file.move", overlay="web-1", path="left4dead2", to="left4dead2/addons")
call("file.delete", overlay="web-1", path="left4dead2")
call("file.delete", overlay="web-1", path="left4dead2/addons/c.cfg")
')
echo "$out" | sed 's/^/    | /'
assert_contains "$out" 'ok {"generation": null, "path": "", "entries": [], "truncated": false}' "an overlay without a generation lists empty" >/dev/null
assert_contains "$out" 'ok {"generation": 1}' "mkdir made generation 1" >/dev/null
assert_contains "$out" "error conflict: 'left4dead2/cfg/a.cfg' exists" "create refuses a taken name" >/dev/null
assert_contains "$out" '"name": "a.cfg", "type": "file", "size": 12' "the listing" >/dev/null
assert_contains "$out" '"binary": false, "data": "b'"'"'sv_cheats 0\\n'"'"'"' "the read" >/dev/null
assert_contains "$out" "error invalid: cannot move folder 'left4dead2' into itself" "a move into itself" >/dev/null
assert_contains "$out" "error conflict: folder 'left4dead2' is not empty; delete it with recursive" "delete without recursive" >/dev/null
assert_contains "$out" 'ok {"generation": 7}' "seven edits, seven generations" >/dev/null
assert_eq ".gen/web-1/7" "$(gen_of web-1)" "overlays/web-1"
assert_eq "left4me-build 644" "$(ct stat -c '%U %a' $L/overlays/web-1/left4dead2/cfg/a.cfg)" "a written file's owner and mode"
assert_eq "left4me-build 755" "$(ct stat -c '%U %a' $L/overlays/web-1/left4dead2/addons)" "a made folder's"
ok "webd's edits"

echo "--- who may edit what"
put_script empty 'true'
ct l4d2ctl overlay build opfiles -f /tmp/empty.sh >/dev/null || fail "build opfiles"
out=$(py webd 'call("file.write", overlay="opfiles", path="x", data="x"); call("file.list", overlay="opfiles", path="")')
assert_contains "$out" "error denied: overlay 'opfiles' is not the web UI's" "webd on an operator's overlay"
out=$(py op 'call("file.write", overlay="web-1", path="x", data="x"); call("file.list", overlay="web-1", path="")')
assert_contains "$out" "error denied: overlay 'web-1' belongs to the web UI: act on it there" "an operator on a web overlay"
out=$(py op 'call("file.write", overlay="opfiles", path="mine.cfg", data="x")')
assert_contains "$out" 'ok {"generation"' "an operator on its own overlay"
out=$(py jobd 'call("file.list", overlay="web-1", path=""); call("file.upload", overlay="web-1")')
assert_contains "$out" "error denied: permission denied: 'file.list' is for root, operators" "jobd (not for it)"
assert_contains "$out" "error denied: permission denied: 'file.upload' is for root, operators" "and its upload"
out=$(py game 'call("file.list", overlay="web-1", path="")')
assert_contains "$out" "PermissionError" "a user of no class cannot connect (left4me-game)"
rc=0; out=$(ct setpriv --reuid=nobody --regid=nogroup --clear-groups -- l4d2ctl call host file.list overlay=web-1 path= 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "nobody listed web-1: $out"
ok "nobody cannot even connect (rc $rc)"
out=$(py webd '
call("file.write", overlay="web-1", path="../../etc/x", data="x")
call("file.write", overlay="web-1", path="/etc/x", data="x")
call("file.write", overlay="web-1", path="a\x00b", data="x")
call("file.write", overlay="web-1", path="x" * 256, data="x")
call("file.list", overlay="web-1", path="left4dead2", l4m_probe=1)
')
assert_contains "$out" "error invalid: path: '../../etc/x' may not contain '.' or '..'" "'..'" >/dev/null
assert_contains "$out" "error invalid: path: '/etc/x' must be relative" "an absolute path" >/dev/null
assert_contains "$out" "error invalid: path: must not contain NUL bytes" "NUL" >/dev/null
assert_contains "$out" "error invalid: path: a name in it is longer than 255 bytes" "a long name" >/dev/null
assert_contains "$out" "l4m_probe" "an unknown argument" >/dev/null
[ "$(echo "$out" | grep -c '^error invalid')" = 5 ] || fail "not every hostile path was refused: $out"
assert_eq ".gen/web-1/7" "$(gen_of web-1)" "nothing changed"

echo "--- a symlink planted to /etc/shadow: listed, never followed"
ct ln -s /etc/shadow $L/overlays/.gen/web-1/7/shadow
ct ln -s ../../opfiles $L/overlays/.gen/web-1/7/other
out=$(py webd '
call("file.list", overlay="web-1", path="")
call("file.read", overlay="web-1", path="shadow")
call("file.read", overlay="web-1", path="other/mine.cfg")
call("file.write", overlay="web-1", path="other/mine.cfg", data="x")
call("file.move", overlay="web-1", path="left4dead2", to="other")
try:
    c.call_fd("file.open", {"overlay": "web-1", "path": "shadow"}); print("OPENED")
except RpcError as e:
    print("error %s: %s" % (e.code, e.message))
')
echo "$out" | sed 's/^/    | /'
assert_contains "$out" '"name": "shadow", "type": "symlink"' "listed" >/dev/null
assert_contains "$out" '"target": "/etc/shadow", "broken": true' "with its target, broken" >/dev/null
[ "$(echo "$out" | grep -c "is or goes through a symlink; symlinks are not followed")" = 5 ] || fail "read/write/move/open through a symlink: $out"
ok "read, write, move and open through the links are refused"
ct rm $L/overlays/.gen/web-1/7/shadow $L/overlays/.gen/web-1/7/other

echo "--- an upload through the descriptor, a download through another"
out=$(py webd '
data = os.urandom(3 * 1024 * 1024 + 5)
res, fd = c.call_fd("file.upload", {"overlay": "web-1"})
tok = res["upload"]
st = os.fstat(fd)
print("upload fd: uid", st.st_uid, "mode %o" % (st.st_mode & 0o7777), "links", st.st_nlink)
os.write(fd, data[:1 << 20]); os.write(fd, data[1 << 20:])
call("file.commit", overlay="web-1", upload=tok, path="left4dead2/big.vpk")
os.close(fd)
call("file.commit", overlay="web-2", upload=tok, path="left4dead2/big.vpk")
r = call("file.commit", overlay="web-1", upload=tok, path="left4dead2/big.vpk")
call("file.commit", overlay="web-1", upload=tok, path="left4dead2/big.vpk")
call("file.read", overlay="web-1", path="left4dead2/big.vpk")
res, fd = c.call_fd("file.open", {"overlay": "web-1", "path": "left4dead2/big.vpk"})
print("open", res["type"], res["size"])
got = b""
while True:
    b = os.read(fd, 1 << 20)
    if not b: break
    got += b
print("download", "same" if got == data else "DIFFERENT", len(got))
try:
    os.write(fd, b"x"); print("WRITABLE")
except OSError as e:
    print("read-only:", e.strerror)
os.close(fd)
res, dfd = c.call_fd("file.open", {"overlay": "web-1", "path": ""})
print("dir", res["type"], sorted(os.listdir(dfd)), sorted(os.listdir(os.open("left4dead2", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd))))
res, dfd = c.call_fd("file.open", {"overlay": "web-1", "path": "left4dead2/cfg"})
print("subdir", res["type"], "beneath", res.get("beneath"), sorted(os.listdir(dfd)))
res, fd = c.call_fd("file.upload", {"overlay": "web-1"})
call("file.abort", overlay="web-1", upload=res["upload"])
call("file.commit", overlay="web-1", upload=res["upload"], path="x")
')
echo "$out" | sed 's/^/    | /'
assert_contains "$out" "upload fd: uid 0 mode 600 links 0" "the upload is root's, 0600, nameless" >/dev/null
assert_contains "$out" "error conflict: close the upload before committing it" "a commit while webd still holds it" >/dev/null
assert_contains "$out" "error not_found: no upload" "another overlay's commit of it" >/dev/null
assert_contains "$out" '"size": 3145733' "the commit" >/dev/null
assert_contains "$out" "error invalid: 'left4dead2/big.vpk' is 3.0 MiB, over the 1 MiB an editor opens; download it" "read of a big file" >/dev/null
assert_contains "$out" "download same 3145733" "the download has the uploaded bytes" >/dev/null
assert_contains "$out" "read-only:" "the download descriptor is read-only" >/dev/null
assert_contains "$out" "dir dir ['left4dead2'] ['addons', 'big.vpk', 'cfg']" "a folder walked from its descriptor" >/dev/null
assert_contains "$out" "subdir dir beneath left4dead2/cfg ['left4dead2']" "a subfolder comes as its generation's pinned root" >/dev/null
assert_contains "$out" 'ok {"upload":' "abort" >/dev/null
[ "$(echo "$out" | grep -c 'error not_found: no upload')" = 3 ] || fail "a committed or aborted upload is gone: $out"
assert_eq "left4me-build 644 1" "$(ct stat -c '%U %a %h' $L/overlays/web-1/left4dead2/big.vpk)" "the committed file"
out=$(ct l4d2ctl call host sys.health)
assert_contains "$out" '"uploads":0' "no upload pending" >/dev/null
ok "upload, download"

echo "--- a running server keeps its generation; the merged view names each file's layer"
printf 'port: %s\noverlays: [web-1]\n' $PORT | ct sh -c 'cat >/tmp/web-7.yaml'
assert_rc 0 "initialize web-7" ct l4d2ctl initialize web-7 -f /tmp/web-7.yaml
out=$(py webd 'call("instance.files", name="web-7", path="")')
assert_contains "$out" "error not_found: server 'web-7' is not mounted (not running)" "before the start"
assert_rc 0 "start web-7" ct l4d2ctl start web-7
G=$(gen_of web-1)
out=$(py webd '
call("file.write", overlay="web-1", path="left4dead2/cfg/a.cfg", data="sv_cheats 1\n")
call("instance.files", name="web-7", path="left4dead2/cfg")
res, fd = c.call_fd("instance.open", {"name": "web-7", "path": "left4dead2/cfg/a.cfg"})
print("server sees", os.read(fd, 100))
call("instance.changes", name="web-7", path="left4dead2/cfg")
call("instance.files", name="g1", path="")
')
echo "$out" | sed 's/^/    | /'
assert_contains "$out" "server sees b'sv_cheats 0" "the server keeps the generation it mounted" >/dev/null
assert_contains "$out" '"name": "a.cfg", "type": "file", "size": 12, ' "a.cfg in the merged view" >/dev/null
assert_contains "$out" '"layer": "web-1"' "from overlay web-1" >/dev/null
assert_contains "$out" '"name": "server.cfg", "type": "file"' "the server's own cfg" >/dev/null
assert_contains "$out" '"layer": "upper"' "from its upper dir" >/dev/null
assert_contains "$out" "error denied: server 'g1' is not the web UI's" "webd on another server" >/dev/null
ct test -e $L/overlays/.gen/web-1/"${G##*/}" || fail "the server's generation was collected"
out=$(py root 'call("instance.files", name="web-7", path="left4dead2")')
assert_contains "$out" '"layer": "installation"' "the installation's files" >/dev/null
assert_rc 0 "stop web-7" ct l4d2ctl stop web-7
assert_rc 0 "delete web-7" ct l4d2ctl delete web-7

echo "--- an edit of a 5000-file overlay"
put_script five 'mkdir -p "$OVERLAY/d" && cd "$OVERLAY/d" && for i in $(seq 1 5000); do echo $i >f$i; done'
run_build bench5k five >/dev/null
[ "$RC" = 0 ] || fail "build bench5k: exit $RC"
out=$(py root '
for i in range(3):
    t = time.time(); call("file.write", overlay="bench5k", path="edit.cfg", data="x%d" % i); print("edit ms %.0f" % ((time.time() - t) * 1000))
t = time.time(); call("file.list", overlay="bench5k", path="d"); print("list ms %.0f" % ((time.time() - t) * 1000))
')
echo "$out" | grep "ms" | sed 's/^/    | /'
assert_contains "$out" '"truncated": true' "a 5000-entry listing is capped" >/dev/null
# Nothing mounts the older generations: collected, so each file has its one name again.
assert_eq "1" "$(ct stat -c %h "$L/overlays/bench5k/d/f1")" "d/f1's links after the old generations went"
assert_eq "1" "$(ct ls $L/overlays/.gen/bench5k | wc -l)" "generations of bench5k left"
exit 0
