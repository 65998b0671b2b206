#!/bin/bash
# Files overlays through the web UI under a real systemd, real hostd and real webd (curl as
# the browser): a user makes a files overlay, a folder and a cfg file, edits it (each change a
# new generation on the host, the old one left as it was), renames and moves it, downloads
# it (the bytes through hostd's descriptor, an attachment with nosniff); hostile paths get
# hostd's sentence and change nothing; a symlink planted on the host to /etc/shadow is
# listed as a link but neither edited nor downloaded through; another user gets 404.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
need_cli
for d in host jobs web; do need_daemon "$d"; done
L=/var/lib/left4me
url=http://127.0.0.1:8080
runtime_on_tmpfs
stand_ins

for u in "erin erin-password-1" "frank frank-password-1" "gina gina-password-1"; do
        set -- $u
        ct sh -c "LEFT4ME_ADMIN_PASSWORD='$2' l4d2ctl web user create $1" >/dev/null || fail "user create $1"
done

E=$(web_login erin erin-password-1)
F=$(web_login frank frank-password-1)
csrf_of() { ct curl -sS -H "$1" "$url/overlays" | grep -o 'name="csrf_token" value="[^"]*"' | head -n 1 |
        sed 's/.*value="//; s/"$//'; }
ecsrf=$(csrf_of "$E")
fcsrf=$(csrf_of "$F")
# post PATH FIELD=VALUE...: "<status> <redirect>"
post() {
        local path=$1; shift
        local args=()
        for kv in "$@"; do args+=(--data-urlencode "$kv"); done
        ct curl -sS -o /tmp/post.out -w '%{http_code} %{redirect_url}' -H "$E" --data-urlencode "csrf_token=$ecsrf" \
                "${args[@]}" "$url$path"
}
get() { ct curl -sS -H "$E" "$url$1"; }
gen() { ct readlink "$L/overlays/web-$id" | grep -o '[0-9]*$'; }

loc=$(post /overlays type=files name=Configs)
id=$(echo "$loc" | grep -o '/overlays/[0-9]*' | grep -o '[0-9]*$')
[ -n "$id" ] || fail "no files overlay made: $loc"
ok "files overlay $id made"

echo "--- a folder and a file: each change makes a generation"
assert_contains "$(post /overlays/$id/files/mkdir path= name=left4dead2)" "m=files-changed" "mkdir"
assert_contains "$(post /overlays/$id/files/mkdir path=left4dead2 name=cfg)" "m=files-changed" "mkdir nested"
g1=$(gen)
assert_contains "$(post /overlays/$id/files/save path=left4dead2/cfg/erin.cfg create=1 $'content=sv_tags erin\r\nhostname "x"\r\n')" \
        "m=files-changed" "save a new file"
g2=$(gen)
[ "$g2" -gt "$g1" ] || fail "the save made no new generation ($g1 -> $g2)"
assert_eq "$(ct cat "$L/overlays/web-$id/left4dead2/cfg/erin.cfg")" $'sv_tags erin\nhostname "x"' "the file on the host, LF only"
assert_eq "$(ct stat -c '%U %a' "$L/overlays/web-$id/left4dead2/cfg/erin.cfg")" "left4me-build 644" "owned like a build's file"
assert_contains "$(post /overlays/$id/files/save path=left4dead2/cfg/erin.cfg create=1 content=again)" "409" \
        "a new file over an existing one is refused"
ok "folder and file made, generation $g1 -> $g2"

page=$(get "/overlays/$id/files?path=left4dead2/cfg")
assert_contains "$page" "erin.cfg" "the listing names the file"
assert_contains "$(get "/overlays/$id/files/edit?path=left4dead2/cfg/erin.cfg")" 'data-editor="srccfg"' \
        "a cfg file opens in the cfg editor"
tree=$(ct curl -sS -H "$E" -H 'HX-Request: true' "$url/overlays/$id/files?path=left4dead2&tree=1")
assert_contains "$tree" 'hx-get="/overlays/'"$id"'/files?path=left4dead2/cfg&amp;tree=1"' "the tree fragment lazily loads cfg"

