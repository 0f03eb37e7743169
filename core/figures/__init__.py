"""The figures the province reports: daily roll-ups of bookings, visits, reception times, no-shows, reminders
and the assistant, kept by the scheduler (:mod:`core.figures.rollup`), read for a date range grouped by day,
week or month (:mod:`core.figures.report`). The channel's numbers come through a port
(:class:`core.figures.channel.ChannelFigures`) that the Zalo channel implements: core reads no chat table.
"""
