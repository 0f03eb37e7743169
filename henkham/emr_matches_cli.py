"""Commands of `henkham emr` (henkham/emr_cli.py)."""

from __future__ import annotations

from henkham.emr_cli import emr  # noqa: F401
