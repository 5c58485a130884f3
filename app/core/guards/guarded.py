"""A provider wrapped in the guards, written once for every adapter: limiter -> breaker -> retry policy.

Each attempt: the breaker lets it through (or fails fast), the limiter admits it (or the caller waits, visibly
and cancellably), the inner provider is called. Failures feed the breaker, the state and the limiter (a 429's
retry-after or a used-up quota holds every caller of that provider until the reset); the retry policy decides
whether to pause and try again. Every attempt that reached the provider is reported to `on_attempt` for the
`requests` ledger, and the whole call is summed up in a `CallReport`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from functools import partial
from typing import Any, Literal, Protocol

from app.core.config import ProviderSettings
from app.core.errors import ErrorCode, LLMProviderError, describe_wait
from app.core.guards.breaker import CircuitBreaker, CircuitOpenError, is_outage
from app.core.guards.retry import GiveUp, RetryPolicy
from app.core.providers.base import LLMProvider
from app.core.ratelimit.clock import Clock
from app.core.ratelimit.limiter import (
    LimitWaitTooLong,
    Reservation,
    SlidingWindowLimiter,
    WaitCancelled,
    WaitHandle,
    cancellable_sleep,
    provider_label,
    quota_sentence,
    window_phrase,
)
from app.core.ratelimit.snapshot import Window
from app.core.ratelimit.state import CircuitState, RateLimitState
from app.core.types import (
    ChatMessage,
    GenerateOptions,
    GenerateResult,
    HealthReport,
    ModelInfo,
    StreamItem,
    StreamProgress,
)
from app.store.records import RequestRecord

logger = logging.getLogger(__name__)

Outcome = Literal["ok", "error", "cancelled"]


class BudgetCheck(Protocol):
    """A spending cap checked before each attempt (`app.core.usage.budgets.BudgetGuard`)."""

    def check(self, provider: str) -> None:
        """Raise an LLMProviderError (QUOTA_EXHAUSTED) when the provider may not be called now."""

    def blocked(self, provider: str) -> LLMProviderError | None: ...


AttemptCallback = Callable[[RequestRecord], Awaitable[None] | None]
# What an attempt would cost at list price, from (provider, model, prompt tokens, completion tokens); None:
# unknown. `app.core.usage.pricing.PriceTable.cost`.
ListPrice = Callable[[str, str, int | None, int | None], float | None]
TokenEstimator = Callable[[Sequence[ChatMessage], str | None, GenerateOptions | None], int]


@dataclass(slots=True)
class FallbackStep:
    from_provider: str
    from_model: str
    to_provider: str
    to_model: str
    error_code: str
    decision: Literal["allowed", "once", "always", "cancel", "skipped"]


@dataclass(slots=True)
class CallReport:
    """What happened during one guarded call (across fallbacks, when a FallbackChain made it)."""

    provider: str | None = None  # who wrote the result (or was tried last)
    model: str | None = None
    attempts: list[RequestRecord] = field(default_factory=list)
    waited_ms: float = 0.0  # time spent waiting for slots and pausing before retries
    outcome: Outcome | None = None
    error: BaseException | None = None
    streamed: bool = False
    fallbacks: list[FallbackStep] = field(default_factory=list)

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)


class ChatProvider(Protocol):
    """The interface the service calls: an LLMProvider, a GuardedProvider or a FallbackChain."""

    @property
    def model(self) -> str: ...

    @property
    def label(self) -> str: ...

    async def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
    ) -> GenerateResult: ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
    ) -> AsyncIterator[StreamItem]: ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def health(self) -> HealthReport: ...

    async def aclose(self) -> None: ...


def estimate_tokens(
    messages: Sequence[ChatMessage], system_prompt: str | None, options: GenerateOptions | None
) -> int:
    """A rough token count for the limiter's reservation: ~4 characters a token, plus the output cap."""
    chars = sum(len(m.content) for m in messages) + len(system_prompt or "")
    output = options.max_output_tokens if options is not None and options.max_output_tokens else 0
    return math.ceil(chars / 4) + output


