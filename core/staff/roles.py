"""The roles of staff and what each may do: one table, asked by every page of the console.

A role belongs to one hospital, except the province admin, who may act in every hospital of the deployment
and also sees the province's figures.
"""

from __future__ import annotations

RECEPTIONIST = "receptionist"
RECORDS = "records"
COMMUNICATIONS = "communications"
HOSPITAL_ADMIN = "hospital_admin"
PROVINCE_ADMIN = "province_admin"
ROLES = (RECEPTIONIST, RECORDS, COMMUNICATIONS, HOSPITAL_ADMIN, PROVINCE_ADMIN)

ROLE_NAMES_VI = {
    RECEPTIONIST: "Tiếp đón",
    RECORDS: "Hồ sơ bệnh án",
    COMMUNICATIONS: "Truyền thông",
    HOSPITAL_ADMIN: "Quản trị bệnh viện",
    PROVINCE_ADMIN: "Quản trị Sở Y tế",
}

# permission -> the roles that hold it (the province admin holds every permission, in every hospital)
PERMISSIONS: dict[str, frozenset[str]] = {
    "desk": frozenset({RECEPTIONIST}),  # check-in, today's list
    "record_links": frozenset({RECEPTIONIST, RECORDS}),  # link a Zalo user to a person after the CCCD
    "inbox": frozenset({RECEPTIONIST}),  # the hand-off inbox
    "records": frozenset({RECORDS}),  # match conflicts, import reports, access audit, data-subject requests
    "broadcasts": frozenset({COMMUNICATIONS}),
    "schedules": frozenset({HOSPITAL_ADMIN}),  # weekly sessions, closures
    "staff": frozenset({HOSPITAL_ADMIN}),  # the hospital's staff accounts
    "figures": frozenset({HOSPITAL_ADMIN}),  # the hospital's figures
    "province": frozenset(),  # province-wide figures, any hospital: the province admin only
}
HOSPITALLESS_ROLES = frozenset({PROVINCE_ADMIN})


def allowed(role: str, permission: str) -> bool:
    """Whether ``role`` may do what ``permission`` names (False for an unknown permission: fail closed)."""
    if permission not in PERMISSIONS:
        return False
    return role == PROVINCE_ADMIN or role in PERMISSIONS[permission]


def permissions_of(role: str) -> frozenset[str]:
    return frozenset(p for p in PERMISSIONS if allowed(role, p))
