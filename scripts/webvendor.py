#!/usr/bin/env python3
"""Fetch the web page's front-end libraries from the npm registry into web/vendor/ (set-up, not run time).

Each package in web/vendor.json is pinned by version and by the registry's sha512 integrity; the tarball is
checked before anything is written, and only the listed files are copied. A second run with the same pins
does nothing. A mirror: NPM_CONFIG_REGISTRY=https://registry.npmmirror.com scripts/webvendor.py.
Standard library only, so it runs before the virtualenv exists (and in the Dockerfile's build stage).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "web" / "vendor.json"
TARGET = ROOT / "web" / "vendor"
STAMP = TARGET / ".pins"


def say(message: str) -> None:
    print(f"\033[1m[web]\033[0m {message}", file=sys.stderr)


def tarball_url(registry: str, name: str, version: str) -> str:
    return f"{registry.rstrip('/')}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def fetch(url: str, integrity: str) -> bytes:
    algorithm, _, expected = integrity.partition("-")
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
    digest = base64.b64encode(hashlib.new(algorithm, body).digest()).decode()
    if digest != expected:
        raise SystemExit(f"integrity check failed for {url}: got {algorithm}-{digest}")
    return body


def main() -> int:
    manifest = json.loads(MANIFEST.read_text())
    pins = json.dumps(manifest["packages"], sort_keys=True)
    if STAMP.exists() and STAMP.read_text() == pins:
        return 0
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org")
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, pin in manifest["packages"].items():
        url = tarball_url(registry, name, pin["version"])
        say(f"fetching {name}@{pin['version']} from {registry}")
        try:
            body = fetch(url, pin["integrity"])
        except OSError as error:
            raise SystemExit(f"could not fetch {url}: {error}\n"
                             "set NPM_CONFIG_REGISTRY to a reachable npm registry mirror") from error
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            for member, out in pin["files"].items():
                source = archive.extractfile(member)
                if source is None:
                    raise SystemExit(f"{name}: {member} is not a file in the package")
                (TARGET / out).write_bytes(source.read())
    STAMP.write_text(pins)
    say(f"front-end libraries ready in {TARGET.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
