"""Anthropic's Messages API over plain httpx (no SDK).

Facts relied on (Anthropic's API reference): `POST {base}/v1/messages` and `GET {base}/v1/models` with
headers `x-api-key` and `anthropic-version: 2023-06-01`; `system` is top level, `max_tokens` is required;
a stream is SSE: `message_start` (usage.input_tokens), `content_block_start`, `content_block_delta`
(`text_delta`), `content_block_stop`, `message_delta` (stop_reason, cumulative usage.output_tokens),
`message_stop`, `ping`, and `error` when it fails after it began; errors are
`{"type": "error", "error": {"type", "message"}}` with 529 `overloaded_error`; every reply carries
`anthropic-ratelimit-*` headers (per minute, RFC 3339 resets) and a 429 a `retry-after`. Structured output
uses `output_format` (beta header `structured-outputs-2025-11-13`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

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
    sse_events,
)
from app.core.ratelimit.clock import Clock
from app.core.ratelimit.snapshot import QuotaViolation, RateLimitSnapshot
from app.core.ratelimit.wire import kept_headers, parse_anthropic_error, parse_anthropic_headers
from app.core.types import ModelInfo, TokenUsage

API_VERSION = "2023-06-01"
STRUCTURED_OUTPUTS_BETA = "structured-outputs-2025-11-13"
DEFAULT_MAX_TOKENS = 4096  # the API requires max_tokens; enough for a long script
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicProvider(LLMProvider):
    name = "anthropic"

    def __init__(self, settings: ProviderSettings, *, clock: Clock | None = None) -> None:
        super().__init__(settings, clock=clock)
        self._client: httpx.AsyncClient | None = None

    @property
    def _base(self) -> str:
        base = (self.settings.base_url or self.settings.entry.default_base_url or "").rstrip("/")
        return base.removesuffix("/v1")

    def prepare(self) -> None:
        self._http()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
                headers={
                    "x-api-key": self.settings.api_key or "",
                    "anthropic-version": API_VERSION,
                    "Accept": "application/json",
                },
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
        return parse_anthropic_headers(
            self.name, self.model, headers, self.clock.now() if now is None else now
        )

    # --- requests --------------------------------------------------------------------------------------

    def _arguments(self, request: ProviderRequest) -> tuple[dict[str, Any], dict[str, str]]:
        options = request.options
        arguments: dict[str, Any] = {
            "model": request.model,
            "max_tokens": options.max_output_tokens or DEFAULT_MAX_TOKENS,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.system_prompt:
            arguments["system"] = request.system_prompt
        if options.temperature is not None:
            arguments["temperature"] = options.temperature
        headers: dict[str, str] = {}
        if options.json_schema is not None:
            arguments["output_format"] = {"type": "json_schema", "schema": dict(options.json_schema)}
            headers["anthropic-beta"] = STRUCTURED_OUTPUTS_BETA
        return arguments, headers

    async def _complete(self, request: ProviderRequest) -> ProviderChunk:
        body, headers = self._arguments(request)
        response = await self._http().post(f"{self._base}/v1/messages", json=body, headers=headers)
        if response.status_code >= 400:
            raise await read_failure(response)
        message = response.json()
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list) or message.get("type") != "message":
            raise self._unreadable_error(f"a reply that is not a message: {str(message)[:300]}")
        text = "".join(
            str(block.get("text") or "")
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
        usage = message.get("usage") if isinstance(message.get("usage"), dict) else {}
        return ProviderChunk(
            text=text,
            usage=_usage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens"))),
            finish_reason=_finish(message.get("stop_reason")),
            headers=kept_headers(response.headers),
            model=message.get("model") if isinstance(message.get("model"), str) else None,
        )

    async def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        body, headers = self._arguments(request)
        client = self._http()
        response = await client.send(
            client.build_request(
                "POST", f"{self._base}/v1/messages", json={**body, "stream": True}, headers=headers
            ),
            stream=True,
        )
        input_tokens = output_tokens = None
        finished = False
        try:
            if response.status_code >= 400:
                raise await read_failure(response)
            yield ProviderChunk(headers=kept_headers(response.headers))
            async for event_name, data in sse_events(response):
                event = json.loads(data)
                if not isinstance(event, dict):
                    raise self._unreadable_error(f"a stream event that is not an object: {data[:300]}")
                kind = event.get("type", event_name)
                if kind == "error":
                    raise StreamErrorFrame(event)
                if kind == "message_start":
                    usage = (event.get("message") or {}).get("usage") or {}
                    input_tokens = _int(usage.get("input_tokens"))
                elif kind == "content_block_delta":
                    delta = event.get("delta") or {}
                    if delta.get("type") == "text_delta":
                        yield ProviderChunk(text=str(delta.get("text") or ""))
                elif kind == "message_delta":
                    output_tokens = _int((event.get("usage") or {}).get("output_tokens"))
                    yield ProviderChunk(
                        usage=_usage(input_tokens, output_tokens),
                        finish_reason=_finish((event.get("delta") or {}).get("stop_reason")),
                    )
                elif kind == "message_stop":
                    finished = True
                    break
                # ping, content_block_start/stop and unknown events carry nothing we need
        finally:
            await response.aclose()  # an unread body closes the connection: Anthropic stops generating
        if not finished:
            raise self._dropped_error("the stream ended without message_stop")

    async def _list_models(self) -> list[ModelInfo]:
        response = await self._http().get(f"{self._base}/v1/models", params={"limit": 1000})
        if response.status_code >= 400:
            raise await read_failure(response)
        data = response.json().get("data")
        if not isinstance(data, list):
            raise self._unreadable_error(f"a model list without data: {response.text[:300]}")
        return [
            ModelInfo(
                id=m["id"], label=m.get("display_name") if isinstance(m.get("display_name"), str) else None
            )
            for m in data
            if isinstance(m, dict) and isinstance(m.get("id"), str)
        ]

    async def _probe(self) -> RateLimitSnapshot | None:
        """List the models (no quota spent); the limits arrive with the first real reply."""
        self._check_key()
        response = await self._http().get(f"{self._base}/v1/models", params={"limit": 1})
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
            kind, said = _error_fields(exc.body)
            if kind == "rate_limit_error":
                return self._rate_limited(None, exc.body, None, detail)
            reason = "Anthropic is overloaded" if kind == "overloaded_error" else (said or "no reason given")
            return self.error(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"Anthropic stopped in the middle of the reply ({reason[:200]}). Try again.",
                detail=detail,
            )
        return self._fallback_error(exc)

    def _map_status(
        self, status: int, body: object, headers: Mapping[str, str], detail: str
    ) -> LLMProviderError:
        kind, said = _error_fields(body)
        if status == 401 or kind == "authentication_error":
            return self._key_rejected(status, detail)
        if status == 403 or kind == "permission_error":
            return self.error(
                ErrorCode.AUTHENTICATION_FAILED,
                f"Anthropic refused this API key access ({said or 'permission denied'}). Check the key and "
                "its workspace in the Anthropic console.",
                status_code=status,
                detail=detail,
            )
        if status == 404 or kind == "not_found_error":
            if said and "model" in said.lower():
                return self.error(
                    ErrorCode.MODEL_NOT_FOUND,
                    f"Anthropic has no model '{self.model}' (or this key cannot use it). Pick another model "
                    "in Settings.",
                    status_code=status,
                    detail=detail,
                )
            return self.error(
                ErrorCode.INVALID_REQUEST,
                "Anthropic does not know the address Scriptwright called. Check the base URL in Settings "
                "(the bare host, without /v1/messages).",
                status_code=status,
                detail=detail,
            )
        if status == 429 or kind == "rate_limit_error":
            return self._rate_limited(status, body, headers, detail)
        if status == 529 or kind == "overloaded_error":
            return self.error(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "Anthropic is overloaded right now. Try again in a moment, or pick another provider.",
                status_code=status,
                detail=detail,
            )
        if status >= 500:
            return self.error(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"Anthropic had a server error (HTTP {status}). Try again in a moment.",
                status_code=status,
                detail=detail,
            )
        if said and "credit balance" in said.lower():
            return self.error(
                ErrorCode.QUOTA_EXHAUSTED,
                "Anthropic says this account's credit balance is too low. Add credit in the Anthropic "
                "console, or pick another provider meanwhile.",
                status_code=status,
                detail=detail,
            )
        if status == 413:
            return self.error(
                ErrorCode.INVALID_REQUEST,
                "This request is larger than Anthropic accepts. Ask for a shorter script.",
                status_code=status,
                detail=detail,
            )
        return self.error(
            ErrorCode.INVALID_REQUEST,
            f"Anthropic refused the request: {said or f'HTTP {status}'}",
            status_code=status,
            detail=detail,
        )

    def _rate_limited(
        self, status: int | None, body: object, headers: Mapping[str, str] | None, detail: str
    ) -> LLMProviderError:
        violation = parse_anthropic_error(body, headers, self.clock.now()) or QuotaViolation()
        return self._rate_limit_error(violation, status=status, headers=headers, detail=detail)


def _error_fields(body: object) -> tuple[str | None, str | None]:
    """(type, message) of `{"type": "error", "error": {...}}`; nothing from a text (HTML) body."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            kind, message = inner.get("type"), inner.get("message")
            return (
                kind if isinstance(kind, str) else None,
                message.strip()[:200] if isinstance(message, str) else None,
            )
    return None, None


def _finish(stop_reason: object) -> str | None:
    if not isinstance(stop_reason, str) or not stop_reason:
        return None
    return _FINISH.get(stop_reason, stop_reason)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(input_tokens: int | None, output_tokens: int | None) -> TokenUsage | None:
    if input_tokens is None and output_tokens is None:
        return None
    prompt, completion = input_tokens or 0, output_tokens or 0
    return TokenUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
