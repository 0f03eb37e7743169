"""/api/v1/emr routes (`his` scope), added to the api blueprint (henkham/web/api.py)."""

from __future__ import annotations

from core.emr.visits import VisitCancellation, cancel_visit

from .api import api, auth, uow


# --- visit cancellation
@api.post("/emr/visits/<facility>/<path:ma_lk>/cancel")
@api.auth_required(auth, roles=["his"])
@api.output(VisitCancellation)
def cancel_emr_visit(facility: str, ma_lk: str):
    """The facility withdraws a visit: it stays in the record, marked cancelled, and its re-exam dates remind
    nobody any more. A key restricted to a hospital cancels only that hospital's visits."""
    with uow() as u:
        return cancel_visit(u, facility, ma_lk)