echo "--- an edit replaces the file (generations nothing mounts are collected: the unit tests keep one)"
assert_contains "$(post /overlays/$id/files/save path=left4dead2/cfg/erin.cfg 'content=sv_tags erin-2')" "m=files-changed" "edit"
assert_eq "$(ct cat "$L/overlays/web-$id/left4dead2/cfg/erin.cfg")" "sv_tags erin-2" "the new content is current"

echo "--- download: the bytes, as an attachment"
hdrs=$(ct curl -sS -D - -o /tmp/dl.out -H "$E" "$url/overlays/$id/files/download?path=left4dead2/cfg/erin.cfg" | tr -d '\r')
assert_contains "$hdrs" "content-disposition: attachment" "an attachment"
assert_contains "$hdrs" "x-content-type-options: nosniff" "nosniff"
assert_eq "$(ct cat /tmp/dl.out)" "sv_tags erin-2" "the downloaded bytes"

echo "--- rename and move"
assert_contains "$(post /overlays/$id/files/rename path=left4dead2/cfg/erin.cfg name=erin2.cfg)" "m=files-changed" "rename"
assert_contains "$(post /overlays/$id/files/move path=left4dead2/cfg/erin2.cfg to=left4dead2)" "m=files-changed" "move"
ct test -f "$L/overlays/web-$id/left4dead2/erin2.cfg" || fail "the moved file is not where it was moved"
out=$(post /overlays/$id/files/move path=left4dead2 to=left4dead2/cfg)
case "$out" in 400*|409*) ;; *) fail "a folder moved into itself: $out" ;; esac

echo "--- hostile paths: hostd's sentence, nothing changed"
before=$(gen)
for p in "../../etc" "/etc" "left4dead2/../../x" "$(printf 'a%.0s' $(seq 300))"; do
        out=$(post /overlays/$id/files/mkdir "path=$p" name=x)
        case "$out" in 400*|404*) ;; *) fail "mkdir under '$p': $out" ;; esac
done
out=$(get "/overlays/$id/files?path=../..")
assert_contains "$out" "That did not work" "a listing above the overlay is refused"
assert_eq "$(gen)" "$before" "no generation made by hostile paths"

echo "--- a symlink planted on the host: listed, never followed"
cur=$(ct readlink -f "$L/overlays/web-$id")
ct ln -s /etc/shadow "$cur/shadow" || fail "cannot plant the link"
assert_contains "$(get "/overlays/$id/files")" "link → /etc/shadow" "the link is shown"
out=$(ct curl -sS -o /tmp/dl.out -w '%{http_code}' -H "$E" "$url/overlays/$id/files/download?path=shadow")
case "$out" in 200) fail "/etc/shadow was downloaded through a link" ;; esac
ct grep -q root: /tmp/dl.out && fail "the download holds /etc/shadow's text"
out=$(post /overlays/$id/files/save path=shadow content=pwned)
case "$out" in 2*|3*) fail "a save through the link answered $out" ;; esac
ct grep -q pwned /etc/shadow && fail "/etc/shadow was written"
ok "the planted link is shown and refused ($out)"

echo "--- an upload in slices through webd's descriptor, committed by hostd"
ct sh -c 'head -c 3000000 /dev/urandom > /tmp/up.bin; split -b 1048576 -d /tmp/up.bin /tmp/up.part.'
start=$(ct curl -sS -H "$E" --data-urlencode "csrf_token=$ecsrf" --data-urlencode path=left4dead2 \
        --data-urlencode name=big.bin --data-urlencode size=3000000 "$url/overlays/$id/files/uploads")
