"""The hospitals' XML 130/4750 exports (GIAMDINHHS files, QĐ 130/QĐ-BYT as amended by QĐ 4750 and QĐ 3176) read
into core.emr.records values. Pure: no database, no web framework (shared/xml130.md holds the format).

``parse_submission(data)`` reads a file as a HIS saves it; ``parse_base64_submission(text)`` the gateway's
``fileHSBase64`` (the same file base64-encoded once more). Neither raises on bad input. The answer is a
``ParsedFile``:

* ``problems``: the whole file is refused (empty, not XML, not GIAMDINHHS, a DOCTYPE, truncated, over
  ``Limits.max_file_bytes`` or ``Limits.max_visits``, no HOSO, or every visit a QĐ 4210 one); ``visits`` is then
  empty, except for the QĐ 4210 case where each visit carries the same reason;
* otherwise one ``ParsedVisit`` per HOSO, in file order: ``record`` with its ``warnings`` (what was skipped:
  an unreadable optional value, an unknown table, an ICD-10 code the WHO list lacks), or ``record`` None and
  ``problems`` (table, field, row, reason) when the visit is refused. One refused visit never stops the others.

Modules: ``container`` (the streamed GIAMDINHHS), ``visit`` (one HOSO: decoding, checks, assembly, Limits),
``tables`` (each inner table to its record), ``values`` (dates, numbers, lists), ``safexml`` (no DTD, no
entities, BOM and NFC handling).
"""

from core.emr.xml130.container import parse_base64_submission, parse_submission
from core.emr.xml130.visit import Limits

__all__ = ["Limits", "parse_base64_submission", "parse_submission"]
