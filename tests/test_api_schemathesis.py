"""Property-based tests of the API from its own OpenAPI document (schemathesis), on SQLite and PostgreSQL.

Every operation gets a bounded number of generated requests, valid and invalid, sent by keys of every kind (or
none) to a real app on a small world; path values are sometimes swapped for ones that exist, so that requests
reach the services and not only the 404s. No response may be a 5xx or break the document: its status code,
content type, headers and body must be the documented ones. Derandomized, so a run is reproducible.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.openapi import from_wsgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core import access
from core.config import Settings
from core.timeutil import local_to_utc
from henkham.web import create_app
from tests import factories
from tests.factories import build_world, new_patient, slot_at, today_local
from tests.identity_helpers import TOKEN_HEADER, token_for, with_fake_graph

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SCALE = int(os.environ.get("HENKHAM_FUZZ_SCALE", "1"))  # more examples for a longer hunt (e.g. 10)
EXAMPLES = {GenerationMode.POSITIVE: 20 * SCALE, GenerationMode.NEGATIVE: 8 * SCALE}
KINDS = ["mini_app", "kiosk", "his", "admin"]


@pytest.fixture
def fuzzed(db):
    world = build_world(db, start=today_local(), days=3)
    with db.uow() as uow:
        keys = {
            kind: access.create_api_key(
                uow, name=f"fuzz-{kind}", kind=kind, hospital_slug="test" if kind == "kiosk" else None
            )
            for kind in KINDS
        }
        keys["server"] = access.create_api_key(
            uow, name="fuzz-server", kind="his", scopes=["book", "read"], trusted_account_header=True
        )
    patient_ids = [new_patient(db, world.account_id, n) for n in range(2)]
    today = today_local()
    booked = factories.book(
        db, world, slot_at(db, "nhi", today, "07:00"), patient_ids[0], now=local_to_utc(today, dt.time(0, 0))
    )
    app = with_fake_graph(create_app(Settings(database_url=db.url, rate_limit_enabled=False), database=db))
    known = {
        "slug": ["test"],
        "department": ["nhi", "mat"],
        "patient_id": patient_ids,
        "code": [booked.code, "ABC234"],
    }
    return app, keys, known


def _run(operation, mode, keys, known) -> None:
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def check(case, data) -> None:
        for name, values in known.items():
            if case.path_parameters and name in case.path_parameters and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(values))
        kind = data.draw(st.sampled_from([*KINDS, "server", None]))
        headers = {"Authorization": f"Bearer {keys[kind]}"} if kind else {}
        if kind == "mini_app" and data.draw(st.booleans()):
            headers[TOKEN_HEADER] = token_for("zalo-fuzz")  # a Zalo user (the stand-in Graph proves it)
        if kind == "server" and data.draw(st.booleans()):
            headers["X-Henkham-Account"] = "zalo-fuzz"  # a trusted server-to-server client names its user
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise  # only an operation without inputs has no invalid request to make


def test_the_api_keeps_its_openapi_document(fuzzed):
    app, keys, known = fuzzed
    schema = from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "every API operation is in the document"
    failures = []
    for operation in operations:
        for mode in EXAMPLES:
            try:
                _run(operation, mode, keys, known)
            except (Exception, BaseExceptionGroup) as failure:  # collected: every operation is tried and reported
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)
