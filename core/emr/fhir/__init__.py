"""FHIR R4 exchange of the record (fhir.resources R4B models): export a person's record as a collection Bundle
and as an International Patient Summary-style document, and read R4 Bundles into PersonRecord values.
Pure: no database, no web framework. Identifier and code systems: ``codes.py``; the extension that carries what
FHIR has no element for: ``fields.py``."""

from .exporting import StoredRecordLike, export_bundle, export_patient_summary
from .parsing import MAX_BUNDLE_BYTES, parse_bundle

__all__ = ["MAX_BUNDLE_BYTES", "StoredRecordLike", "export_bundle", "export_patient_summary", "parse_bundle"]
