"""Where each word of a tokenizer's output sits in the original message.

underthesea rewrites what it tokenizes (NFC, tone marks moved: "hoà" → "hòa", runs of spaces collapsed), so
its words are not always substrings of the message and Rasa's own word-to-token helper fails on them
(shared/DESIGN.md). Here words and message are compared letter by letter with tone marks and case set aside
and whitespace skipped, so each word gets the character span it covers in the message as the user typed
it (composed or decomposed Unicode, any spacing).

Pure standard library: used by the Rasa tokenizer component (Python 3.10) and testable anywhere.
"""

from __future__ import annotations

import unicodedata


class AlignmentError(ValueError):
    """A word that is not in the message at the expected place (a tokenizer that invents text)."""


def _letters(text: str) -> list[tuple[str, int]]:
    """The message's letters without marks, lower-cased, each with its index in ``text``; whitespace left out."""
    letters: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        if char.isspace():
            continue
        for part in unicodedata.normalize("NFD", char):
            if unicodedata.category(part) == "Mn":
                continue
            letters.append(("d" if part in "đĐ" else part.lower(), index))
    return letters


def _key(word: str) -> str:
    return "".join(letter for letter, _ in _letters(word))


def align(text: str, words: list[str]) -> list[tuple[int, int]]:
    """The ``(start, end)`` span in ``text`` of each of ``words``, in order.

    Each span starts at the word's first letter and ends after its last letter together with any combining
    marks that follow it in ``text``; a word of marks only gets an empty span where the word before ends.
    Raises AlignmentError if a word does not continue the message.
    """
    letters = _letters(text)
    spans: list[tuple[int, int]] = []
    position = 0
    for word in words:
        key = _key(word)
        if not key:  # only marks (an emoji's variation selector U+FE0F): they end the word before, if any
            at = spans[-1][1] if spans else (letters[position][1] if position < len(letters) else len(text))
            spans.append((at, at))
            continue
        found = "".join(letter for letter, _ in letters[position : position + len(key)])
        if found != key:
            raise AlignmentError(f"word {word!r} does not continue the message at character {position}")
        start = letters[position][1]
        end = letters[position + len(key) - 1][1] + 1
        while end < len(text) and unicodedata.category(text[end]) == "Mn":  # trailing combining marks
            end += 1
        spans.append((start, end))
        position += len(key)
    return spans
