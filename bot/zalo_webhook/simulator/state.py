"""The simulated Zalo's memory: users, what the OA sent, conversations, and request counts.

All of it lives in one process behind one lock; readers get copies, never the live objects.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .ids import hex_id, now_ms, user_id_by_app, zalo_date

OA_SENT = 0  # conversation ``src``: sent by the OA
USER_SENT = 1  # sent by the user


@dataclass
class SimUser:
    oa_id: str
    user_id: str
    user_id_by_app: str
    display_name: str
    follower: bool = False
    phone: str | None = None
    shared_info: dict[str, Any] | None = None
    tags: set[str] = field(default_factory=set)
    last_interaction_ms: int = field(default_factory=now_ms)

    def snapshot(self) -> dict[str, Any]:
        return {
            "oa_id": self.oa_id,
            "user_id": self.user_id,
            "user_id_by_app": self.user_id_by_app,
            "display_name": self.display_name,
            "follower": self.follower,
            "phone": self.phone,
            "shared_info": copy.deepcopy(self.shared_info),
            "tags": sorted(self.tags),
            "last_interaction_date": zalo_date(self.last_interaction_ms),
        }


@dataclass(frozen=True)
class MessageFilter:
    oa_id: str | None = None
    user_id: str | None = None
    phone: str | None = None
    kind: str | None = None
    after: int = 0

    def accepts(self, record: dict[str, Any]) -> bool:
        return (
            record["seq"] > self.after
            and self.oa_id in (None, record["oa_id"])
            and self.user_id in (None, record.get("user_id"))
            and self.phone in (None, record.get("phone"))
            and self.kind in (None, record["kind"])
        )


class ChatStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # notified whenever the OA sends a message
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._users: dict[tuple[str, str], SimUser] = {}
            self._oa_tags: dict[str, set[str]] = {}
            self._messages: list[dict[str, Any]] = []
            self._conversations: dict[tuple[str, str], list[dict[str, Any]]] = {}
            self._requests: Counter[str] = Counter()
            self._webhook: Counter[str] = Counter()

    # -- counters ---------------------------------------------------------------------------------------
    def count_request(self, path: str) -> None:
        with self._lock:
            self._requests[path] += 1

    def count_webhook(self, delivered: bool) -> None:
        with self._lock:
            self._webhook["delivered" if delivered else "failed"] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._requests),
                "messages": len(self._messages),
                "webhook_posts": {"delivered": self._webhook["delivered"], "failed": self._webhook["failed"]},
            }

    # -- users ------------------------------------------------------------------------------------------
    def register_user(
        self,
        oa_id: str,
        app_id: str,
        user_id: str,
        *,
        display_name: str | None = None,
        phone: str | None = None,
        follower: bool | None = None,
    ) -> dict[str, Any]:
        """Create or update a user; unspecified fields keep their value (defaults for a new user)."""
        with self._lock:
            user = self._user(oa_id, app_id, user_id)
            if display_name:
                user.display_name = display_name
            if phone:
                user.phone = phone
                user.shared_info = {**(user.shared_info or {}), "phone": phone, "name": user.display_name}
            if follower is not None:
                user.follower = follower
            return user.snapshot()

    def interact(
        self,
        oa_id: str,
        app_id: str,
        user_id: str,
        *,
        follower: bool | None = None,
        shared_info: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The user did something in the chat: exists from now on, last interaction is now."""
        with self._lock:
            user = self._user(oa_id, app_id, user_id)
            user.last_interaction_ms = now_ms()
            if follower is not None:
                user.follower = follower
            if shared_info is not None:
                user.shared_info = copy.deepcopy(shared_info)
                user.phone = shared_info.get("phone") or user.phone
            return user.snapshot()

    def user(self, oa_id: str, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            user = self._users.get((oa_id, user_id))
            return user.snapshot() if user else None

    def users(self, oa_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [user.snapshot() for (owner, _), user in self._users.items() if owner == oa_id]

    def _user(self, oa_id: str, app_id: str, user_id: str) -> SimUser:
        user = self._users.get((oa_id, user_id))
        if user is None:
            name = f"Người dùng {user_id[-4:]}"
            user = SimUser(oa_id, user_id, user_id_by_app(app_id, user_id), name)
            self._users[(oa_id, user_id)] = user
        return user

    # -- tags -------------------------------------------------------------------------------------------
    def tag(self, oa_id: str, user_id: str, tag_name: str) -> bool:
        """Tag a user (creating the tag); False when the user is unknown."""
        with self._lock:
            user = self._users.get((oa_id, user_id))
            if user is None:
                return False
            user.tags.add(tag_name)
            self._oa_tags.setdefault(oa_id, set()).add(tag_name)
            return True

    def untag(self, oa_id: str, user_id: str, tag_name: str) -> bool:
        with self._lock:
            user = self._users.get((oa_id, user_id))
            if user is None:
                return False
            user.tags.discard(tag_name)
            return True

    def tags(self, oa_id: str) -> list[str]:
        with self._lock:
            return sorted(self._oa_tags.get(oa_id, set()))

    def remove_tag(self, oa_id: str, tag_name: str) -> None:
        with self._lock:
            self._oa_tags.get(oa_id, set()).discard(tag_name)
            for (owner, _), user in self._users.items():
                if owner == oa_id:
                    user.tags.discard(tag_name)

    # -- what the OA sent -------------------------------------------------------------------------------
    def record_cs(self, oa_id: str, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            record = {
                "seq": len(self._messages) + 1,
                "kind": "cs",
                "oa_id": oa_id,
                "user_id": user_id,
                "message": copy.deepcopy(message),
                "message_id": hex_id(),
                "time": now_ms(),
            }
            self._messages.append(record)
            self._arrived.notify_all()
            text = message.get("text")
            self._converse(
                oa_id,
                user_id,
                src=OA_SENT,
                kind="template" if "attachment" in message else "text",
                text=text if isinstance(text, str) else "",
                message_id=record["message_id"],
                at=record["time"],
                payload=record["message"],
            )
            return copy.deepcopy(record)

    def record_zns(
        self,
        oa_id: str,
        phone: str,
        template_id: str,
        template_data: dict[str, Any],
        tracking_id: str | None,
        mode: str | None,
    ) -> dict[str, Any]:
        with self._lock:
            record: dict[str, Any] = {
                "seq": len(self._messages) + 1,
                "kind": "zns",
                "oa_id": oa_id,
                "phone": phone,
                "template_id": template_id,
                "template_data": copy.deepcopy(template_data),
                "tracking_id": tracking_id,
                "mode": mode,
                "msg_id": hex_id(),
                "time": now_ms(),
            }
            owner = next((u for (o, _), u in self._users.items() if o == oa_id and u.phone == phone), None)
            if owner is not None:
                record["user_id"] = owner.user_id
            self._messages.append(record)
            self._arrived.notify_all()
            return copy.deepcopy(record)

    def zns_sent(self, oa_id: str) -> int:
        with self._lock:
            return sum(1 for record in self._messages if record["kind"] == "zns" and record["oa_id"] == oa_id)

    def messages(self, query: MessageFilter, wait: float = 0.0) -> list[dict[str, Any]]:
        """The messages ``query`` accepts; with ``wait``, blocks up to that many seconds until there is one."""
        with self._lock:
            found = [record for record in self._messages if query.accepts(record)]
            if not found and wait > 0:
                seen = len(self._messages)
                self._arrived.wait_for(lambda: any(map(query.accepts, self._messages[seen:])), wait)
                found = [record for record in self._messages[seen:] if query.accepts(record)]
            return [copy.deepcopy(record) for record in found]

    def last_seq(self) -> int:
        with self._lock:
            return len(self._messages)

    # -- conversations ----------------------------------------------------------------------------------
    def converse(
        self,
        oa_id: str,
        user_id: str,
        *,
        src: int,
        kind: str,
        text: str,
        message_id: str,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Add a message that did not go through the OA API (the user's, or staff's from the OA inbox)."""
        with self._lock:
            self._converse(oa_id, user_id, src=src, kind=kind, text=text, message_id=message_id, payload=payload)

    def _converse(
        self,
        oa_id: str,
        user_id: str,
        *,
        src: int,
        kind: str,
        text: str,
        message_id: str,
        at: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        from_id, to_id = (oa_id, user_id) if src == OA_SENT else (user_id, oa_id)
        entry = {
            "message_id": message_id,
            "src": src,
            "time": at or now_ms(),
            "type": kind,
            "message": text,
            "from_id": from_id,
            "to_id": to_id,
            "payload": copy.deepcopy(payload),
        }
        self._conversations.setdefault((oa_id, user_id), []).append(entry)

    def conversation(self, oa_id: str, user_id: str) -> list[dict[str, Any]]:
        """Oldest first; each entry also carries ``payload``, the full message where there is one."""
        with self._lock:
            return copy.deepcopy(self._conversations.get((oa_id, user_id), []))
