#!/bin/sh
# The crash loop of left4me-jobd (see crashloop.py); ITERATIONS overrides the 200 rounds.
exec /usr/bin/python3 "$(dirname "$0")/crashloop.py" "${ITERATIONS:-200}"
