"""The compiler: a .pipeline -> one Airflow DAG file (KubernetesPodOperator tasks) + node bundles.

``compile_pipeline`` is pure (text in, text out); ``export`` reads the pipeline's folder, builds the
node bundles and writes the DAG file, all offline.
"""

from .bundles import BundleRef, build_bundles, bundle_bytes, bundle_files
from .compile import GENERATOR_VERSION, CompiledDag, compile_checked, compile_pipeline, source_hash
from .export import ExportResult, export

__all__ = [
    "GENERATOR_VERSION",
    "BundleRef",
    "CompiledDag",
    "ExportResult",
    "build_bundles",
    "bundle_bytes",
    "bundle_files",
    "compile_checked",
    "compile_pipeline",
    "export",
    "source_hash",
]
