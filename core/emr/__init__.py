"""Patients' clinical records: one person across the deployment's hospitals (a master patient index), visits
imported from the hospitals' XML 130/4750 exports and from FHIR R4, the FHIR exporter, and an audited read
service. No chat concepts in here."""
