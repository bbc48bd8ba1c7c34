"""Import and export of layers: CSV, XLSX, GeoJSON, GeoPackage and Shapefile in, GeoJSON, CSV and GeoPackage out.

``import_file`` reads, recognises columns, places rows, validates, drops duplicates and writes (or only
reports); ``export_layer`` writes a stored layer in a chosen coordinate system. Neither imports a web or
map framework; the store is handed in, never opened here.
"""

from __future__ import annotations

from locator.io.export import export_layer
from locator.io.importer import ImportReport, import_file

__all__ = ["ImportReport", "export_layer", "import_file"]
