#!/usr/bin/env bash
# Puts PyPI's kubernetes-validate (the real Kubernetes OpenAPI schemas) in a venv
# at tools/venv for the chart tests (crates/audex/tests/helm_chart.rs). Needs
# python3 with venv and pip only.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.37.0
if tools/venv/bin/kubernetes-validate --version 2>/dev/null | grep -q "$version"; then
  exit 0
fi
python3 -m venv tools/venv
tools/venv/bin/pip install --quiet --disable-pip-version-check "kubernetes-validate==$version"
tools/venv/bin/kubernetes-validate --version
