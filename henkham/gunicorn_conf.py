"""gunicorn settings of ``henkham serve`` (``-c python:henkham.gunicorn_conf``).

Imported by gunicorn's master before it forks the workers: the log redaction installed here is every
process's, the access log (query strings may carry a phone number) included; so is the log format
(henkham/logs.py: text, or JSON with HENKHAM_LOG_FORMAT=json).
"""

import os

from bot import redaction
from henkham import logs

redaction.install()
logs.configure("web", os.environ.get("HENKHAM_LOG_FORMAT", "text"))
