#!/bin/bash
# make lint: formatting against .clang-format, and a banned-function check in the spirit of
# curl's checksrc. Reports every finding; exits non-zero if there is any.
set -u
cd "$(dirname "$0")/.."
fail=0
mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '^tests/proto/corpus/')

if command -v clang-format >/dev/null; then
        bad=()
        for f in "${files[@]}"; do
                if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
                        bad+=("$f")
                fi
        done
        if [ ${#bad[@]} -gt 0 ]; then
                echo "lint: not formatted per .clang-format (run: clang-format -i FILE):"
                printf '  %s\n' "${bad[@]}"
                fail=1
        fi
else
        echo "lint: clang-format not installed (make deps installs it)"
        fail=1
fi

# Unsafe or error-hiding libc calls. sscanf is allowed only with widths; that is review's job.
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|tmpnam|mktemp|alloca|system|popen)[[:space:]]*\('
if hits=$(grep -nE "$banned" "${files[@]}" | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)'); then
        echo "lint: banned functions (use snprintf, strndup, safe_atoi64, strtok_r, mkstemp...):"
        echo "$hits" | sed 's/^/  /'
        fail=1
fi

# Comments: /* */ only (style rule 36); a // in code is a debugging leftover.
if hits=$(grep -nE '^[[:space:]]*//' "${files[@]}"); then
        echo "lint: // comments (use /* */):"
        echo "$hits" | sed 's/^/  /'
        fail=1
fi

# The exit codes l4d2ctl has (cli/cli.h) are the ones docs/cli.md's table and the install
# guide list: a code added in one place and not the others is a doc that lies.
codes=$( (grep -oE 'EXIT_[A-Z_]+ = [0-9]+' cli/cli.h | awk '{print $3}'
        grep -qE '128 \+ SIGINT' cli/*.c && echo 130) | sort -n | tr '\n' ' ')
cli_md=$(grep -oE '^\| [0-9]+ \|' docs/cli.md | tr -dc '0-9\n' | sort -n | tr '\n' ' ')
guide=$(grep -A6 'exit codes:' deploy/README.md | grep -oE '\b[0-9]+ [A-Za-z]' | awk '{print $1}' | sort -n | tr '\n' ' ')
if [ "$codes" != "$cli_md" ] || [ "$codes" != "$guide" ]; then
        echo "lint: l4d2ctl's exit codes differ: cli/cli.h: $codes; docs/cli.md: $cli_md; deploy/README.md: $guide"
        fail=1
fi

# Layers (docs/architecture.md): base/ < proto/ < daemon/ < the programs (svc-*/, cli/, tests,
# bench). A folder may include its own layer and the ones below, never one above: proto/ must
# stay usable without the daemon skeleton, and base/ without the protocol.
layer() {
        case $1 in
        base) echo 0 ;;
        proto) echo 1 ;;
        daemon) echo 2 ;;
        *) echo 3 ;;
        esac
}
for f in "${files[@]}"; do
        dir=${f%%/*}
        own=$(layer "$dir")
        [ "$own" -lt 3 ] || continue
        while IFS= read -r hit; do
                inc=${hit#*\"}
                inc=${inc%%/*}
                if [ "$(layer "$inc")" -gt "$own" ]; then
                        echo "lint: layering: $f includes $inc/ (a higher layer): $hit"
                        fail=1
                fi
        done < <(grep -oE '^#include "[^"/]+/' "$f")
done

# The users and groups proto/names.h names are the ones units/left4me.sysusers creates and
# the table of docs/architecture.md lists ("change it in one place": these three agree).
# The build users' pool (L4M_BUILD_USER_PREFIX + 0 .. L4M_BUILD_USERS-1) counts as its names.
pool_prefix=$(sed -nE 's/^#define L4M_BUILD_USER_PREFIX +"([^"]+)".*/\1/p' proto/names.h)
pool_n=$(sed -nE 's/^#define L4M_BUILD_USERS +([0-9]+)u?.*/\1/p' proto/names.h)
pool=$(for ((i = 0; i < ${pool_n:-0}; i++)); do echo "$pool_prefix$i"; done)
names_h=$( (grep -oE '^#define L4M_(USER|GROUP)_[A-Z]+ +"[^"]+"' proto/names.h | grep -oE '"[^"]+"' | tr -d '"'
        echo "$pool") | grep . | sort | tr '\n' ' ')
sysusers=$(grep -E '^[ug] ' units/left4me.sysusers | awk '{print $2}' | sort | tr '\n' ' ')
if [ -z "$pool_prefix" ] || [ -z "$pool_n" ] || [ "$names_h" != "$sysusers" ]; then
        echo "lint: users and groups differ: proto/names.h: $names_h; units/left4me.sysusers: $sysusers"
        fail=1
fi
for n in $sysusers; do
        case $n in "$pool_prefix"[0-9]*) continue ;; esac
        grep -q "\`$n\`" docs/architecture.md || { echo "lint: docs/architecture.md's table lacks \`$n\`"; fail=1; }
done
# The pool is one row: its first and last name.
grep -q "\`${pool_prefix}0\` … \`$pool_prefix$((pool_n - 1))\`" docs/architecture.md ||
        { echo "lint: docs/architecture.md's table lacks the row \`${pool_prefix}0\` … \`$pool_prefix$((pool_n - 1))\`"; fail=1; }

[ $fail -eq 0 ] && echo "lint: clean (${#files[@]} files)"
exit $fail
