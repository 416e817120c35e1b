"""A form's version: the settings sheet's, else one derived from the form's content.

Every stored form version, every record and every published form names its version, and two
different forms under one id and version are refused (the workspace and the server keep one
content per id and version). Many real XLSForms leave ``version`` empty. ODK Central keeps
such a form under an empty version and asks for one before it publishes a second such
draft; KoboToolbox writes a generated version into each deployment. fieldkit does neither by
hand: a form without a version gets ``content-`` and the first 12 hex digits of the SHA-256
of its definition (canonical JSON, the version left out). So

- the same file gives the same version wherever it is loaded (``forms add`` on a laptop,
  ``forms publish`` on the coordinator's), and adding it twice changes nothing;
- a changed file gives a new version, never a clash with the old one;
- a form that names its version keeps it exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CONTENT_PREFIX", "content_version", "with_version"]

CONTENT_PREFIX = "content-"


def content_version(definition: Mapping[str, Any]) -> str:
    """The version derived from a definition's content (its own ``version`` left out)."""
    rest = {k: v for k, v in definition.items() if k != "version"}
    meta = rest.get("fieldkit")
    if isinstance(meta, Mapping) and "version_from" in meta:
        rest["fieldkit"] = {k: v for k, v in meta.items() if k != "version_from"}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return CONTENT_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def with_version(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The definition with a version: its own when the settings sheet gives one, else
    ``content_version`` (marked ``fieldkit.version_from = "content"`` so tools can say so)."""
    out = dict(definition)
    if str(out.get("version") or "").strip():
        return out
    out["version"] = content_version(out)
    meta = out.get("fieldkit")
    out["fieldkit"] = {**(meta if isinstance(meta, Mapping) else {}), "version_from": "content"}
    return out
