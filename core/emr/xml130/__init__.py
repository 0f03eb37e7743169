"""The hospitals' XML 130/4750 exports (GIAMDINHHS files, QĐ 130/QĐ-BYT as amended by QĐ 4750 and QĐ 3176) read
into core.emr.records values. Pure: no database, no web framework (shared/xml130.md holds the format)."""

from core.emr.xml130.container import parse_base64_submission, parse_submission
from core.emr.xml130.visit import Limits

__all__ = ["Limits", "parse_base64_submission", "parse_submission"]
