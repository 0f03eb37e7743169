"""The desk path of the record summary: the patient shows the 8-character desk code the bot gave them in Zalo,
the receptionist checks the CCCD card in person and enters both here; core/emr/record_access.py links the Zalo
user to the person (as the person, or as the guardian of a child under 16). Staff of a hospital link only
persons with a visit there. The answer shows masked identifiers only; every link and refusal is audited."""

from __future__ import annotations

from flask import render_template, request

from core.emr import record_access
from core.errors import DomainError
from core.identifiers import mask_identifier, validate_cccd
from henkham.web.errors import status_of

from . import console
from .access import audit, nav, requires, staff_uow

nav("record_links", "staff.record_links", "Liên kết hồ sơ", order=20)
RELATIONS = {record_access.SELF: "Chính người bệnh", record_access.GUARDIAN: "Người giám hộ của trẻ (dưới 16 tuổi)"}
# The refusals of core/emr, worded for the receptionist (the core's own words are for the patient in chat).
REFUSALS_VI = {
    "desk_code_unknown": "Mã liên kết không đúng, đã dùng hoặc đã hết hạn (30 phút). Nhờ người bệnh lấy mã mới "
    "trong Zalo.",
    "not_guardian": "Người giám hộ chỉ được liên kết với hồ sơ của trẻ dưới 16 tuổi. Người từ 16 tuổi tự liên kết "
    "bằng tài khoản Zalo của mình.",
    # One answer for "nobody has this CCCD" and "someone has, but never visited here": a desk must not learn
    # who has records at other hospitals of the province.
    "forbidden": "Không tìm thấy hồ sơ có số CCCD này tại bệnh viện.",
    "not_found": "Không tìm thấy hồ sơ có số CCCD này tại bệnh viện.",
    "invalid_input": "Số CCCD gồm 12 chữ số. Kiểm tra lại số trên thẻ.",
}


def _page(*, error: str = "", linked: record_access.Linked | None = None, cccd_masked: str = "", status: int = 200):
    relation = request.form.get("relation") if request.method == "POST" else record_access.SELF
    body = render_template(
        "console/record_links.html",
        error=error,
        linked=linked,
        cccd_masked=cccd_masked,
        relations=RELATIONS,
        relation=relation if relation in RELATIONS else record_access.SELF,
    )
    return body, status


@console.get("/record-links")
@requires("record_links")
def record_links():
    return _page()


@console.post("/record-links")
@requires("record_links")
def link_record():
    code = (request.form.get("code") or "")[:40]
    cccd = (request.form.get("cccd") or "")[:40]
    relation = request.form.get("relation") or record_access.SELF
    with staff_uow() as uow:
        try:
            person_id = record_access.person_by_cccd(uow, cccd)
            linked = record_access.link_at_desk(uow, code, person_id, relation=relation, staff=uow.actor)
        except DomainError as error:
            uow.rollback()
            audit(uow, "record_link_refused", "emr_person", "", error.code)
            uow.commit()
            status = 404 if error.code == "forbidden" else status_of(error)
            message = REFUSALS_VI.get(error.code, error.message_vi)
            return _page(error=message, status=status if status in (403, 404, 409, 422) else 409)
        audit(uow, "record_link", "emr_person", linked.person_id, f"link {linked.link_id} {linked.relation}")
        uow.commit()
    return _page(linked=linked, cccd_masked=mask_identifier(validate_cccd(cccd)))
