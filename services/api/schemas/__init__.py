"""The wire schemas: every request and response model of the API, one module per domain.

The one seam between the bot (and the CLI) and the service. The views declare these as their request
and response models; tests/api/test_schemas.py checks that every answer ``services.client`` reads
parses into its model here and serialises back to exactly what the API sent. Import them from this
package (``from services.api.schemas import JobOut``); the modules are ``common`` (text types, errors,
info), ``jobs``, ``datasets``, ``sweeps`` and ``events`` (the outbox). The status enums and the
recommendation are re-exported so a client can use them importing only this package.
Pure: Pydantic only.
"""

from __future__ import annotations

from services.api.schemas.common import NO_NUL, ErrorBody, ErrorDetail, FormatName, ModelName, ServiceInfo
from services.api.schemas.datasets import (
    DatasetAccepted,
    DatasetOptionsIn,
    DatasetOut,
    DatasetPage,
    DatasetSourceIn,
)
from services.api.schemas.events import AckIn, AckOut, ClaimIn, EventBatch, EventOut
from services.api.schemas.jobs import (
    CancelIn,
    EstimateIn,
    EstimateOut,
    EvaluationOut,
    GroupOut,
    JobOut,
    JobPage,
    JobPatch,
    LaunchIn,
    LaunchOut,
    PlannedJobOut,
)
from services.api.schemas.sweeps import (
    SweepCellOut,
    SweepEstimateIn,
    SweepEstimateOut,
    SweepIn,
    SweepOut,
    SweepPatch,
    SweepPlannedJobOut,
)
from services.datasets.model import DatasetStatus
from services.evaluation.model import EvaluationStatus
from services.jobs.model import JobStatus
from services.sweeps.model import SweepStatus
from services.tuning.recommend import Recommendation

__all__ = [
    "NO_NUL",
    "AckIn",
    "AckOut",
    "CancelIn",
    "ClaimIn",
    "DatasetAccepted",
    "DatasetOptionsIn",
    "DatasetOut",
    "DatasetPage",
    "DatasetSourceIn",
    "DatasetStatus",
    "ErrorBody",
    "ErrorDetail",
    "EstimateIn",
    "EstimateOut",
    "EvaluationOut",
    "EvaluationStatus",
    "EventBatch",
    "EventOut",
    "FormatName",
    "GroupOut",
    "JobOut",
    "JobPage",
    "JobPatch",
    "JobStatus",
    "LaunchIn",
    "LaunchOut",
    "ModelName",
    "PlannedJobOut",
    "Recommendation",
    "ServiceInfo",
    "SweepCellOut",
    "SweepEstimateIn",
    "SweepEstimateOut",
    "SweepIn",
    "SweepOut",
    "SweepPatch",
    "SweepPlannedJobOut",
    "SweepStatus",
]