tok=$(echo "$start" | grep -o '"upload":"[0-9a-f]*"' | grep -o '[0-9a-f]\{32\}')
[ -n "$tok" ] || fail "no upload started: $start"
assert_contains "$start" '"chunk":1048576' "the slice size is the body limit"
put() { ct curl -sS -o /tmp/put.out -w '%{http_code}' -X PUT -H "$1" -H "X-CSRF-Token: $2" -H "Origin: $url" \
        --data-binary "@$3" "$url/overlays/$id/files/uploads/$tok?offset=$4"; }
assert_eq "$(put "$E" "$ecsrf" /tmp/up.part.01 0)" "200" "slice 1"
assert_eq "$(put "$E" "$ecsrf" /tmp/up.part.01 0)" "409" "slice 1 again: not where the upload stands"
assert_contains "$(ct cat /tmp/put.out)" '"offset":1048576' "the 409 says where to resume"
assert_eq "$(put "$E" "" /tmp/up.part.00 1048576)" "403" "a slice without the CSRF token"
assert_eq "$(put "$F" "$fcsrf" /tmp/up.part.00 1048576)" "404" "frank's slice into erin's upload"
assert_eq "$(put "$E" "$ecsrf" /tmp/up.part.00 1048576)" "200" "slice 2"
assert_eq "$(put "$E" "$ecsrf" /tmp/up.part.01 2097152)" "413" "a slice past the declared size"
assert_eq "$(put "$E" "$ecsrf" /tmp/up.part.02 2097152)" "200" "slice 3"
commit() { ct curl -sS -o /tmp/commit.out -w '%{http_code}' -H "$E" --data-urlencode "csrf_token=$ecsrf" "$@" \
        "$url/overlays/$id/files/uploads/$tok/commit"; }
ct sh -c 'cat /tmp/up.part.01 /tmp/up.part.00 /tmp/up.part.02 > /tmp/up.want'
assert_eq "$(commit)" "200" "the commit"
assert_eq "$(ct sha256sum "$L/overlays/web-$id/left4dead2/big.bin" | cut -d" " -f1)" "$(ct sha256sum /tmp/up.want | cut -d" " -f1)" \
        "the file on the host has the slices' bytes"
assert_eq "$(ct stat -c '%U %a %h' "$L/overlays/web-$id/left4dead2/big.bin")" "left4me-build 644 1" "owned and linked once"
assert_eq "$(commit)" "404" "a committed upload is gone"

echo "--- an upload over an existing name: 409, then replace"
start=$(ct curl -sS -H "$E" --data-urlencode "csrf_token=$ecsrf" --data-urlencode path=left4dead2 \
        --data-urlencode name=big.bin --data-urlencode size=1048576 "$url/overlays/$id/files/uploads")
tok=$(echo "$start" | grep -o '[0-9a-f]\{32\}')
assert_eq "$(commit)" "409" "an incomplete upload is not committed"
assert_eq "$(put "$E" "$ecsrf" /tmp/up.part.00 0)" "200" "its one slice"
assert_eq "$(commit)" "409" "the name is taken"
assert_eq "$(ct sha256sum "$L/overlays/web-$id/left4dead2/big.bin" | cut -d" " -f1)" "$(ct sha256sum /tmp/up.want | cut -d" " -f1)" "nothing replaced yet"
assert_eq "$(commit --data-urlencode replace=1)" "200" "replaced when asked"
assert_eq "$(ct sha256sum "$L/overlays/web-$id/left4dead2/big.bin" | cut -d" " -f1)" "$(ct sha256sum /tmp/up.part.00 | cut -d" " -f1)" "the new bytes"
for bad in "size=-1" "size=abc" "size=99999999999999999999" "size=" ; do
        out=$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$E" --data-urlencode "csrf_token=$ecsrf" \
                --data-urlencode path=left4dead2 --data-urlencode name=x.bin --data-urlencode "$bad" \
                "$url/overlays/$id/files/uploads")
        case "$out" in 400|413) ;; *) fail "an upload with $bad: $out" ;; esac
