"""Operator that creates an OpenAI Realtime transcription session and pushes its client secret to XCom."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_realtime.operators.base import CONFIG_KEYS, BaseClientSecretOperator

__all__ = ["CONFIG_KEYS", "CreateTranscriptionSessionOperator"]


class CreateTranscriptionSessionOperator(BaseClientSecretOperator):
    """Create a Realtime transcription session and push the minted client secret to XCom.

    The structured result's own keys: ``modalities``, ``input_audio_format``, ``input_audio_transcription``,
    ``turn_detection``, ``input_audio_noise_reduction`` and ``include``, the same for both endpoints.
    Settings may be given in the beta or the current shape; they are translated for the endpoint.

    :param endpoint: ``client_secrets`` (current API, default) or ``transcription_sessions`` (beta).
    The other parameters are :class:`~airflow_provider_realtime.operators.base.BaseClientSecretOperator`'s.
    """

    kind = "transcription"
    template_fields: Sequence[str] = (*BaseClientSecretOperator.template_fields, "endpoint")
