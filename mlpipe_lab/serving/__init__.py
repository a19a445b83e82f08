"""Model serving: our own runtime, the serve node's typed spec, Kubernetes manifests, image build
contexts, canary rollouts.

- :mod:`mlpipe_lab.serving.runtime` serves a Seldon-contract ``Predictor`` class over the Seldon v1
  and Open Inference (V2) REST protocols (``python -m mlpipe_lab.serving.runtime Predictor``).
- :mod:`mlpipe_lab.serving.spec` is a serve node's settings, typed, with the schema's defaults.
- :mod:`mlpipe_lab.serving.manifests` generates SeldonDeployment, Service, Ingress, KServe
  InferenceService and Seldon Core v2 Model objects (pure functions, plain dicts).
- :mod:`mlpipe_lab.serving.rollout` judges a canary from its metrics and smoke tests.
- :mod:`mlpipe_lab.serving.package` turns an MLflow model directory into an image build context.
- :mod:`mlpipe_lab.serving.registry` resolves ``models:/NAME/VERSION`` and ``models:/NAME@ALIAS``.
- :mod:`mlpipe_lab.serving.cli` is ``mlpipe serve`` (:func:`~mlpipe_lab.serving.cli.serve_main`).

Everything here is Apache-2.0 and written for this project; nothing is taken from seldon-core.
"""
