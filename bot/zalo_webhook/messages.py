"""What henkham sends to a Zalo user, independent of how it is delivered (chat message or ZNS)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

MAX_TEXT = 2000  # Zalo refuses longer chat texts
MAX_BUTTONS = 5


@dataclass(frozen=True)
class Button:
    title: str
    payload: str  # comes back as the user's text when tapped (oa.query.show)


@dataclass(frozen=True)
class OutgoingMessage:
    text: str = ""
    buttons: tuple[Button, ...] = ()
    request_phone: bool = False  # Zalo's request_user_info card: the user shares name and phone
    zns_data: dict[str, str] = field(default_factory=dict)  # template parameters when it must go by ZNS

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> OutgoingMessage:
        data = json.loads(raw)
        return cls(
            text=data.get("text", ""),
            buttons=tuple(Button(**b) for b in data.get("buttons", ())),
            request_phone=bool(data.get("request_phone")),
            zns_data=dict(data.get("zns_data") or {}),
        )


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text into parts of at most ``limit`` characters, on sentence boundaries where possible
    (then on spaces, then anywhere), so each part reads on its own."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for sentence in re.split(r"(?<=[.!?…])\s+|\n+", text):
        sentence = sentence.strip()
        if not sentence:
            continue
        candidate = f"{current} {sentence}".strip() if current else sentence
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        while len(sentence) > limit:  # one sentence longer than a whole message
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            parts.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        current = sentence
    if current:
        parts.append(current)
    return parts


def numbered_menu(text: str, buttons: tuple[Button, ...]) -> str:
    """The text with its choices as a numbered list, for clients that show no buttons: the user may answer
    with the number (the worker maps it back to the button's payload) or tap a button where shown."""
    if not buttons:
        return text
    lines = [f"{i}. {b.title}" for i, b in enumerate(buttons, start=1)]
    hint = "Anh/chị chọn bằng cách bấm nút hoặc trả lời số thứ tự ạ."
    return "\n".join([text.strip(), *lines, hint]).strip()


def choice_from_number(text: str, menu: list[str]) -> str | None:
    """The payload the user chose by answering the number of a menu item ("1", "2.", " 3 "), if any."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*[.)]?\s*", text)
    if not match:
        return None
    index = int(match.group(1)) - 1
    return menu[index] if 0 <= index < len(menu) else None
