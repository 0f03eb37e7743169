"""Who a Zalo user is to the rest of the system: an account of provider ``zalo`` whose external id is
``<oa_id>:<user_id>`` (Zalo user ids are per OA, hence the pair). The same name is their conversation's
sender id in Rasa."""

from __future__ import annotations

PROVIDER = "zalo"


def account_key(oa_id: str, user_id: str) -> str:
    return f"{oa_id}:{user_id}"


def split_key(key: str) -> tuple[str, str] | None:
    """(OA, user) of an account key; None when it is not a Zalo one."""
    oa_id, _, user_id = key.partition(":")
    return (oa_id, user_id) if oa_id and user_id else None