done
out=$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$E" --data-urlencode "csrf_token=$ecsrf" \
        --data-urlencode path=left4dead2 --data-urlencode name=../x --data-urlencode size=1 "$url/overlays/$id/files/uploads")
assert_eq "$out" "400" "an upload named with a slash"
# Reservations: over what an overlay may hold (sandbox.overlay_max_bytes, 20 GiB by default),
# two that add up past it, and one the disk cannot hold (hostd's tmpfile is dropped each time).
ustart() { ct curl -sS -o /tmp/us.out -w '%{http_code}' -H "$E" --data-urlencode "csrf_token=$ecsrf" \
        --data-urlencode path=left4dead2 --data-urlencode "name=$1" --data-urlencode "size=$2" \
        "$url/overlays/$id/files/uploads"; }
assert_eq "$(ustart huge.bin $((21 << 30)))" "413" "a file over an overlay's cap"
assert_contains "$(ct cat /tmp/us.out)" "at most 20.0 GiB" "it names the cap"
free=$(ct df -B1 --output=avail "$L/overlays" | tail -n 1 | tr -d ' ')
if [ "$free" -lt $((19 << 30)) ]; then
        assert_eq "$(ustart full.bin $((free + (1 << 30))))" "507" "more than the disk has free"
        assert_contains "$(ct cat /tmp/us.out)" "free" "it says how much is free"
else
        echo "    (the disk has over 19 GiB free: the 507 is not reachable under the 20 GiB cap)"
fi
# The reservation is checked before the disk is: the first fits the disk, the second would
# take the two past the cap while fitting it alone.
first=$(( free - (1 << 20) < (10 << 30) ? free - (1 << 20) : (10 << 30) ))
assert_eq "$(ustart a.bin $first)" "200" "an upload of $first bytes starts"
t1=$(ct cat /tmp/us.out | grep -o '"upload":"[0-9a-f]*"' | grep -o '[0-9a-f]\{32\}')
assert_eq "$(ustart b.bin $(( (20 << 30) - first + 1 )))" "413" "a second one taking the two past the cap"
assert_contains "$(ct cat /tmp/us.out)" "uploads in progress" "it says why"
uabort() { ct curl -sS -o /dev/null -w '%{http_code}' -H "$E" --data-urlencode "csrf_token=$ecsrf" \
        "$url/overlays/$id/files/uploads/$1/abort"; }
assert_eq "$(uabort "$t1")" "200" "the first one aborted"
second=$(( (20 << 30) - first + 1 ))
assert_eq "$(ustart b.bin $second)" "$([ "$second" -le "$free" ] && echo 200 || echo 507)" \
        "the abort gave its reservation back"
t2=$(ct cat /tmp/us.out | grep -o '"upload":"[0-9a-f]*"' | grep -o '[0-9a-f]\{32\}')
[ -z "$t2" ] || assert_eq "$(uabort "$t2")" "200" "and that one aborted"
ok "uploads: slices, resume point, caps, CSRF, another user, replace"

echo "--- uploads without JS: multipart, small files"
ct sh -c 'printf "sv_tags a\n" > /tmp/a.cfg; printf "sv_tags b\n" > /tmp/b.cfg'
mp() { ct curl -sS -o /tmp/mp.out -w '%{http_code} %{redirect_url}' -H "$E" -F "csrf_token=$ecsrf" -F path=left4dead2 "$@" \
        "$url/overlays/$id/files/upload"; }
assert_contains "$(mp -F file=@/tmp/a.cfg -F file=@/tmp/b.cfg)" "m=files-changed" "two files in one form"
assert_eq "$(ct cat "$L/overlays/web-$id/left4dead2/a.cfg") $(ct cat "$L/overlays/web-$id/left4dead2/b.cfg")" \
        "sv_tags a sv_tags b" "both on the host"
