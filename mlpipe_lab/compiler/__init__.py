"""The compiler: a plan (``mlpipe_lab.plan``) -> one Airflow DAG file (KubernetesPodOperator or
BashOperator tasks); export also builds the node bundles.

``compile_pipeline`` is pure (text in, text out); ``export`` reads the pipeline's folder, builds the
node bundles and writes the DAG file, all offline.
"""

from .bundles import BundleRef, build_bundles, bundle_bytes, bundle_files
from .compile import (
    GENERATOR_VERSION,
    CompiledDag,
    compile_pipeline,
    compile_plan,
    render_plan,
    source_hash,
)
from .export import ExportResult, export

__all__ = [
    "GENERATOR_VERSION",
    "BundleRef",
    "CompiledDag",
    "ExportResult",
    "build_bundles",
    "bundle_bytes",
    "bundle_files",
    "compile_pipeline",
    "compile_plan",
    "export",
    "render_plan",
    "source_hash",
]
