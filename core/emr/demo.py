"""Demo clinical records (clearly marked DEMO): a handful of visits at the demo hospitals of core/booking/demo,
written as the XML 130/4750 submission files a HIS exports and imported through the same service as every
other file (core.emr.importing.import_bytes).

One demo family manages three booking profiles (account ``demo``/``demo-family``), with the CCCD and the BHYT
card their visits carry, so the profiles link to the persons:

- DEMO Nguyễn Văn An (1985): an outpatient visit at the provincial general hospital (96001) with drugs, tests
  and results, and an older visit at the Năm Căn health centre (96003): one record across two hospitals;
- DEMO Trần Thị Bình (1958, his mother): an inpatient stay at 96001 with the clinical course (XML5), the
  discharge paper (XML7), the record summary (XML8) and a re-exam slip (XML14) whose date is ahead;
- DEMO Lê Minh Khang (2021, his son): a child's outpatient visit at the obstetrics-paediatrics hospital (96002).

Dates are counted from the first day of the current month (local time), so a second ``make run`` in the same
month imports nothing new (every visit unchanged) while the re-exam date always lies ahead; in a later month
the demo visits come back as corrected versions with their dates moved, as a HIS resending would. Identifiers
are fictional (province code 096, serial numbers 000101…) and every name and note says DEMO.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.booking import patients
from core.booking.models import Hospital
from core.emr.importing import import_bytes
from core.emr.writer import submission
from core.timeutil import local_today
from core.uow import Database

DEMO_PROVIDER = "demo"
DEMO_ACCOUNT = "demo-family"


@dataclass(frozen=True)
class DemoPerson:
    name: str
    born: dt.date
    sex: str  # "male" / "female"
    cccd: str
    card: str  # the 15-character BHYT card
    phone: str
    relation: str
    address: str = "Khóm 1, phường 5, tỉnh Cà Mau (địa chỉ DEMO)"
    blood_group: str = ""

    @property
    def sex_code(self) -> str:
        return "1" if self.sex == "male" else "2"

    @property
    def born_12(self) -> str:
        return self.born.strftime("%Y%m%d") + "0000"


AN = DemoPerson(
    "DEMO Nguyễn Văn An", dt.date(1985, 3, 12), "male", "096085000101", "GD4969608500101", "0900000101", "self", "O+"
)
BINH = DemoPerson(
    "DEMO Trần Thị Bình", dt.date(1958, 11, 2), "female", "096158000202", "HT3969615800202", "0900000202", "parent"
)
KHANG = DemoPerson(
    "DEMO Lê Minh Khang", dt.date(2021, 6, 1), "male", "096221000303", "TE1969622100303", "0900000101", "child"
)
PERSONS = (AN, BINH, KHANG)


def anchor(today: dt.date | None = None) -> dt.date:
    """The day every demo date is counted from: the first of the current month."""
    return (today or local_today()).replace(day=1)


def _at(day: dt.date, hhmm: str) -> str:
    return day.strftime("%Y%m%d") + hhmm.replace(":", "")


def _patient(person: DemoPerson, his_code: str, base: dt.date) -> dict[str, str]:
    return {
        "MA_BN": his_code,
        "HO_TEN": person.name,
        "SO_CCCD": person.cccd,
        "NGAY_SINH": person.born_12,
        "GIOI_TINH": person.sex_code,
        "NHOM_MAU": person.blood_group,
        "MA_QUOCTICH": "704",
        "MA_DANTOC": "01",
        "MA_NGHE_NGHIEP": "00000",
        "DIA_CHI": person.address,
        "MATINH_CU_TRU": "96",
        "DIEN_THOAI": person.phone,
        "MA_THE_BHYT": person.card,
        "MA_DKBD": "96001",
        "GT_THE_TU": f"{base.year}0101",
        "GT_THE_DEN": f"{base.year}1231",
    }


def _an_outpatient(base: dt.date) -> dict[str, Any]:
    """An at 96001: hypertension and hyperglycaemia; amlodipine and metformin; blood tests and an ECG."""
    day = base - dt.timedelta(days=20)
    doctor = "000101/CM-GPHN"
    key = "DEMO-96001-OP-AN"
    return {
        "XML1": [
            {
                "MA_LK": key,
                "STT": "1",
                **_patient(AN, "DEMO-BN-0101", base),
                "LY_DO_VV": "Đau đầu, chóng mặt 1 tuần (DEMO)",
                "CHAN_DOAN_VAO": "Theo dõi tăng huyết áp",
                "CHAN_DOAN_RV": "Tăng huyết áp vô căn (nguyên phát); Tăng đường huyết",
                "MA_BENH_CHINH": "I10",
                "MA_BENH_KT": "R73.9",
                "MA_DOITUONG_KCB": "1.1",
                "NGAY_VAO": _at(day, "07:40"),
                "NGAY_RA": _at(day, "10:15"),
                "SO_NGAY_DTRI": "0",
                "PP_DIEU_TRI": "Điều trị nội khoa, thay đổi lối sống",
                "KET_QUA_DTRI": "2",
                "MA_LOAI_RV": "1",
                "GHI_CHU": "Ăn nhạt, giảm tinh bột, đi bộ 30 phút mỗi ngày; đo huyết áp tại nhà (DEMO)",
                "MA_LOAI_KCB": "01",
                "MA_KHOA": "K04",
                "MA_CSKCB": "96001",
                "NGAY_TAI_KHAM": (day + dt.timedelta(days=30)).strftime("%Y%m%d"),
                "MA_HSBA": "DEMO-HSBA-0101",
                "CAN_NANG": "72.50",
            }
        ],
        "XML2": [
            _drug(
                key,
                1,
                "Amlodipin",
                "40.516",
                "5mg",
                "1 viên/lần * 1 lần/ngày * 30 ngày",
                "Uống sau ăn sáng",
                "30",
                day,
                doctor,
            ),
            _drug(
                key,
                2,
                "Metformin",
                "40.680",
                "500mg",
                "1 viên/lần * 2 lần/ngày * 30 ngày",
                "Uống sau ăn sáng và tối",
                "60",
                day,
                doctor,
            ),
        ],
        "XML3": [
            _service(key, 1, "02.1896", "Khám Tim mạch", "13", day, "07:45", "07:55", "", doctor),
            _service(key, 2, "23.0075.1494", "Định lượng Glucose [Máu]", "1", day, "08:00", "08:10", "09:00", doctor),
            _service(
                key,
                3,
                "23.0041.1506",
                "Định lượng Cholesterol toàn phần [Máu]",
                "1",
                day,
                "08:00",
                "08:10",
                "09:00",
                doctor,
            ),
            _service(key, 4, "21.0014.1778", "Điện tim thường", "3", day, "08:20", "08:25", "08:40", doctor),
        ],
        "XML4": [
            _result(key, 1, "23.0075.1494", "2075", "Glucose", "7.8", "mmol/L", "Tham chiếu: 3.9 - 6.4", "", day),
            _result(
                key,
                2,
                "23.0041.1506",
                "2045",
                "Cholesterol toàn phần",
                "5.1",
                "mmol/L",
                "Tham chiếu: 3.9 - 5.2",
                "",
                day,
            ),
            _result(
                key,
                3,
                "21.0014.1778",
                "",
                "Điện tim thường",
                "",
                "",
                "Nhịp xoang đều, tần số 78 lần/phút",
                "Điện tim bình thường",
                day,
                "08:40",
            ),
        ],
    }


def _binh_inpatient(base: dt.date) -> dict[str, Any]:
    """Bình at 96001: seven days in internal medicine for pneumonia; course, papers and a re-exam slip."""
    arrived, discharged = base - dt.timedelta(days=12), base - dt.timedelta(days=5)
    re_exam = base + dt.timedelta(days=40)
    doctor = "000102/CM-GPHN"
    key = "DEMO-96001-IP-BINH"
    identity = _patient(BINH, "DEMO-BN-0202", base)
    return {
        "XML1": [
            {
                "MA_LK": key,
                "STT": "2",
                **identity,
                "LY_DO_VV": "Sốt, ho đờm, khó thở 3 ngày (DEMO)",
                "LY_DO_VNT": "Viêm phổi, SpO2 92%",
                "CHAN_DOAN_VAO": "Viêm phổi",
                "CHAN_DOAN_RV": "Viêm phổi, không đặc hiệu; Tăng huyết áp vô căn (nguyên phát)",
                "MA_BENH_CHINH": "J18.9",
                "MA_BENH_KT": "I10",
                "MA_DOITUONG_KCB": "1.1",
                "NGAY_VAO": _at(arrived, "09:30"),
                "NGAY_VAO_NOI_TRU": _at(arrived, "10:10"),
                "NGAY_RA": _at(discharged, "09:00"),
                "SO_NGAY_DTRI": "8",
                "PP_DIEU_TRI": "Kháng sinh đường tĩnh mạch, thở oxy, điều trị hỗ trợ",
                "KET_QUA_DTRI": "1",
                "MA_LOAI_RV": "1",
                "GHI_CHU": "Uống đủ thuốc, tái khám đúng hẹn, đến ngay khi sốt lại hoặc khó thở (DEMO)",
                "MA_LOAI_KCB": "03",
                "MA_KHOA": "K03",
                "MA_CSKCB": "96001",
                "NGAY_TAI_KHAM": re_exam.strftime("%Y%m%d"),
                "MA_HSBA": "DEMO-HSBA-0202",
                "CAN_NANG": "54.00",
            }
        ],
        "XML2": [
            _drug(
                key,
                1,
                "Ceftriaxon",
                "40.259",
                "1g",
                "1 lọ/lần * 2 lần/ngày",
                "Tiêm tĩnh mạch chậm",
                "14",
                arrived,
                doctor,
                route="2.15",
            ),
            _drug(
                key,
                2,
                "Amoxicilin + Acid clavulanic",
                "40.147",
                "875mg + 125mg",
                "1 viên/lần * 2 lần/ngày * 7 ngày",
                "Uống sau ăn",
                "14",
                discharged,
                doctor,
            ),
        ],
        "XML3": [
            _service(
                key, 1, "18.0071.0028", "Chụp X-quang ngực thẳng", "2", arrived, "10:30", "10:40", "11:10", doctor
            ),
            _service(
                key,
                2,
                "22.0121.1370",
                "Tổng phân tích tế bào máu ngoại vi",
                "1",
                arrived,
                "10:20",
                "10:30",
                "11:30",
                doctor,
            ),
        ],
        "XML4": [
            _result(
                key,
                1,
                "18.0071.0028",
                "",
                "Chụp X-quang ngực thẳng",
                "",
                "",
                "Đám mờ thùy dưới phổi phải, bờ không rõ",
                "Hình ảnh viêm phổi thùy dưới phải",
                arrived,
                "11:10",
            ),
            _result(
                key,
                2,
                "22.0121.1370",
                "WBC",
                "Số lượng bạch cầu (WBC)",
                "14.2",
                "G/L",
                "Tham chiếu: 4 - 10",
                "",
                arrived,
                "11:30",
            ),
        ],
        "XML5": [
            _course(key, 1, "CSST<M98_T38.6_HA140/85_NT24> Sốt, ho đờm đục, ran nổ đáy phổi phải", arrived, "10:15"),
            _course(
                key,
                2,
                "CSST<M84_T37.4_HA130/80_NT20> Đỡ sốt, còn ho, ăn uống được",
                arrived + dt.timedelta(days=3),
                "08:00",
            ),
            _course(
                key,
                3,
                "CSST<M76_T36.8_HA125/80_NT18> Hết sốt, phổi giảm ran, đủ điều kiện ra viện",
                discharged,
                "08:00",
            ),
        ],
        "XML7": [
            {
                "MA_LK": key,
                "SO_LUU_TRU": "DEMO-LT-0202",
                "MA_YTE": "DEMO-BN-0202",
                "MA_KHOA_RV": "K03",
                "NGAY_VAO": _at(arrived, "09:30"),
                "NGAY_RA": _at(discharged, "09:00"),
                "CHAN_DOAN_RV": "Viêm phổi, không đặc hiệu (J18.9); Tăng huyết áp (I10)",
                "PP_DIEUTRI": "Kháng sinh, thở oxy, điều trị hỗ trợ",
                "GHI_CHU": "Giấy ra viện DEMO",
                "MA_TTDV": "DEMO-TTDV",
                "MA_BS": doctor,
                "TEN_BS": "BS.CKI Phạm Văn Dũng (DEMO)",
                "NGAY_CT": discharged.strftime("%Y%m%d"),
            }
        ],
        "XML8": [
            {
                "MA_LK": key,
                "MA_LOAI_KCB": "03",
                "NGAY_VAO": _at(arrived, "09:30"),
                "NGAY_RA": _at(discharged, "09:00"),
                "CHAN_DOAN_VAO": "Viêm phổi",
                "CHAN_DOAN_RV": "Viêm phổi, không đặc hiệu; Tăng huyết áp vô căn (nguyên phát)",
                "QT_BENHLY": "Sốt, ho đờm 3 ngày trước vào viện; khám thấy ran nổ đáy phổi phải (DEMO)",
                "TOMTAT_KQ": "X-quang: viêm phổi thùy dưới phải; bạch cầu 14.2 G/L",
                "PP_DIEUTRI": "Ceftriaxon tĩnh mạch 7 ngày, thở oxy 2 ngày, hạ sốt",
                "KET_QUA_DTRI": "1",
                "GHI_CHU": "Tóm tắt hồ sơ bệnh án DEMO",
                "MA_TTDV": "DEMO-TTDV",
                "NGAY_CT": discharged.strftime("%Y%m%d"),
            }
        ],
        "XML14": [
            {
                "MA_LK": key,
                "SO_GIAYHEN_KL": "DEMO-HEN-0202",
                "MA_CSKCB": "96001",
                "HO_TEN": BINH.name,
                "NGAY_SINH": BINH.born_12,
                "GIOI_TINH": BINH.sex_code,
                "DIA_CHI": BINH.address,
                "MA_THE_BHYT": BINH.card,
                "GT_THE_DEN": f"{base.year}1231",
                "NGAY_VAO": _at(arrived, "09:30"),
                "NGAY_VAO_NOI_TRU": _at(arrived, "10:10"),
                "NGAY_RA": _at(discharged, "09:00"),
                "NGAY_HEN_KL": _at(re_exam, "07:30"),
                "CHAN_DOAN_RV": "Viêm phổi, không đặc hiệu",
                "MA_BENH_CHINH": "J18.9",
                "MA_BENH_KT": "I10",
                "MA_DOITUONG_KCB": "1.1",
                "MA_BAC_SI": doctor,
                "MA_TTDV": "DEMO-TTDV",
                "NGAY_CT": discharged.strftime("%Y%m%d"),
            }
        ],
    }


def _khang_outpatient(base: dt.date) -> dict[str, Any]:
    """Khang (a child) at 96002: bronchiolitis, paracetamol syrup and salbutamol."""
    day = base - dt.timedelta(days=3)
    doctor = "000201/CM-GPHN"
    key = "DEMO-96002-OP-KHANG"
    return {
        "XML1": [
            {
                "MA_LK": key,
                "STT": "1",
                **{**_patient(KHANG, "DEMO-BN-0303", base), "MA_DKBD": "96002"},
                "LY_DO_VV": "Ho, sổ mũi, sốt nhẹ 2 ngày (DEMO)",
                "CHAN_DOAN_VAO": "Viêm tiểu phế quản",
                "CHAN_DOAN_RV": "Viêm tiểu phế quản cấp, không đặc hiệu",
                "MA_BENH_CHINH": "J21.9",
                "MA_DOITUONG_KCB": "1.1",
                "NGAY_VAO": _at(day, "08:05"),
                "NGAY_RA": _at(day, "09:20"),
                "SO_NGAY_DTRI": "0",
                "PP_DIEU_TRI": "Điều trị ngoại trú, hạ sốt, long đờm",
                "KET_QUA_DTRI": "2",
                "MA_LOAI_RV": "1",
                "GHI_CHU": "Cho bé uống nhiều nước, nhỏ mũi nước muối sinh lý; khám lại nếu thở nhanh (DEMO)",
                "MA_LOAI_KCB": "01",
                "MA_KHOA": "K26",
                "MA_CSKCB": "96002",
                "MA_HSBA": "DEMO-HSBA-0303",
                "CAN_NANG": "16.50",
            }
        ],
        "XML2": [
            _drug(
                key,
                1,
                "Paracetamol",
                "40.48",
                "250mg/5ml",
                "5ml/lần khi sốt trên 38.5 độ, cách nhau 4-6 giờ",
                "Uống",
                "1",
                day,
                doctor,
                unit="Chai",
            ),
            _drug(
                key,
                2,
                "Salbutamol",
                "40.983",
                "2mg/5ml",
                "2.5ml/lần * 3 lần/ngày * 5 ngày",
                "Uống sau ăn",
                "1",
                day,
                doctor,
                unit="Chai",
            ),
        ],
        "XML3": [
            _service(key, 1, "02.1901", "Khám Nhi", "13", day, "08:10", "08:20", "", doctor),
        ],
    }


def _an_health_centre(base: dt.date) -> dict[str, Any]:
    """An at the Năm Căn health centre (96003) half a year earlier: the same person at a second hospital."""
    day = base - dt.timedelta(days=200)
    doctor = "000301/CM-GPHN"
    key = "DEMO-96003-OP-AN"
    return {
        "XML1": [
            {
                "MA_LK": key,
                "STT": "1",
                **{**_patient(AN, "DEMO-NC-7701", base), "MA_DKBD": "96003"},
                "LY_DO_VV": "Đau họng, sốt (DEMO)",
                "CHAN_DOAN_VAO": "Viêm họng cấp",
                "CHAN_DOAN_RV": "Viêm họng cấp, không đặc hiệu",
                "MA_BENH_CHINH": "J02.9",
                "MA_DOITUONG_KCB": "1.1",
                "NGAY_VAO": _at(day, "14:00"),
                "NGAY_RA": _at(day, "14:40"),
                "SO_NGAY_DTRI": "0",
                "PP_DIEU_TRI": "Điều trị ngoại trú",
                "KET_QUA_DTRI": "1",
                "MA_LOAI_RV": "1",
                "GHI_CHU": "Súc họng nước muối ấm (DEMO)",
                "MA_LOAI_KCB": "01",
                "MA_KHOA": "K01",
                "MA_CSKCB": "96003",
                "MA_HSBA": "DEMO-HSBA-7701",
            }
        ],
        "XML2": [
            _drug(
                key,
                1,
                "Amoxicilin",
                "40.146",
                "500mg",
                "1 viên/lần * 3 lần/ngày * 5 ngày",
                "Uống sau ăn",
                "15",
                day,
                doctor,
            ),
        ],
    }


def _drug(
    key: str,
    n: int,
    name: str,
    code: str,
    strength: str,
    dose: str,
    how: str,
    quantity: str,
    day: dt.date,
    doctor: str,
    *,
    route: str = "1.01",
    unit: str = "Viên",
) -> dict[str, str]:
    return {
        "MA_LK": key,
        "STT": str(n),
        "MA_THUOC": code,
        "MA_NHOM": "4",
        "TEN_THUOC": name,
        "DON_VI_TINH": unit,
        "HAM_LUONG": strength,
        "DUONG_DUNG": route,
        "LIEU_DUNG": dose,
        "CACH_DUNG": how,
        "SO_DANG_KY": "VD-DEMO-0000-00",
        "PHAM_VI": "1",
        "SO_LUONG": quantity,
        "MA_BAC_SI": doctor,
        "NGAY_YL": _at(day, "09:50"),
    }


def _service(
    key: str, n: int, code: str, name: str, group: str, day: dt.date, ordered: str, done: str, result: str, doctor: str
) -> dict[str, str]:
    return {
        "MA_LK": key,
        "STT": str(n),
        "MA_DICH_VU": code,
        "MA_NHOM": group,
        "TEN_DICH_VU": name,
        "DON_VI_TINH": "Lần",
        "PHAM_VI": "1",
        "SO_LUONG": "1",
        "MA_BAC_SI": doctor,
        "NGAY_YL": _at(day, ordered),
        "NGAY_TH_YL": _at(day, done),
        "NGAY_KQ": _at(day, result) if result else "",
    }


def _result(
    key: str,
    n: int,
    service: str,
    indicator: str,
    name: str,
    value: str,
    unit: str,
    description: str,
    conclusion: str,
    day: dt.date,
    at: str = "09:00",
) -> dict[str, str]:
    return {
        "MA_LK": key,
        "STT": str(n),
        "MA_DICH_VU": service,
        "MA_CHI_SO": indicator,
        "TEN_CHI_SO": name,
        "GIA_TRI": value,
        "DON_VI_DO": unit,
        "MO_TA": description,
        "KET_LUAN": conclusion,
        "NGAY_KQ": _at(day, at),
        "MA_BS_DOC_KQ": "000199/CM-GPHN",
    }


def _course(key: str, n: int, note: str, day: dt.date, at: str) -> dict[str, str]:
    return {
        "MA_LK": key,
        "STT": str(n),
        "DIEN_BIEN_LS": note,
        "THOI_DIEM_DBLS": _at(day, at),
        "NGUOI_THUC_HIEN": "000102/CM-GPHN",
    }


def demo_files(today: dt.date | None = None) -> dict[str, bytes]:
    """facility code -> the demo submission file of that demo hospital."""
    base = anchor(today)
    return {
        "96001": submission("96001", [_an_outpatient(base), _binh_inpatient(base)], made_on=base),
        "96002": submission("96002", [_khang_outpatient(base)], made_on=base),
        "96003": submission("96003", [_an_health_centre(base)], made_on=base),
    }


# --- loading ----------------------------------------------------------------------------------------------------
def load_demo_records(db: Database, *, today: dt.date | None = None) -> dict[str, int]:
    """The demo family's booking profiles, then the demo visits of every demo hospital present, imported. Safe
    to re-run: profiles are found again by name and birth date, visits come back unchanged. Counts of visits by
    outcome, and ``profiles_created``."""
    created = _demo_profiles(db)
    with db.reader() as uow:
        demo_hospitals = dict(
            uow.session.execute(select(Hospital.facility_code, Hospital.id).where(Hospital.is_demo.is_(True))).all()
        )
    totals = {"imported": 0, "updated": 0, "unchanged": 0, "refused": 0, "profiles_created": created}
    for code, data in demo_files(today).items():
        hospital_id = demo_hospitals.get(code)
        if hospital_id is None:  # never write demo records into a real hospital that took a demo code
            continue
        report = import_bytes(
            db, data, channel="demo", filename=f"demo-{code}.xml", hospital_id=hospital_id, actor="demo"
        )
        for outcome in ("imported", "updated", "unchanged", "refused"):
            totals[outcome] += int(getattr(report, outcome, 0) or 0)
    return totals


def _demo_profiles(db: Database) -> int:
    created = 0
    with db.uow() as uow:
        account_id = patients.get_or_create_account(uow, DEMO_PROVIDER, DEMO_ACCOUNT)
    for person in PERSONS:
        with db.uow() as uow:
            _, new = patients.register_patient(
                uow,
                account_id=account_id,
                full_name=person.name,
                date_of_birth=person.born,
                sex=person.sex,
                phone=person.phone,
                relation=person.relation,
                cccd=person.cccd,
                insurance_number=person.card,
                address=person.address,
            )
            created += new
    return created
