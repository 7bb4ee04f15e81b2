"""Sending mail: SMTP through aiosmtplib, or ``.eml`` files in the data directory's outbox
during development (DESIGN §6 "Mail")."""
