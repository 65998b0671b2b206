#!/bin/sh
# The protocol checks against each real daemon; see daemons.py.
exec /usr/bin/python3 -W ignore::ResourceWarning "$(dirname "$0")/daemons.py"
