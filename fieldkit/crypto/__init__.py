"""Everything that touches keys: the key hierarchy (``keys``), and sealing (``envelope``).

DESIGN §3. ``fieldkit.crypto.keys`` is the one place that derives keys.
"""

from __future__ import annotations
