"""Zoom: verified webhooks, the REST channel and the in-client bridge."""
