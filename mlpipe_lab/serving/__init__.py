"""Model serving: our own Seldon-v1-compatible runtime, Kubernetes manifests and image build contexts.

- :mod:`mlpipe_lab.serving.runtime` serves a Seldon-contract ``Predictor`` class over the Seldon v1
  REST protocol (``python -m mlpipe_lab.serving.runtime Predictor --http-port 9000``).
- :mod:`mlpipe_lab.serving.manifests` generates SeldonDeployment, Service, Ingress, KServe
  InferenceService and Seldon Core v2 Model objects (pure functions, plain dicts).
- :mod:`mlpipe_lab.serving.package` turns an MLflow model directory into an image build context.
- :mod:`mlpipe_lab.serving.registry` resolves ``models:/NAME/VERSION`` and ``models:/NAME@ALIAS``.
- :mod:`mlpipe_lab.serving.cli` is ``mlpipe serve`` (:func:`~mlpipe_lab.serving.cli.serve_main`).

Everything here is Apache-2.0 and written for this project; nothing is taken from seldon-core.
"""
