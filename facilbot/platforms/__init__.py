"""One package per meeting platform: all the service knows of it lives in that package.

* :mod:`facilbot.platforms.base` — the small :class:`~facilbot.platforms.base.Platform`
  interface every platform implements, and :class:`~facilbot.platforms.base.Core`, what a
  platform may use of the service;
* :mod:`facilbot.platforms.registry` — the one list of platforms, and the one rule that
  decides which run (``FACILBOT_PLATFORMS``);
* ``sim/``, ``zoom/``, ``teams/`` — each with its settings, tables, runtime, routes, webhooks.

A new platform (Webex, Google Meet) is one new package here and one line in the registry. The
core (``engine``, ``store``, ``api``, ``webhooks``, ``pages``) never imports this package, and
no platform imports another: the import contracts in ``tests/test_architecture.py`` keep it so.
"""
