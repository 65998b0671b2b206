#!/bin/sh
# Black-box tests of left4me-hostd (see blackbox.py).
exec /usr/bin/python3 "$(dirname "$0")/blackbox.py"
