"""The booking's vocabulary: the values a status, a part of day, a kind of visit or a relationship may take.

Plain enums, free of the database: the chat's actions and the entry points name them without reaching for the
ORM models (``core.booking.models`` re-exports them, as the mapped columns use them)."""

from __future__ import annotations

import enum


class PartOfDay(enum.StrEnum):
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


class AppointmentStatus(enum.StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class CancelledBy(enum.StrEnum):
    PATIENT = "patient"
    HOSPITAL = "hospital"


class VisitKind(enum.StrEnum):
    INSURANCE = "insurance"  # BHYT
    SERVICE = "service"


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class Relationship(enum.StrEnum):
    """Who a profile is to the account's holder, kept as the holder said it ("mẹ" is mother, not just a
    parent). The coarse values (parent, child, spouse, grandparent) are for a relative said without the
    detail ("bố mẹ", "bé", "vợ/chồng") and for the clients that name only those."""

    SELF = "self"
    CHILD = "child"
    SON = "son"
    DAUGHTER = "daughter"
    PARENT = "parent"
    MOTHER = "mother"
    FATHER = "father"
    SPOUSE = "spouse"
    WIFE = "wife"
    HUSBAND = "husband"
    GRANDPARENT = "grandparent"
    GRANDMOTHER = "grandmother"
    GRANDFATHER = "grandfather"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"
    OTHER = "other"

    @property
    def group(self) -> Relationship:
        """The coarse relation this one details (mother → parent); a coarse one is its own group."""
        return _GROUPS.get(self, self)

    @property
    def sex(self) -> Sex | None:
        """The sex this relation says (mother → female), None when it says none."""
        return _SEXES.get(self)

    def fits(self, stored: str, sex: str | None = None) -> bool:
        """Whether a profile stored with relation ``stored`` (and ``sex``) can be the relative said here: the
        same relation; a detail of a coarse one said ("bé" fits a son); or a coarse one stored whose sex does not
        contradict the detail said (a parent stored as female fits "mẹ", one stored as male does not)."""
        kept = Relationship(stored)
        if kept == self or (self.group == self and kept.group == self):
            return True
        return self.group != self and kept == self.group and (self.sex is None or sex == self.sex)


_GROUPS = {
    Relationship.SON: Relationship.CHILD,
    Relationship.DAUGHTER: Relationship.CHILD,
    Relationship.MOTHER: Relationship.PARENT,
    Relationship.FATHER: Relationship.PARENT,
    Relationship.WIFE: Relationship.SPOUSE,
    Relationship.HUSBAND: Relationship.SPOUSE,
    Relationship.GRANDMOTHER: Relationship.GRANDPARENT,
    Relationship.GRANDFATHER: Relationship.GRANDPARENT,
}
_SEXES = {
    Relationship.SON: Sex.MALE,
    Relationship.DAUGHTER: Sex.FEMALE,
    Relationship.MOTHER: Sex.FEMALE,
    Relationship.FATHER: Sex.MALE,
    Relationship.WIFE: Sex.FEMALE,
    Relationship.HUSBAND: Sex.MALE,
    Relationship.GRANDMOTHER: Sex.FEMALE,
    Relationship.GRANDFATHER: Sex.MALE,
}
