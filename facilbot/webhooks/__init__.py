"""Webhooks in: verified, de-duplicated, persisted, acknowledged, then processed (DESIGN §6)."""
