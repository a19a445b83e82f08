"""Our Seldon-v1-compatible serving runtime (Apache-2.0; no seldon-core code).

Run ``python -m mlpipe_lab.serving.runtime Predictor --http-port 9000 --workers 2``. Predictors
follow Seldon's Python wrapper contract; they may import :class:`SeldonResponse` and
:class:`MicroserviceError` from here instead of from seldon-core.
"""

from .model import MicroserviceError, SeldonResponse
from .params import ParameterError, parse_parameters

__all__ = ["MicroserviceError", "ParameterError", "SeldonResponse", "parse_parameters"]
