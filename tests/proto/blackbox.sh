#!/bin/sh
# Black-box tests of the protocol layer against the test daemon under
# systemd-socket-activate, spoken to by an independent client (python3-msgpack).
exec /usr/bin/python3 -W ignore::ResourceWarning "$(dirname "$0")/blackbox.py"
