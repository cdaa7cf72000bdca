"""Compiler front end: safe loading, tracing and normalisation into a :class:`deploy.graph.LayerGraph`."""

from __future__ import annotations

from deploy.frontend.load import LoadedModel, load_model
from deploy.frontend.normalize import normalize

__all__ = ["LoadedModel", "load_model", "normalize"]
