"""gunicorn settings of ``henkham serve`` (``-c python:henkham.gunicorn_conf``).

Imported by gunicorn's master before it forks the workers: the log redaction installed here is every
process's, the access log (query strings may carry a phone number) included.
"""

from bot import redaction

redaction.install()
