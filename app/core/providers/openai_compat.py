"""OpenAI-compatible Chat Completions over plain httpx: one adapter for OpenAI, OpenRouter, LM Studio,
llama.cpp's server, vLLM and any other server that copies the API. No SDK.

Facts relied on (OpenAI's API reference): `POST {base}/chat/completions` and `GET {base}/models` with
`Authorization: Bearer`; a streamed reply is SSE ending with `data: [DONE]`, and its usage comes only with
`stream_options.include_usage`, in a last chunk whose `choices` is empty; an error after the stream began
is a `data: {"error": {...}}` frame; `x-ratelimit-*` headers count requests and tokens per MINUTE, with
resets as durations (`6m0s`, `20ms`); errors carry `error.code` / `error.type` (`invalid_api_key`,
`model_not_found`, `rate_limit_exceeded`, `insufficient_quota`, `context_length_exceeded`). Servers that
send no limit headers simply report none. The provider's name is its settings' name, so named instances
(`openai:<slug>`) report as themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.core.config import ProviderSettings
from app.core.errors import ErrorCode, LLMProviderError
from app.core.providers.base import (
    HTTPStatusFailure,
    LLMProvider,
    ProviderChunk,
    ProviderRequest,
    StreamErrorFrame,
    read_failure,
    shared_tls_context,
)
from app.core.providers.openai_wire import read_choice, read_completion, read_int, read_stream
from app.core.ratelimit.clock import Clock
from app.core.ratelimit.snapshot import QuotaViolation, RateLimitSnapshot
from app.core.ratelimit.wire import kept_headers, parse_groq_error, parse_openai_headers
from app.core.types import ModelInfo


class OpenAICompatibleProvider(LLMProvider):
    name = "openai"

    def __init__(self, settings: ProviderSettings, *, clock: Clock | None = None) -> None:
        super().__init__(settings, clock=clock)
        self.name = settings.name  # "openai" or a named instance such as "openai:lm-studio"
        self._client: httpx.AsyncClient | None = None

    @property
    def _base(self) -> str:
        return (self.settings.base_url or self.settings.entry.default_base_url or "").rstrip("/")

    def prepare(self) -> None:
        self._http()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Accept": "application/json"}
            if self.settings.api_key:
                headers["Authorization"] = f"Bearer {self.settings.api_key}"
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
                headers=headers,
                verify=shared_tls_context(),
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def rate_limit_snapshot(
        self, headers: Mapping[str, str], now: float | None = None
    ) -> RateLimitSnapshot | None:
        return parse_openai_headers(self.name, self.model, headers, self.clock.now() if now is None else now)

    # --- requests --------------------------------------------------------------------------------------

    def _arguments(self, request: ProviderRequest) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system_prompt}] if request.system_prompt else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        arguments: dict[str, Any] = {"model": request.model, "messages": messages}
        options = request.options
        if options.temperature is not None:
            arguments["temperature"] = options.temperature
        if options.max_output_tokens is not None:
            # OpenAI itself wants the newer name (reasoning models refuse `max_tokens`); most compatible
            # servers know only the older one.
            official = urlsplit(self._base).hostname == "api.openai.com"
            arguments["max_completion_tokens" if official else "max_tokens"] = options.max_output_tokens
        if options.json_schema is not None:
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "script", "schema": dict(options.json_schema)},
            }
        return arguments

    async def _complete(self, request: ProviderRequest) -> ProviderChunk:
        response = await self._http().post(f"{self._base}/chat/completions", json=self._arguments(request))
        if response.status_code >= 400:
            raise await read_failure(response)
        return read_completion(response.json(), kept_headers(response.headers))

    def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk | str]:
        return read_stream(self._opened_stream(request), self._chunk, self._dropped_error)

    @asynccontextmanager
    async def _opened_stream(self, request: ProviderRequest) -> AsyncIterator[httpx.Response]:
        body = {**self._arguments(request), "stream": True, "stream_options": {"include_usage": True}}
        client = self._http()
        response = await client.send(
            client.build_request("POST", f"{self._base}/chat/completions", json=body), stream=True
        )
        try:
            if response.status_code >= 400:
                raise await read_failure(response)
            yield response
        finally:
            await response.aclose()  # an unread body closes the connection: the server stops generating

    @staticmethod
    def _chunk(chunk: dict[str, Any]) -> ProviderChunk | str:
        return read_choice(chunk, chunk.get("usage"))

    async def _list_models(self) -> list[ModelInfo]:
        response = await self._http().get(f"{self._base}/models")
        if response.status_code >= 400:
            raise await read_failure(response)
        data = response.json().get("data")
        if not isinstance(data, list):
            raise self._unreadable_error(f"a model list without data: {response.text[:300]}")
        return [
            ModelInfo(id=m["id"], context_window=read_int(m.get("context_length") or m.get("context_window")))
            for m in data
            if isinstance(m, dict) and isinstance(m.get("id"), str)
        ]

    async def _probe(self) -> RateLimitSnapshot | None:
        """List the models (no quota spent) and read whatever limits the headers report."""
        self._check_key()
        response = await self._http().get(f"{self._base}/models")
        if response.status_code >= 400:
            raise await read_failure(response)
        response.json()
        return self.rate_limit_snapshot(response.headers)

    # --- errors ----------------------------------------------------------------------------------------

    def _map_error(self, exc: BaseException) -> LLMProviderError:
        if isinstance(exc, LLMProviderError):
            return exc
        detail = self._detail(exc)
        if isinstance(exc, HTTPStatusFailure):
            return self._map_status(exc.status, exc.body, exc.headers, detail)
        if isinstance(exc, StreamErrorFrame):
            code, kind, said = _error_fields(exc.body)
            if code == "rate_limit_exceeded" or kind == "rate_limit_exceeded":
                return self._rate_limited(None, exc.body, None, detail)
            return self.error(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"{self.label} failed in the middle of the reply ({(said or 'no reason given')[:200]}). "
                "Try again.",
                detail=detail,
            )
        return self._fallback_error(exc)

    def _map_status(
        self, status: int, body: object, headers: Mapping[str, str], detail: str
    ) -> LLMProviderError:
        code, kind, said = _error_fields(body)
        label = self.label
        if status == 401 or code == "invalid_api_key":
            return self._key_rejected(status, detail)
        if status == 403:
            return self.error(
                ErrorCode.AUTHENTICATION_FAILED,
                f"{label} refused this API key access ({said or 'permission denied'}). Check the key in "
                "Settings.",
                status_code=status,
                detail=detail,
            )
        if code == "model_not_found" or (status == 404 and said and "model" in said.lower()):
            return self.error(
                ErrorCode.MODEL_NOT_FOUND,
                f"{label} has no model '{self.model}' (or this key cannot use it). Pick another model in "
                "Settings.",
                status_code=status,
                detail=detail,
            )
        if status == 404:
            return self.error(
                ErrorCode.INVALID_REQUEST,
                f"{label} does not know the address Scriptwright called. Check the base URL in Settings "
                "(it usually ends in /v1).",
                status_code=status,
                detail=detail,
            )
        if code == "insufficient_quota" or kind == "insufficient_quota":
            return self.error(
                ErrorCode.QUOTA_EXHAUSTED,
                f"{label} says this account's quota or credit is used up. Check its plan and billing, or "
                "pick another provider meanwhile.",
                status_code=status,
                detail=detail,
            )
        if status == 429:
            return self._rate_limited(status, body, headers, detail)
        if code == "context_length_exceeded":
            return self.error(
                ErrorCode.INVALID_REQUEST,
                f"This request is longer than {self.model} accepts on {label}. Ask for a shorter script or "
                "pick a model with a larger context.",
                status_code=status,
                detail=detail,
            )
        if status >= 500:
            message = (
                f"{label} is overloaded right now. Try again in a moment."
                if status == 503
                else f"{label} had a server error (HTTP {status}). Try again in a moment."
            )
            return self.error(ErrorCode.PROVIDER_UNAVAILABLE, message, status_code=status, detail=detail)
        return self.error(
            ErrorCode.INVALID_REQUEST,
            f"{label} refused the request: {said or f'HTTP {status}'}",
            status_code=status,
            detail=detail,
        )

    def _rate_limited(
        self, status: int | None, body: object, headers: Mapping[str, str] | None, detail: str
    ) -> LLMProviderError:
        # The message reads like Groq's ("... (RPM): Limit 10, Used 10, ... try again in 7s"): same parser.
        violation = parse_groq_error(status, body, headers, self.clock.now()) or QuotaViolation()
        return self._rate_limit_error(violation, status=status, headers=headers, detail=detail)


def _error_fields(body: object) -> tuple[str | None, str | None, str | None]:
    """(code, type, message) of an OpenAI error body `{"error": {...}}`; text bodies give no message, since
    an HTML error page does not belong in a sentence."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            code, kind, message = inner.get("code"), inner.get("type"), inner.get("message")
            return (
                code if isinstance(code, str) else None,
                kind if isinstance(kind, str) else None,
                message.strip()[:200] if isinstance(message, str) else None,
            )
        if isinstance(inner, str):
            return None, None, inner.strip()[:200]
    return None, None, None
