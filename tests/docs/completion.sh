#!/bin/bash
# The bash completion of l4d2ctl (deploy/completion/l4d2ctl), driven as bash does: COMP_WORDS
# and COMP_CWORD set, the function `complete -p l4d2ctl` names called, COMPREPLY read.
# Names come from a stand-in l4d2ctl that prints the tables of `list`, `overlay list` and
# `jobs list` (and records how it was called), and from the real one with nothing listening
# (nothing offered, nothing printed, quickly). Then every long option each `--help` prints
# must be offered somewhere under its command, and that check is shown to fail on a copy of
# the completion with one option taken out.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
COMPLETION=$ROOT/deploy/completion/l4d2ctl
CTL=$BUILD/l4d2ctl
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

cat >"$T/fake" <<'FAKE'
#!/bin/bash
echo "$*" >>"${FAKE_LOG:?}"
[ -n "${FAKE_DOWN:-}" ] && { echo "l4d2ctl: host service unavailable" >&2; exit 7; }
args=" $* "
case $args in
*" overlay list "*) printf '%-32s %10s  %s\n' ID GENERATION BUILT standard 3 '2026-01-02 10:00:00' \
                           maps 1 '2026-01-02 10:01:00' ;;
*" jobs list "*) printf '%s\n' 'ID       STATE       KIND' '12       running     server.start' \
                        '11       succeeded   install' '(more: --before 11)' ;;
*" list "*) printf '%s\n' 'NAME                 STATE     PORT' 'alpha                running   27015' \
                   'beta                 stopped   27016' ;;
esac
FAKE
chmod +x "$T/fake"
export FAKE_LOG=$T/calls

# complete LINE...: the words of a command line (the last one is being completed, "" for
# a new word); prints COMPREPLY sorted, one per line.
complete_words() {
        (
                # With WITH_BC=1, bash-completion's own library first (_init_completion), as in
                # an interactive shell; without, the completion's fallback.
                # shellcheck disable=SC1090,SC1091
                [ -n "${WITH_BC:-}" ] && source /usr/share/bash-completion/bash_completion
                # shellcheck disable=SC1090
                source "$COMPLETION"
                spec=$(complete -p l4d2ctl) || exit 1
                fn=$(sed -n 's/.*-F \([^ ]*\) .*/\1/p' <<<"$spec")
                COMP_WORDS=("$@")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMP_LINE="$*" COMP_POINT=${#COMP_LINE}
                COMPREPLY=()
                "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                printf '%s\n' "${COMPREPLY[@]}" | sort | sed '/^$/d'
        )
}
expect() { # expect "WANT (space-separated, sorted)" LINE...
        local want=$1 got
        shift
        got=$(complete_words "$@" | tr '\n' ' ' | sed 's/ $//')
        if [ "$got" = "$want" ]; then echo "ok: '$*' -> $got"; else bad "'$*' -> '$got', want '$want'"; fi
}

spec=$(source "$COMPLETION" && complete -p l4d2ctl)
[ "$spec" = "complete -F _l4d2ctl l4d2ctl" ] || bad "complete -p l4d2ctl: '$spec'"

F=$T/fake
expect "call delete initialize install jobs list logs overlay ping reset spec start status stop version web" $F ""
expect "spec start status stop" $F s
expect "--config --help --json --socket-dir --timeout --version" $F --
expect "alpha beta" $F status ""
expect "beta" $F -t 5 stop b
expect "maps standard" $F -S "$T/run" overlay build ""
grep -qx -- "-S $T/run -t 2 overlay list" "$FAKE_LOG" || bad "overlay ids asked as '$(tail -n1 "$FAKE_LOG")'"
expect "build delete list" $F overlay ""
expect "11 12" $F jobs cancel ""
expect "11 12" $F logs --job ""
expect "host jobs logs web" $F logs --unit service ""
expect "alpha beta" $F logs -n 50 ""
expect "maps standard" $F jobs submit overlay.build --overlay ""
expect "alpha" $F start --queue -f spec.yaml a
expect "--follow" $F logs --fol
expect "install overlay.build overlay.delete server.delete server.reset server.start server.stop" $F jobs submit ""
expect "failed" $F jobs list --state f
expect "create" $F web user cr
expect "--admin" $F web user create bob --ad
: >"$FAKE_LOG"
complete_words $F status "" >/dev/null
[ -s "$FAKE_LOG" ] || bad "status NAME did not ask the stand-in"

# A service that does not answer: nothing offered, nothing printed.
out=$(FAKE_DOWN=1 complete_words $F status "" 2>&1)
[ -z "$out" ] && echo "ok: service down -> nothing" || bad "service down printed '$out'"
mkdir -p "$T/empty"
start=$(date +%s%N)
out=$(complete_words "$CTL" -S "$T/empty" jobs show "" 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
[ -z "$out" ] && [ $ms -lt 3000 ] && echo "ok: real l4d2ctl, nothing listening -> nothing (${ms} ms)" ||
        bad "real l4d2ctl with no sockets: '$out' after $ms ms"

# Every long option of each --help is offered under its command. $1: the completion file.
options_offered() {
        local file=$1 rc=0 c sub s2 offered helpopts o
        for c in $("$CTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
                offered=$(COMPLETION=$file complete_words "$CTL" "$c" -)
                for sub in $(COMPLETION=$file complete_words "$CTL" "$c" ""); do
                        [[ $sub =~ ^[a-z][a-z-]*$ ]] || continue
                        offered+=$'\n'$(COMPLETION=$file complete_words "$CTL" "$c" "$sub" -)
                        for s2 in $(COMPLETION=$file complete_words "$CTL" "$c" "$sub" ""); do
                                [[ $s2 =~ ^[a-z][a-z-]*$ ]] || continue
                                offered+=$'\n'$(COMPLETION=$file complete_words "$CTL" "$c" "$sub" "$s2" -)
                        done
                done
                helpopts=$("$CTL" "$c" --help | grep -oE -- '(^|[^a-z-])--[a-z][a-z0-9-]*[a-z0-9]' | grep -oE -- '--.*' | sort -u)
                for o in $helpopts; do
                        grep -qx -- "$o" <<<"$offered" || { echo "  $c: $o (in 'l4d2ctl $c --help') is not offered"; rc=1; }
                done
        done
        return $rc
}
if out=$(options_offered "$COMPLETION"); then
        echo "ok: every long option of every 'l4d2ctl COMMAND --help' is offered"
else
        bad "options missing from the completion:"$'\n'"$out"
fi
sed 's/opts="--after-seq /opts="/' "$COMPLETION" >"$T/cut"
if out=$(options_offered "$T/cut"); then
        bad "the option check passed on a completion without --after-seq"
else
        echo "ok: without --after-seq the check fails: $(echo "$out" | head -n1)"
fi

# Once more through bash-completion's library, where it is installed.
if [ -z "${WITH_BC:-}" ] && [ -r /usr/share/bash-completion/bash_completion ]; then
        echo "-- again with /usr/share/bash-completion/bash_completion"
        WITH_BC=1 "$0" || fail=1
fi
[ $fail -eq 0 ] && echo "completion: all checks passed${WITH_BC:+ (with bash-completion)}"
exit $fail
