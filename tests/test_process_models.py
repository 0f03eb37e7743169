"""Each process role imports only what it runs, so each must see every table its models' foreign keys point at:
a key to a table no imported module maps fails only at the first flush, in production, as a worker did once
(``zalo_conversations.taken_by_staff_id`` → ``staff_accounts``). Each role's entry module alone, in a fresh
interpreter, must resolve every foreign key of the tables it knows."""

from __future__ import annotations

import subprocess
import sys

import pytest

ROLES = ("bot.zalo_webhook.workers", "bot.zalo_webhook.sender", "henkham.jobs", "henkham.web", "henkham.cli")
CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
from core.db import Base
for table in Base.metadata.sorted_tables:
    for key in table.foreign_keys:
        key.column  # raises NoReferencedTableError when the target table is not mapped in this process
print(len(Base.metadata.tables))
"""


@pytest.mark.unit
@pytest.mark.parametrize("module", ROLES)
def test_a_roles_entry_module_alone_resolves_every_foreign_key(module):
    done = subprocess.run([sys.executable, "-c", CHECK, module], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) > 5
