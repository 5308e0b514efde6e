"""Operator that creates an OpenAI Realtime live-translation session's client secret."""

from __future__ import annotations

from airflow_provider_realtime.operators.base import BaseClientSecretOperator


class CreateTranslationSessionOperator(BaseClientSecretOperator):
    """Create a Realtime translation session and push the minted client secret to XCom.

    ``session`` takes ``model`` (required), ``audio.input.transcription`` (``{"model": …}`` or None),
    ``audio.input.noise_reduction`` and ``audio.output.language``. The structured result's own keys:
    ``model``, ``output_language``, ``input_audio_transcription``, ``input_audio_noise_reduction``.

    The parameters are :class:`~airflow_provider_realtime.operators.base.BaseClientSecretOperator`'s.
    """

    kind = "translation"
