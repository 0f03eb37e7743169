"""XML 130/4750 submission files written the way real HIS software writes them (shared/xml130.md).

A visit is a ``Visit`` spec (sensible defaults: the outpatient of ``outpatient()``, the inpatient stay of
``inpatient()``, the child of ``child()``); ``submission_bytes(visits)`` renders the GIAMDINHHS file, and
``gateway_base64(visits)`` the single base64 string the BHXH gateway takes (fileHSBase64). Each table is written
as a .NET HIS writes it: UTF-8 BOM inside the payload, an XML declaration, CRLF and two-space indent, CDATA on
free text, every tag of the table in the official order, ``<TAG />`` for an empty value. ``Style`` turns on the
traps one by one (NFD text, 76-character base64 lines with CRLF, 14-character dates, stray spaces in values and
lists, no declaration...). Every value of a table can be overridden by its tag (``Visit.xml1={...}``), a table
replaced by raw bytes (``Visit.payloads``) or its NOIDUNGFILE text by anything (``Visit.raw``).

Used by the parser, importer, re-exam, bench and API tests: keep it backwards compatible.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from xml.sax.saxutils import escape

BOM = b"\xef\xbb\xbf"


def _tags(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Every tag of each table, in the official order (xml130.md §4).
XML1_TAGS = _tags(
    "MA_LK STT MA_BN HO_TEN SO_CCCD NGAY_SINH GIOI_TINH NHOM_MAU MA_QUOCTICH MA_DANTOC MA_NGHE_NGHIEP DIA_CHI "
    "MATINH_CU_TRU MAHUYEN_CU_TRU MAXA_CU_TRU DIEN_THOAI MA_THE_BHYT MA_DKBD GT_THE_TU GT_THE_DEN NGAY_MIEN_CCT "
    "LY_DO_VV LY_DO_VNT MA_LY_DO_VNT CHAN_DOAN_VAO CHAN_DOAN_RV MA_BENH_CHINH MA_BENH_KT MA_BENH_YHCT MA_PTTT_QT "
    "MA_DOITUONG_KCB MA_NOI_DI MA_NOI_DEN MA_TAI_NAN NGAY_VAO NGAY_VAO_NOI_TRU NGAY_RA GIAY_CHUYEN_TUYEN "
    "SO_NGAY_DTRI PP_DIEU_TRI KET_QUA_DTRI MA_LOAI_RV GHI_CHU NGAY_TTOAN T_THUOC T_VTYT T_TONGCHI_BV T_TONGCHI_BH "
    "T_BNTT T_BNCCT T_BHTT T_NGUONKHAC T_BHTT_GDV NAM_QT THANG_QT MA_LOAI_KCB MA_KHOA MA_CSKCB MA_KHUVUC CAN_NANG "
    "CAN_NANG_CON NAM_NAM_LIEN_TUC NGAY_TAI_KHAM MA_HSBA MA_TTDV DU_PHONG"
)
XML2_TAGS = _tags(
    "MA_LK STT MA_THUOC MA_PP_CHEBIEN MA_CSKCB_THUOC MA_NHOM TEN_THUOC DON_VI_TINH HAM_LUONG DUONG_DUNG "
    "DANG_BAO_CHE LIEU_DUNG CACH_DUNG SO_DANG_KY TT_THAU PHAM_VI TYLE_TT_BH SO_LUONG DON_GIA THANH_TIEN_BV "
    "THANH_TIEN_BH T_NGUONKHAC_NSNN T_NGUONKHAC_VTNN T_NGUONKHAC_VTTN T_NGUONKHAC_CL T_NGUONKHAC MUC_HUONG T_BNTT "
    "T_BNCCT T_BHTT MA_KHOA MA_BAC_SI MA_DICH_VU NGAY_YL NGAY_TH_YL MA_PTTT NGUON_CTRA VET_THUONG_TP DU_PHONG"
)
XML3_TAGS = _tags(
    "MA_LK STT MA_DICH_VU MA_PTTT_QT MA_VAT_TU MA_NHOM GOI_VTYT TEN_VAT_TU TEN_DICH_VU MA_XANG_DAU DON_VI_TINH "
    "PHAM_VI SO_LUONG DON_GIA_BV DON_GIA_BH TT_THAU TYLE_TT_DV TYLE_TT_BH THANH_TIEN_BV THANH_TIEN_BH T_TRANTT "
    "MUC_HUONG T_NGUONKHAC_NSNN T_NGUONKHAC_VTNN T_NGUONKHAC_VTTN T_NGUONKHAC_CL T_NGUONKHAC T_BNTT T_BNCCT T_BHTT "
    "MA_KHOA MA_GIUONG MA_BAC_SI NGUOI_THUC_HIEN MA_BENH MA_BENH_YHCT NGAY_YL NGAY_TH_YL NGAY_KQ MA_PTTT "
    "VET_THUONG_TP PP_VO_CAM VI_TRI_TH_DVKT MA_MAY MA_HIEU_SP TAI_SU_DUNG DU_PHONG"
)
XML4_TAGS = _tags(
    "MA_LK STT MA_DICH_VU MA_CHI_SO TEN_CHI_SO GIA_TRI DON_VI_DO MO_TA KET_LUAN NGAY_KQ MA_BS_DOC_KQ DU_PHONG"
)
XML5_TAGS = _tags("MA_LK STT DIEN_BIEN_LS GIAI_DOAN_BENH HOI_CHAN PHAU_THUAT THOI_DIEM_DBLS NGUOI_THUC_HIEN DU_PHONG")
XML7_TAGS = _tags(
    "MA_LK SO_LUU_TRU MA_YTE MA_KHOA_RV NGAY_VAO NGAY_RA MA_DINH_CHI_THAI NGUYENNHAN_DINHCHI THOIGIAN_DINHCHI "
    "TUOI_THAI CHAN_DOAN_RV PP_DIEUTRI GHI_CHU MA_TTDV MA_BS TEN_BS NGAY_CT MA_CHA MA_ME MA_THE_TAM HO_TEN_CHA "
    "HO_TEN_ME SO_NGAY_NGHI NGOAITRU_TUNGAY NGOAITRU_DENNGAY DU_PHONG"
)
XML8_TAGS = _tags(
    "MA_LK MA_LOAI_KCB HO_TEN_CHA HO_TEN_ME NGUOI_GIAM_HO DON_VI NGAY_VAO NGAY_RA CHAN_DOAN_VAO CHAN_DOAN_RV "
    "QT_BENHLY TOMTAT_KQ PP_DIEUTRI NGAY_SINHCON NGAY_CONCHET SO_CONCHET KET_QUA_DTRI GHI_CHU MA_TTDV NGAY_CT "
    "MA_THE_TAM DU_PHONG"
)
XML13_TAGS = _tags(
    "MA_LK SO_HOSO SO_CHUYENTUYEN GIAY_CHUYEN_TUYEN MA_CSKCB MA_NOI_DI MA_NOI_DEN HO_TEN NGAY_SINH GIOI_TINH "
    "MA_QUOCTICH MA_DANTOC MA_NGHE_NGHIEP DIA_CHI MA_THE_BHYT GT_THE_DEN NGAY_VAO NGAY_VAO_NOI_TRU NGAY_RA "
    "DAU_HIEU_LS CHAN_DOAN_RV QT_BENHLY TOMTAT_KQ PP_DIEUTRI MA_BENH_CHINH MA_BENH_KT MA_BENH_YHCT TEN_DICH_VU "
    "TEN_THUOC PP_DIEU_TRI MA_LOAI_RV MA_LYDO_CT HUONG_DIEU_TRI PHUONGTIEN_VC HOTEN_NGUOI_HT CHUCDANH_NGUOI_HT "
    "MA_BAC_SI MA_TTDV DU_PHONG"
)
# QĐ 3176 renames in XML13: MA_NOI_DI -> MA_CSKCB_DI, MA_NOI_DEN -> MA_CSKCB_DEN, PP_DIEU_TRI -> TINH_TRANG_CT.
XML13_TAGS_3176 = [
    {"MA_NOI_DI": "MA_CSKCB_DI", "MA_NOI_DEN": "MA_CSKCB_DEN", "PP_DIEU_TRI": "TINH_TRANG_CT"}.get(tag, tag)
    for tag in XML13_TAGS
    if tag not in ("TEN_DICH_VU", "TEN_THUOC")
]
XML14_TAGS = _tags(
    "MA_LK SO_GIAYHEN_KL MA_CSKCB HO_TEN NGAY_SINH GIOI_TINH DIA_CHI MA_THE_BHYT GT_THE_DEN NGAY_VAO "
    "NGAY_VAO_NOI_TRU NGAY_RA NGAY_HEN_KL CHAN_DOAN_RV MA_BENH_CHINH MA_BENH_KT MA_BENH_YHCT MA_DOITUONG_KCB "
    "MA_BAC_SI MA_TTDV NGAY_CT DU_PHONG"
)

ROOTS = {
    "XML1": ("TONG_HOP", None, None),
    "XML2": ("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
    "XML3": ("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
    "XML4": ("CHITIEU_CHITIET_DICHVUCANLAMSANG", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
    "XML5": ("CHITIEU_CHITIET_DIENBIENLAMSANG", "DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH"),
    "XML7": ("CHI_TIEU_DU_LIEU_GIAY_RA_VIEN", None, None),
    "XML8": ("CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN", None, None),
    "XML13": ("CHI_TIEU_GIAYCHUYENTUYEN", None, None),
    "XML14": ("CHI_TIEU_GIAYHEN_KHAMLAI", None, None),
}
TAGS = {
    "XML1": XML1_TAGS,
    "XML2": XML2_TAGS,
    "XML3": XML3_TAGS,
    "XML4": XML4_TAGS,
    "XML5": XML5_TAGS,
    "XML7": XML7_TAGS,
    "XML8": XML8_TAGS,
    "XML13": XML13_TAGS,
    "XML14": XML14_TAGS,
}
# Free-text fields real HIS wrap in CDATA (xml130.md §1, S5).
CDATA_TAGS = frozenset(
    _tags(
        "HO_TEN DIA_CHI LY_DO_VV LY_DO_VNT CHAN_DOAN_VAO CHAN_DOAN_RV GHI_CHU TEN_THUOC HAM_LUONG DUONG_DUNG "
        "DANG_BAO_CHE LIEU_DUNG CACH_DUNG TEN_CHI_SO GIA_TRI TEN_DICH_VU TEN_VAT_TU MO_TA KET_LUAN DIEN_BIEN_LS "
        "GIAI_DOAN_BENH HOI_CHAN PHAU_THUAT QT_BENHLY TOMTAT_KQ PP_DIEU_TRI PP_DIEUTRI DAU_HIEU_LS HUONG_DIEU_TRI "
        "TINH_TRANG_CT HO_TEN_CHA HO_TEN_ME NGUOI_GIAM_HO TEN_BS"
    )
)
LIST_TAGS = frozenset(
    _tags(
        "MA_BENH_KT MA_BENH_YHCT MA_KHOA MA_BAC_SI NGUOI_THUC_HIEN MA_THE_BHYT MA_DKBD GT_THE_TU GT_THE_DEN "
        "NGAY_TAI_KHAM MA_GIUONG"
    )
)
_INSTANT = re.compile(r"^\d{12}$")
_INSTANT_TAGS = frozenset(
    _tags("NGAY_VAO NGAY_VAO_NOI_TRU NGAY_RA NGAY_YL NGAY_TH_YL NGAY_KQ THOI_DIEM_DBLS NGAY_TTOAN NGAY_HEN_KL")
)


@dataclass(frozen=True)
class Style:
    """How the HIS writes the file. The defaults are a typical .NET HIS; each flag is one trap of xml130.md §1."""

    bom_on_file: bool = True
    bom_in_payload: bool = True  # payload base64 starts 77u/PD94
    declaration: bool = True  # <?xml ...?> on each inner table
    cdata: bool = True  # free text in CDATA
    xmlns: bool = True  # xmlns:xsi / xmlns:xsd on GIAMDINHHS (QĐ 4750)
    wrap: int | None = None  # base64 lines of this many characters (76: MIME)
    line_end: str = "\r\n"  # between wrapped base64 lines
    nfd: bool = False  # Vietnamese text decomposed (NFD)
    seconds: bool = False  # 14-character yyyyMMddHHmmss instants
    stray_spaces: bool = False  # " value ", " a ; b ;" lists with blanks and empty items
    empty: str = "short"  # "short" <TAG />, "long" <TAG></TAG>, "omit" (no tag at all)
    indent: str = "  "
    newline: str = "\r\n"
    qd3176: bool = False  # XML13 with the QĐ 3176 names, NGAY_HEN_KL in 8 characters


MESSY = Style(
    wrap=76,
    nfd=True,
    seconds=True,
    stray_spaces=True,
    empty="omit",
    declaration=False,
    newline="\n",
)


@dataclass
class Drug:
    """One XML2 row."""

    name: str = "Paracetamol"
    ingredient_code: str = "40.30"
    strength: str = "500mg"
    route: str = "1.01"
    form: str = "Viên nén"
    dose: str = "1 viên/lần * 2 lần/ngày * 5 ngày [2 viên/ngày]"
    instructions: str = "Uống sau ăn"
    quantity: str = "10"
    unit: str = "Viên"
    price: str = "500"
    doctor: str = "000123/HCM-CCHN"
    ordered_at: str = "202611020815"
    registration_number: str = "VD-21136-14"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Lab:
    """One XML4 row (a result line, or an imaging report when it has description/conclusion)."""

    name: str = "Glucose"
    value: str = "5.2"
    unit: str = "mmol/L"
    reference: str = "3.9 - 6.4"  # written into MO_TA the way labs do
    indicator_code: str = ""
    conclusion: str = ""
    result_at: str = "202611020900"
    reader: str = "000456/HCM-CCHN"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Exam:
    """One XML3 row, with its XML4 results (joined by MA_DICH_VU)."""

    code: str = "01.0001.1778"
    name: str = "Khám Nội"
    group: str = "13"
    quantity: str = "1"
    unit: str = "Lần"
    price: str = "38700.00"
    department: str = "K02"
    doctor: str = "000123/HCM-CCHN"
    ordered_at: str = "202611020745"
    performed_at: str = "202611020750"
    result_at: str = ""
    results: list[Lab] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Note:
    """One XML5 row."""

    text: str = "Bệnh nhân tỉnh, tiếp xúc tốt. CSST<M80_T37_HA120/70_NT18>"
    stage: str = ""
    consultation: str = ""
    surgery: str = ""
    at: str = "202611030800"
    by: str = "000123/HCM-CCHN"


@dataclass
class Visit:
    """One HOSO. Tables XML7/8/13/14 are written when their dict is not None (values by tag, over the defaults
    derived from the visit)."""

    ma_lk: str = "LK0001"
    facility_code: str = "79001"
    patient_code: str = "BN000001"
    name: str = "Nguyễn Văn An"
    cccd: str = "079085012345"
    birth: str = "198503140000"
    sex: str = "1"
    blood_group: str = "O+"
    address: str = "12 Lê Lợi, Phường Bến Thành, Quận 1, TP Hồ Chí Minh"
    phone: str = "0912345678"
    cards: str = "DN4797912345678"
    card_from: str = "20260101"
    card_to: str = "20261231"
    care_type: str = "01"  # MA_LOAI_KCB
    coverage: str = "1.1"  # MA_DOITUONG_KCB
    reason: str = "Sốt, ho 3 ngày"
    admission_diagnosis: str = "Viêm họng"
    discharge_diagnosis: str = "J06.9 - Viêm họng cấp; E11.9 - Đái tháo đường type 2"
    principal: str = "J06.9"
    secondary: str = "E11.9"
    yhct: str = ""
    arrived: str = "202611020730"
    admitted: str = ""
    discharged: str = "202611021030"
    treatment: str = "Điều trị nội khoa"
    outcome: str = "1"
    discharge_type: str = "1"
    advice: str = "Uống thuốc đúng giờ, tái khám sau 1 tuần [nếu sốt cao]"
    departments: str = "K02"
    record_number: str = "HS2026-0001"
    re_exam_dates: str = "20261109"
    days: str = "0"
    drugs: list[Drug] = field(default_factory=list)
    exams: list[Exam] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    xml1: dict[str, str] = field(default_factory=dict)  # overrides by tag
    xml7: dict[str, str] | None = None
    xml8: dict[str, str] | None = None
    xml13: dict[str, str] | None = None
    xml14: dict[str, str] | None = None
    payloads: dict[str, bytes] = field(default_factory=dict)  # LOAIHOSO -> the inner document's bytes as is
    raw: dict[str, str] = field(default_factory=dict)  # LOAIHOSO -> the NOIDUNGFILE text as is
    extra_tables: list[str] = field(default_factory=list)  # other LOAIHOSO sent with a small payload
    omit: set[str] = field(default_factory=set)  # tables not sent

    def with_(self, **changes: object) -> Visit:
        return replace(self, **changes)


def outpatient(**changes: object) -> Visit:
    """An outpatient visit with two drugs, an exam, a blood count (three lines), a glucose test and a chest
    X-ray report."""
    visit = Visit(
        drugs=[
            Drug(),
            Drug(
                name="Amoxicilin",
                ingredient_code="40.94",
                strength="500mg",
                dose="1 viên/lần * 3 lần/ngày * 7 ngày [3 viên/ngày]",
                quantity="21",
                price="1200.50",
                registration_number="VD-25210-16",
            ),
        ],
        exams=[
            Exam(),
            Exam(
                code="22.0120.1370",
                name="Tổng phân tích tế bào máu ngoại vi",
                group="1",
                price="46200",
                result_at="202611020900",
                results=[
                    Lab(name="Số lượng bạch cầu (WBC)", value="12.5", unit="G/L", reference="4 - 10"),
                    Lab(name="Số lượng hồng cầu (RBC)", value="4.6", unit="T/L", reference="3.8 - 5.5"),
                    Lab(name="Tốc độ máu lắng", value="Âm tính", unit="", reference=""),
                ],
            ),
            Exam(
                code="23.0075.1494",
                name="Định lượng Glucose",
                group="1",
                price="21500",
                result_at="202611020900",
                results=[Lab()],
            ),
            Exam(
                code="18.0119.0028",
                name="Chụp X-quang ngực thẳng",
                group="2",
                price="65400",
                result_at="202611020930",
                results=[
                    Lab(
                        name="",
                        value="",
                        unit="",
                        reference="Hai phế trường sáng, không thấy tổn thương nhu mô.",
                        conclusion="Tim phổi bình thường",
                    )
                ],
            ),
        ],
    )
    return replace(visit, **changes)


def inpatient(**changes: object) -> Visit:
    """A five-day inpatient stay: drugs, a bed and a test, course notes (XML5), discharge paper (XML7), record
    summary (XML8) and a re-exam slip (XML14)."""
    visit = Visit(
        ma_lk="LK0002",
        patient_code="BN000002",
        name="Trần Thị Bích",
        cccd="001190004567",
        birth="199007220000",
        sex="2",
        phone="0987654321",
        cards="HN2010198765432",
        care_type="03",
        reason="Đau bụng hạ sườn phải",
        admission_diagnosis="Theo dõi viêm ruột thừa",
        discharge_diagnosis="K35.8 - Viêm ruột thừa cấp khác; K59.0 - Táo bón",
        principal="K35.8",
        secondary="K59.0",
        arrived="202611010700",
        admitted="202611010830",
        discharged="202611051000",
        departments="K19;K03",
        record_number="NT2026-0042",
        re_exam_dates="",
        days="5",
        treatment="Phẫu thuật nội soi cắt ruột thừa, kháng sinh",
        advice="Ăn nhẹ, tránh vận động mạnh 2 tuần",
        drugs=[
            Drug(
                name="Ceftriaxone",
                ingredient_code="40.187",
                strength="1g",
                route="2.15",
                form="Bột pha tiêm",
                dose="1 lọ/lần * 2 lần/ngày * 5 ngày",
                instructions="Tiêm tĩnh mạch chậm",
                quantity="10",
                unit="Lọ",
                price="35000",
                ordered_at="202611010900",
            )
        ],
        exams=[
            Exam(
                code="K19.1912", name="Giường Ngoại khoa loại 1", group="15", quantity="4", unit="Ngày", price="250000"
            ),
            Exam(
                code="23.0020.1494",
                name="Định lượng Creatinin",
                group="1",
                result_at="202611011000",
                results=[Lab(name="Creatinin", value="130", unit="µmol/L", reference="62 - 120")],
            ),
        ],
        notes=[
            Note(at="202611010900", text="Đau hố chậu phải, sốt 38.5 độ. CSST<M95_T38.5_HA110/70_NT20>"),
            Note(at="202611011400", text="Mổ nội soi cắt ruột thừa", surgery="Cắt ruột thừa nội soi"),
            Note(at="202611040800", text="Hết sốt, vết mổ khô"),
        ],
        xml7={},
        xml8={},
        xml14={},
    )
    return replace(visit, **changes)


def child(**changes: object) -> Visit:
    """A child under 6 born in March 2022 (day unknown) with guardians named in XML7 and XML8."""
    visit = Visit(
        ma_lk="LK0003",
        patient_code="BN000003",
        name="Lê Minh Khôi",
        cccd="",
        birth="202203000000",
        sex="1",
        phone="",
        cards="TE1797912345678",
        care_type="03",
        reason="Sốt cao, co giật",
        admission_diagnosis="Sốt cao co giật",
        discharge_diagnosis="R56.0 - Co giật do sốt",
        principal="R56.0",
        secondary="",
        arrived="202611030200",
        admitted="202611030300",
        discharged="202611060900",
        departments="K14",
        re_exam_dates="",
        days="4",
        drugs=[
            Drug(
                name="Paracetamol",
                strength="250mg",
                form="Thuốc bột",
                dose="1 gói/lần * 3 lần/ngày * 3 ngày",
                quantity="9",
                unit="Gói",
            )
        ],
        xml1={"CAN_NANG": "16.50"},
        xml7={"HO_TEN_CHA": "Lê Văn Hùng", "HO_TEN_ME": "Phạm Thị Mai", "MA_THE_TAM": ""},
        xml8={"HO_TEN_CHA": "Lê Văn Hùng", "HO_TEN_ME": "Phạm Thị Mai", "NGUOI_GIAM_HO": "Phạm Thị Mai"},
    )
    return replace(visit, **changes)


# --- tables -------------------------------------------------------------------------------------------------


def xml1_values(visit: Visit, stt: int = 1) -> dict[str, str]:
    drugs_total = sum(float(drug.quantity) * float(drug.price) for drug in visit.drugs)
    exams_total = sum(float(exam.quantity) * float(exam.price) for exam in visit.exams)
    values = {
        "MA_LK": visit.ma_lk,
        "STT": str(stt),
        "MA_BN": visit.patient_code,
        "HO_TEN": visit.name,
        "SO_CCCD": visit.cccd,
        "NGAY_SINH": visit.birth,
        "GIOI_TINH": visit.sex,
        "NHOM_MAU": visit.blood_group,
        "MA_QUOCTICH": "000",
        "MA_DANTOC": "01",
        "MA_NGHE_NGHIEP": "00000",
        "DIA_CHI": visit.address,
        "MATINH_CU_TRU": "79",
        "MAHUYEN_CU_TRU": "760",
        "MAXA_CU_TRU": "26734",
        "DIEN_THOAI": visit.phone,
        "MA_THE_BHYT": visit.cards,
        "MA_DKBD": ";".join(visit.facility_code for _ in visit.cards.split(";")) if visit.cards else "",
        "GT_THE_TU": ";".join(visit.card_from for _ in visit.cards.split(";")) if visit.cards else "",
        "GT_THE_DEN": ";".join(visit.card_to for _ in visit.cards.split(";")) if visit.cards else "",
        "LY_DO_VV": visit.reason,
        "CHAN_DOAN_VAO": visit.admission_diagnosis,
        "CHAN_DOAN_RV": visit.discharge_diagnosis,
        "MA_BENH_CHINH": visit.principal,
        "MA_BENH_KT": visit.secondary,
        "MA_BENH_YHCT": visit.yhct,
        "MA_DOITUONG_KCB": visit.coverage,
        "NGAY_VAO": visit.arrived,
        "NGAY_VAO_NOI_TRU": visit.admitted,
        "NGAY_RA": visit.discharged,
        "SO_NGAY_DTRI": visit.days,
        "PP_DIEU_TRI": visit.treatment,
        "KET_QUA_DTRI": visit.outcome,
        "MA_LOAI_RV": visit.discharge_type,
        "GHI_CHU": visit.advice,
        "T_THUOC": f"{drugs_total:.2f}",
        "T_VTYT": "0",
        "T_TONGCHI_BV": f"{drugs_total + exams_total:.2f}",
        "T_TONGCHI_BH": f"{(drugs_total + exams_total) * 0.8:.2f}",
        "T_BNTT": "0",
        "T_BNCCT": f"{(drugs_total + exams_total) * 0.2:.2f}",
        "T_BHTT": f"{(drugs_total + exams_total) * 0.8:.2f}",
        "T_NGUONKHAC": "0",
        "T_BHTT_GDV": "0",
        "NAM_QT": visit.discharged[:4],
        "THANG_QT": visit.discharged[4:6],
        "MA_LOAI_KCB": visit.care_type,
        "MA_KHOA": visit.departments,
        "MA_CSKCB": visit.facility_code,
        "CAN_NANG": "62.00",
        "NGAY_TAI_KHAM": visit.re_exam_dates,
        "MA_HSBA": visit.record_number,
        "MA_TTDV": "0123456789",
    }
    return values | visit.xml1


def xml2_rows(visit: Visit) -> list[dict[str, str]]:
    rows = []
    for stt, drug in enumerate(visit.drugs, start=1):
        total = float(drug.quantity) * float(drug.price)
        rows.append(
            {
                "MA_LK": visit.ma_lk,
                "STT": str(stt),
                "MA_THUOC": drug.ingredient_code,
                "MA_NHOM": "4",
                "TEN_THUOC": drug.name,
                "DON_VI_TINH": drug.unit,
                "HAM_LUONG": drug.strength,
                "DUONG_DUNG": drug.route,
                "DANG_BAO_CHE": drug.form,
                "LIEU_DUNG": drug.dose,
                "CACH_DUNG": drug.instructions,
                "SO_DANG_KY": drug.registration_number,
                "TT_THAU": "G1;N4;2024",
                "PHAM_VI": "1",
                "TYLE_TT_BH": "100",
                "SO_LUONG": drug.quantity,
                "DON_GIA": drug.price,
                "THANH_TIEN_BV": f"{total:.2f}",
                "THANH_TIEN_BH": f"{total:.2f}",
                "MUC_HUONG": "80",
                "T_BHTT": f"{total * 0.8:.2f}",
                "T_BNCCT": f"{total * 0.2:.2f}",
                "MA_KHOA": visit.departments.split(";")[0],
                "MA_BAC_SI": drug.doctor,
                "NGAY_YL": drug.ordered_at,
                "NGAY_TH_YL": drug.ordered_at,
                "MA_PTTT": "1",
                "NGUON_CTRA": "1",
            }
            | drug.extra
        )
    return rows


def xml3_rows(visit: Visit) -> list[dict[str, str]]:
    rows = []
    for stt, exam in enumerate(visit.exams, start=1):
        total = float(exam.quantity) * float(exam.price)
        rows.append(
            {
                "MA_LK": visit.ma_lk,
                "STT": str(stt),
                "MA_DICH_VU": exam.code,
                "MA_NHOM": exam.group,
                "TEN_DICH_VU": exam.name,
                "DON_VI_TINH": exam.unit,
                "PHAM_VI": "1",
                "SO_LUONG": exam.quantity,
                "DON_GIA_BV": exam.price,
                "DON_GIA_BH": exam.price,
                "TYLE_TT_DV": "100",
                "TYLE_TT_BH": "100",
                "THANH_TIEN_BV": f"{total:.2f}",
                "THANH_TIEN_BH": f"{total:.2f}",
                "MUC_HUONG": "80",
                "T_BHTT": f"{total * 0.8:.2f}",
                "T_BNCCT": f"{total * 0.2:.2f}",
                "MA_KHOA": exam.department,
                "MA_BAC_SI": exam.doctor,
                "NGUOI_THUC_HIEN": exam.doctor,
                "MA_BENH": visit.principal,
                "NGAY_YL": exam.ordered_at,
                "NGAY_TH_YL": exam.performed_at,
                "NGAY_KQ": exam.result_at,
                "MA_PTTT": "1",
            }
            | exam.extra
        )
    return rows


def xml4_rows(visit: Visit) -> list[dict[str, str]]:
    rows = []
    for exam in visit.exams:
        for lab in exam.results:
            rows.append(
                {
                    "MA_LK": visit.ma_lk,
                    "STT": str(len(rows) + 1),
                    "MA_DICH_VU": exam.code,
                    "MA_CHI_SO": lab.indicator_code,
                    "TEN_CHI_SO": lab.name,
                    "GIA_TRI": lab.value,
                    "DON_VI_DO": lab.unit,
                    "MO_TA": lab.reference,
                    "KET_LUAN": lab.conclusion,
                    "NGAY_KQ": lab.result_at,
                    "MA_BS_DOC_KQ": lab.reader,
                }
                | lab.extra
            )
    return rows


def xml5_rows(visit: Visit) -> list[dict[str, str]]:
    return [
        {
            "MA_LK": visit.ma_lk,
            "STT": str(stt),
            "DIEN_BIEN_LS": note.text,
            "GIAI_DOAN_BENH": note.stage,
            "HOI_CHAN": note.consultation,
            "PHAU_THUAT": note.surgery,
            "THOI_DIEM_DBLS": note.at,
            "NGUOI_THUC_HIEN": note.by,
        }
        for stt, note in enumerate(visit.notes, start=1)
    ]


def xml7_values(visit: Visit) -> dict[str, str]:
    return {
        "MA_LK": visit.ma_lk,
        "SO_LUU_TRU": visit.record_number,
        "MA_YTE": visit.patient_code,
        "MA_KHOA_RV": visit.departments.split(";")[-1],
        "NGAY_VAO": visit.arrived,
        "NGAY_RA": visit.discharged,
        "MA_DINH_CHI_THAI": "0",
        "CHAN_DOAN_RV": visit.discharge_diagnosis,
        "PP_DIEUTRI": visit.treatment,
        "GHI_CHU": visit.advice,
        "MA_TTDV": "0123456789",
        "MA_BS": "000123/HCM-CCHN",
        "TEN_BS": "Phạm Văn Đức",
        "NGAY_CT": visit.discharged[:8],
    } | (visit.xml7 or {})


def xml8_values(visit: Visit) -> dict[str, str]:
    return {
        "MA_LK": visit.ma_lk,
        "MA_LOAI_KCB": visit.care_type,
        "NGAY_VAO": visit.arrived,
        "NGAY_RA": visit.discharged,
        "CHAN_DOAN_VAO": visit.admission_diagnosis,
        "CHAN_DOAN_RV": visit.discharge_diagnosis,
        "QT_BENHLY": "Vào viện vì " + visit.reason.lower() + ". Điều trị ổn định.",
        "TOMTAT_KQ": "Creatinin 130 µmol/L",
        "PP_DIEUTRI": visit.treatment,
        "KET_QUA_DTRI": visit.outcome,
        "GHI_CHU": visit.advice,
        "MA_TTDV": "0123456789",
        "NGAY_CT": visit.discharged[:8],
    } | (visit.xml8 or {})


def xml13_values(visit: Visit, style: Style) -> dict[str, str]:
    values = {
        "MA_LK": visit.ma_lk,
        "SO_HOSO": visit.record_number,
        "SO_CHUYENTUYEN": "CT2026/0007",
        "GIAY_CHUYEN_TUYEN": "CT2026/0007",
        "MA_CSKCB": visit.facility_code,
        "MA_NOI_DI": visit.facility_code,
        "MA_NOI_DEN": "79010",
        "HO_TEN": visit.name,
        "NGAY_SINH": visit.birth,
        "GIOI_TINH": visit.sex,
        "DIA_CHI": visit.address,
        "MA_THE_BHYT": visit.cards,
        "GT_THE_DEN": visit.card_to,
        "NGAY_VAO": visit.arrived,
        "NGAY_RA": visit.discharged,
        "DAU_HIEU_LS": "Đau ngực, khó thở",
        "CHAN_DOAN_RV": visit.discharge_diagnosis,
        "QT_BENHLY": "Điều trị nội khoa không đỡ",
        "TOMTAT_KQ": "Điện tim: ST chênh lên",
        "PP_DIEUTRI": visit.treatment,
        "MA_BENH_CHINH": visit.principal,
        "MA_BENH_KT": visit.secondary,
        "PP_DIEU_TRI": "Tỉnh, mạch 90 lần/phút",
        "MA_LOAI_RV": "2",
        "MA_LYDO_CT": "1",
        "HUONG_DIEU_TRI": "Chuyển tuyến trên can thiệp mạch vành",
        "PHUONGTIEN_VC": "Xe cứu thương",
        "HOTEN_NGUOI_HT": "Võ Thị Hoa",
        "CHUCDANH_NGUOI_HT": "Điều dưỡng",
        "MA_BAC_SI": "000789/HCM-CCHN",
        "MA_TTDV": "0123456789",
    }
    if style.qd3176:
        renames = {"MA_NOI_DI": "MA_CSKCB_DI", "MA_NOI_DEN": "MA_CSKCB_DEN", "PP_DIEU_TRI": "TINH_TRANG_CT"}
        values = {renames.get(tag, tag): value for tag, value in values.items()}
    return values | (visit.xml13 or {})


def xml14_values(visit: Visit, style: Style) -> dict[str, str]:
    due = "202611120800" if not style.qd3176 else "20261112"
    return {
        "MA_LK": visit.ma_lk,
        "SO_GIAYHEN_KL": "HK2026-0042",
        "MA_CSKCB": visit.facility_code,
        "HO_TEN": visit.name,
        "NGAY_SINH": visit.birth,
        "GIOI_TINH": visit.sex,
        "DIA_CHI": visit.address,
        "MA_THE_BHYT": visit.cards,
        "GT_THE_DEN": visit.card_to,
        "NGAY_VAO": visit.arrived,
        "NGAY_VAO_NOI_TRU": visit.admitted,
        "NGAY_RA": visit.discharged,
        "NGAY_HEN_KL": due,
        "CHAN_DOAN_RV": visit.discharge_diagnosis,
        "MA_BENH_CHINH": visit.principal,
        "MA_BENH_KT": visit.secondary,
        "MA_DOITUONG_KCB": visit.coverage,
        "MA_BAC_SI": "000123/HCM-CCHN",
        "MA_TTDV": "0123456789",
        "NGAY_CT": visit.discharged[:8],
    } | (visit.xml14 or {})


# --- rendering ----------------------------------------------------------------------------------------------


def _value(tag: str, value: str, style: Style) -> str:
    if style.seconds and tag in _INSTANT_TAGS and _INSTANT.match(value):
        value += "00"
    if style.nfd:
        value = unicodedata.normalize("NFD", value)
    if style.stray_spaces and value:
        if tag in LIST_TAGS:
            value = " ; ".join(value.split(";")) + " ;"
        value = f" {value} "
    return value


def _element(tag: str, value: str, style: Style, indent: str) -> str:
    value = _value(tag, value, style)
    if not value:
        if style.empty == "omit":
            return ""
        body = f"<{tag} />" if style.empty == "short" else f"<{tag}></{tag}>"
        return indent + body + style.newline
    if style.cdata and tag in CDATA_TAGS:
        text = "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    else:
        text = escape(value)
    return f"{indent}<{tag}>{text}</{tag}>{style.newline}"


def _fields(tags: Iterable[str], values: Mapping[str, str], style: Style, indent: str) -> str:
    ordered = list(tags)
    ordered += [tag for tag in values if tag not in ordered]  # extra tags (e.g. a misspelling) go last
    return "".join(_element(tag, values.get(tag, ""), style, indent) for tag in ordered)


def render_flat(root: str, tags: Iterable[str], values: Mapping[str, str], style: Style = Style()) -> bytes:
    body = f"<{root}>{style.newline}{_fields(tags, values, style, style.indent)}</{root}>"
    return _document(body, style)


def render_list(
    root: str, listing: str, row_tag: str, tags: Iterable[str], rows: list[dict[str, str]], style: Style = Style()
) -> bytes:
    nl, ind = style.newline, style.indent
    tags = list(tags)
    body = "".join(
        f"{ind * 2}<{row_tag}>{nl}{_fields(tags, row, style, ind * 3)}{ind * 2}</{row_tag}>{nl}" for row in rows
    )
    text = f"<{root}>{nl}{ind}<{listing}>{nl}{body}{ind}</{listing}>{nl}</{root}>"
    return _document(text, style)


def _document(body: str, style: Style) -> bytes:
    head = f'<?xml version="1.0" encoding="utf-8"?>{style.newline}' if style.declaration else ""
    return (BOM if style.bom_in_payload else b"") + (head + body).encode("utf-8")


def tables(visit: Visit, style: Style = Style(), stt: int = 1) -> list[tuple[str, bytes]]:
    """(LOAIHOSO, inner document bytes) of one visit, in the order HIS send them."""
    out: list[tuple[str, bytes]] = [("XML1", render_flat("TONG_HOP", XML1_TAGS, xml1_values(visit, stt), style))]
    listed = (
        ("XML2", xml2_rows(visit)),
        ("XML3", xml3_rows(visit)),
        ("XML4", xml4_rows(visit)),
        ("XML5", xml5_rows(visit)),
    )
    for table, rows in listed:
        if rows:
            root, listing, row_tag = ROOTS[table]
            out.append((table, render_list(root, listing, row_tag, TAGS[table], rows, style)))
    if visit.xml7 is not None:
        out.append(("XML7", render_flat(ROOTS["XML7"][0], XML7_TAGS, xml7_values(visit), style)))
    if visit.xml8 is not None:
        out.append(("XML8", render_flat(ROOTS["XML8"][0], XML8_TAGS, xml8_values(visit), style)))
    if visit.xml13 is not None:
        tags = XML13_TAGS_3176 if style.qd3176 else XML13_TAGS
        out.append(("XML13", render_flat(ROOTS["XML13"][0], tags, xml13_values(visit, style), style)))
    if visit.xml14 is not None:
        out.append(("XML14", render_flat(ROOTS["XML14"][0], XML14_TAGS, xml14_values(visit, style), style)))
    for table in visit.extra_tables:
        out.append((table, _document(f"<CHI_TIEU_{table}><MA_LK>{visit.ma_lk}</MA_LK></CHI_TIEU_{table}>", style)))
    present = {table for table, _ in out}
    out = [(table, visit.payloads.get(table, payload)) for table, payload in out if table not in visit.omit]
    out += [(table, payload) for table, payload in visit.payloads.items() if table not in present]
    return out


def encode_payload(payload: bytes, style: Style = Style()) -> str:
    text = base64.b64encode(payload).decode("ascii")
    if style.wrap:
        text = style.line_end.join(text[i : i + style.wrap] for i in range(0, len(text), style.wrap))
    return text


def hoso(visit: Visit, style: Style = Style(), stt: int = 1) -> str:
    nl, ind = style.newline, style.indent
    files = []
    sent = {table: encode_payload(payload, style) for table, payload in tables(visit, style, stt)}
    sent |= visit.raw
    for table, text in sent.items():
        files.append(
            f"{ind * 4}<FILEHOSO>{nl}{ind * 5}<LOAIHOSO>{table}</LOAIHOSO>{nl}"
            f"{ind * 5}<NOIDUNGFILE>{text}</NOIDUNGFILE>{nl}{ind * 4}</FILEHOSO>{nl}"
        )
    return f"{ind * 3}<HOSO>{nl}{''.join(files)}{ind * 3}</HOSO>{nl}"


def submission_bytes(
    visits: Iterable[Visit], facility_code: str = "79001", style: Style = Style(), *, made_on: str = "20261106"
) -> bytes:
    """The GIAMDINHHS file of the visits, as the HIS saves it to disk."""
    nl, ind = style.newline, style.indent
    visits = list(visits)
    xmlns = (
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        if style.xmlns
        else ""
    )
    body = "".join(hoso(visit, style, stt) for stt, visit in enumerate(visits, start=1))
    text = (
        f'<?xml version="1.0" encoding="utf-8"?>{nl}<GIAMDINHHS{xmlns}>{nl}'
        f"{ind}<THONGTINDONVI>{nl}{ind * 2}<MACSKCB>{facility_code}</MACSKCB>{nl}{ind}</THONGTINDONVI>{nl}"
        f"{ind}<THONGTINHOSO>{nl}{ind * 2}<NGAYLAP>{made_on}</NGAYLAP>{nl}"
        f"{ind * 2}<SOLUONGHOSO>{len(visits)}</SOLUONGHOSO>{nl}{ind * 2}<DANHSACHHOSO>{nl}{body}"
        f"{ind * 2}</DANHSACHHOSO>{nl}{ind}</THONGTINHOSO>{nl}{ind}<CHUKYDONVI />{nl}</GIAMDINHHS>"
    )
    return (BOM if style.bom_on_file else b"") + text.encode("utf-8")


def gateway_base64(visits: Iterable[Visit], facility_code: str = "79001", style: Style = Style()) -> str:
    """fileHSBase64: the whole file base64-encoded again, as the BHXH gateway takes it."""
    return base64.b64encode(submission_bytes(visits, facility_code, style)).decode("ascii")


# --- QĐ 4210 (superseded) -----------------------------------------------------------------------------------


def qd4210_visit(visit: Visit | None = None) -> Visit:
    """A visit as a QĐ 4210 HIS exports it: XML1 with MA_THE/MA_BENH/MA_BENHKHAC, XML2 rooted at
    DSACH_CHI_TIET_THUOC."""
    visit = visit or outpatient()
    style = Style()
    xml1 = {
        "MA_LK": visit.ma_lk,
        "STT": "1",
        "MA_BN": visit.patient_code,
        "HO_TEN": visit.name,
        "NGAY_SINH": visit.birth[:8],
        "GIOI_TINH": visit.sex,
        "DIA_CHI": visit.address,
        "MA_THE": visit.cards,
        "MA_DKBD": visit.facility_code,
        "GT_THE_TU": visit.card_from,
        "GT_THE_DEN": visit.card_to,
        "TEN_BENH": visit.discharge_diagnosis,
        "MA_BENH": visit.principal,
        "MA_BENHKHAC": visit.secondary,
        "MA_LYDO_VVIEN": "1",
        "NGAY_VAO": visit.arrived,
        "NGAY_RA": visit.discharged,
        "MA_LOAI_KCB": "1",
        "MA_CSKCB": visit.facility_code,
    }
    xml2_row_tags = "MA_LK STT MA_THUOC MA_NHOM TEN_THUOC DON_VI_TINH HAM_LUONG DUONG_DUNG LIEU_DUNG SO_LUONG"
    rows = "".join(
        f"<CHI_TIET_THUOC>{_fields(xml2_row_tags.split(), row, style, '')}</CHI_TIET_THUOC>" for row in xml2_rows(visit)
    )
    return replace(
        visit,
        payloads={
            "XML1": render_flat("TONG_HOP", list(xml1), xml1, style),
            "XML2": _document(f"<DSACH_CHI_TIET_THUOC>{rows}</DSACH_CHI_TIET_THUOC>", style),
        },
        omit={"XML3", "XML4", "XML5"},
    )
