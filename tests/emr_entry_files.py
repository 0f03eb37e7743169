"""Small XML 130 submission files for the tests of the EMR entry points (CLI, API, inbox), built with the same
writer as the demo records (core.emr.writer.submission): one outpatient visit per person, and a visit the
importer must refuse (its XML2 names another MA_LK)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.emr.writer import submission

DAY = dt.date(2026, 11, 2)


def visit(
    facility_code: str,
    visit_key: str,
    *,
    name: str = "Nguyễn Thị Thử",
    cccd: str = "096190000111",
    born: str = "199001150000",
    sex: str = "2",
    diagnosis: str = "J06.9",
    advice: str = "Uống nhiều nước",
) -> dict[str, Any]:
    day = DAY.strftime("%Y%m%d")
    return {
        "XML1": [
            {
                "MA_LK": visit_key,
                "STT": "1",
                "MA_BN": f"BN-{visit_key}",
                "HO_TEN": name,
                "SO_CCCD": cccd,
                "NGAY_SINH": born,
                "GIOI_TINH": sex,
                "DIA_CHI": "1 Đường Thử",
                "CHAN_DOAN_RV": "Viêm đường hô hấp trên cấp",
                "MA_BENH_CHINH": diagnosis,
                "MA_DOITUONG_KCB": "1.1",
                "NGAY_VAO": day + "0800",
                "NGAY_RA": day + "0930",
                "KET_QUA_DTRI": "2",
                "MA_LOAI_RV": "1",
                "GHI_CHU": advice,
                "MA_LOAI_KCB": "01",
                "MA_KHOA": "K01",
                "MA_CSKCB": facility_code,
            }
        ],
        "XML2": [
            {
                "MA_LK": visit_key,
                "STT": "1",
                "MA_THUOC": "40.48",
                "MA_NHOM": "4",
                "TEN_THUOC": "Paracetamol",
                "DON_VI_TINH": "Viên",
                "HAM_LUONG": "500mg",
                "DUONG_DUNG": "1.01",
                "LIEU_DUNG": "1 viên/lần * 3 lần/ngày * 3 ngày",
                "CACH_DUNG": "Uống sau ăn",
                "SO_LUONG": "9",
                "MA_BAC_SI": "000001/CM-GPHN",
                "NGAY_YL": day + "0900",
            }
        ],
    }


def refused_visit(facility_code: str, visit_key: str) -> dict[str, Any]:
    """A visit whose XML2 rows name another MA_LK than its XML1: the importer refuses it (table XML2, MA_LK)."""
    refused = visit(facility_code, visit_key, name="Phạm Văn Lỗi", cccd="096080000999", born="198002020000", sex="1")
    refused["XML2"] = [{**row, "MA_LK": visit_key + "-WRONG"} for row in refused["XML2"]]
    return refused


def file_of(facility_code: str, *visits: dict[str, Any]) -> bytes:
    return submission(facility_code, list(visits), made_on=DAY)


def one_visit_file(facility_code: str, visit_key: str = "LK-0001", **identity: str) -> bytes:
    return file_of(facility_code, visit(facility_code, visit_key, **identity))
