"""The HTTP service: the producer REST API, health checks, and the routers others plug in."""
