#!/bin/sh
# The runtime install: c360 and its pinned dependencies, without the dev extras, into a new
# virtualenv. The Dockerfile and the install check (tests/test_install.py) both run this very
# file, so what the image holds is what the check started and queried. It installs with uv
# (pinned in constraints.txt, like everything else): `$UV` when set, else `uv` on PATH. Bytecode
# is compiled at install, as pip does: the image runs with PYTHONDONTWRITEBYTECODE, as a user
# who cannot write the venv, so modules not compiled here would be compiled at every start.
#   usage: tools/install-runtime.sh VENV [SOURCE]     (SOURCE: the checkout, default .)
set -eu
venv=$1
source=${2:-.}
uv=${UV:-uv}
python3 -m venv --without-pip "$venv"
"$uv" pip install --quiet --compile-bytecode --python "$venv/bin/python" -c "$source/constraints.txt" "$source"
