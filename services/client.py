"""Typed HTTP client of the job service's API: what the bot and the CLI use to talk to it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

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

    # --- jobs ---------------------------------------------------------------------------------------

    def launch_jobs(
        self,
        idempotency_key: str,
        *,
        dataset_id: str,
        models: list[str],
        requested_by: str,
        epochs: int | None = None,
        learning_rate: float | None = None,
        evaluate: bool = True,
        approved_by: str | None = None,
        slack_channel: str | None = None,
        slack_thread_ts: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Launch once per ``idempotency_key``: repeating the call returns the same group and jobs."""
        body: dict[str, Any] = {
            "dataset_id": dataset_id,
            "models": models,
            "requested_by": requested_by,
            "evaluate": evaluate,
        }
        optional = {
            "epochs": epochs,
            "learning_rate": learning_rate,
            "approved_by": approved_by,
            "slack_channel": slack_channel,
            "slack_thread_ts": slack_thread_ts,
            "name": name,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        result: dict[str, Any] = self._request(
            "POST", "/api/v1/jobs", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return result

    def estimate_launch(
        self,
        *,
        dataset_id: str,
        models: list[str],
        epochs: int | None = None,
        learning_rate: float | None = None,
        evaluate: bool = True,
    ) -> dict[str, Any]:
        """What a launch with these fields would cost (the figures it would store); launches nothing."""
        body: dict[str, Any] = {"dataset_id": dataset_id, "models": models, "evaluate": evaluate}
        optional = {"epochs": epochs, "learning_rate": learning_rate}
        body.update({key: value for key, value in optional.items() if value is not None})
        estimate: dict[str, Any] = self._request("POST", "/api/v1/estimates", json=body)
        return estimate

    def list_jobs(
        self,
        *,
        requested_by: str | None = None,
        name: str | None = None,
        status: str | None = None,
        model: str | None = None,
        dataset_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> dict[str, Any]:
        """A page of jobs, newest first: ``{"jobs": [...], "next_before": id | None}``."""
        filters = {
            "requested_by": requested_by,
            "name": name,
            "status": status,
            "model": model,
            "dataset_id": dataset_id,
            "before": before,
        }
        params: dict[str, Any] = {key: value for key, value in filters.items() if value is not None}
        params["limit"] = limit
        page: dict[str, Any] = self._request("GET", "/api/v1/jobs", params=params)
        return page

    def get_job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self._request("GET", f"/api/v1/jobs/{quote(job_id, safe='')}")
        return job

    def cancel_job(self, job_id: str, requested_by: str | None = None) -> dict[str, Any]:
        body = {"requested_by": requested_by} if requested_by else {}
        job: dict[str, Any] = self._request(
            "POST", f"/api/v1/jobs/{quote(job_id, safe='')}/cancel", json=body
        )
        return job

    def set_job_message(self, job_id: str, **slack: str) -> dict[str, Any]:
        """Record where the job's status message lives: slack_channel, slack_thread_ts, slack_message_ts."""
        group: dict[str, Any] = self._request("PATCH", f"/api/v1/jobs/{quote(job_id, safe='')}", json=slack)
        return group

    def get_group(self, group_id: str) -> dict[str, Any]:
        group: dict[str, Any] = self._request("GET", f"/api/v1/groups/{quote(group_id, safe='')}")
        return group

    def recommendation(self, examples: int, model: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"examples": examples}
        if model is not None:
            params["model"] = model
        advice: dict[str, Any] = self._request("GET", "/api/v1/recommendations", params=params)
        return advice

    # --- events -------------------------------------------------------------------------------------

    def claim_events(
        self, consumer: str, limit: int = 20, lease_seconds: float = 60.0
    ) -> list[dict[str, Any]]:
        body = {"consumer": consumer, "limit": limit, "lease_seconds": lease_seconds}
        batch: dict[str, Any] = self._request("POST", "/api/v1/events/claim", json=body)
        events: list[dict[str, Any]] = batch["events"]
        return events

    def ack_event(self, event_id: int, consumer: str) -> None:
        self._request("POST", f"/api/v1/events/{event_id}/ack", json={"consumer": consumer})

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            # httpx's own wording (errno, socket text) means nothing to a user: name the failure's kind.
            raise ServiceError(
                503,
                "service_unreachable",
                f"cannot reach the job service ({type(error).__name__}): try again in a minute",
            ) from None
        if response.is_success:
            return response.json()
        try:
            body = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            # Not tunebot's error body (a proxy's page, say): its text is not for users.
            body = {
                "code": "http_error",
                "message": f"the job service answered HTTP {response.status_code}: try again in a minute",
            }
        raise ServiceError(
            response.status_code, body.get("code", "http_error"), body.get("message", ""), body.get("field")
        )

    # --- added for the bot ---------------------------------------------------------------------------
    # Dataset routes and the two PNG routes are the job service's to define; these follow DESIGN §1.

    def upload_dataset(
        self,
        path: str,
        filename: str,
        *,
        created_by: str,
        idempotency_key: str | None = None,
        slack_channel: str | None = None,
        slack_thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Stream a local file to the service, which checks and converts it in the background."""
        fields = {"created_by": created_by, "name": filename}
        slack = {"slack_channel": slack_channel, "slack_thread_ts": slack_thread_ts}
        fields.update({key: value for key, value in slack.items() if value})
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        with open(path, "rb") as stream:
            dataset: dict[str, Any] = self._request(
                "POST",
                "/api/v1/datasets",
                data=fields,
                files={"file": (filename, stream, "application/octet-stream")},
                headers=headers,
                timeout=300.0,
            )
        return dataset

    def dataset_from_uri(
        self, source_uri: str, *, created_by: str, slack_channel: str | None = None
    ) -> dict[str, Any]:
        body = {"source_uri": source_uri, "created_by": created_by}
        if slack_channel:
            body["slack_channel"] = slack_channel
        dataset: dict[str, Any] = self._request("POST", "/api/v1/datasets", json=body)
        return dataset

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        dataset: dict[str, Any] = self._request("GET", f"/api/v1/datasets/{quote(dataset_id, safe='')}")
        return dataset

    def list_datasets(self, *, created_by: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if created_by is not None:
            params["created_by"] = created_by
        page: Any = self._request("GET", "/api/v1/datasets", params=params)
        datasets: list[dict[str, Any]] = page["datasets"] if isinstance(page, dict) else page
        return datasets

    def job_loss_curve(self, job_id: str) -> bytes | None:
        """The job's loss-curve PNG, or None when the service has none (yet)."""
        return self._png(f"/api/v1/jobs/{quote(job_id, safe='')}/loss-curve.png")

    def group_comparison_chart(self, group_id: str) -> bytes | None:
        """The 11B-vs-90B comparison chart PNG of a launch group, or None when there is none."""
        return self._png(f"/api/v1/groups/{quote(group_id, safe='')}/comparison.png")

    def group_loss_curves(self, group_id: str) -> bytes | None:
        """Both sizes' loss curves on one plot, or None when there is none."""
        return self._png(f"/api/v1/groups/{quote(group_id, safe='')}/loss-curves.png")

    # --- sweeps -------------------------------------------------------------------------------------

    def estimate_sweep(self, *, dataset_id: str, sizes: list[int | str], models: list[str]) -> dict[str, Any]:
        """What a learning-curve sweep would run and cost, job by job; launches nothing."""
        body = {"dataset_id": dataset_id, "sizes": sizes, "models": models}
        estimate: dict[str, Any] = self._request("POST", "/api/v1/sweep-estimates", json=body)
        return estimate

    def start_sweep(
        self,
        idempotency_key: str,
        *,
        dataset_id: str,
        sizes: list[int | str],
        models: list[str],
        requested_by: str,
        approved_by: str | None = None,
        slack_channel: str | None = None,
        slack_thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Start once per ``idempotency_key``: repeating the call returns the same sweep and jobs."""
        body: dict[str, Any] = {
            "dataset_id": dataset_id, "sizes": sizes, "models": models, "requested_by": requested_by,
        }  # fmt: skip
        optional = {
            "approved_by": approved_by, "slack_channel": slack_channel, "slack_thread_ts": slack_thread_ts,
        }  # fmt: skip
        body.update({key: value for key, value in optional.items() if value is not None})
        sweep: dict[str, Any] = self._request(
            "POST", "/api/v1/sweeps", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return sweep

    def get_sweep(self, sweep_id: str) -> dict[str, Any]:
        sweep: dict[str, Any] = self._request("GET", f"/api/v1/sweeps/{quote(sweep_id, safe='')}")
        return sweep

    def cancel_sweep(self, sweep_id: str, requested_by: str | None = None) -> dict[str, Any]:
        body = {"requested_by": requested_by} if requested_by else None
        sweep: dict[str, Any] = self._request(
            "POST", f"/api/v1/sweeps/{quote(sweep_id, safe='')}/cancel", json=body
        )
        return sweep

    def set_sweep_message(self, sweep_id: str, **slack: str) -> dict[str, Any]:
        """Record where the sweep's parent message lives (channel, message ts)."""
        path = f"/api/v1/sweeps/{quote(sweep_id, safe='')}"
        sweep: dict[str, Any] = self._request("PATCH", path, json=slack)
        return sweep

    def sweep_chart(self, sweep_id: str) -> bytes | None:
        """The sweep's learning-curve PNG, or None until the sweep ended with a curve."""
        return self._png(f"/api/v1/sweeps/{quote(sweep_id, safe='')}/chart.png")

    def job_gallery(self, job_id: str, which: str) -> bytes | None:
        """An evaluated job's gallery PNG (``helped`` or ``hurt``), or None when there is none."""
        return self._png(f"/api/v1/jobs/{quote(job_id, safe='')}/gallery/{quote(which, safe='')}.png")

    def group_gallery(self, group_id: str, which: str) -> bytes | None:
        """A pair's gallery PNG (``helped``, ``hurt`` or ``disagree``), or None when there is none."""
        return self._png(f"/api/v1/groups/{quote(group_id, safe='')}/gallery/{quote(which, safe='')}.png")

    def _png(self, path: str) -> bytes | None:
        try:
            response = self._http.get(path)
        except httpx.HTTPError as error:
            # httpx's own wording (errno, socket text) means nothing to a user: name the failure's kind.
            raise ServiceError(
                503,
                "service_unreachable",
                f"cannot reach the job service ({type(error).__name__}): try again in a minute",
            ) from None
        if response.status_code == 404:
            return None
        if not response.is_success:
            try:
                body = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                body = {"code": "http_error", "message": "the service did not return a PNG"}
            code, message = body.get("code", "http_error"), body.get("message", "")
            raise ServiceError(response.status_code, code, message, body.get("field"))
        if not response.headers.get("content-type", "").startswith("image/png"):
            raise ServiceError(response.status_code, "http_error", "the service did not return a PNG")
        return response.content
