"""Health-education news: which accounts want which topics from which hospital (opt-in, revocable)."""
