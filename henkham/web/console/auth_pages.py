"""Logging in and out, the home page, and a province admin's choice of hospital."""

from __future__ import annotations

import time

from flask import current_app, redirect, render_template, request, session, url_for
from flask_login import login_user
from sqlalchemy import select

from core.booking.models import Hospital
from core.staff import actions
from core.staff.accounts import MAX_PASSWORD, authenticate, refused_login_target
from core.staff.roles import PROVINCE_ADMIN

from . import console
from .access import LOGGED_IN, StaffUser, _safe_next, current_staff, end_session, requires

NOTICES = {"idle": "Phiên làm việc đã hết hạn do không thao tác. Vui lòng đăng nhập lại.", "out": "Bạn đã đăng xuất."}


@console.route("/login", methods=["GET", "POST"])
def login():
    notice = NOTICES.get(session.pop("notice", ""), "")
    if request.method == "GET":
        return render_template("console/login.html", notice=notice, error="", username="")
    username = (request.form.get("username") or "")[:60]
    password = (request.form.get("password") or "")[: MAX_PASSWORD + 1]
    db = current_app.extensions["henkham.db"]
    with db.uow() as uow:
        view = authenticate(uow, username, password) if username and password else None
    if view is None:
        with db.uow() as uow:
            actions.record_action(uow, None, None, "login_refused", "username", refused_login_target(uow, username))
            uow.commit()
        error = "Tên đăng nhập hoặc mật khẩu không đúng."
        return render_template("console/login.html", notice="", error=error, username=username), 401
    session.clear()  # nothing of an earlier session survives a login
    login_user(StaffUser(view))
    session.permanent = True
    session["staff_id"] = view.id
    session["seen"] = session["login_at"] = time.time()
    with db.uow() as uow:
        actions.record_action(uow, view.id, view.hospital_id, "login", "staff", view.id)
        uow.commit()
    target = _safe_next(request.args.get("next") or "") or url_for("staff.home")
    return redirect(target)


@console.post("/logout")
@requires(LOGGED_IN)
def logout():
    end_session("logout")
    session["notice"] = "out"
    return redirect(url_for("staff.login"))


@console.get("/")
@requires(LOGGED_IN)
def home():
    return render_template("console/home.html")


@console.post("/hospital")
@requires(LOGGED_IN)
def choose_hospital():
    """A province admin works in one hospital at a time (the others keep their own)."""
    staff = current_staff()
    if staff.role == PROVINCE_ADMIN:
        chosen = request.form.get("hospital_id", "")
        with current_app.extensions["henkham.db"].reader() as uow:
            found = (
                uow.session.scalar(select(Hospital.id).where(Hospital.id == int(chosen)))
                if chosen.isdigit() and len(chosen) < 10
                else None
            )
        if found is not None:
            session["hospital_id"] = found
    target = _safe_next(request.form.get("next") or "") or url_for("staff.home")
    return redirect(target)
