"""The provider interface. An adapter only translates: our request -> SDK call, SDK reply/exception -> ours.

Everything every adapter would otherwise repeat lives here once: the key check, timing (latency and time to
first token), structured-output validation, error wrapping and the rate-limit snapshot.
"""

from __future__ import annotations

import functools
import json
import logging
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.core.config import ProviderSettings, is_placeholder_key
from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.core.ratelimit.clock import Clock, SystemClock
from app.core.ratelimit.snapshot import QuotaViolation, RateLimitSnapshot
from app.core.types import (
    ChatMessage,
    GenerateOptions,
    GenerateResult,
    HealthReport,
    ModelInfo,
    StreamItem,
    StreamProgress,
    TokenUsage,
)

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

# The finish reason of a reply that finished normally but holds no text.
EMPTY_REPLY = "empty"


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """What an adapter receives: the messages with the system prompt kept apart, and the options."""

    messages: tuple[ChatMessage, ...]
    system_prompt: str | None
    options: GenerateOptions
    model: str


@dataclass(slots=True)
class ProviderChunk:
    """A piece of a reply as an adapter reports it. A non-streamed reply is a single chunk."""

    text: str = ""
    usage: TokenUsage | None = None
    finish_reason: str | None = None
    headers: Mapping[str, str] | None = None
    model: str | None = None


