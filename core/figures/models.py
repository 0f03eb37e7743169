"""The daily roll-up table: one row per hospital, local day, metric, dimension and histogram bucket.

A plain count is a row with bucket 0. A distribution (reception seconds, lead days, first-reply seconds) is a
histogram: one row per bucket with its count, so a week or a month is the sum of its days' rows and its median
and p90 are read from the summed histogram, exactly as if computed over the raw samples (to the bucket's width,
see :mod:`core.figures.histogram`). ``week`` (its Monday) and ``month`` (its first day) are stored with the day
so that grouping is a plain GROUP BY on both databases.

Rows of grain "week" and "month" are the sums of a whole week's or month's day rows, refreshed with each day's
roll-up: a report reads them for the periods wholly inside its range (and day rows for the partial ones at its
edges), so a province's year by month reads a few tens of thousands of rows instead of a million.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class DailyFigure(Base):
    __tablename__ = "daily_figures"
    __table_args__ = (
        UniqueConstraint("hospital_id", "grain", "day", "metric", "dim", "bucket"),
        Index("ix_daily_figures_grain_day", "grain", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id"))
    grain: Mapped[str] = mapped_column(String(5), default="day")  # day, or a whole week's / month's sum
    day: Mapped[dt.date] = mapped_column()  # local (Asia/Ho_Chi_Minh) date; a week's Monday, a month's first day
    week: Mapped[dt.date] = mapped_column()  # the Monday of the day's ISO week
    month: Mapped[dt.date] = mapped_column()  # the first day of the day's month
    metric: Mapped[str] = mapped_column(String(30))
    dim: Mapped[str] = mapped_column(String(120), default="")  # a channel, a department id, "staff_id|desk"...
    bucket: Mapped[int] = mapped_column(Integer, default=0)  # histogram bucket (its lower bound); 0 for counts
    value: Mapped[int] = mapped_column(BigInteger)


DAILY_FIGURES = DailyFigure.__table__