class _Call:
    """The bookkeeping of one guarded call."""

    __slots__ = (
        "attempt",
        "estimate",
        "last_error",
        "prompt_estimate",
        "report",
        "retry_waited",
    )

    def __init__(self, report: CallReport, estimate: int, prompt_estimate: int = 0) -> None:
        self.report = report
        self.estimate = estimate
        self.prompt_estimate = prompt_estimate
        self.attempt = 0
        self.retry_waited = 0.0
        self.last_error: BaseException | None = None


@dataclass(slots=True)
class _Sent:
    """An attempt that has been admitted and sent."""

    reservation: Reservation
    number: int
    probe: bool
    progress: StreamProgress | None = None


def _ended_early() -> LLMProviderError:
    return LLMProviderError(ErrorCode.INVALID_RESPONSE, "The reply ended before it was complete. Try again.")


@dataclass(slots=True)
class OpenedStream:
    """A reply past its first item: `first` (its first text, or the result of a reply without text) and
    `rest`, the provider's stream, which accounts for the attempt however it ends (read to its result,
    broken, or closed early). Whoever holds it reads `rest` to the end or closes it; should `rest` end
    without its result (a broken stream), `ended_early()` accounts for that and gives the error to raise."""

    first: StreamItem
    rest: AsyncGenerator[StreamItem, None]
    ended_early: Callable[[], LLMProviderError] = _ended_early

    @classmethod
    async def of(cls, stream: AsyncGenerator[StreamItem, None]) -> OpenedStream:
        """A stream that accounts for itself (a cached reply's replay), past its first item."""
        first = await anext(stream, None)
        if first is None:
            raise _ended_early()
        return cls(first, stream)


class StreamOpener:
    """`stream()` for a class with `open_stream()` (the guarded provider, the fallback chain)."""

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
        report: CallReport | None = None,
    ) -> AsyncGenerator[StreamItem, None]:
        """Text deltas, then one GenerateResult. Retried only while no text has reached the caller."""
        return _items(
            partial(self.open_stream, messages, system_prompt=system_prompt, options=options, report=report)
        )

    # Each class's own: admission, retries, fallback up to the first text (same arguments as stream()).
    open_stream: Callable[..., Awaitable[OpenedStream]]


async def _items(opening: Callable[[], Awaitable[OpenedStream]]) -> AsyncGenerator[StreamItem, None]:
    """Opened on the first read, then every item."""
    opened = await opening()
    last = opened.first
    async with aclosing(opened.rest) as rest:
        yield last
        async for last in rest:
            yield last
    if not isinstance(last, GenerateResult):
        raise opened.ended_early()


