"""Rasa's command line (``rasa run``, ``rasa shell`` …) with fixes to Rasa 3.6, for the Rasa environment.

Besides the fix below, ``bot/rasa_guard.py`` puts every route behind the server's token and refuses bodies
that are not JSON, and keeps action server bodies out of Rasa's error messages; ``bot/redaction.py`` masks
personal identifiers in whatever the process logs.

Rasa checks every action server response with ``jsonschema.validate(result, schema)``. That call first checks
the *schema itself* against JSON Schema's 2020-12 meta-schema and builds a new validator, every time: measured
under 20 chatting users it was three quarters of the Rasa server's CPU (a form turn makes two or three
action calls). Here the schema is checked once and one validator is kept; each response is still validated
against the same schema, and an invalid one raises the same ``ValidationError`` with the same message.
No release of Rasa 3.6 changes this and no setting turns it off, hence the patch.

Rasa also wraps the tracker store in ``FailSafeTrackerStore``: when the database cannot be read it hands out an
*empty* conversation, and when it cannot be written it keeps the turn in the server's memory only, so a patient
in the middle of a booking is answered as a stranger and what they said is lost. Here the store is used as it
is: its error fails the message, the REST channel answers 503 and the worker asks again (bot/rasa_channel.py);
the store itself reconnects once after a lost connection (bot/rasa_tracker_store.py).

Run as ``python -m bot.rasa_server run …`` (``scripts/rasa-server`` does).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@functools.cache
def response_validator() -> Any:
    """The validator of action server responses, its schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the kept validator (same check, same error)."""
    error = best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the Action "
        f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def tracker_store_as_is(store: Any, domain: Any) -> Any:
    """``Agent._create_tracker_store`` without the fail-safe wrapper (see above)."""
    from rasa.core.tracker_store import InMemoryTrackerStore

    if store is None:
        return InMemoryTrackerStore(domain)
    store.domain = domain
    return store


def install() -> None:
    from rasa.core.agent import Agent

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    Agent._create_tracker_store = staticmethod(tracker_store_as_is)  # type: ignore[method-assign,assignment]


def with_auth_token(argv: list[str], environ: dict[str, str]) -> list[str]:
    """``argv`` of ``rasa run`` given ``--auth-token $HENKHAM_RASA_TOKEN`` here, not on the command line, where
    any local user could read it (``ps``); an explicit ``--auth-token`` wins."""
    token = environ.get("HENKHAM_RASA_TOKEN", "")
    if len(argv) > 1 and argv[1] == "run" and token and "--auth-token" not in argv:
        return [*argv, "--auth-token", token]
    return argv


if __name__ == "__main__":
    import os

    from bot import rasa_guard, redaction

    redaction.install()
    install()
    rasa_guard.install()
    from rasa.__main__ import main

    sys.argv = with_auth_token(["rasa", *sys.argv[1:]], dict(os.environ))
    main()
