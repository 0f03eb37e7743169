"""Answers to patients' common questions (hours, address, cost, insurance, documents), built from the hospital's
own data: its record, its departments and weekly schedules, its visit types, and the FAQ entries it writes.

Nothing here states a fact about a hospital that is not in its data; when the data has no answer, the answer
says so and gives the hospital's phone number.

- ``entries``: the hospital's own written answers (the ``hospital_faq`` table);
- ``schedule``: a department's week, rooms and upcoming closures, worded from the schedules;
- ``phrasing``: how a department, a phone, a time, a date or a sentence is written in an answer;
- ``answers``: the answer on each topic, put together from those.
"""

from __future__ import annotations

from .answers import TOPIC_NAMES, answer
from .entries import TOPICS, HospitalFaq

__all__ = ["TOPICS", "TOPIC_NAMES", "HospitalFaq", "answer"]