class GuardedProvider(StreamOpener):
    """Any LLMProvider behind the limiter, the circuit breaker and the retry policy; same interface."""

    def __init__(
        self,
        inner: LLMProvider,
        limiter: SlidingWindowLimiter,
        breaker: CircuitBreaker,
        policy: RetryPolicy,
        state: RateLimitState | None = None,
        clock: Clock | None = None,
        *,
        on_attempt: AttemptCallback | None = None,
        token_estimator: TokenEstimator | None = None,
        local_tz: tzinfo | None = None,
        budget: BudgetCheck | None = None,
        list_price: ListPrice | None = None,
    ) -> None:
        self.inner = inner
        self.budget = budget
        self.list_price = list_price
        self.limiter = limiter
        self.breaker = breaker
        self.policy = policy
        self.state = state
        self.clock: Clock = clock or limiter.clock
        self.on_attempt = on_attempt
        self.token_estimator = token_estimator or estimate_tokens
        self.local_tz = local_tz
        self.last_report: CallReport | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        if state is not None:
            state.track(limiter)

    # --- identity -----------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def label(self) -> str:
        return self.inner.label

    @property
    def settings(self) -> ProviderSettings:
        return self.inner.settings

    def __repr__(self) -> str:
        return f"GuardedProvider({self.name}/{self.model})"

    def blocked(self) -> LLMProviderError | None:
        """The error a call would fail with at once (circuit open, or a provider hold beyond the retry
        budget, a spending budget reached), without sending anything; None if a call may be tried."""
        if self.budget is not None:
            reached = self.budget.blocked(self.name)
            if reached is not None:
                return reached
        error = self.breaker.blocked()
        if error is not None:
            return error
        return self.limiter.check(max_wait=self.policy.config.budget_seconds)

    # --- the interface ------------------------------------------------------------------------------------

    async def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
        report: CallReport | None = None,
    ) -> GenerateResult:
        call = self._begin(report, messages, system_prompt, options, streamed=False)

        async def attempt() -> GenerateResult:
            sent = await self._admit(call)
            try:
                result = await self.inner.chat(messages, system_prompt=system_prompt, options=options)
            except BaseException as exc:
                error = self._attempt_failed(call, sent, exc, streamed=False)
                if error is exc:
                    raise
                raise error from exc
            self._attempt_ok(call, sent, result, streamed=False)
            return result

        try:
            result: GenerateResult = await self._with_retries(call, attempt)
        except BaseException as exc:
            self._end(call, exc)
            raise
        self._end(call, None, result)
        return result

    async def open_stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
        report: CallReport | None = None,
    ) -> OpenedStream:
        """Send (admitted, and retried while no text has come) and return the reply's first item with the
        rest of the provider's stream, which the caller reads itself: the guards hear how it ends from the
        stream, instead of passing on every token."""
        call = self._begin(report, messages, system_prompt, options, streamed=True)

        async def attempt() -> OpenedStream:
            sent = await self._admit(call)
            progress = sent.progress = StreamProgress()
            inner = self.inner.stream(
                messages, system_prompt=system_prompt, options=options, progress=progress
            )
            try:
                # The first text (or the result of a reply without any): until then a retry is safe.
                first = await anext(inner, None)
                if first is None:  # LLMProvider.stream always ends with a result; this is a broken reply
                    raise self._reply_ended_early()
            except BaseException as exc:
                await _close(inner)
                error = self._attempt_failed(call, sent, exc, streamed=True)
                if error is exc:
                    raise
                raise error from exc
            if isinstance(first, str):
                progress.on_result = partial(self._stream_ended, call, sent)
                progress.on_failure = partial(self._stream_failed, call, sent)
            else:
                self._stream_ended(call, sent, first)
            return OpenedStream(first, inner, partial(self._stream_ended_early, call, sent))

        try:
            opened: OpenedStream = await self._with_retries(call, attempt)
        except BaseException as exc:
            self._end(call, exc)
            raise
        return opened

    def _stream_ended(self, call: _Call, sent: _Sent, result: GenerateResult) -> None:
        self._attempt_ok(call, sent, result, streamed=True)
        self._end(call, None, result)

    def _stream_failed(self, call: _Call, sent: _Sent, exc: BaseException) -> BaseException:
        error = self._attempt_failed(call, sent, exc, streamed=True)
        self._end(call, error)
        return error

    def _stream_ended_early(self, call: _Call, sent: _Sent) -> LLMProviderError:
        error = self._reply_ended_early()
        self._stream_failed(call, sent, error)
        return error

    def _reply_ended_early(self) -> LLMProviderError:
        return LLMProviderError(
            ErrorCode.INVALID_RESPONSE, f"{self.label}'s reply ended early. Try again.", provider=self.name
        )

    async def list_models(self) -> list[ModelInfo]:
        return await self.inner.list_models()

    async def health(self) -> HealthReport:
        report = await self.inner.health()
        if report.rate_limits is not None:
            self._observe(report.rate_limits)
        if report.reachable:
            self.breaker.record_success()
        return report

    async def aclose(self) -> None:
        await self.inner.aclose()

    # --- the steps ------------------------------------------------------------------------------------------

    def _begin(
        self,
        report: CallReport | None,
        messages: Sequence[ChatMessage],
        system_prompt: str | None,
        options: GenerateOptions | None,
        *,
        streamed: bool,
    ) -> _Call:
        report = report if report is not None else CallReport()
        report.provider, report.model = self.name, self.model
        report.outcome, report.error, report.streamed = None, None, streamed
        self.last_report = report
        return _Call(
            report,
            self.token_estimator(messages, system_prompt, options),
            estimate_tokens(messages, system_prompt, None),
        )

    def _end(self, call: _Call, error: BaseException | None, result: GenerateResult | None = None) -> None:
        report = call.report
        if error is None:
            report.outcome, report.error = "ok", None
            if result is not None:
                report.provider, report.model = result.provider, result.model
            return
        report.outcome = "cancelled" if _is_cancel(error) else "error"
        report.error = error

    async def _with_retries(self, call: _Call, attempt: Callable[[], Awaitable[Any]]) -> Any:
        # Most calls succeed at once, so the first attempt runs bare; a failure hands over to the retry policy
        # (tenacity), which sees that attempt fail as if it had run it and decides the same way.
        try:
            return await attempt()
        except Exception as error:
            first_failure: Exception | None = error

        async def replayed_then_again() -> Any:
            nonlocal first_failure
            if first_failure is not None:
                error, first_failure = first_failure, None
                raise error
            return await attempt()

        retrying = self.policy.retrying(
            sleep=lambda seconds: self._pause(call, seconds),
            on_give_up=lambda give_up: self._give_up(call, give_up),
        )
        return await retrying(replayed_then_again)

    async def _admit(self, call: _Call) -> _Sent:
        self.inner._check_key()  # a missing key fails before it costs a slot (nothing would be sent)
        if self.budget is not None:
            try:
                self.budget.check(self.name)  # a budget reached: refused here, nothing is sent
            except LLMProviderError as exc:
                if self.state is not None:
                    self.state.record_error(self.name, self.model, exc)
                raise
        probe = self.breaker.before_call()
        started = self.clock.now()
        try:
            reservation = await self.limiter.acquire(
                call.estimate, max_wait=max(0.0, self.policy.config.budget_seconds - call.retry_waited)
            )
        except BaseException as exc:
            call.report.waited_ms += (self.clock.now() - started) * 1000  # queued, then refused or cancelled
            if probe:
                self.breaker.release_probe()
            if isinstance(exc, LimitWaitTooLong) and self.state is not None:
                self.state.record_error(self.name, self.model, exc)
            raise
        # Only time spent queued is a wait: an admission slowed by the machine (another thread holding the
        # interpreter) is not one, and the report would otherwise tell the user "waited 1 ms".
        call.report.waited_ms += reservation.waited * 1000
        if not probe and self.breaker.state is not CircuitState.CLOSED:
            try:  # the circuit opened while this call waited for its slot: fail fast, or be the probe
                probe = self.breaker.before_call()
            except CircuitOpenError:
                reservation.release()
                raise
        call.attempt += 1
        return _Sent(reservation, call.attempt, probe)

    def _attempt_ok(self, call: _Call, sent: _Sent, result: GenerateResult, *, streamed: bool) -> None:
        usage = result.usage
        # What the limiter learns from the reply waits for the loop's next turn, or its next reader.
        after_reply = self.limiter.after_reply
        after_reply.add(sent.reservation.commit, usage.total_tokens if usage.total_tokens > 0 else None)
        if result.read_rate_limits is not None:
            after_reply.add(self._observe_reply, result)
        self.breaker.record_success()
        self._record(
            call,
            RequestRecord(
                provider=self.name,
                model=self.model,  # the model asked for: the ledger is read back per limiter key
                started_at=sent.reservation.admitted_at,
                outcome="ok",
                finished_at=self.clock.now(),
                latency_ms=result.latency_ms,
                time_to_first_token_ms=result.time_to_first_token_ms,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.total_tokens,
                streamed=streamed,
                attempt=sent.number,
                cost_usd=self._cost(usage.prompt_tokens, usage.completion_tokens),
            ),
        )

    def _attempt_failed(
        self, call: _Call, sent: _Sent, exc: BaseException, *, streamed: bool
    ) -> BaseException:
        """Account for an attempt that reached the provider and failed; return the error to raise."""
        now = self.clock.now()
        cancelled = _is_cancel(exc)
        sent.reservation.commit(None if cancelled else 0)  # it was sent, so it counts
        error: BaseException = exc
        if cancelled:
            if sent.probe:
                self.breaker.release_probe()
        elif isinstance(exc, LLMProviderError):
            if is_outage(exc):
                self.breaker.record_failure(exc)
            else:
                self.breaker.record_success()  # it answered
            error = self._absorb(exc, now)
        elif is_outage(exc):
            self.breaker.record_failure(exc)
        elif sent.probe:
            self.breaker.release_probe()
        call.last_error = error
        if not cancelled and self.state is not None:
            self.state.record_error(self.name, self.model, error)
        prompt, completion, estimated = self._partial_usage(call, sent, cancelled)
        self._record(
            call,
            RequestRecord(
                provider=self.name,
                model=self.model,
                started_at=sent.reservation.admitted_at,
                outcome="cancelled" if cancelled else "error",
                finished_at=now,
                latency_ms=(now - sent.reservation.admitted_at) * 1000,
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=None if prompt is None else prompt + (completion or 0),
                error_code=_code(exc),
                streamed=streamed,
                attempt=sent.number,
                cost_usd=self._cost(prompt, completion),
                usage_estimated=estimated,
            ),
        )
        return error

    def _partial_usage(
        self, call: _Call, sent: _Sent, cancelled: bool
    ) -> tuple[int | None, int | None, bool]:
        """(prompt, completion, estimated) tokens of an attempt that did not finish.

        What the provider reported mid-stream where it did (Gemini reports usage in every chunk); else one
        token per text chunk received and the prompt estimated from its length. A refusal that produced no
        text used nothing (None); a cancelled call was processed, so its prompt counts.
        """
        progress = sent.progress
        chunks = progress.text_chunks if progress is not None else 0
        reported = progress.reported if progress is not None else None
        if reported is not None and (reported.prompt_tokens or reported.completion_tokens):
            return reported.prompt_tokens, max(reported.completion_tokens, chunks), False
        if not cancelled and not chunks:
            return None, None, False
        return call.prompt_estimate, chunks, True

    def _absorb(self, exc: LLMProviderError, now: float) -> LLMProviderError:
        """Learn from a provider error (snapshot, holds); return the error to surface (a QUOTA_EXHAUSTED
        gets a sentence with the reset time in local time)."""
        self._observe(exc.snapshot)
        label = self.label
        if exc.code is ErrorCode.RATE_LIMIT_EXCEEDED:
            delay = exc.retry_after if exc.retry_after is not None else None
            if delay is None and exc.snapshot is not None:
                delay = exc.snapshot.retry_after
            if delay:
                what = window_phrase(exc.window) if exc.window is not None else "rate limit"
                self.limiter.hold_until(now + delay, f"{label} answered 429: {what} reached", exc.window)
            return exc
        if exc.code is ErrorCode.QUOTA_EXHAUSTED and not isinstance(exc, LimitWaitTooLong):
            reset = _reset_time(exc, now)
            if reset is None:
                return exc
            what = window_phrase(exc.window) if exc.window is not None else "quota"
            self.limiter.hold_until(reset, f"{label}'s {what} is used up", exc.window)
            return _with_message(exc, quota_sentence(self.name, exc.window, reset, now, self.local_tz))
        return exc

    def _observe_reply(self, result: GenerateResult) -> None:
        self._observe(result.rate_limits)  # the headers are parsed here, once the caller has its reply

    def _observe(self, snapshot: Any) -> None:
        if snapshot is None:
            return
        self.limiter.observe(snapshot)  # now: a window used up holds the very next call
        if self.state is not None:
            # For the panel and the log: on the event loop's next turn, once the caller has its reply.
            asyncio.get_running_loop().call_soon(self.state.observe_snapshot, snapshot)

    async def _pause(self, call: _Call, seconds: float) -> None:
        """The pause before a retry: visible in the state, cancellable from the panel."""
        now = self.clock.now()
        error = call.last_error
        reason = f"after {_describe(error)}; attempt {call.attempt + 1} of {self.policy.config.max_attempts}"
        logger.info(
            "[RetryPolicy] %s: %s; retrying in %.1fs (attempt %d of %d)",
            self.name,
            _describe(error),
            seconds,
            call.attempt + 1,
            self.policy.config.max_attempts,
        )
        handle = WaitHandle(self.name, self.limiter.model, "retry", reason, now, now + seconds)
        if self.state is not None:
            self.state.wait_started(handle)
        try:
            await cancellable_sleep(self.clock, handle, seconds)
        finally:
            waited = self.clock.now() - now
            call.retry_waited += waited
            call.report.waited_ms += waited * 1000
            if self.state is not None:
                self.state.wait_ended(handle)

    def _give_up(self, call: _Call, give_up: GiveUp) -> Any:
        error = give_up.error
        if (
            give_up.reason == "budget"
            and isinstance(error, LLMProviderError)
            and error.code is ErrorCode.RATE_LIMIT_EXCEEDED
        ):
            now = self.clock.now()
            reset = now + give_up.next_wait
            window = error.window or Window.REQUESTS_PER_MINUTE
            sentence = quota_sentence(self.name, window, reset, now, self.local_tz)
            budget = self.policy.config.budget_seconds
            longest_wait = describe_wait(budget, "words")
            quota = _with_message(
                error,
                f"{sentence} That is longer than the app waits on its own ({longest_wait}).",
                code=ErrorCode.QUOTA_EXHAUSTED,
                reset=reset,
            )
            if self.state is not None:
                self.state.record_error(self.name, self.model, quota)
            logger.info(
                "[RetryPolicy] %s: not waiting %.1fs (budget %.0fs left)",
                self.name,
                give_up.next_wait,
                budget,
            )
            raise quota from error
        raise error

    def _cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """The attempt's cost at list price, for its ledger row; None: unknown (or no price list given)."""
        if self.list_price is None:
            return None
        return self.list_price(self.name, self.model, prompt_tokens, completion_tokens)

    def _record(self, call: _Call, record: RequestRecord) -> None:
        call.report.attempts.append(record)
        if self.on_attempt is None:
            return
        try:
            outcome = self.on_attempt(record)
            if inspect.isawaitable(outcome):
                future = asyncio.ensure_future(outcome)
                self._pending.add(future)
                future.add_done_callback(self._ledger_done)
        except Exception:
            logger.exception("[GuardedProvider] could not report an attempt to the ledger")

    def _ledger_done(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error(
                "[GuardedProvider] could not report an attempt to the ledger", exc_info=future.exception()
            )


# --- helpers ----------------------------------------------------------------------------------------------


def _is_cancel(error: BaseException) -> bool:
    return isinstance(error, asyncio.CancelledError | GeneratorExit | WaitCancelled)


def _code(error: BaseException) -> str:
    if isinstance(error, LLMProviderError):
        return error.code.value
    if _is_cancel(error):
        return "CANCELLED"
    return type(error).__name__


def _describe(error: BaseException | None) -> str:
    if isinstance(error, LLMProviderError):
        label = provider_label(error.provider) if error.provider else "the provider"
        if error.code is ErrorCode.RATE_LIMIT_EXCEEDED:
            return f"{label} rate limit hit"
        if error.code is ErrorCode.NETWORK_ERROR:
            return f"{label} could not be reached"
        return f"{label} unavailable ({error.status_code or error.code.value})"
    return type(error).__name__ if error is not None else "a failure"


def _reset_time(error: LLMProviderError, now: float) -> float | None:
    if error.reset_at is not None:
        reset = error.reset_at if error.reset_at.tzinfo else error.reset_at.replace(tzinfo=UTC)
        return reset.timestamp()
    if error.retry_after is not None:
        return now + error.retry_after
    return None


def _with_message(
    error: LLMProviderError, message: str, *, code: ErrorCode | None = None, reset: float | None = None
) -> LLMProviderError:
    from datetime import datetime

    return LLMProviderError(
        code or error.code,
        message,
        provider=error.provider,
        retry_after=error.retry_after,
        reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else error.reset_at,
        status_code=error.status_code,
        detail=error.detail,
        window=error.window,
        snapshot=error.snapshot,
    )


async def _close(stream: AsyncIterator[StreamItem]) -> None:
    close = getattr(stream, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception:
        logger.debug("closing the provider stream failed", exc_info=True)
