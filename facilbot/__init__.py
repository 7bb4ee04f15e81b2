"""The facilbot service: engine, store, scheduler, HTTP API, pages, CLI and reports."""
