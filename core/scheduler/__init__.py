"""The scheduler process: one leader at a time runs the periodic jobs (APScheduler) that derive what is due
from the database (reminders, no-shows, broadcasts)."""
