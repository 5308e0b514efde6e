"""Apache Airflow provider for OpenAI Realtime transcription sessions (ephemeral client secrets).

Nothing is imported here on purpose: DAG files import the operator module directly, and each import
of this package should cost nothing.
"""

__version__ = "0.1.0"