class LLMProvider(ABC):
    """One provider behind the common interface. Subclasses implement the `_`-prefixed hooks only."""

    name: str  # the adapter's provider; an adapter serving named instances sets it from its settings

    def __init__(self, settings: ProviderSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._key_checked: ProviderSettings | None = None  # the settings whose key passed _check_key

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def label(self) -> str:
        return self.settings.entry.label

    # --- public interface -------------------------------------------------------------------------------

    async def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
    ) -> GenerateResult:
        request = self._request(messages, system_prompt, options)
        started = time.perf_counter()
        try:
            chunk = await self._complete(request)
        except LLMProviderError:
            raise
        except Exception as exc:  # an SDK or transport failure: translate it, keep it chained
            raise self._map_error(exc) from exc
        return self._result(request, chunk.text, [chunk], started, first_token_at=None)

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
        progress: StreamProgress | None = None,
    ) -> AsyncGenerator[StreamItem, None]:
        """Yield text deltas as they arrive, then one GenerateResult.

        Cancelling (or leaving the loop early) closes the upstream stream. `progress`, when given, is kept up
        to date with what arrived, so a caller can account for the usage of a stream that never finished, and
        its callbacks hear how the stream ended (see `StreamProgress`).
        """
        request = self._request(messages, system_prompt, options)
        started = time.perf_counter()
        first_token_at: float | None = None
        if progress is None:
            progress = StreamProgress()
        texts = progress.texts
        add_text = texts.append
        details: list[ProviderChunk] = []  # the chunks that say more than text (usage, finish, headers)
        adapter_stream = self._stream(request)
        try:
            async for chunk in adapter_stream:  # once per token: the plain text chunk first
                if isinstance(chunk, str):
                    text = chunk
                else:
                    text = chunk.text
                    details.append(chunk)
                    if chunk.usage is not None:
                        progress.reported = chunk.usage
                if text:
                    add_text(text)
                    if first_token_at is None:
                        first_token_at = time.perf_counter()
                    yield text
            await close_stream(adapter_stream)
            result = self._result(request, "".join(texts), details, started, first_token_at)
        except BaseException as exc:
            # An early exit (break, cancel) closes the adapter's stream, and so its connection, at once.
            await close_stream(adapter_stream)
            error = exc
            if isinstance(exc, Exception) and not isinstance(exc, LLMProviderError):
                error = self._map_error(exc)  # an SDK or transport failure: translated, kept chained
            if progress.on_failure is not None:
                error = progress.on_failure(error)
            if error is exc:
                raise
            raise error from exc
        if progress.on_result is not None:
            progress.on_result(result)
        yield result

    async def list_models(self) -> list[ModelInfo]:
        self._check_key()
        try:
            return await self._list_models()
        except LLMProviderError:
            raise
        except Exception as exc:
            raise self._map_error(exc) from exc

    async def health(self) -> HealthReport:
        """Reachable? Key accepted? How fast? Never raises for a provider failure: the report says it."""
        started = time.perf_counter()
        try:
            try:
                snapshot = await self._probe()
            except LLMProviderError:
                raise
            except Exception as exc:
                raise self._map_error(exc) from exc
        except LLMProviderError as error:
            latency = (time.perf_counter() - started) * 1000
            key_accepted: bool | None = False if error.code is ErrorCode.AUTHENTICATION_FAILED else None
            reachable = error.code not in (ErrorCode.NETWORK_ERROR, ErrorCode.PROVIDER_UNAVAILABLE)
            if not self.settings.entry.needs_key:
                key_accepted = None
            return HealthReport(
                provider=self.name,
                model=self.model,
                reachable=reachable,
                key_accepted=key_accepted,
                latency_ms=latency if reachable else None,
                message=error.message,
            )
        latency = (time.perf_counter() - started) * 1000
        return HealthReport(
            provider=self.name,
            model=self.model,
            reachable=True,
            key_accepted=True if self.settings.entry.needs_key else None,
            latency_ms=latency,
            message=f"{self.label} answered in {latency:.0f} ms.",
            rate_limits=snapshot,
        )

    async def aclose(self) -> None:  # noqa: B027 - adapters without a client have nothing to close
        """Close the SDK client and its connections."""

    # --- hooks for adapters ---------------------------------------------------------------------------

    @abstractmethod
    async def _complete(self, request: ProviderRequest) -> ProviderChunk: ...

    @abstractmethod
    def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk | str]:
        """The reply's chunks; a plain `str` is a chunk that carries text and nothing else (the common case,
        and the cheapest to pass on)."""

    @abstractmethod
    async def _list_models(self) -> list[ModelInfo]: ...

    @abstractmethod
    def _map_error(self, exc: BaseException) -> LLMProviderError:
        """Translate an SDK or transport exception into an LLMProviderError (never raise here)."""

    def prepare(self) -> None:
        """Build the client the first call would build (SDK client, TLS context), here instead: blocking, and
        meant for a worker thread, so that the first call on the event loop only sends. Default: nothing."""
        return None

    async def _probe(self) -> RateLimitSnapshot | None:
        """The cheapest real call that proves the key and the host. Default: list the models."""
        await self.list_models()
        return None

    def rate_limit_snapshot(
        self, headers: Mapping[str, str], now: float | None = None
    ) -> RateLimitSnapshot | None:
        """What the response headers say about the limits (as of `now`, by default the clock's); None for
        providers that send none."""
        return None

    def _refusal_snapshot(
        self, violation: QuotaViolation, headers: Mapping[str, str] | None, now: float
    ) -> RateLimitSnapshot:
        """The headers' picture of the limits, with the refused window: none left until the wait is over."""
        from_headers = self.rate_limit_snapshot(headers) if headers is not None else None
        windows = list(from_headers.windows) if from_headers is not None else []
        refused = violation.window_limit(now) if not violation.never_fits else None
        if refused is not None:
            windows = [w for w in windows if w.window is not refused.window] + [refused]
        return RateLimitSnapshot(
            provider=self.name,
            model=self.model,
            windows=tuple(windows),
            retry_after=violation.retry_after,
            observed_at=now,
            raw_headers=from_headers.raw_headers if from_headers is not None else {},
        )

    def _key_rejected(self, status: int | None, detail: str) -> LLMProviderError:
        """The provider refused the key: one sentence for every provider, naming where to fix it."""
        envs = self.settings.entry.key_envs
        where = f" (or set {envs[0]})" if envs else ""
        return self.error(
            ErrorCode.AUTHENTICATION_FAILED,
            f"{self.label} rejected the API key — open Settings to fix it{where}.",
            status_code=status,
            detail=detail,
        )

    def _rate_limit_error(
        self, violation: QuotaViolation, *, status: int | None, headers: Mapping[str, str] | None, detail: str
    ) -> LLMProviderError:
        """A refusal for a limit: per day it is QUOTA_EXHAUSTED, else RATE_LIMIT_EXCEEDED, with the wait."""
        now = self.clock.now()
        what = (
            f" of {violation.limit} {violation.window.label}" if violation.window and violation.limit else ""
        )
        wait = violation.retry_after
        when = f"in {describe_wait(wait)}" if wait is not None else "in a minute"
        return self.error(
            ErrorCode.QUOTA_EXHAUSTED if violation.is_daily else ErrorCode.RATE_LIMIT_EXCEEDED,
            f"{self.label}'s limit{what} for {self.model} is reached. Try again {when}.",
            status_code=status,
            retry_after=wait,
            reset_at=datetime.fromtimestamp(now + wait, UTC) if wait is not None else None,
            detail=detail,
            window=violation.window,
            snapshot=self._refusal_snapshot(violation, headers, now),
        )

    # --- shared machinery -----------------------------------------------------------------------------

    def _request(
        self, messages: Sequence[ChatMessage], system_prompt: str | None, options: GenerateOptions | None
    ) -> ProviderRequest:
        self._check_key()
        if not messages:
            raise self.error(
                ErrorCode.INVALID_REQUEST, "There is nothing to send: the request has no message."
            )
        return ProviderRequest(tuple(messages), system_prompt, options or GenerateOptions(), self.model)

    def _check_key(self) -> None:
        settings = self.settings
        if settings is self._key_checked:  # checked twice a request, for settings that rarely change
            return
        entry = settings.entry
        if entry.needs_key and is_placeholder_key(settings.api_key):
            raise self.error(
                ErrorCode.AUTHENTICATION_FAILED,
                f"No {entry.label} API key is set. Add it in Settings → AI Configuration or set "
                f"{entry.key_envs[0]}" + (f" (get one at {entry.key_url})." if entry.key_url else "."),
            )
        self._key_checked = settings

    def error(self, code: ErrorCode, message: str, **kwargs: Any) -> LLMProviderError:
        return LLMProviderError(code, message, provider=self.name, **kwargs)

    # --- error sentences every adapter shares -------------------------------------------------------------

    def _detail(self, exc: BaseException) -> str:
        """The exception for the log: type and text, the key cut out, bounded."""
        return redact(f"{type(exc).__name__}: {exc}", self.settings.api_key)[:2000]

    def _transport_error(
        self, exc: BaseException, *, unreachable: str | None = None
    ) -> LLMProviderError | None:
        """NETWORK_ERROR for an httpx/httpx2 timeout, refused connection or dropped connection; else None."""
        kind = transport_failure(exc)
        if kind is None:
            return None
        if kind == "timeout":
            message = (
                f"{self.label} did not answer within {self.settings.timeout_s:g} s. "
                "Try again, or raise the timeout in Settings."
            )
        elif kind == "connect":
            where = f" at {self.settings.base_url}" if self.settings.base_url else ""
            message = unreachable or (
                f"Could not reach {self.label}{where}. Check your connection and try again."
            )
        else:
            return self._dropped_error(self._detail(exc))
        return self.error(ErrorCode.NETWORK_ERROR, message, detail=self._detail(exc))

    def _dropped_error(self, detail: str) -> LLMProviderError:
        return self.error(
            ErrorCode.NETWORK_ERROR,
            f"The connection to {self.label} broke before the reply was complete. Try again.",
            detail=detail,
        )

    def _unreadable_error(self, detail: str) -> LLMProviderError:
        return self.error(
            ErrorCode.INVALID_RESPONSE,
            f"{self.label} sent a reply that Scriptwright could not understand. Try again.",
            detail=detail,
        )

    def _fallback_error(self, exc: BaseException) -> LLMProviderError:
        """For an exception no adapter rule matched: transport, then unreadable reply, then unavailable."""
        if isinstance(exc, LLMProviderError):
            return exc
        transport = self._transport_error(exc)
        if transport is not None:
            return transport
        if isinstance(exc, ValueError | TypeError | KeyError | IndexError | AttributeError):
            # json.JSONDecodeError and pydantic.ValidationError are ValueErrors: a reply we cannot read
            return self._unreadable_error(self._detail(exc))
        return self.error(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{self.label} failed unexpectedly. Try again; the log has the details.",
            detail=self._detail(exc),
        )

    def _result(
        self,
        request: ProviderRequest,
        text: str,
        chunks: list[ProviderChunk],
        started: float,
        first_token_at: float | None,
    ) -> GenerateResult:
        """The reply's text, and what its chunks said about usage, finish reason, headers and model."""
        usage = next((c.usage for c in reversed(chunks) if c.usage is not None), None) or TokenUsage()
        finish_reason = next((c.finish_reason for c in reversed(chunks) if c.finish_reason), None)
        if not text and finish_reason in (None, "stop"):
            finish_reason = EMPTY_REPLY  # allowed, but flagged: the caller decides what an empty script means
        headers = next((c.headers for c in chunks if c.headers is not None), None) or {}
        model = next((c.model for c in chunks if c.model), None) or request.model
        parsed = self._parse_structured(text, request.options) if request.options.json_schema else None
        return GenerateResult(
            text=text,
            provider=self.name,
            model=model,
            usage=usage,
            latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason=finish_reason,
            time_to_first_token_ms=(first_token_at - started) * 1000 if first_token_at is not None else None,
            read_rate_limits=functools.partial(self.rate_limit_snapshot, headers, self.clock.now())
            if headers
            else None,
            raw_headers=dict(headers),
            parsed=parsed,
        )

    def _parse_structured(self, text: str, options: GenerateOptions) -> Any:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise self.error(
                ErrorCode.INVALID_RESPONSE,
                f"{self.label} was asked for JSON but answered with text that is not JSON. Try again.",
                detail=text[:500],
            ) from exc
        import jsonschema  # only structured output needs it

        try:
            jsonschema.validate(value, dict(options.json_schema or {}))
        except jsonschema.ValidationError as exc:
            raise self.error(
                ErrorCode.INVALID_RESPONSE,
                f"{self.label} answered with JSON that does not match the requested shape: {exc.message}.",
                detail=text[:500],
            ) from exc
        return value


