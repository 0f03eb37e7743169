"""Bookable time (hospitals, departments, schedules, slots) and patients' appointments."""
