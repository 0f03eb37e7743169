"""A Rasa tokenizer for Vietnamese on underthesea, with token spans in the message as the user typed it.

underthesea joins the syllables of a word ("sáng mai", "tai mũi họng") and rewrites its input (NFC, old-style
tone marks, spacing), so Rasa's own word-to-token helper fails on it; ``alignment.align`` puts each word
back on the original characters. A word's token text joins its syllables with "_" ("tai_mũi_họng"), so the
featurizers see it as one unit. Punctuation is dropped, as the whitespace tokenizer does, and emoji but the few
that say something ("👍" is ok, bot/nlu/shorthand.py). Runs in
the Rasa environment (Python 3.10); imports nothing of the application.

No message makes it fail: a lone surrogate (JSON ``"\ud83d"`` from a client that cut an emoji in half) is
replaced by U+FFFD, one character for one so the spans still point into the text as received (underthesea
cannot encode it and raised), and any other error of underthesea falls back to splitting on whitespace.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message
from underthesea import word_tokenize

from bot.nlu.alignment import align
from bot.nlu.folding import strip_diacritics
from bot.nlu.shorthand import emoji_meaning, plain

log = logging.getLogger(__name__)
_HAS_WORD_CHAR = re.compile(r"\w")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a str holds a surrogate only when it is unpaired


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class UndertheseaTokenizer(Tokenizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # shorthand: lemmas spell chat shorthand out (bot/nlu/shorthand.py); off, a lemma is only folded.
        return {"intent_tokenization_flag": False, "intent_split_symbol": "_", "token_pattern": None, "shorthand": True}

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["vi"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UndertheseaTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        lemma = plain if self._config.get("shorthand", True) else strip_diacritics
        text = message.get(attribute) or ""
        clean = _LONE_SURROGATE.sub("\ufffd", text)  # same length: spans found in it are spans of text
        try:
            words = word_tokenize(clean) if clean.strip() else []
            spans = align(clean, words)  # every word, punctuation included: alignment walks the whole message
        except Exception as error:  # never fail a message (AlignmentError, or underthesea itself): split it
            log.warning("underthesea failed on a message (%s); splitting on whitespace", type(error).__name__)
            words = clean.split()
            spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", clean)]
        tokens = [
            # The lemma is the word's plain form (bot/nlu/shorthand.py): without diacritics, shorthand spelled
            # out, so featurizers with use_lemma see "khong duoc" for "không được", "ko dc" and "k đc" alike.
            Token("_".join(word.split()), start, end, lemma=lemma("_".join(word.split())))
            for word, (start, end) in _emoji_apart(clean, words, spans)
            if _HAS_WORD_CHAR.search(word) or emoji_meaning(word)  # punctuation and emoji that say nothing dropped
        ]
        if not tokens:
            tokens = [Token(clean, 0, len(clean), lemma=lemma(clean))]
        return self._apply_token_pattern(tokens)


def _emoji_apart(text: str, words: list[str], spans: list[tuple[int, int]]) -> list[tuple[str, tuple[int, int]]]:
    """The words with their spans, a word underthesea glued to an emoji ("ad 🙏") cut in two: the syllables
    as written and the emoji, each with its own span."""
    result: list[tuple[str, tuple[int, int]]] = []
    for word, (start, end) in zip(words, spans, strict=True):
        parts = word.split()
        if len(parts) < 2 or all(_HAS_WORD_CHAR.search(part) for part in parts):
            result.append((word, (start, end)))
            continue
        run: list[re.Match[str]] = []
        for match in [*re.finditer(r"\S+", text[start:end]), None]:
            if match is not None and _HAS_WORD_CHAR.search(match.group()):
                run.append(match)
                continue
            if run:
                result.append((" ".join(m.group() for m in run), (start + run[0].start(), start + run[-1].end())))
                run = []
            if match is not None:
                result.append((match.group(), (start + match.start(), start + match.end())))
    return result