# --- helpers the adapters share -----------------------------------------------------------------------------

# For adapters written over plain httpx (no SDK): a failure status, an error frame in a stream, and SSE.


class HTTPStatusFailure(Exception):
    """A non-2xx answer: its status, parsed JSON body (or text) and headers, for `_map_error`."""

    def __init__(self, status: int, body: object, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status}: {str(body)[:300]}")
        self.status = status
        self.body = body
        self.headers = headers


class StreamErrorFrame(Exception):
    """An error frame inside a 200 stream."""

    def __init__(self, body: object) -> None:
        super().__init__(f"error frame: {str(body)[:300]}")
        self.body = body


async def read_failure(response: httpx.Response) -> HTTPStatusFailure:
    """The failure a non-2xx response describes (the body is read; JSON when it parses)."""
    raw = await response.aread()
    text = raw[:64_000].decode("utf-8", errors="replace")
    try:
        body: object = json.loads(text)
    except ValueError:
        body = text
    return HTTPStatusFailure(response.status_code, body, response.headers)


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str | None, str]]:
    """(event name, data) for each server-sent event; comments and keep-alives skipped."""
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
    if data:
        yield event, "\n".join(data)


def transport_failure(exc: BaseException) -> str | None:
    """What kind of transport failure `exc` is, for httpx and httpx2 (google-genai's default) alike.

    "timeout" (no answer in time), "connect" (nobody listening / unreachable), "dropped" (the connection broke
    mid-reply) or None (not a transport exception). Recognised by class name within those packages, so
    neither needs importing here.
    """
    for cls in type(exc).__mro__:
        if cls.__module__.split(".")[0] not in ("httpx", "httpx2", "httpcore"):
            continue
        if cls.__name__ == "ConnectTimeout":
            return "connect"
        if cls.__name__ == "TimeoutException":
            return "timeout"
        if cls.__name__ == "ConnectError":
            return "connect"
        if cls.__name__ in ("NetworkError", "ProtocolError", "TransportError", "RequestError", "StreamError"):
            return "dropped"
    return None


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """One TLS context for every SDK client: building one loads the CA bundle (~50 ms) each time."""
    import httpx  # every SDK depends on it; imported here so that importing base stays cheap

    return httpx.create_ssl_context()


async def close_stream(stream: object) -> None:
    """Close an async generator or an SDK stream (its `aclose()` or `close()`), if it can be closed."""
    close = getattr(stream, "aclose", None) or getattr(stream, "close", None)
    if close is None:
        return
    try:
        result = close()
        if hasattr(result, "__await__"):
            await result
    except Exception:  # closing is best effort: never let it hide the outcome of the call
        logger.debug("closing a provider stream failed", exc_info=True)


def redact(text: str, secret: str | None) -> str:
    """`text` with `secret` (an API key) cut out, for anything that may reach a log."""
    if secret and len(secret) >= 4 and secret in text:
        text = text.replace(secret, "[redacted]")
    return text
