#!/usr/bin/env bash
# checkov over deploy/terraform, from a virtualenv of its own: checkov pins an old boto3 and
# ships a top-level `hcl2` module that would shadow python-hcl2 in the project's .venv.
# The virtualenv lives outside the checkout, so CI's fresh clones reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

version=3.3.30
venv="${CHECKOV_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hokusai/checkov-$version}"
if [[ ! -x "$venv/bin/checkov" ]]; then
    echo "checkov: installing $version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$version"
fi

# Failed checks only, without code excerpts; a failed check fails the script.
"$venv/bin/checkov" -d deploy/terraform --framework terraform --skip-download --quiet --compact \
    --skip-path '\.terraform'
