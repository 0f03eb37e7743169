"""The daily roll-up table: one row per hospital, local day, metric, dimension and histogram bucket.

A plain count is a row with bucket 0. A distribution (reception seconds, lead days, first-reply seconds) is a
histogram: one row per bucket with its count, so a week or a month is the sum of its days' rows and its median
and p90 are read from the summed histogram, exactly as if computed over the raw samples (to the bucket's width,
see :mod:`core.figures.histogram`). ``week`` (its Monday) and ``month`` (its first day) are stored with the day
so that grouping is a plain GROUP BY on both databases.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class DailyFigure(Base):
    __tablename__ = "daily_figures"
    __table_args__ = (
        UniqueConstraint("hospital_id", "day", "metric", "dim", "bucket"),
        Index("ix_daily_figures_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    day: Mapped[dt.date] = mapped_column()  # local (Asia/Ho_Chi_Minh) date
    week: Mapped[dt.date] = mapped_column()  # the Monday of the day's ISO week
    month: Mapped[dt.date] = mapped_column()  # the first day of the day's month
    metric: Mapped[str] = mapped_column(String(30))
    dim: Mapped[str] = mapped_column(String(120), default="")  # a channel, a department id, "staff_id|desk"...
    bucket: Mapped[int] = mapped_column(Integer, default=0)  # histogram bucket (its lower bound); 0 for counts
    value: Mapped[int] = mapped_column(BigInteger)


DAILY_FIGURES = DailyFigure.__table__
