"""The journey around the live hour: one identity per person, consent and addresses,
commitments, pre-work, and the follow-ups after the session (DESIGN §6a)."""
