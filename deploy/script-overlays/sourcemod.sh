#!/bin/bash
# name: MetaMod:Source + SourceMod
#
# An example script overlay: installs the latest stable MetaMod:Source and SourceMod for
# Linux from alliedmods.net (the "latest" pointer files name the current build). With
# "Save and build" the build starts from a copy of the current content and downloads only
# what changed; "Save, reset and rebuild" starts from nothing. Put plugins and their
# configs in an overlay stacked above this one, so a SourceMod update keeps them.
set -euo pipefail

BRANCH=1.12 # the stable branch of both projects
game="$OVERLAY/left4dead2"
state="$OVERLAY/.left4me-sourcemod"
mkdir -p "$game" "$state"

# fetch NAME POINTER_URL BASE_URL: downloads and unpacks BASE_URL/<the build POINTER_URL
# names> unless that build is unpacked already.
fetch() {
        local name=$1 pointer=$2 base=$3 file
        file=$(curl -fsSL --retry 3 "$pointer")
        case $file in
        *[!A-Za-z0-9._-]* | "") echo "$name: unexpected build name '$file'" >&2; exit 1 ;;
        esac
        if [ -f "$state/$name" ] && [ "$(cat "$state/$name")" = "$file" ]; then
                echo "$name: $file is installed already"
                return
        fi
        echo "$name: downloading $file"
        curl -fsSL --retry 3 -o "/tmp/$file" "$base/$file"
        tar -xzf "/tmp/$file" -C "$game"
        rm -f "/tmp/$file"
        echo "$file" > "$state/$name"
        echo "$name: $file unpacked"
}

fetch metamod "https://mms.alliedmods.net/mmsdrop/$BRANCH/mmsource-latest-linux" \
        "https://mms.alliedmods.net/mmsdrop/$BRANCH"
fetch sourcemod "https://sm.alliedmods.net/smdrop/$BRANCH/sourcemod-latest-linux" \
        "https://sm.alliedmods.net/smdrop/$BRANCH"

# MetaMod is loaded through a VDF in addons/; older archives do not ship it.
if [ ! -f "$game/addons/metamod.vdf" ]; then
        printf '"Plugin"\n{\n\t"file"\t"../left4dead2/addons/metamod/bin/server"\n}\n' > "$game/addons/metamod.vdf"
        echo "wrote addons/metamod.vdf"
fi