out=$(mp -F file=@/tmp/b.cfg)
assert_contains "$out" "409" "the same name again"
assert_contains "$(ct cat /tmp/mp.out)" "Replace files of the same name" "the page says how to overwrite"
assert_contains "$(mp -F replace=1 -F "file=@/tmp/a.cfg;filename=b.cfg")" "m=files-changed" "replaced when asked"
assert_eq "$(ct cat "$L/overlays/web-$id/left4dead2/b.cfg")" "sv_tags a" "the replaced bytes"
out=$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$E" -F path=left4dead2 -F file=@/tmp/a.cfg "$url/overlays/$id/files/upload")
assert_eq "$out" "403" "a multipart form without the CSRF token"
out=$(mp -F "file=@/tmp/a.cfg;filename=../evil.cfg")
case "$out" in 400*) ;; *) fail "a filename with a path: $out" ;; esac
ct test -e "$L/overlays/web-$id/evil.cfg" && fail "../evil.cfg was written"
ct sh -c 'head -c 1100000 /dev/zero > /tmp/big.zero'
out=$(mp -F file=@/tmp/big.zero)
case "$out" in 413*) ;; *) fail "a multipart body over the limit: $out" ;; esac
ok "multipart uploads: two files, 409 then replace, CSRF, a path in a filename, the body limit"

echo "--- the overlay as a zip: streamed, the link left out"
hdrs=$(ct curl -sS -D - -o /tmp/all.zip -H "$E" "$url/overlays/$id/files/download?path=" | tr -d '\r')
assert_contains "$hdrs" "content-type: application/zip" "a zip"
assert_contains "$hdrs" 'filename="Configs.zip"' "named after the overlay"
names=$(ct python3 -c 'import zipfile, sys
z = zipfile.ZipFile("/tmp/all.zip")
assert z.testzip() is None, "a bad CRC"
print(" ".join(sorted(z.namelist())))')
assert_contains "$names" "left4dead2/big.bin" "the uploaded file is in the zip"
assert_contains "$names" "left4dead2/cfg/" "and its folders"
case " $names " in *shadow*) fail "the link to /etc/shadow is in the zip: $names" ;; esac
ct grep -q "root:" /tmp/all.zip && fail "the zip holds /etc/shadow's text"
assert_eq "$(ct python3 -c 'import zipfile; print(zipfile.ZipFile("/tmp/all.zip").read("left4dead2/big.bin") == open("'"$L"'/overlays/web-'"$id"'/left4dead2/big.bin","rb").read())')" \
        "True" "the zipped bytes are the file's"
sub=$(ct curl -sS -D - -o /tmp/sub.zip -H "$E" "$url/overlays/$id/files/download?path=left4dead2/cfg" | tr -d '\r')
assert_contains "$sub" 'filename="cfg.zip"' "a folder's zip is named after it"
assert_contains "$(ct python3 -c 'import zipfile; print(zipfile.ZipFile("/tmp/sub.zip").namelist())')" "cfg/" "below the folder's name"


echo "--- a server on the overlay: its merged view says where each file comes from"
out=$(ct l4d2ctl jobs submit install --wait 2>&1) || fail "install: $out"
bp=$(ct curl -sS -o /dev/null -w '%{redirect_url}' -H "$E" --data-urlencode "csrf_token=$ecsrf" \
        --data-urlencode name=filesbp --data-urlencode "overlay_ids=web-$id" "$url/blueprints" |
        grep -o '/blueprints/[0-9]*' | grep -o '[0-9]*$')
[ -n "$bp" ] || fail "no blueprint made"
loc=$(post /servers name=filesrv "blueprint_id=$bp")
sid=$(echo "$loc" | grep -o '/servers/[0-9]*' | grep -o '[0-9]*$')
[ -n "$sid" ] || fail "no server made: $loc"
out=$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$E" "$url/servers/$sid/files")
assert_eq "$out" "404" "the merged view of a server that is not running"
assert_contains "$(get /servers/$sid/files)" "not running" "it says why"
job=$(post /servers/$sid/start | grep -o '/jobs/[0-9]*' | grep -o '[0-9]*$')
[ -n "$job" ] || fail "no start job"
wait_for 60 sh -c "nsenter -t $E2E_PID1 -a l4d2ctl jobs show $job | grep -q succeeded" ||
        fail "the start: $(ct l4d2ctl jobs show "$job")"
