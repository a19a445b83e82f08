"""The in-cluster (and local) tasks a "Serve MLflow model" pipeline node expands into.

Generated DAGs run ``python3 -m mlpipe_lab.serving.tasks STEP [options]`` (see :mod:`.cli`):

- ``package``: resolve ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` with the MLflow client,
  download the model, write the image build context (:mod:`mlpipe_lab.serving.package`), upload
  it as ``<run-prefix>/<task-id>/context.tar.gz`` and report the resolved version, image reference
  and storage URI (Airflow XCom ``/airflow/xcom/return.json``, and ``resolved.json`` in the store);
- ``deploy``: server-side apply of the custom resource (and Service/Ingress) with field manager
  ``mlpipe-lab`` (:mod:`.kube`);
- ``wait``: poll the resource's status until it is available, or fail quoting its conditions;
- ``smoke``: send one request to the in-cluster service and check the answer's shape;
- ``check`` (no Kubernetes): serve the packaged context with our runtime on 127.0.0.1, send the
  smoke request, stop it.

The image build between ``package`` and ``deploy`` is Kaniko's own executor, not code of ours.
"""
