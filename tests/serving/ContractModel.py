"""A Predictor that uses every optional hook of Seldon's Python wrapper contract.

Served unchanged by seldon-core 1.19 (in its own venv) and by our runtime in the serving contract
test, so it may only import numpy and whichever ``SeldonResponse`` / error class the server has.
"""

import os

import numpy as np

try:  # the class a Predictor written for seldon-core imports
    from seldon_core.flask_utils import SeldonMicroserviceException as ModelError
    from seldon_core.user_model import SeldonResponse
except ImportError:  # under our runtime
    from mlpipe_lab.serving.runtime import MicroserviceError as ModelError
    from mlpipe_lab.serving.runtime import SeldonResponse


class ContractModel:
    def __init__(self, factor=10, label="contract"):
        self.factor = factor
        self.label = label
        self.feedback = []
        self.loaded = False

    def load(self):
        self.loaded = True

    def predict(self, X, features_names=None, meta=None):
        if isinstance(X, np.ndarray):
            if X.ndim == 2 and X.shape[1] != 2:
                raise ValueError(f"Shape of input {X.shape} does not match expected shape (-1, 2).")
            return X * self.factor
        if isinstance(X, str):
            if X == "fail":
                raise ValueError("the model failed")
            if X == "bad-request":
                raise ModelError(
                    "bad request from the model", status_code=400, reason="MICROSERVICE_BAD_DATA"
                )
            if X == "with-response":
                return SeldonResponse(
                    np.array([[1, 0]]),
                    tags={"extra": "yes"},
                    metrics=[{"type": "GAUGE", "key": "contract_queue", "value": 3}],
                )
            if X == "meta":
                return {"meta_seen": meta}
            if X == "names":
                return {"features_names": list(features_names or [])}
            if X == "list":
                return [[1, 2], [3, 4]]
            if X == "strings":
                return np.array([["a", "b"]])
        return X

    def metrics(self):
        return [{"type": "COUNTER", "key": "contract_predictions_total", "value": 1}]

    def tags(self):
        return {"label": self.label}

    def health_status(self):
        return {"healthy": self.loaded, "pid_known": bool(os.getpid())}

    def init_metadata(self):
        return {
            "name": "contract",
            "versions": ["1"],
            "platform": "test",
            "inputs": [{"name": "input", "datatype": "INT64", "shape": [-1, 2]}],
            "outputs": [{"name": "output", "datatype": "INT64", "shape": [-1, 2]}],
        }

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        self.feedback.append(reward)
        return [float(reward)]
