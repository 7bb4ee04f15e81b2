"""The simulated meeting: virtual participants driven by a seeded scenario."""
