"""Operator that creates an OpenAI Realtime (speech-to-speech, voice agent) session's client secret."""

from __future__ import annotations

from airflow_provider_realtime.operators.base import BaseClientSecretOperator


class CreateRealtimeSessionOperator(BaseClientSecretOperator):
    """Create a Realtime voice-agent session and push the minted client secret to XCom.

    ``session`` takes the current API's settings: ``model``, ``instructions``, ``output_modalities``,
    ``audio.input`` (``format``, ``transcription``, ``noise_reduction``, ``turn_detection``),
    ``audio.output`` (``format``, ``voice``, ``speed``), ``tools``, ``tool_choice``,
    ``max_output_tokens``, ``tracing``, ``truncation``, ``prompt``, ``include``. The structured result's
    own keys: ``model``, ``instructions``, ``output_modalities``, ``voice``, ``input_audio_format``,
    ``output_audio_format``, ``input_audio_transcription``, ``input_audio_noise_reduction``,
    ``turn_detection``, ``tools``, ``tool_choice``, ``max_output_tokens``.

    The parameters are :class:`~airflow_provider_realtime.operators.base.BaseClientSecretOperator`'s.
    """

    kind = "realtime"
