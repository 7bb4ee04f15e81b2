"""One module per resource, each exposing ``router`` (listed in ``facilbot.api.app.ROUTERS``)."""
