"""Typed HTTP client of the job service's API: what the bot and the CLI use to talk to it."""

from __future__ import annotations

from typing import Any

import httpx


class ServiceError(Exception):
    """The service answered with an error; ``code`` and ``message`` come from its error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


class ServiceClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0, transport: Any = None) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def healthy(self) -> bool:
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self._request("GET", "/api/v1/info")
        return info

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ServiceError(503, "service_unreachable", f"cannot reach the job service: {error}") from None
        if response.is_success:
            return response.json()
        try:
            body = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            body = {"code": "http_error", "message": response.text[:200]}
        raise ServiceError(
            response.status_code, body.get("code", "http_error"), body.get("message", ""), body.get("field")
        )
