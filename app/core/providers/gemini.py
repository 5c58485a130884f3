"""Gemini (Google AI): our request <-> the `google-genai` SDK; its exceptions -> our errors.

Facts relied on (reference/provider-wire.md section 2): we hand the SDK our own `httpx.AsyncClient`, so the
transport (and its exceptions) is httpx and we can close it; a bad key is a 400 INVALID_ARGUMENT with reason
API_KEY_INVALID, not a 401; quotas live only in 429 bodies (no headers); a daily quota resets at midnight
America/Los_Angeles; a blocked prompt is a 200 without candidates.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from app.core.config import ProviderSettings
from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.core.providers.base import (
    LLMProvider,
    ProviderChunk,
    ProviderRequest,
    close_stream,
    shared_tls_context,
)
from app.core.ratelimit.clock import Clock
from app.core.ratelimit.snapshot import QuotaViolation, RateLimitSnapshot
from app.core.ratelimit.wire import parse_gemini_error
from app.core.types import ChatMessage, GenerateOptions, ModelInfo, TokenUsage

# The responses a streamed call opened, so that closing our stream closes them at once (the SDK nests
# several async generators; without this the innermost would only close when garbage-collected).
_opened_responses: contextvars.ContextVar[list[httpx.Response] | None] = contextvars.ContextVar(
    "gemini_opened_responses", default=None
)

_FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length", "FINISH_REASON_UNSPECIFIED": None}
_MAX_MODELS = 1000


async def _remember_response(response: httpx.Response) -> None:
    opened = _opened_responses.get()
    if opened is not None:
        opened.append(response)


def next_daily_reset(now: float, zone_name: str | None) -> float:
    """Epoch seconds of the next local midnight in `zone_name` (Gemini: America/Los_Angeles)."""
    zone: Any = UTC
    if zone_name:
        try:
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(zone_name)
        except Exception:  # no tz database (Windows without tzdata): Pacific standard time is close enough
            zone = timezone(timedelta(hours=-8))
    local = datetime.fromtimestamp(now, zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return midnight.timestamp()


class GeminiProvider(LLMProvider):
    name = "gemini"

    def __init__(self, settings: ProviderSettings, *, clock: Clock | None = None) -> None:
        super().__init__(settings, clock=clock)
        self._client: genai.Client | None = None
        self._http: httpx.AsyncClient | None = None
        self._sync_http: httpx.Client | None = None

    def prepare(self) -> None:
        self._sdk()
        self._build_sample_exchange()

    def _build_sample_exchange(self) -> None:
        """Build a request and parse a streamed chunk as the SDK does, here rather than on the event loop.

        The SDK's models build their pydantic validators on first use (`defer_build`): the request's config
        and parameters, then each type a chunk holds, ~40-90 ms on the first reply, in blocks that froze the
        window. One request and one chunk with every field the reply uses build them all.
        """
        request = ProviderRequest(
            messages=(ChatMessage(role="user", content="Hi"),),
            system_prompt="Sample",
            options=GenerateOptions(temperature=0.7, max_output_tokens=16),
            model=self.model,
        )
        genai_types._GenerateContentParameters(**self._arguments(request))  # what a call is validated with
        genai_types.HttpResponse(headers={})  # attached to every chunk
        tokens = [{"modality": "TEXT", "token_count": 1}]
        genai_types.GenerateContentResponse._from_response(
            response={
                "candidates": [
                    {
                        "content": {"parts": [{"text": "Hi"}], "role": "model"},
                        "finish_reason": "STOP",
                        "index": 0,
                    }
                ],
                "usage_metadata": {
                    "prompt_token_count": 1,
                    "candidates_token_count": 1,
                    "total_token_count": 2,
                    "prompt_tokens_details": tokens,
                    "candidates_tokens_details": tokens,
                },
                "model_version": self.model,
                "response_id": "sample",
            },
            kwargs={},
        )

    def _sdk(self) -> genai.Client:
        if self._client is None:
            timeout = httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s)
            tls = shared_tls_context()
            self._http = httpx.AsyncClient(
                timeout=timeout, verify=tls, event_hooks={"response": [_remember_response]}
            )
            # The SDK also builds a sync client and a websocket TLS context; handing it ours spares it
            # loading the CA bundle twice more (the sync client is never used).
            self._sync_http = httpx.Client(timeout=timeout, verify=tls)
            options = genai_types.HttpOptions(
                base_url=self.settings.base_url or None,
                timeout=int(self.settings.timeout_s * 1000),  # milliseconds
                httpx_async_client=self._http,
                httpx_client=self._sync_http,
                async_client_args={"ssl": tls},
            )
            self._client = genai.Client(api_key=self.settings.api_key, vertexai=False, http_options=options)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        http, self._http = self._http, None
        sync_http, self._sync_http = self._sync_http, None
        if client is not None:
            await client.aio.aclose()
            client.close()
        if http is not None:
            await http.aclose()
        if sync_http is not None:
            sync_http.close()

    # --- requests --------------------------------------------------------------------------------------

    def _arguments(self, request: ProviderRequest) -> dict[str, Any]:
        system = [request.system_prompt] if request.system_prompt else []
        system += [m.content for m in request.messages if m.role == "system"]
        contents = [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in request.messages
            if m.role != "system"
        ]
        options = request.options
        config = genai_types.GenerateContentConfig(
            system_instruction="\n\n".join(system) if system else None,
            temperature=options.temperature,
            max_output_tokens=options.max_output_tokens,
        )
        if options.json_schema is not None:
            config.response_mime_type = "application/json"
            config.response_json_schema = dict(options.json_schema)
        return {"model": request.model, "contents": contents, "config": config}

    async def _complete(self, request: ProviderRequest) -> ProviderChunk:
        response = await self._sdk().aio.models.generate_content(**self._arguments(request))
        chunk = self._chunk(response)  # raises for a blocked prompt
        if not response.candidates:
            raise self._unreadable_error(f"a reply without candidates: {str(response)[:300]}")
        return chunk

    async def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        client = self._sdk()
        opened: list[httpx.Response] = []
        token = _opened_responses.set(opened)
        try:  # the request goes out on the first iteration: take the first chunk while collecting responses
            stream = await client.aio.models.generate_content_stream(**self._arguments(request))
            first = await anext(aiter(stream), None)
        finally:
            _opened_responses.reset(token)
        finished = False
        try:
            if first is not None:
                chunk = self._chunk(first)
                finished = chunk.finish_reason is not None
                yield chunk
                async for response in stream:
                    chunk = self._chunk(response)
                    finished = finished or chunk.finish_reason is not None
                    yield chunk
        finally:
            await close_stream(stream)
            for opened_response in opened:
                await opened_response.aclose()
        if not finished:
            raise self._dropped_error("the stream ended without a finishReason")

    def _chunk(self, response: genai_types.GenerateContentResponse) -> ProviderChunk:
        if not isinstance(response, genai_types.GenerateContentResponse):
            raise self._unreadable_error(f"a {type(response).__name__} instead of a GenerateContentResponse")
        candidates = response.candidates or []
        if not candidates:
            feedback = response.prompt_feedback
            reason = feedback.block_reason if feedback is not None else None
            if reason is not None:
                reason_name = str(getattr(reason, "value", reason))
                raise self.error(
                    ErrorCode.INVALID_REQUEST,
                    f"Gemini refused this prompt ({reason_name}). Rephrase the topic.",
                    detail=f"promptFeedback.blockReason={reason_name}",
                )
        text = ""
        finish_reason: str | None = None
        if candidates:
            candidate = candidates[0]
            parts = candidate.content.parts if candidate.content is not None else None
            text = "".join(p.text for p in parts or [] if p.text and not p.thought)
            if candidate.finish_reason is not None:
                raw = str(getattr(candidate.finish_reason, "value", candidate.finish_reason))
                finish_reason = _FINISH_REASONS.get(raw, raw.lower())
        return ProviderChunk(text=text, usage=_usage(response.usage_metadata), finish_reason=finish_reason)

    async def _list_models(self) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        async for model in await self._sdk().aio.models.list():
            actions = model.supported_actions or []
            if actions and "generateContent" not in actions:
                continue
            name = (model.name or "").removeprefix("models/")
            if name:
                models.append(
                    ModelInfo(id=name, label=model.display_name, context_window=model.input_token_limit)
                )
            if len(models) >= _MAX_MODELS:
                break
        return models

    # --- errors ----------------------------------------------------------------------------------------

    def _map_error(self, exc: BaseException) -> LLMProviderError:
        if isinstance(exc, LLMProviderError):
            return exc
        detail = self._detail(exc)
        if isinstance(exc, genai_errors.APIError):
            return self._map_api_error(exc, detail)
        if isinstance(exc, genai_errors.UnknownApiResponseError):
            return self._unreadable_error(detail)
        transport = self._transport_error(exc)
        if transport is not None:
            return transport
        return self._fallback_error(exc)

    def _map_api_error(self, exc: genai_errors.APIError, detail: str) -> LLMProviderError:
        code = exc.code if isinstance(exc.code, int) else None
        said = str(exc.message or exc.status or "").strip()[:200]
        env = self.settings.entry.key_envs[0]
        if code == 400 and _is_bad_key(exc):
            return self._key_rejected(code, detail)
        if code in (401, 403):
            leaked = "leaked" in said.lower()
            return self.error(
                ErrorCode.AUTHENTICATION_FAILED,
                "Google blocked this Gemini API key as leaked: create a new key and enter it in Settings."
                if leaked
                else f"Gemini refused the API key (permission denied) — open Settings to fix it "
                f"(or set {env}).",
                status_code=code,
                detail=detail,
            )
        if code == 404:
            return self.error(
                ErrorCode.MODEL_NOT_FOUND,
                f"Gemini has no model '{self.model}' that can write text. Pick another model in Settings.",
                status_code=code,
                detail=detail,
            )
        if code == 429:
            return self._quota_error(exc, detail)
        if code == 402:
            return self.error(
                ErrorCode.QUOTA_EXHAUSTED,
                "Gemini's prepaid credits are used up. Top them up in Google AI Studio, "
                "or pick another provider.",
                status_code=code,
                detail=detail,
            )
        if code is not None and 400 <= code < 500:
            return self.error(
                ErrorCode.INVALID_REQUEST,
                f"Gemini refused the request: {said}",
                status_code=code,
                detail=detail,
            )
        message = {
            503: "Gemini is overloaded right now. Try again in a moment, or pick another model.",
            504: "Gemini ran out of time on its side. Try again, perhaps asking for a shorter script.",
        }.get(code or 0, f"Gemini had a server error (HTTP {code}). Try again in a moment.")
        return self.error(ErrorCode.PROVIDER_UNAVAILABLE, message, status_code=code, detail=detail)

    def _quota_error(self, exc: genai_errors.APIError, detail: str) -> LLMProviderError:
        now = self.clock.now()
        violation = parse_gemini_error(exc.details, now) or QuotaViolation()
        model = violation.model or self.model
        limit_text = (
            f" ({violation.limit} {violation.window.label})" if violation.window and violation.limit else ""
        )
        if violation.never_fits:
            return self.error(
                ErrorCode.QUOTA_EXHAUSTED,
                f"{model} has no free-tier quota for this key's project; "
                "choose another model or enable billing.",
                status_code=429,
                detail=detail,
                window=violation.window,
                snapshot=self._snapshot(violation, model, now, None),
            )
        if violation.is_daily:
            reset = next_daily_reset(now, self.settings.entry.daily_reset_timezone)
            wait = max(reset - now, violation.retry_after or 0.0)
            return self.error(
                ErrorCode.QUOTA_EXHAUSTED,
                f"Gemini's daily quota for {model}{limit_text} is used up. It resets at midnight "
                f"Pacific time (in {describe_wait(wait)}); choose another model or provider until then.",
                status_code=429,
                retry_after=wait,
                reset_at=datetime.fromtimestamp(now + wait, UTC),
                detail=detail,
                window=violation.window,
                snapshot=self._snapshot(violation, model, now, now + wait),
            )
        retry_after = violation.retry_after
        when = f"in {describe_wait(retry_after)}" if retry_after is not None else "in a minute"
        which = "per-minute limit" if violation.window is not None else "rate limit"
        return self.error(
            ErrorCode.RATE_LIMIT_EXCEEDED,
            f"Gemini's {which} for {model}{limit_text} is reached. Try again {when}.",
            status_code=429,
            retry_after=retry_after,
            reset_at=datetime.fromtimestamp(now + retry_after, UTC) if retry_after is not None else None,
            detail=detail,
            window=violation.window,
            snapshot=self._snapshot(violation, model, now, None),
        )

    def _snapshot(
        self, violation: QuotaViolation, model: str, now: float, reset_at: float | None
    ) -> RateLimitSnapshot:
        window = violation.window_limit(now, reset_at=reset_at)
        retry_after = reset_at - now if reset_at is not None else violation.retry_after
        return RateLimitSnapshot(
            provider=self.name,
            model=model,
            windows=(window,) if window is not None else (),
            retry_after=retry_after,
            observed_at=now,
        )


def _is_bad_key(exc: genai_errors.APIError) -> bool:
    """Google answers a wrong key with 400 INVALID_ARGUMENT; the ErrorInfo reason (or the text) says why."""
    message = str(exc.message or "").lower()
    if "api key not valid" in message or "api key expired" in message:
        return True
    body = exc.details
    error = body.get("error", body) if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for item in details if isinstance(details, list) else []:
        if isinstance(item, Mapping) and str(item.get("reason", "")).startswith("API_KEY_"):
            return True
    return False


def _usage(metadata: genai_types.GenerateContentResponseUsageMetadata | None) -> TokenUsage | None:
    if metadata is None:
        return None
    prompt = metadata.prompt_token_count or 0
    completion = (metadata.candidates_token_count or 0) + (metadata.thoughts_token_count or 0)
    total = metadata.total_token_count or prompt + completion
    return TokenUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
