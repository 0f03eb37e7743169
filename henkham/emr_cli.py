"""`henkham emr ...`: clinical records from the command line (the same core/emr services as the API).

The group is registered in henkham/cli.py; its commands live in modules named for what they do
(``emr_import_cli``: imports; ``emr_matches_cli``: the person matches records staff review; ``emr_links_cli``:
record links of chat users made at the desk), imported below.
"""

from __future__ import annotations

import click


@click.group()
def emr() -> None:
    """Clinical records: import HIS exports (XML 130/4750) and FHIR bundles, review person matches."""


from henkham import emr_import_cli, emr_links_cli, emr_matches_cli  # noqa: E402, F401  (they add their commands to the group)
