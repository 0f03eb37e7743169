"""The world of one ``henkham`` command: wired once by henkham/bootstrap.py and kept on click's root context."""

from __future__ import annotations

import click

from henkham import bootstrap


def world() -> bootstrap.Cli:
    """This command's settings and database (the database disposed of when the command ends). The first call
    of a command, in its group, loads and checks the settings (production: no development secrets)."""
    ctx = click.get_current_context()
    found = ctx.find_object(bootstrap.Cli)
    if found is None:
        root = ctx.find_root()
        found = root.obj = bootstrap.cli()
        root.call_on_close(found.close)
    return found
