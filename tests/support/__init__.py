"""The shared test harness: one API harness (``api``) for every test that talks to the
service, and the helpers that build it."""
