"""The services each hospital does, by name, and the department that does them.

Patients name what they want done ("siêu âm thai", "nhổ răng khôn") rather than a department. The NLU knows
the common names from data/catalogue/services.yml; a hospital knows its own: its service catalogue (loaded
with ``henkham services load``) and the XML3 service names of its imported visits (MA_KHOA mapped through
``Department.his_codes``). :func:`department_for_service` reads the message against that hospital's names, so
the booking form books the service into the department this hospital does it in.

A name matches as whole words, without diacritics. A hospital writes long names ("Nội soi dạ dày tá tràng
không gây mê"); a patient says the beginning ("nội soi dạ dày"): the leading words of a name (two or more)
count too, when every name they begin is done by one department. The longest match wins.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from core.errors import InvalidInput
from core.timeutil import utcnow
from core.uow import UnitOfWork
from core.wording import fold

from .catalogue import find_hospital
from .models import Department, HospitalService

CATALOGUE, HIS = "catalogue", "his"
MAX_NAME = 300
# XML3 groups (MA_NHOM) of what a patient books: imaging, functional tests, procedures and surgery, exams.
# Lab tests, drugs, supplies, blood, bed days and transport are ordered by a doctor, not booked by name.
BOOKABLE_GROUPS = frozenset({"2", "3", "8", "13", "18"})
_CACHE: dict[int, tuple[tuple, _Names]] = {}  # hospital id -> (version of its names, its names)


def folded_name(name: str) -> str:
    """The name as it is matched: lower case, no diacritics, words of letters and digits, single spaces."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(name)))


@dataclass(frozen=True)
class ServiceMatch:
    department: str  # the department's slug
    name: str  # the service's name as the hospital writes it
    start: int  # the words' character span in the message
    end: int


class _Names:
    """A hospital's names by their folded words, and the leading words that belong to one department."""

    def __init__(self, rows: Iterable[tuple[str, str]]) -> None:
        self.exact: dict[tuple[str, ...], tuple[str, str]] = {}
        leading: dict[tuple[str, ...], set[str]] = {}
        names: dict[tuple[str, ...], str] = {}
        for name, department in rows:
            words = tuple(folded_name(name).split())
            if not words:
                continue
            self.exact[words] = (department, name)
            for size in range(2, len(words)):
                leading.setdefault(words[:size], set()).add(department)
                names.setdefault(words[:size], name)
        self.leading = {
            words: (next(iter(found)), names[words])
            for words, found in leading.items()
            if len(found) == 1 and words not in self.exact
        }
        self.longest = max((len(words) for words in self.exact), default=0)

    def find(self, text: str) -> ServiceMatch | None:
        folded = fold(text)
        spans = [match.span() for match in re.finditer(r"[a-z0-9]+", folded)]
        words = [folded[start:end] for start, end in spans]
        best: tuple[int, int, str, str] | None = None
        for first in range(len(words)):
            for size in range(min(self.longest, len(words) - first), 0, -1):
                if best is not None and size <= best[1] - best[0]:
                    break
                key = tuple(words[first : first + size])
                found = self.exact.get(key) or self.leading.get(key)
                if found:
                    best = (first, first + size, *found)
                    break
        if best is None:
            return None
        first, end, department, name = best
        return ServiceMatch(department, name, spans[first][0], spans[end - 1][1])


def _names(uow: UnitOfWork, hospital_id: int) -> _Names:
    """The hospital's names, read again only when they changed (a catalogue load or an import in another
    process): the version is one indexed aggregate, the names are read once per version."""
    mine = HospitalService.hospital_id == hospital_id
    version = tuple(
        uow.session.execute(
            select(func.count(), func.max(HospitalService.id), func.max(HospitalService.updated_at)).where(mine)
        ).one()
    )
    cached = _CACHE.get(hospital_id)
    if cached and cached[0] == version:
        return cached[1]
    rows = uow.session.execute(
        select(HospitalService.name, Department.slug)
        .join(Department, Department.id == HospitalService.department_id)
        .where(mine)
        .order_by(HospitalService.source.desc(), HospitalService.id)  # "his" first: the catalogue overrides
    )
    names = _Names((name, slug) for name, slug in rows)
    _CACHE[hospital_id] = (version, names)
    return names


