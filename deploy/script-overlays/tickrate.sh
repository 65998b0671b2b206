#!/bin/bash
# name: Tickrate 100 (cfg)
#
# An example script overlay: the network settings of a 100-tick server, as a cfg the
# blueprint runs. Stack it, tick "exec its server.cfg" in the blueprint (or add
# "exec tickrate100" to the blueprint's lines), and add "-tickrate 100" to its launch
# arguments. Above 30 ticks L4D2 also needs a tickrate plugin (SourceMod's "Tickrate
# Enabler" by Spirit_12, or the like): set PLUGIN_URL to a .zip of it and the build fetches
# and unpacks it into addons/.
#
# The build runs in a sandbox: $OVERLAY is this overlay's new generation (empty, or a copy of
# the current one for "Save and build"), mirroring the game root.
set -euo pipefail

TICK=100
PLUGIN_URL=""

cfg="$OVERLAY/left4dead2/cfg"
mkdir -p "$cfg"
cat > "$cfg/tickrate$TICK.cfg" <<CFG
// Written by the left4me overlay "Tickrate $TICK". Rates in bytes per second.
sv_minrate $((TICK * 1000))
sv_maxrate $((TICK * 1000))
sv_mincmdrate $TICK
sv_maxcmdrate $TICK
sv_minupdaterate $TICK
sv_maxupdaterate $TICK
sv_client_min_interp_ratio -1
sv_client_max_interp_ratio 2
net_splitpacket_maxrate $((TICK * 500))
fps_max 0
CFG
# The overlay's own server.cfg: what "exec its server.cfg" runs.
printf 'exec tickrate%s\n' "$TICK" > "$cfg/server.cfg"
echo "wrote cfg/tickrate$TICK.cfg and cfg/server.cfg"

if [ -n "$PLUGIN_URL" ]; then
        tmp=$(mktemp -d)
        echo "fetching $PLUGIN_URL"
        curl -fsSL --retry 3 -o "$tmp/plugin.zip" "$PLUGIN_URL"
        mkdir -p "$OVERLAY/left4dead2/addons"
        unzip -o -q "$tmp/plugin.zip" -d "$OVERLAY/left4dead2"
        rm -rf "$tmp"
        echo "unpacked the plugin into left4dead2/"
fi
