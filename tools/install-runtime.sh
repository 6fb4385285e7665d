#!/bin/sh
# The runtime install: c360 and its pinned dependencies, without the dev extras, into a new
# virtualenv. The Dockerfile and the install check (tests/test_install.py) both run this very
# file, so what the image holds is what the check started and queried.
#   usage: tools/install-runtime.sh VENV [SOURCE]     (SOURCE: the checkout, default .)
set -eu
venv=$1
source=${2:-.}
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$source/constraints.txt" "$source"
