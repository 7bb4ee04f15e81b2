"""The session engine: a run-of-show on the clock, durable and exactly-once (DESIGN §5)."""
