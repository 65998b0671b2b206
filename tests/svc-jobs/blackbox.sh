#!/bin/sh
# Black-box tests of left4me-jobd (see blackbox.py); needs $BUILD.
exec /usr/bin/python3 "$(dirname "$0")/blackbox.py"