ct_sh "echo 'changed by the game' > $L/runtime/web-$sid/merged/left4dead2/erin2.cfg; mkdir -p $L/runtime/web-$sid/merged/left4dead2/logs; echo x > $L/runtime/web-$sid/merged/left4dead2/logs/l.log"
view=$(get "/servers/$sid/files?path=left4dead2")
assert_contains "$view" '<a href="/overlays/'"$id"'">Configs</a>' "a file of the overlay names it"
assert_contains "$view" "this server" "a file the server wrote is its own"
assert_contains "$view" "game install" "the installation's files are the game's"
changes=$(get "/servers/$sid/files?path=left4dead2&changes=1")
assert_contains "$changes" "erin2.cfg" "the changes list the server's own file"
assert_contains "$changes" "logs/" "and its new folder"
hdrs=$(ct curl -sS -D - -o /tmp/dl.out -H "$E" "$url/servers/$sid/files/download?path=left4dead2/erin2.cfg" | tr -d '\r')
assert_contains "$hdrs" "content-disposition: attachment" "a download from the merged view"
assert_eq "$(ct cat /tmp/dl.out)" "changed by the game" "the server's copy, not the overlay's"
for path in "/servers/$sid/files" "/servers/$sid/files/download?path=left4dead2/erin2.cfg"; do
        out=$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$F" "$url$path")
        assert_eq "$out" "404" "frank GET $path"
done
assert_contains "$(post /servers/$sid/delete)" "m=server-deleting" "the server's delete"
wait_for 60 sh -c "! nsenter -t $E2E_PID1 -a test -e $L/instances/web-$sid" || fail "web-$sid is still on the host"
ok "the merged view: layers, changes, download, privacy"

echo "--- another user: 404 for everything"
for path in "/overlays/$id/files" "/overlays/$id/files/download?path=left4dead2/erin2.cfg"; do
        out=$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$F" "$url$path")
        assert_eq "$out" "404" "frank GET $path"
done
out=$(ct curl -sS -o /dev/null -w '%{http_code}' -H "$F" --data-urlencode "csrf_token=$fcsrf" \
        --data-urlencode path=left4dead2/erin2.cfg "$url/overlays/$id/files/delete")
assert_eq "$out" "404" "frank deletes erin's file"
ct test -f "$L/overlays/web-$id/left4dead2/erin2.cfg" || fail "frank's delete removed the file"

echo "--- the browser: uploads (form and drag and drop), replace, the editor dialog, a move by drag and drop"
state=$(ct mktemp)
out=$(ct env L4M_URL=$url L4M_STATE="$state" BUILD="$E2E_REPO/build" \
        node --test --test-concurrency=1 --test-reporter=spec "$E2E_REPO/tests/browser/files.ct.mjs" 2>&1)
rc=$?
echo "$out" | sed 's/^/  browser| /'
[ $rc = 0 ] || { journal left4me-web.service | tail -n 40; fail "the browser scenario failed"; }
gid=$(ct cat "$state" | grep -o '"files":[0-9]*' | grep -o '[0-9]*$')
[ -n "$gid" ] || fail "the browser scenario left no state"
assert_eq "$(ct cat "$L/overlays/web-$gid/cfg/two.cfg")" "sv_tags edited" "the edited file on the host"
assert_eq "$(ct cat "$L/overlays/web-$gid/one.cfg")" "sv_tags one" "the replaced and moved file on the host"
ok "browser: uploads, replace, editor, move"

echo "--- delete"
assert_contains "$(post /overlays/$id/files/delete path=left4dead2)" "m=files-changed" "delete a folder with its files"
ct test -e "$L/overlays/web-$id/left4dead2" && fail "the folder is still there"
ok "files pages against the real hostd"
