"""Dataset-scale validation of a compiled model (``deploy-model validate``, issue #14).

:func:`validate` compiles the model once, evaluates every sample of a labelled data set in three views
(float and quantised time-stepped, bit-accurate simulation) on one of several executors
(:mod:`deploy.validation.executors`), and aggregates accuracy, per-sample agreement, a confusion matrix,
per-layer drift, SynOps and energy per inference, and CI gates (:mod:`deploy.validation.result`).
:mod:`deploy.validation.sweep` runs models × options from a sweep file as one job.
"""

from __future__ import annotations

from deploy.validation.core import DEFAULT_DT_US, PreparedModel, prepare, validate, validate_many
from deploy.validation.executors import EXECUTORS, ExecutorError, ExecutorSpec
from deploy.validation.result import GateResult, Gates, LayerDrift, Spread, ValidationResult
from deploy.validation.task import NO_CLASS, VIEWS, SampleOutcome, TaskContext, evaluate_sample, run_chunk

__all__ = [
    "DEFAULT_DT_US",
    "EXECUTORS",
    "NO_CLASS",
    "VIEWS",
    "ExecutorError",
    "ExecutorSpec",
    "GateResult",
    "Gates",
    "LayerDrift",
    "PreparedModel",
    "SampleOutcome",
    "Spread",
    "TaskContext",
    "ValidationResult",
    "evaluate_sample",
    "prepare",
    "run_chunk",
    "validate",
    "validate_many",
]
