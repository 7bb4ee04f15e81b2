"""Static files of the pages and the API docs: Starlette's ``StaticFiles`` with facilbot's rules.

On top of ``StaticFiles`` (which serves from one directory, refuses paths that leave it, and
answers ``ETag``/``Last-Modified`` revalidation with 304), :class:`Assets`

* serves only names its pattern allows (no dot files, no other suffixes), whatever else is in
  the directory;
* sends each suffix's fixed content type (Python's ``mimetypes`` differs between versions:
  3.11 says ``application/javascript``);
* sends the given ``Cache-Control`` and the pages' security headers (:mod:`.headers`);
* answers a refused or missing name as the API's JSON 404 (``{"error": "not_found", …}``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from facilbot.api.errors import not_found
from facilbot.pages import headers


class Assets(StaticFiles):
    """Files of ``directory`` whose path (``/``-separated) matches ``names``; the pattern's
    first group is the suffix that picks the content type from ``content_types``."""

    def __init__(
        self,
        directory: PathLike,
        *,
        names: re.Pattern[str],
        content_types: Mapping[str, str],
        cache_control: str,
    ) -> None:
        super().__init__(directory=directory)
        self.names = names
        self.content_types = dict(content_types)
        self.cache_control = cache_control

    async def get_response(self, path: str, scope: Scope) -> Response:
        # ``path`` is normalised by get_path: a ``..`` that would leave the directory stays in
        # it and fails the pattern; StaticFiles' lookup refuses such paths as well.
        name = path.replace(os.sep, "/")
        match = self.names.match(name)
        allowed = match is not None and match[1] in self.content_types
        if scope["method"] in ("GET", "HEAD") and not allowed:
            raise not_found(f"no static file {name!r}")
        try:
            return await super().get_response(path, scope)
        except HTTPException as error:
            if error.status_code == 404:
                raise not_found(f"no static file {name!r}") from None
            raise

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if response.status_code != 304:
            suffix = os.fspath(full_path).rsplit(".", 1)[-1]
            if suffix in self.content_types:
                response.headers["Content-Type"] = self.content_types[suffix]
        response.headers["Cache-Control"] = self.cache_control
        headers.apply(response.headers)
        return response
