"""The pipeline model: .pipeline documents, their graph, ids and validation. No network, no git."""

from .document import dumps, new_document, parse
from .graph import Graph, subgraph
from .ids import slugify, unique_ids
from .model import GENERIC_OPS, Node, Parameter, Pipeline, load
from .problems import ERROR, WARNING, PipelineError, Problem, has_errors
from .validation import validate

__all__ = [
    "ERROR",
    "GENERIC_OPS",
    "WARNING",
    "Graph",
    "Node",
    "Parameter",
    "Pipeline",
    "PipelineError",
    "Problem",
    "dumps",
    "has_errors",
    "load",
    "new_document",
    "parse",
    "slugify",
    "subgraph",
    "unique_ids",
    "validate",
]
