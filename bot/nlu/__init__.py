"""Rasa graph components for Vietnamese and the pure date/time parser. Imported by the Rasa environment
(Python 3.10): nothing here may import ``core`` or the application's libraries."""
