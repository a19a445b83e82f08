"""Our serving runtime (Apache-2.0; no seldon-core or MLServer code): Seldon v1 and the Open
Inference Protocol (V2) over REST on one server.

Run ``python -m mlpipe_lab.serving.runtime Predictor --http-port 9000 --workers 2``. Predictors
follow Seldon's Python wrapper contract; they may import :class:`SeldonResponse` and
:class:`MicroserviceError` from here instead of from seldon-core. This package imports nothing
from the rest of mlpipe_lab: images carry it alone.
"""

try:  # in an image the runtime is copied without the distribution's metadata
    from importlib.metadata import version as _version

    __version__ = _version("mlpipe_lab")
except Exception:
    __version__ = "0"

from .model import MicroserviceError, SeldonResponse
from .params import ParameterError, parse_parameters

__all__ = ["MicroserviceError", "ParameterError", "SeldonResponse", "parse_parameters"]
