"""Groq (OpenAI-compatible): our request -> the `groq` SDK's AsyncGroq; its reply read as plain JSON
(openai_wire); its exceptions -> our errors.

Facts relied on (reference/provider-wire.md sections 1 and 4): the SDK appends `/openai/v1` to a bare host;
`max_retries=0` so every 429 reaches us (the SDK would otherwise retry a daily-limit 429 after a second);
rate-limit headers come on every 2xx/429 (`*-requests` per day, `*-tokens` per minute), read from the raw
response; 413 and 498 raise a plain `APIStatusError`; an error inside a 200 stream is a `data: {"error": ...}`
frame, or an `x_groq.error` in a chunk; `APITimeoutError` subclasses `APIConnectionError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import groq
import httpx

from app.core.config import ProviderSettings
from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.core.providers.base import (
    LLMProvider,
    ProviderChunk,
    ProviderRequest,
    StreamErrorFrame,
    shared_tls_context,
    transport_failure,
)
from app.core.providers.openai_wire import read_choice, read_completion, read_stream
from app.core.ratelimit.clock import Clock
from app.core.ratelimit.snapshot import QuotaViolation, RateLimitSnapshot
from app.core.ratelimit.wire import kept_headers, parse_groq_error, parse_groq_headers
from app.core.types import ModelInfo

_OPENAI_SUFFIX = "/openai/v1"


def bare_host(url: str | None) -> str | None:
    """The groq SDK appends `/openai/v1` itself: drop it from an OpenAI-style base URL."""
    if not url:
        return None
    trimmed = url.rstrip("/")
    return trimmed.removesuffix(_OPENAI_SUFFIX) if trimmed.endswith(_OPENAI_SUFFIX) else trimmed


class GroqProvider(LLMProvider):
    name = "groq"

    def __init__(self, settings: ProviderSettings, *, clock: Clock | None = None) -> None:
        super().__init__(settings, clock=clock)
        self._client: groq.AsyncGroq | None = None

    def prepare(self) -> None:
        # The client imports its resource modules (chat, audio, ...) on first access, ~10 ms.
        _ = self._sdk().chat.completions

    def _sdk(self) -> groq.AsyncGroq:
        if self._client is None:
            timeout = httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s)
            self._client = groq.AsyncGroq(
                api_key=self.settings.api_key,
                base_url=bare_host(self.settings.base_url),
                max_retries=0,  # the guards decide about retries, with the limits this adapter reports
                timeout=timeout,
                http_client=groq.DefaultAsyncHttpxClient(timeout=timeout, verify=shared_tls_context()),
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def rate_limit_snapshot(
        self, headers: Mapping[str, str], now: float | None = None
    ) -> RateLimitSnapshot | None:
        return parse_groq_headers(self.model, headers, self.clock.now() if now is None else now)

    # --- requests --------------------------------------------------------------------------------------

    def _arguments(self, request: ProviderRequest) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system_prompt}] if request.system_prompt else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        arguments: dict[str, Any] = {"model": request.model, "messages": messages}
        options = request.options
        if options.temperature is not None:
            arguments["temperature"] = options.temperature
        if options.max_output_tokens is not None:
            arguments["max_completion_tokens"] = options.max_output_tokens
        if options.json_schema is not None:
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "script", "schema": dict(options.json_schema)},
            }
        return arguments

    async def _complete(self, request: ProviderRequest) -> ProviderChunk:
        raw = await self._sdk().chat.completions.with_raw_response.create(**self._arguments(request))
        return read_completion(await raw.json(), kept_headers(raw.headers))  # plain JSON, as streams are

    def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk | str]:
        # The SDK sends the request and raises its status errors; the chunks are read as plain JSON (see
        # openai_wire for why).
        return read_stream(self._opened_stream(request), self._chunk, self._dropped_error)

    @asynccontextmanager
    async def _opened_stream(self, request: ProviderRequest) -> AsyncIterator[httpx.Response]:
        async with self._sdk().chat.completions.with_streaming_response.create(
            **self._arguments(request),
            stream=True,
            extra_body={"stream_options": {"include_usage": True}},
        ) as response:  # leaving it closes the response: a cancelled stream stops Groq generating
            yield response.http_response

    def _chunk(self, chunk: dict[str, Any]) -> ProviderChunk | str:
        usage = chunk.get("usage")
        x_groq = chunk.get("x_groq")
        if x_groq is not None:  # Groq's own part: its usage, or an error that ends the reply
            error = x_groq.get("error")
            if error:
                raise self.error(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    f"Groq stopped in the middle of the reply ({str(error)[:200]}). Try again.",
                    detail=f"x_groq.error={str(error)[:500]}",
                )
            usage = x_groq.get("usage") or usage
        return read_choice(chunk, usage)

    async def _list_models(self) -> list[ModelInfo]:
        listing = await self._sdk().models.list()
        return [_model_info(m) for m in listing.data if m.id]

    async def _probe(self) -> RateLimitSnapshot | None:
        """List the models (no quota spent) and read whatever limits the headers report."""
        self._check_key()
        raw = await self._sdk().models.with_raw_response.list()
        await raw.parse()
        return self.rate_limit_snapshot(raw.headers)

    # --- errors ----------------------------------------------------------------------------------------

    def _map_error(self, exc: BaseException) -> LLMProviderError:
        if isinstance(exc, LLMProviderError):
            return exc
        detail = self._detail(exc)
        if isinstance(exc, groq.APIStatusError):
            return self._map_status_error(exc, detail)
        if isinstance(exc, groq.APITimeoutError):  # before APIConnectionError: it is one
            return self.error(
                ErrorCode.NETWORK_ERROR,
                f"Groq did not answer within {self.settings.timeout_s:g} s. "
                "Try again, or raise the timeout in Settings.",
                detail=detail,
            )
        if isinstance(exc, groq.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            if cause is not None and transport_failure(cause) in ("dropped", "timeout"):
                return self._transport_error(cause) or self._dropped_error(detail)
            where = f" at {self.settings.base_url}" if self.settings.base_url else ""
            return self.error(
                ErrorCode.NETWORK_ERROR,
                f"Could not reach Groq{where}. Check your connection and try again.",
                detail=detail,
            )
        if isinstance(exc, groq.APIResponseValidationError):
            return self._unreadable_error(detail)
        if isinstance(exc, StreamErrorFrame):  # an error inside a 200 stream
            return self._map_stream_error(exc.body, detail)
        return self._fallback_error(exc)

    def _map_status_error(self, exc: groq.APIStatusError, detail: str) -> LLMProviderError:
        status = exc.status_code
        error_code, said = _error_fields(exc.body)
        if status == 401:
            return self._key_rejected(status, detail)
        if status == 403:
            return self.error(
                ErrorCode.AUTHENTICATION_FAILED,
                f"Groq refused this API key access ({said or 'permission denied'}). "
                "Check the key in Settings and its organisation in the Groq console.",
                status_code=status,
                detail=detail,
            )
        if status == 404 and error_code != "unknown_url":
            return self.error(
                ErrorCode.MODEL_NOT_FOUND,
                f"Groq has no model '{self.model}' (or this key cannot use it). "
                "Pick another model in Settings.",
                status_code=status,
                detail=detail,
            )
        if status == 404:
            return self.error(
                ErrorCode.INVALID_REQUEST,
                "Groq does not know the address Scriptwright called. Check the Groq base URL in Settings "
                "(it is the bare host, without /openai/v1).",
                status_code=status,
                detail=detail,
            )
        if status == 429:
            return self._quota_error(status, exc.body, exc.response.headers, detail)
        if status == 413:
            return self._too_large_error(exc.body, exc.response.headers, detail)
        if status == 400 and error_code == "json_validate_failed":
            return self.error(
                ErrorCode.INVALID_RESPONSE,
                "Groq's model could not produce the requested JSON. Try again, or pick another model.",
                status_code=status,
                detail=detail,
            )
        if status in (498, 499) or status >= 500:
            message = {
                498: "Groq's flex tier is at capacity right now. Try again shortly.",
                503: f"Groq is over capacity for {self.model} right now. Try again in a moment, "
                "or pick another model.",
            }.get(status, f"Groq had a server error (HTTP {status}). Try again in a moment.")
            return self.error(ErrorCode.PROVIDER_UNAVAILABLE, message, status_code=status, detail=detail)
        return self.error(
            ErrorCode.INVALID_REQUEST,
            f"Groq refused the request: {said or f'HTTP {status}'}",
            status_code=status,
            detail=detail,
        )

    def _map_stream_error(self, body: object, detail: str) -> LLMProviderError:
        error_code, said = _error_fields(body)
        if error_code == "rate_limit_exceeded":
            return self._quota_error(None, body, None, detail)
        return self.error(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"Groq failed in the middle of the reply ({said or 'no reason given'}). Try again.",
            detail=detail,
        )

    def _quota_error(
        self, status: int | None, body: object, headers: Mapping[str, str] | None, detail: str
    ) -> LLMProviderError:
        now = self.clock.now()
        violation = parse_groq_error(status, body, headers, now) or QuotaViolation()
        snapshot = self._refusal_snapshot(violation, headers, now)
        model = violation.model or self.model
        what = (
            f" of {violation.limit} {violation.window.label}" if violation.window and violation.limit else ""
        )
        retry_after = violation.retry_after
        reset_at = datetime.fromtimestamp(now + retry_after, UTC) if retry_after is not None else None
        if violation.is_daily:
            when = (
                f"It frees up in {describe_wait(retry_after)}"
                if retry_after is not None
                else "It frees up later"
            )
            return self.error(
                ErrorCode.QUOTA_EXHAUSTED,
                f"Groq's daily limit{what} for {model} is used up. {when}; pick another model or provider "
                "meanwhile.",
                status_code=status,
                retry_after=retry_after,
                reset_at=reset_at,
                detail=detail,
                window=violation.window,
                snapshot=snapshot,
            )
        when = f"in {describe_wait(retry_after)}" if retry_after is not None else "in a minute"
        return self.error(
            ErrorCode.RATE_LIMIT_EXCEEDED,
            f"Groq's limit{what} for {model} is reached. Try again {when}.",
            status_code=status,
            retry_after=retry_after,
            reset_at=reset_at,
            detail=detail,
            window=violation.window,
            snapshot=snapshot,
        )

    def _too_large_error(self, body: object, headers: Mapping[str, str], detail: str) -> LLMProviderError:
        now = self.clock.now()
        violation = parse_groq_error(413, body, headers, now) or QuotaViolation(never_fits=True)
        model = violation.model or self.model
        limit = f" (limit {violation.limit})" if violation.limit is not None else ""
        return self.error(
            ErrorCode.INVALID_REQUEST,
            f"This request needs more tokens than Groq allows per minute for {model}{limit}. "
            "Ask for a shorter script or pick a model with a higher limit.",
            status_code=413,
            detail=detail,
            window=violation.window,
            snapshot=self._refusal_snapshot(violation, headers, now),
        )


def _error_fields(body: object) -> tuple[str | None, str | None]:
    """(code, message) of a Groq error body: the whole `{"error": {...}}` or the inner object."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            code, message = inner.get("code"), inner.get("message")
            return (
                code if isinstance(code, str) else None,
                message.strip()[:200] if isinstance(message, str) else None,
            )
    if isinstance(body, str):
        return None, body.strip()[:200] or None
    return None, None


def _model_info(model: Any) -> ModelInfo:
    context = getattr(model, "context_window", None)
    return ModelInfo(id=model.id, context_window=context if isinstance(context, int) else None)
