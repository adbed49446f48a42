"""Headless QGIS driving /wfs as a user would (run by tests/qgis_session.run: Debian's /usr/bin/python3,
QT_QPA_PLATFORM=offscreen).

Argument: a JSON object {url, user, password, project}. Prints one JSON object with what QGIS saw and did.
Not a pytest module: tests/wfs/test_clients.py runs it in a subprocess.
"""

import os
import tempfile
from typing import Any

from tests.qgis_session import session


def work(args: dict[str, Any], out: dict[str, Any]) -> None:
    """Load, count, read, filter, edit and open the project as a user would; what QGIS saw goes to `out`."""
    from qgis.core import (
        QgsFeature,
        QgsFeatureRequest,
        QgsGeometry,
        QgsProject,
        QgsRectangle,
        QgsVectorLayer,
    )

    creds = f"username='{args['user']}' password='{args['password']}'"

    def layer(name: str) -> QgsVectorLayer:
        # Default connection settings: version auto, paging as the server advertises.
        return QgsVectorLayer(
            f"url='{args['url']}' typename='landcycle:{name}' version='auto' {creds}", name, "WFS"
        )

    for name in ("parcels", "zones", "districts"):
        lyr = layer(name)
        feats = list(lyr.getFeatures())
        out[name] = {
            "valid": lyr.isValid(),
            "count": lyr.featureCount(),
            "crs": lyr.crs().authid(),
            "fields": [f.name() for f in lyr.fields()],
            "features": {
                str(f["code"]): {
                    "centroid": [
                        f.geometry().centroid().asPoint().x(),
                        f.geometry().centroid().asPoint().y(),
                    ],
                    "area": f.geometry().area(),
                    "tier": f["tier"] if "tier" in lyr.fields().names() else None,
                }
                for f in feats
            },
        }
        for v in out[name]["features"].values():
            v["tier"] = None if v["tier"] is None or str(v["tier"]) == "NULL" else str(v["tier"])

    parcels = layer("parcels")
    expr = QgsFeatureRequest().setFilterExpression('"land_use" = \'office\' OR "plot_ratio" > 1.45')
    out["expression"] = sorted(str(f["code"]) for f in parcels.getFeatures(expr))
    rect = QgsFeatureRequest().setFilterRect(QgsRectangle(*args["bbox"]))
    out["bbox"] = sorted(str(f["code"]) for f in layer("parcels").getFeatures(rect))

    # WFS-T: insert, update, delete, each its own commit; then a rule-breaking edit.
    lyr = layer("parcels")
    lyr.startEditing()
    f = QgsFeature(lyr.fields())
    f["code"] = "QGIS-NEW"
    f["land_use"] = "industrial"
    f["plot_ratio"] = 1.3
    f.setGeometry(QgsGeometry.fromWkt(args["insert_wkt"]))
    lyr.addFeature(f)
    out["insert"] = [lyr.commitChanges(), lyr.commitErrors()]
    # The same layer: QGIS took the new feature's fid from the InsertResult.
    new = [g for g in lyr.getFeatures(QgsFeatureRequest().setFilterExpression("\"code\" = 'QGIS-NEW'"))]
    out["inserted_fid_attr"] = new[0]["id"] if new else None
    if new:
        lyr.startEditing()
        lyr.changeAttributeValue(new[0].id(), lyr.fields().indexOf("plot_ratio"), 1.7)
        out["update"] = [lyr.commitChanges(), lyr.commitErrors()]
        lyr.startEditing()
        lyr.changeAttributeValue(new[0].id(), lyr.fields().indexOf("plot_ratio"), 9.9)
        out["refused"] = [lyr.commitChanges(), lyr.commitErrors()]
        lyr.rollBack()
        lyr = layer("parcels")
        target = [g for g in lyr.getFeatures() if g["code"] == args["delete_code"]]
        lyr.startEditing()
        lyr.deleteFeature(target[0].id())
        out["delete"] = [lyr.commitChanges(), lyr.commitErrors()]

    # The project download: three layers, parcels styled by tier.
    path = os.path.join(tempfile.mkdtemp(), "landcycle.qgs")
    with open(path, "wb") as fh:
        fh.write(args["project"].encode())
    project = QgsProject.instance()
    out["project_read"] = project.read(path)
    layers = {}
    for ml in project.mapLayers().values():
        src = ml.source()
        ml.setDataSource(f"{src} {creds}", ml.name(), "WFS")
        renderer = ml.renderer()
        layers[ml.name()] = {
            "provider": ml.providerType(),
            "valid": ml.isValid(),
            "renderer": renderer.type() if renderer else None,
            "attr": renderer.classAttribute() if hasattr(renderer, "classAttribute") else None,
            "count": ml.featureCount(),
        }
    out["project_layers"] = layers


if __name__ == "__main__":
    session(work)
