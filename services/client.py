"""Typed HTTP client of the job service's API: what the bot and the CLI use to talk to it.

Every answer is parsed into its wire schema (``services.api.schemas``, the models the views declare),
so a field the API renames or drops fails here, and in mypy at every reader, not in a KeyError later.
``reply_to`` is the caller's own text (the bot's encoding of a Slack thread): sent and returned as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from services.api.schemas import (
    DatasetAccepted,
    DatasetOut,
    DatasetPage,
    EstimateOut,
    EventBatch,
    EventOut,
    GroupOut,
    JobOut,
    JobPage,
    JobStatus,
    LaunchOut,
    Recommendation,
    ServiceInfo,
    SweepEstimateOut,
    SweepOut,
)

Answer = TypeVar("Answer", bound=BaseModel)


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

    def info(self) -> ServiceInfo:
        return self._read(ServiceInfo, "GET", "/api/v1/info")

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
        reply_to: str | None = None,
        name: str | None = None,
    ) -> LaunchOut:
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
            "reply_to": reply_to,
            "name": name,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return self._read(
            LaunchOut, "POST", "/api/v1/jobs", json=body, headers={"Idempotency-Key": idempotency_key}
        )

    def estimate_launch(
        self,
        *,
        dataset_id: str,
        models: list[str],
        epochs: int | None = None,
        learning_rate: float | None = None,
        evaluate: bool = True,
    ) -> EstimateOut:
        """What a launch with these fields would cost (the figures it would store); launches nothing."""
        body: dict[str, Any] = {"dataset_id": dataset_id, "models": models, "evaluate": evaluate}
        optional = {"epochs": epochs, "learning_rate": learning_rate}
        body.update({key: value for key, value in optional.items() if value is not None})
        return self._read(EstimateOut, "POST", "/api/v1/estimates", json=body)

    def list_jobs(
        self,
        *,
        requested_by: str | None = None,
        name: str | None = None,
        status: JobStatus | Sequence[JobStatus] | None = None,
        model: str | None = None,
        dataset_id: str | None = None,
        per_status: int | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> JobPage:
        """A page of jobs, newest first; ``next_before`` is the ``before`` of the next (older) page.

        ``status`` may be several (jobs in any of them); ``per_status`` caps how many of each are listed.
        """
        filters = {
            "requested_by": requested_by,
            "name": name,
            "status": [status] if isinstance(status, JobStatus) else status,
            "model": model,
            "dataset_id": dataset_id,
            "per_status": per_status,
            "before": before,
        }
        params: dict[str, Any] = {key: value for key, value in filters.items() if value is not None}
        params["limit"] = limit
        return self._read(JobPage, "GET", "/api/v1/jobs", params=params)

    def get_job(self, job_id: str) -> JobOut:
        return self._read(JobOut, "GET", f"/api/v1/jobs/{quote(job_id, safe='')}")

    def cancel_job(self, job_id: str, requested_by: str | None = None) -> JobOut:
        body = {"requested_by": requested_by} if requested_by else {}
        return self._read(JobOut, "POST", f"/api/v1/jobs/{quote(job_id, safe='')}/cancel", json=body)

    def set_job_message(self, job_id: str, reply_to: str | None) -> GroupOut:
        """Record where the job's status message lives (its launch group's ``reply_to``)."""
        path = f"/api/v1/jobs/{quote(job_id, safe='')}"
        return self._read(GroupOut, "PATCH", path, json={"reply_to": reply_to})

    def get_group(self, group_id: str) -> GroupOut:
        return self._read(GroupOut, "GET", f"/api/v1/groups/{quote(group_id, safe='')}")

    def recommendation(self, examples: int, model: str | None = None) -> Recommendation:
        params: dict[str, Any] = {"examples": examples}
        if model is not None:
            params["model"] = model
        return self._read(Recommendation, "GET", "/api/v1/recommendations", params=params)

    # --- events -------------------------------------------------------------------------------------

    def claim_events(self, consumer: str, limit: int = 20, lease_seconds: float = 60.0) -> list[EventOut]:
        body = {"consumer": consumer, "limit": limit, "lease_seconds": lease_seconds}
        return self._read(EventBatch, "POST", "/api/v1/events/claim", json=body).events

    def ack_event(self, event_id: int, consumer: str) -> None:
        self._request("POST", f"/api/v1/events/{event_id}/ack", json={"consumer": consumer})

    def _read(self, model: type[Answer], method: str, path: str, **kwargs: Any) -> Answer:
        """The answer to a request, parsed into its wire schema."""
        answer = self._request(method, path, **kwargs)
        try:
            return model.model_validate(answer)
        except ValidationError:
            # A bug or a version skew between the bot/CLI and the service, never the user's doing.
            raise ServiceError(
                502,
                "unexpected_answer",
                "the job service answered in a form this client does not know: "
                "update the bot or the CLI to the service's version",
            ) from None

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.is_success:
            return response.json()
        raise _refusal(
            response, f"the job service answered HTTP {response.status_code}: try again in a minute"
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            # httpx's own wording (errno, socket text) means nothing to a user: name the failure's kind.
            raise ServiceError(
                503,
                "service_unreachable",
                f"cannot reach the job service ({type(error).__name__}): try again in a minute",
            ) from None

    # --- added for the bot ---------------------------------------------------------------------------
    # Dataset routes and the two PNG routes are the job service's to define; these follow DESIGN §1.

    def upload_dataset(
        self,
        path: str,
        filename: str,
        *,
        created_by: str,
        idempotency_key: str | None = None,
        reply_to: str | None = None,
    ) -> DatasetAccepted:
        """Stream a local file to the service, which checks and converts it in the background."""
        fields = {"created_by": created_by, "name": filename}
        if reply_to:
            fields["reply_to"] = reply_to
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        with open(path, "rb") as stream:
            return self._read(
                DatasetAccepted,
                "POST",
                "/api/v1/datasets",
                data=fields,
                files={"file": (filename, stream, "application/octet-stream")},
                headers=headers,
                timeout=300.0,
            )

    def dataset_from_uri(
        self, source_uri: str, *, created_by: str, reply_to: str | None = None
    ) -> DatasetAccepted:
        body = {"source_uri": source_uri, "created_by": created_by}
        if reply_to:
            body["reply_to"] = reply_to
        return self._read(DatasetAccepted, "POST", "/api/v1/datasets", json=body)

    def get_dataset(self, dataset_id: str) -> DatasetOut:
        return self._read(DatasetOut, "GET", f"/api/v1/datasets/{quote(dataset_id, safe='')}")

    def list_datasets(self, *, created_by: str | None = None, limit: int = 10) -> list[DatasetOut]:
        params: dict[str, Any] = {"limit": limit}
        if created_by is not None:
            params["created_by"] = created_by
        return self._read(DatasetPage, "GET", "/api/v1/datasets", params=params).datasets

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

    def estimate_sweep(
        self, *, dataset_id: str, sizes: list[int | str], models: list[str]
    ) -> SweepEstimateOut:
        """What a learning-curve sweep would run and cost, job by job; launches nothing."""
        body = {"dataset_id": dataset_id, "sizes": sizes, "models": models}
        return self._read(SweepEstimateOut, "POST", "/api/v1/sweep-estimates", json=body)

    def start_sweep(
        self,
        idempotency_key: str,
        *,
        dataset_id: str,
        sizes: list[int | str],
        models: list[str],
        requested_by: str,
        approved_by: str | None = None,
        reply_to: str | None = None,
    ) -> SweepOut:
        """Start once per ``idempotency_key``: repeating the call returns the same sweep and jobs."""
        body: dict[str, Any] = {
            "dataset_id": dataset_id, "sizes": sizes, "models": models, "requested_by": requested_by,
        }  # fmt: skip
        optional = {"approved_by": approved_by, "reply_to": reply_to}
        body.update({key: value for key, value in optional.items() if value is not None})
        return self._read(
            SweepOut, "POST", "/api/v1/sweeps", json=body, headers={"Idempotency-Key": idempotency_key}
        )

    def get_sweep(self, sweep_id: str) -> SweepOut:
        return self._read(SweepOut, "GET", f"/api/v1/sweeps/{quote(sweep_id, safe='')}")

    def cancel_sweep(self, sweep_id: str, requested_by: str | None = None) -> SweepOut:
        body = {"requested_by": requested_by} if requested_by else None
        return self._read(SweepOut, "POST", f"/api/v1/sweeps/{quote(sweep_id, safe='')}/cancel", json=body)

    def set_sweep_message(self, sweep_id: str, reply_to: str | None) -> SweepOut:
        """Record where the sweep's parent message lives (the sweep's ``reply_to``)."""
        path = f"/api/v1/sweeps/{quote(sweep_id, safe='')}"
        return self._read(SweepOut, "PATCH", path, json={"reply_to": reply_to})

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
        response = self._send("GET", path)
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise _refusal(response, "the service did not return a PNG")
        if not response.headers.get("content-type", "").startswith("image/png"):
            raise ServiceError(response.status_code, "http_error", "the service did not return a PNG")
        return response.content


def _refusal(response: httpx.Response, otherwise: str) -> ServiceError:
    """The service's error body as a ``ServiceError``; ``otherwise`` when the body is not tunebot's (a
    proxy's page, say: its text is not for users)."""
    try:
        body = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        body = {"code": "http_error", "message": otherwise}
    return ServiceError(
        response.status_code, body.get("code", "http_error"), body.get("message", ""), body.get("field")
    )
