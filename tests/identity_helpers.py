"""A stand-in for Zalo's Graph API in in-process API tests: the token ``test-token:<user>`` belongs to ``<user>``.

The real client against the simulator's ``/v2.0/me`` is exercised in tests/test_miniapp_identity.py.
"""

from __future__ import annotations

from bot.zalo_webhook.graph import InvalidUserToken, ZaloUser

TOKEN_HEADER = "X-Zalo-Access-Token"
PREFIX = "test-token:"


def token_for(user: str) -> str:
    return PREFIX + user


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
