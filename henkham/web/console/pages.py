"""What every console page shares: the template context, and errors as HTML pages (never JSON, never a 500)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, render_template, session
from sqlalchemy import select

from core.booking.models import Hospital
from core.staff.roles import PROVINCE_ADMIN, ROLE_NAMES_VI

TITLES = {
    400: "Yêu cầu chưa hợp lệ",
    401: "Cần đăng nhập",
    403: "Không có quyền truy cập",
    404: "Không tìm thấy",
    405: "Thao tác không được hỗ trợ",
    409: "Không thực hiện được",
    413: "Dữ liệu quá lớn",
    415: "Dữ liệu không hợp lệ",
    422: "Thông tin chưa hợp lệ",
    429: "Thao tác quá nhanh",
}
MESSAGES = {
    400: "Biểu mẫu không hợp lệ hoặc phiên làm việc đã đổi. Vui lòng tải lại trang rồi thử lại.",
    403: "Tài khoản của bạn không có quyền xem trang này hoặc dữ liệu này thuộc bệnh viện khác.",
    404: "Trang hoặc dữ liệu bạn tìm không có.",
    429: "Bạn đã thử quá nhiều lần. Vui lòng đợi ít phút rồi thử lại.",
}


def page_context() -> dict[str, Any]:
    """Who is logged in, the hospital in force, and the menu (for base.html)."""
    from . import access

    staff = getattr(g, "staff", None)
    if staff is None:
        return {"staff": None, "nav_items": [], "role_name": ""}
    hospitals: list[tuple[int, str]] = []
    in_force = access.hospital_id()  # before the reader below: it may open its own
    with current_app.extensions["henkham.db"].reader() as uow:
        if staff.role == PROVINCE_ADMIN:
            hospitals = [
                tuple(row) for row in uow.session.execute(select(Hospital.id, Hospital.name).order_by(Hospital.id))
            ]
        name = uow.session.scalar(select(Hospital.name).where(Hospital.id == in_force)) or ""
    return {
        "staff": staff,
        "role_name": ROLE_NAMES_VI.get(staff.role, staff.role),
        "nav_items": access.nav_for(staff.role),
        "hospital_name": name,
        "hospital_in_force": in_force,
        "hospitals": hospitals,
        "notice": session.pop("notice", None),
    }


def error_page(status: int, message_vi: str | None = None, headers: dict[str, str] | None = None) -> Any:
    """The HTML page of an error under /staff."""
    title = TITLES.get(status, "Không thực hiện được" if status < 500 else "Hệ thống đang gặp sự cố")
    message = MESSAGES.get(status) or message_vi or "Vui lòng thử lại."
    if status >= 500:
        message = "Hệ thống đang gặp sự cố. Vui lòng thử lại sau ít phút."
    body = render_template("console/error.html", status=status, title=title, message=message)
    return body, status, headers or {}
