"""Choice files beside a form (``select_one_from_file``): CSV and GeoJSON, read into rows.

Each file becomes a list of rows, one per choice, holding the columns ODK's secondary
instance holds for it, in the same order; the rows are stored in the form's definition
(``choices[FILE]``), so a stored form needs no file beside it. Which column is the choice's
value and which its label is the question's business (``parameters``: ``value=``,
``label=``); ``default_columns`` gives ODK's defaults per file type.

- CSV (ODK: one item per row, one child per column): the columns as written.
- GeoJSON (the XLSForm spec; ODK Web Forms' GeoJSONExternalSecondaryInstance and ODK
  Collect): a FeatureCollection of Features whose geometry is a Point, a LineString or a
  Polygon (one ring). Each feature becomes ``geometry`` (``"lat lon 0 0"``, points joined
  by ``"; "``), ``id`` (the feature's ``id``, else its ``properties.id``) and then every
  property, as text the way JavaScript writes it (``1``, ``2.5``, ``true``, ``null``).
  The value defaults to ``id`` and the label to ``title``.

A file that is missing, too large, not UTF-8, or not of that shape is a ``FormError`` naming
the file and the question; nothing of its content is echoed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from fieldkit.errors import FormError

__all__ = ["CHOICE_FILE_SUFFIXES", "MAX_CHOICE_FILE_BYTES", "default_columns", "read_choice_file"]

MAX_CHOICE_FILE_BYTES = 20 * 1024 * 1024
CHOICE_FILE_SUFFIXES = (".csv", ".geojson")
_DEFAULTS = {".csv": ("name", "label"), ".geojson": ("id", "title")}
_GEOMETRIES = ("Point", "LineString", "Polygon")


def default_columns(file_name: str) -> tuple[str, str]:
    """ODK's value and label columns for a choice file: ``name``/``label``, ``id``/``title``."""
    return _DEFAULTS.get(Path(file_name).suffix.lower(), ("name", "label"))


def read_choice_file(path: Path, *, value_column: str, question: str) -> list[dict[str, str]]:
    """The rows of a CSV or GeoJSON choice file; rows with no value are left out."""
    text = _read_text(path, question=question)
    if path.suffix.lower() == ".geojson":
        rows = _geojson_rows(text, name=path.name, question=question)
    else:
        rows = _csv_rows(text)
        headers = set(rows[0]) if rows else _csv_headers(text)
        if value_column not in headers:
            raise FormError(f"choice file {path.name} has no '{value_column}' column")
    return [row for row in rows if row.get(value_column, "") != ""]


def _read_text(path: Path, *, question: str) -> str:
    if path.name.startswith(".") or "/" in path.name or "\\" in path.name:
        raise FormError(f"question '{question}': bad choice file name", sheet="survey")
    try:
        size = path.stat().st_size
        if size > MAX_CHOICE_FILE_BYTES:
            raise FormError(f"question '{question}': choice file {path.name} is too large")
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise FormError(
            f"question '{question}': choice file {path.name} not found beside the form",
            sheet="survey",
        ) from None
    except UnicodeDecodeError:
        raise FormError(f"choice file {path.name} is not UTF-8 text") from None
    except OSError as exc:
        raise FormError(f"choice file {path.name}: {exc.strerror}") from None


def _csv_headers(text: str) -> list[str]:
    reader = csv.reader(io.StringIO(text, newline=""))
    return [h.strip() for h in next(reader, [])]


def _csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out = []
    for raw in reader:
        out.append({str(k).strip(): (v or "").strip() for k, v in raw.items() if k is not None})
    return out


# ------------------------------------------------------------------------------ GeoJSON


def _geojson_rows(text: str, *, name: str, question: str) -> list[dict[str, str]]:
    def bad(why: str) -> FormError:
        return FormError(f"question '{question}': choice file {name} {why}", sheet="survey")

    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise bad("is not valid JSON") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise bad("is not a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise bad("has no list of features")
    rows = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise bad(f"feature {number} is not a Feature")
        geometry = _geometry(feature.get("geometry"))
        if geometry is None:
            raise bad(
                f"feature {number}: only Points, LineStrings and Polygons (one ring) with "
                "longitude and latitude are supported"
            )
        properties = feature.get("properties")
        if properties is not None and not isinstance(properties, dict):
            raise bad(f"feature {number} has properties that are not an object")
        properties = dict(properties or {})
        row = {"geometry": geometry}
        own_id = properties.pop("id", None)
        identity = feature.get("id", own_id)
        if identity is not None and not isinstance(identity, str | int | float):
            raise bad(f"feature {number} has an id that is not text or a number")
        if identity is not None:
            row["id"] = _js_text(identity)
        for key, value in properties.items():
            row[str(key)] = _js_text(value)
        rows.append(row)
    return rows


def _geometry(value: Any) -> str | None:
    """ODK's text for a geometry (``"lat lon 0 0"``; ``"; "`` between points), or None."""
    if not isinstance(value, dict) or value.get("type") not in _GEOMETRIES:
        return None
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, list):
        return None
    if value["type"] == "Point":
        points = [coordinates]
    elif value["type"] == "LineString":
        points = coordinates
    else:
        if len(coordinates) > 1:
            return None  # holes: ODK supports one ring
        points = coordinates[0] if coordinates else []
        if not isinstance(points, list):
            return None
    texts = []
    for point in points:
        if not isinstance(point, list) or len(point) != 2 or not all(_is_number(c) for c in point):
            return None
        longitude, latitude = point
        texts.append(f"{_js_text(latitude)} {_js_text(longitude)} 0 0")
    return "; ".join(texts)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _js_text(value: Any) -> str:
    """A JSON value as JavaScript's ``String(value)`` writes it (what ODK Web Forms stores)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return ",".join("" if v is None else _js_text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)
