"""Headless QGIS's OAPIF provider (OGC API – Features) against a live /ogc, as a user would add the layers
(run by tests/qgis_session.run: Debian's /usr/bin/python3, QT_QPA_PLATFORM=offscreen). Not a pytest module:
tests/ogc/test_clients.py runs it in a subprocess.

Argument: a JSON object {url, user, password, bbox}. Prints one line `QGIS-RESULT {…}`: what each layer
looked like, what a rectangle and an expression selected, the provider's edit capabilities, and every URL
QGIS requested (QgsNetworkAccessManager's request preprocessor sees the provider's worker threads too).
"""

from typing import Any

from tests.qgis_session import session


def work(args: dict[str, Any], out: dict[str, Any]) -> None:
    """Add the layers, read them, select by rectangle and expression, probe editing; results go to `out`."""
    from qgis.core import (
        QgsFeatureRequest,
        QgsNetworkAccessManager,
        QgsRectangle,
        QgsVectorDataProvider,
        QgsVectorLayer,
    )

    urls: list[str] = []
    out["urls"] = urls
    QgsNetworkAccessManager.setRequestPreprocessor(lambda request: urls.append(request.url().toString()))
    creds = f" username='{args['user']}' password='{args['password']}'"

    def layer(name: str, with_credentials: bool = True, extent_only: bool = False) -> QgsVectorLayer:
        # What "Add WFS / OGC API – Features layer" writes for an OGC API connection; `extent_only` is its
        # "Only request features overlapping the view extent" (else QGIS downloads the layer once).
        uri = f"url='{args['url']}' typename='{name}'" + (creds if with_credentials else "")
        if extent_only:
            uri += " restrictToRequestBBOX='1'"
        return QgsVectorLayer(uri, name, "OAPIF")

    def text(value: object) -> object:
        return None if value is None or str(value) == "NULL" else value

    for name in ("parcels", "zones", "districts"):
        lyr = layer(name)
        fields = lyr.fields().names()
        out[name] = {
            "valid": lyr.isValid(),
            "count": lyr.featureCount(),
            "crs": lyr.crs().authid(),
            "fields": fields,
            "features": {
                str(f["code"]): {
                    "centroid": [f.geometry().centroid().asPoint().x(), f.geometry().centroid().asPoint().y()],
                    **{k: text(f[k]) for k in ("land_use", "tier", "plot_ratio") if k in fields},
                }
                for f in lyr.getFeatures()
            },
        }

    parcels = layer("parcels")
    caps = parcels.dataProvider().capabilities()
    out["capabilities"] = {
        name: bool(caps & getattr(QgsVectorDataProvider, name))
        for name in ("AddFeatures", "DeleteFeatures", "ChangeAttributeValues", "ChangeGeometries")
    }
    out["editable"] = parcels.startEditing()
    parcels.rollBack()

    start = len(urls)
    rect = QgsFeatureRequest().setFilterRect(QgsRectangle(*args["bbox"]))
    out["bbox"] = sorted(str(f["code"]) for f in layer("parcels", extent_only=True).getFeatures(rect))
    out["bbox_urls"] = urls[start:]
    expr = QgsFeatureRequest().setFilterExpression("\"land_use\" = 'office' OR \"plot_ratio\" > 1.45")
    out["expression"] = sorted(str(f["code"]) for f in layer("parcels").getFeatures(expr))

    anonymous = layer("parcels", with_credentials=False)
    out["anonymous"] = {"valid": anonymous.isValid(), "count": anonymous.featureCount()}


if __name__ == "__main__":
    session(work)
