"""The refusals of record links in chat (core/emr/record_access.py re-exports them): a stable code for
programs, a polite Vietnamese message for the patient, the desk route where it helps. Nothing of the person
(a name, a phone, a code) is in them."""

from __future__ import annotations

import datetime as dt

from core.errors import DomainError
from core.timeutil import to_local

CHILD_AGE = 16
OTP_PER_HOUR = 3

_DESK_ROUTE = (
    "Anh/chị có thể mang CCCD đến quầy tiếp đón của bệnh viện, nhân viên sẽ kiểm tra và liên kết hồ sơ giúp anh/chị ạ."
)


class PhoneNotOnRecord(DomainError):
    code = "phone_not_on_record"

    def __init__(self) -> None:
        super().__init__(
            "the verified phone is no phone of any person on record",
            "Dạ, số điện thoại Zalo của anh/chị chưa trùng với số điện thoại nào trong hồ sơ bệnh án của bệnh viện "
            "nên em chưa liên kết được ạ. " + _DESK_ROUTE,
        )


class PhoneShared(DomainError):
    code = "phone_shared"

    def __init__(self) -> None:
        super().__init__(
            "several adults on record hold the verified phone",
            "Dạ, số điện thoại này đang được dùng cho hồ sơ của nhiều người nên em không tự liên kết được ạ. "
            + _DESK_ROUTE,
        )


class WrongCode(DomainError):
    code = "wrong_code"

    def __init__(self, remaining: int) -> None:
        super().__init__(
            f"wrong code; {remaining} tries left",
            f"Dạ, mã xác nhận chưa đúng ạ. Anh/chị còn {remaining} lần nhập, anh/chị kiểm tra lại tin nhắn giúp em ạ.",
            remaining=remaining,
        )
        self.remaining = remaining


class CodeExpired(DomainError):
    code = "code_expired"

    def __init__(self) -> None:
        super().__init__(
            "the code has expired",
            'Dạ, mã xác nhận đã hết hạn ạ. Anh/chị nhắn "gửi lại mã" để em gửi mã mới giúp anh/chị ạ.',
        )


class NoPendingCode(DomainError):
    code = "no_pending_code"

    def __init__(self) -> None:
        super().__init__(
            "no code is pending for this account",
            "Dạ, hiện chưa có mã xác nhận nào đang chờ ạ. Anh/chị chia sẻ số điện thoại để em gửi mã giúp anh/chị ạ.",
        )


class LockedOut(DomainError):
    code = "locked_out"

    def __init__(self, until: dt.datetime) -> None:
        super().__init__(
            "too many wrong codes: chat verification is locked for a while",
            "Dạ, anh/chị đã nhập sai mã 5 lần nên để bảo vệ hồ sơ, em tạm khóa việc xác nhận qua Zalo đến "
            f"{to_local(until):%H:%M} ạ. " + _DESK_ROUTE,
            until=until.isoformat(),
        )
        self.until = until


class TooManyCodes(DomainError):
    code = "too_many_codes"

    def __init__(self, until: dt.datetime) -> None:
        super().__init__(
            f"at most {OTP_PER_HOUR} codes an hour",
            f"Dạ, em đã gửi {OTP_PER_HOUR} mã trong một giờ qua ạ. Anh/chị vui lòng đợi đến "
            f"{to_local(until):%H:%M} rồi thử lại, hoặc dùng mã đã nhận gần nhất ạ.",
            until=until.isoformat(),
        )
        self.until = until


class NotLinked(DomainError):
    code = "not_linked"

    def __init__(self) -> None:
        super().__init__(
            "this account is not linked to that record",
            "Dạ, tài khoản Zalo của anh/chị chưa được liên kết với hồ sơ này nên em chưa xem được ạ. Anh/chị chia "
            "sẻ số điện thoại để xác nhận, hoặc nhờ quầy tiếp đón liên kết giúp ạ.",
        )


class NotGuardian(DomainError):
    code = "not_guardian"

    def __init__(self) -> None:
        super().__init__(
            f"a guardian reads only the record of a child under {CHILD_AGE}",
            f"Dạ, người thân chỉ xem được hồ sơ của trẻ dưới {CHILD_AGE} tuổi ạ. Người từ {CHILD_AGE} tuổi "
            "cần tự liên kết hồ sơ bằng tài khoản Zalo của mình ạ.",
        )


class DeskCodeUnknown(DomainError):
    code = "desk_code_unknown"

    def __init__(self) -> None:
        super().__init__(
            "no live desk code like that",
            "Dạ, mã liên kết không đúng hoặc đã hết hạn ạ. Anh/chị lấy mã mới trong Zalo giúp em ạ.",
        )
