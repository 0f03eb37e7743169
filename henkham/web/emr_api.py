"""/api/v1/emr routes (`his` scope), added to the api blueprint (henkham/web/api.py)."""

from __future__ import annotations

from .api import api  # noqa: F401
