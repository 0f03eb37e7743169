"""A stand-in for Zalo's Graph API in in-process API tests: the token ``test-token:<user>`` belongs to ``<user>``.

The real client against the simulator's ``/v2.0/me`` is exercised in tests/test_miniapp_identity.py.
"""

from __future__ import annotations

from bot.zalo_webhook.graph import InvalidUserToken, ZaloUser

TOKEN_HEADER = "X-Zalo-Access-Token"
PREFIX = "test-token:"


def token_for(user: str) -> str:
    return PREFIX + user


def bearer(key: str, account: str | None = None, **extra: str) -> dict[str, str]:
    """The key's header, and the Zalo user ``account``'s token (verified by the stand-in Graph) when one acts."""
    headers = {"Authorization": f"Bearer {key}", **extra}
    if account is not None:
        headers[TOKEN_HEADER] = token_for(account)
    return headers


class FakeGraph:
    def __init__(self) -> None:
        self.calls = 0

    def user_of(self, token: str) -> ZaloUser:
        self.calls += 1
        if not token.startswith(PREFIX) or len(token) == len(PREFIX):
            raise InvalidUserToken("refused by Zalo")
        return ZaloUser(id=token[len(PREFIX) :], name="")


def with_fake_graph(app):
    app.extensions["henkham.zalo_graph"] = FakeGraph()
    return app
