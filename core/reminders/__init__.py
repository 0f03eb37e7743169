"""What the hospital sends without being asked about a visit: reminders before it, re-exam reminders and a
word after a missed one. Planned from the database by the scheduler; delivered through a notifier port."""
