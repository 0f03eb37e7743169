"""Staff of the hospitals: accounts with one role each, what each role may do, and the log of their actions.

The staff console (henkham/web/console) authenticates staff here and asks :mod:`core.staff.roles` what a role
may do; every action a staff member takes is appended to the staff action log (:mod:`core.staff.actions`).
Reads of patient data by staff are audited by :mod:`core.audit` like every other read.
"""