def department_for_service(uow: UnitOfWork, hospital_slug: str, text: str) -> ServiceMatch | None:
    """The department of ``hospital_slug`` that does the service the message names, or None."""
    return _names(uow, find_hospital(uow, hospital_slug).id).find(text)


def _row(hospital_id: int, key: str, name: str, department_id: int, source: str, now: dt.datetime) -> HospitalService:
    return HospitalService(
        hospital_id=hospital_id, department_id=department_id, name=name, folded_name=key, source=source, updated_at=now
    )


def load_catalogue(uow: UnitOfWork, hospital_slug: str, rows: Iterable[tuple[str, str]]) -> int:
    """Replace the hospital's service catalogue with ``rows`` (service name, department slug); the names
    learnt from its imported visits stay. Every row is checked first: one bad row changes nothing."""
    hospital = find_hospital(uow, hospital_slug)
    departments = {d.slug: d.id for d in hospital.departments}
    chosen: dict[str, tuple[str, int]] = {}
    for number, (name, slug) in enumerate(rows, start=1):
        name, slug = " ".join(name.split()), slug.strip()
        if not folded_name(name) or len(name) > MAX_NAME or not name.isprintable():
            raise InvalidInput(
                f"row {number}: a service name of 1-{MAX_NAME} printable characters is needed",
                f"Dạ, dòng {number} cần tên dịch vụ (1–{MAX_NAME} ký tự) ạ.",
                row=number,
            )
        if slug not in departments:
            raise InvalidInput(
                f"row {number}: {hospital.slug} has no department {slug!r}",
                f"Dạ, dòng {number}: {hospital.name} chưa có khoa này ạ.",
                row=number,
                department=slug,
            )
        chosen[folded_name(name)] = (name, departments[slug])
    session = uow.session
    mine = HospitalService.hospital_id == hospital.id
    session.execute(delete(HospitalService).where(mine, HospitalService.source == CATALOGUE))
    keys = list(chosen)
    for start in range(0, len(keys), 1000):  # a learnt name the catalogue now names: the catalogue's wins
        session.execute(
            delete(HospitalService).where(mine, HospitalService.folded_name.in_(keys[start : start + 1000]))
        )
    now = utcnow()
    session.add_all(
        _row(hospital.id, key, name, department_id, CATALOGUE, now) for key, (name, department_id) in chosen.items()
    )
    uow.commit()
    return len(chosen)


def learn_his_services(uow: UnitOfWork, hospital_id: int, services: Iterable[tuple[str, str, str]]) -> int:
    """Record the services of imported visits (name, XML3 group, MA_KHOA) that a patient books: in a bookable
    group, in a department whose HIS code is known. A name already known (the catalogue's above all) stays.
    The number of names added; the caller commits (with the rest of its work)."""
    departments: dict[str, int] = {}
    for department_id, codes in uow.session.execute(
        select(Department.id, Department.his_codes).where(Department.hospital_id == hospital_id)
    ):
        for code in (codes or "").split(";"):
            if code.strip():
                departments.setdefault(code.strip().upper(), department_id)
    new: dict[str, tuple[str, int]] = {}
    for name, group, code in services:
        department_id = departments.get((code or "").strip().upper())
        key = folded_name(name or "")
        if department_id is None or (group or "").strip() not in BOOKABLE_GROUPS or not key or len(name) > MAX_NAME:
            continue
        new.setdefault(key, (" ".join(name.split()), department_id))
    if not new:
        return 0
    keys, known = list(new), set()
    for start in range(0, len(keys), 1000):  # an IN list each engine accepts
        known.update(
            uow.session.scalars(
                select(HospitalService.folded_name).where(
                    HospitalService.hospital_id == hospital_id,
                    HospitalService.folded_name.in_(keys[start : start + 1000]),
                )
            )
        )
    now = utcnow()
    added = [
        _row(hospital_id, key, name, department_id, HIS, now)
        for key, (name, department_id) in new.items()
        if key not in known
    ]
    uow.session.add_all(added)
    uow.session.flush()
    return len(added)
