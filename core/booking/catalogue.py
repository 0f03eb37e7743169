"""Read-only catalogue: hospitals, departments, doctors, visit types (public in the API)."""

from __future__ import annotations

from sqlalchemy import select

from core.errors import NotFound
from core.uow import UnitOfWork

from .models import Department, Doctor, Hospital, VisitType
from .views import DepartmentView, DoctorView, HospitalView, VisitTypeView


def find_hospital(uow: UnitOfWork, slug: str) -> Hospital:
    hospital = uow.session.scalar(select(Hospital).where(Hospital.slug == slug))
    if hospital is None:
        raise NotFound(
            f"no hospital {slug!r}",
            "Dạ, em không tìm thấy bệnh viện này. Anh/chị chọn lại bệnh viện giúp em ạ.",
            hospital=slug,
        )
    return hospital


def find_department(uow: UnitOfWork, hospital: Hospital, slug: str) -> Department:
    department = uow.session.scalar(
        select(Department).where(Department.hospital_id == hospital.id, Department.slug == slug)
    )
    if department is None:
        raise NotFound(
            f"{hospital.slug} has no department {slug!r}",
            f"Dạ, {hospital.name} chưa có khoa này để đặt lịch. Anh/chị chọn khoa khác giúp em ạ.",
            hospital=hospital.slug,
            department=slug,
        )
    return department


def list_hospitals(uow: UnitOfWork) -> list[HospitalView]:
    return [HospitalView.of(h) for h in uow.session.scalars(select(Hospital).order_by(Hospital.id))]


def get_hospital(uow: UnitOfWork, slug: str) -> HospitalView:
    return HospitalView.of(find_hospital(uow, slug))


def list_departments(uow: UnitOfWork, hospital_slug: str) -> list[DepartmentView]:
    hospital = find_hospital(uow, hospital_slug)
    return [DepartmentView.of(d) for d in hospital.departments]


def list_doctors(uow: UnitOfWork, hospital_slug: str, department_slug: str | None = None) -> list[DoctorView]:
    hospital = find_hospital(uow, hospital_slug)
    query = (
        select(Doctor, Department.slug)
        .join(Department, Department.id == Doctor.department_id)
        .where(Doctor.hospital_id == hospital.id, Doctor.active.is_(True))
        .order_by(Doctor.id)
    )
    if department_slug:
        query = query.where(Department.id == find_department(uow, hospital, department_slug).id)
    return [
        DoctorView(id=doctor.id, full_name=doctor.full_name, title=doctor.title, department=slug)
        for doctor, slug in uow.session.execute(query)
    ]


def list_visit_types(uow: UnitOfWork, hospital_slug: str) -> list[VisitTypeView]:
    hospital = find_hospital(uow, hospital_slug)
    rows = uow.session.scalars(select(VisitType).where(VisitType.hospital_id == hospital.id).order_by(VisitType.id))
    return [VisitTypeView.of(v) for v in rows]
