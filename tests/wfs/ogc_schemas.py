"""The OGC XML Schemas for validating /wfs output, offline.

No Debian package ships them; the pycsw wheel on PyPI (2.6.2) carries genuine copies of GML 3.2.1 and
3.1.1, OWS 1.1.0, Filter Encoding 2.0 and XLink, with their imports made relative. They are fetched once
with pip (`pip download --no-deps pycsw==2.6.2`) into `.local/ogc-schemas/` and used from there. The WFS
2.0 schema itself (wfs.xsd) is in no installable package: the wfs:* wrapper elements are therefore not
validated, everything inside them is (OWS sections, Filter_Capabilities, features with their GML). SMIL
2.0 is missing too, so GML 3.1.1 features are checked against its feature and geometry schemas only.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".local" / "ogc-schemas"
BASE = CACHE / "pycsw" / "core" / "schemas"  # GML 3.2.1 imports ISO 19139 from pycsw/plugins/… relatively
PYCSW = "pycsw==2.6.2"


def schema_dir() -> Path | None:
    """The schemas folder (ogc/, w3c/) (fetched from the pycsw wheel when missing), or None."""
    if (BASE / "ogc" / "gml" / "3.2.1" / "gml.xsd").exists():
        return BASE
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "-d",
                tmp,
                "-q",
                PYCSW,
            ],
            capture_output=True,
            timeout=300,
        )
        wheels = list(Path(tmp).glob("pycsw-*.whl"))
        if done.returncode != 0 or not wheels:
            return None
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in wheel.namelist():
                if name.startswith("pycsw/") and name.endswith(".xsd"):
                    target = CACHE / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(wheel.read(name))
    return BASE if (BASE / "ogc" / "gml" / "3.2.1" / "gml.xsd").exists() else None


# The wheel lacks SMIL 2.0, which only GML 3.1.1's default styles need: GML 3.1.1 features are checked
# against feature.xsd + geometryAggregates.xsd (all a feature with a MultiSurface uses).
GML311_CORE = (
    b'<schema targetNamespace="http://www.opengis.net/gml" xmlns="http://www.w3.org/2001/XMLSchema" '
    b'elementFormDefault="qualified"><include schemaLocation="feature.xsd"/>'
    b'<include schemaLocation="geometryAggregates.xsd"/></schema>'
)


def _local(text: bytes, base: Path) -> bytes:
    core = base / "ogc" / "gml" / "3.1.1" / "base" / "gml-core.xsd"
    if not core.exists():
        core.write_bytes(GML311_CORE)
    text = text.replace(b"http://schemas.opengis.net/gml/3.1.1/base/gml.xsd", core.as_uri().encode())
    return text.replace(b"http://schemas.opengis.net/", f"{(base / 'ogc').as_uri()}/".encode()).replace(
        b"http://www.w3.org/1999/xlink.xsd", (base / "w3c/1999/xlink.xsd").as_uri().encode()
    )


def compile_schema(xsd: bytes, base: Path) -> etree.XMLSchema:
    """An XML Schema whose OGC imports resolve to the local copies (never the network)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    doc = etree.parse(io.BytesIO(_local(xsd, base)), parser, base_url=str(base / "app.xsd"))
    return etree.XMLSchema(doc)


@cache
def wrapper(base: Path, *schemas: str) -> etree.XMLSchema:
    """A schema importing OGC schemas by relative path (e.g. 'ogc/ows/1.1.0/owsAll.xsd')."""
    imports = {
        "ogc/ows/1.1.0/owsAll.xsd": "http://www.opengis.net/ows/1.1",
        "ogc/filter/2.0/filterAll.xsd": "http://www.opengis.net/fes/2.0",
        "ogc/gml/3.2.1/gml.xsd": "http://www.opengis.net/gml/3.2",
    }
    body = "".join(
        f'<xs:import namespace="{imports[s]}" schemaLocation="{(base / s).as_uri()}"/>' for s in schemas
    )
    xsd = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{body}</xs:schema>'.encode()
    return compile_schema(xsd, base)
