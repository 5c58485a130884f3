"""An ordered chain of guarded providers (e.g. groq -> gemini -> ollama): when one fails in a way the next
may not (quota used up, unavailable, circuit open, unreachable after retries, rate limited after retries),
move on, if the user agrees. The result says which provider and model wrote it
(`GenerateResult.provider/model`, and `CallReport.provider/model` with one `FallbackStep` per switch).

A stream moves on only while no text has reached the caller: text is never duplicated or mixed.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from app.core.errors import ErrorCode, LLMProviderError
from app.core.guards.guarded import CallReport, FallbackStep, GuardedProvider, OpenedStream, StreamOpener
from app.core.types import ChatMessage, GenerateOptions, GenerateResult, HealthReport, ModelInfo

logger = logging.getLogger(__name__)

ConsentDecision = Literal["once", "always", "cancel"]

FALLBACK_CODES = frozenset(
    {
        ErrorCode.QUOTA_EXHAUSTED,
        ErrorCode.PROVIDER_UNAVAILABLE,  # includes an open circuit
        ErrorCode.NETWORK_ERROR,
        ErrorCode.RATE_LIMIT_EXCEEDED,
    }
)


@dataclass(frozen=True, slots=True)
class FallbackProposal:
    from_provider: str
    from_model: str
    to_provider: str
    to_model: str
    error: LLMProviderError
    from_label: str = ""
    to_label: str = ""

    @property
    def question(self) -> str:
        """ "Groq's daily request limit is used up; ... Use Gemini (gemini-2.5-flash) instead?"."""
        return f"{self.error.message} Use {self.to_label or self.to_provider} ({self.to_model}) instead?"


ConsentCallback = Callable[[FallbackProposal], Awaitable[ConsentDecision] | ConsentDecision]


def should_fall_back(error: BaseException) -> bool:
    return isinstance(error, LLMProviderError) and error.code in FALLBACK_CODES


class FallbackChain(StreamOpener):
    """Several guarded providers behind the one interface; the first is the user's choice."""

    def __init__(
        self,
        providers: Sequence[GuardedProvider],
        *,
        consent: ConsentCallback | None = None,
        always_allowed: Iterable[tuple[str, str]] = (),
    ) -> None:
        if not providers:
            raise ValueError("a fallback chain needs at least one provider")
        self.providers = list(providers)
        self.consent = consent
        self.always_allowed: set[tuple[str, str]] = set(always_allowed)  # (from, to) pairs answered "always"
        self.last_report: CallReport | None = None

    @property
    def name(self) -> str:
        return self.providers[0].name

    @property
    def model(self) -> str:
        return self.providers[0].model

    @property
    def label(self) -> str:
        return self.providers[0].label

    def __repr__(self) -> str:
        return "FallbackChain(" + " -> ".join(f"{p.name}/{p.model}" for p in self.providers) + ")"

    async def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
        report: CallReport | None = None,
    ) -> GenerateResult:
        report = self._begin(report)
        failed: tuple[GuardedProvider, LLMProviderError] | None = None
        for index, provider in enumerate(self.providers):
            if failed is not None:
                step = await self._move_on(failed, provider, index, report)
                if step == "cancel":
                    raise failed[1]
                if step == "skip":
                    continue
            try:
                return await provider.chat(
                    messages, system_prompt=system_prompt, options=options, report=report
                )
            except LLMProviderError as error:
                if not should_fall_back(error) or index == len(self.providers) - 1:
                    raise
                failed = (provider, error)
        raise AssertionError("unreachable")  # pragma: no cover

    async def open_stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        system_prompt: str | None = None,
        options: GenerateOptions | None = None,
        report: CallReport | None = None,
    ) -> OpenedStream:
        """The first provider whose reply gets as far as its first text: once text has reached the caller,
        the reply is that provider's, whatever happens next."""
        report = self._begin(report)
        failed: tuple[GuardedProvider, LLMProviderError] | None = None
        for index, provider in enumerate(self.providers):
            if failed is not None:
                step = await self._move_on(failed, provider, index, report)
                if step == "cancel":
                    raise failed[1]
                if step == "skip":
                    continue
            try:
                return await provider.open_stream(
                    messages, system_prompt=system_prompt, options=options, report=report
                )
            except LLMProviderError as error:
                if not should_fall_back(error) or index == len(self.providers) - 1:
                    raise
                failed = (provider, error)
        raise AssertionError("unreachable")  # pragma: no cover

    async def list_models(self) -> list[ModelInfo]:
        return await self.providers[0].list_models()

    async def health(self) -> HealthReport:
        return await self.providers[0].health()

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()

    def _begin(self, report: CallReport | None) -> CallReport:
        report = report if report is not None else CallReport()
        self.last_report = report
        return report

    async def _move_on(
        self,
        failed: tuple[GuardedProvider, LLMProviderError],
        candidate: GuardedProvider,
        index: int,
        report: CallReport,
    ) -> Literal["try", "skip", "cancel"]:
        """Ask (unless already allowed) before trying `candidate`: try it, skip it, or stop (cancelled).

        A candidate that would fail at once (its circuit is open, its quota is known to be used up) is
        skipped without asking, unless it is the last one.
        """
        source, error = failed
        blocked = candidate.blocked() if index < len(self.providers) - 1 else None
        if blocked is not None:
            report.fallbacks.append(self._step(source, candidate, error, "skipped"))
            logger.info("[Fallback] skipping %s: %s", candidate.name, blocked.message)
            return "skip"
        pair = (source.name, candidate.name)
        decision: Literal["allowed", "once", "always", "cancel"]
        if self.consent is None or pair in self.always_allowed:
            decision = "allowed"
        else:
            proposal = FallbackProposal(
                source.name,
                source.model,
                candidate.name,
                candidate.model,
                error,
                source.label,
                candidate.label,
            )
            answer = self.consent(proposal)
            decision = await answer if inspect.isawaitable(answer) else answer
            if decision == "always":
                self.always_allowed.add(pair)
        report.fallbacks.append(self._step(source, candidate, error, decision))
        if decision == "cancel":
            logger.info("[Fallback] the user kept %s (no switch to %s)", source.name, candidate.name)
            return "cancel"
        logger.info(
            "[Fallback] %s failed (%s); switching to %s", source.name, error.code.value, candidate.name
        )
        return "try"

    @staticmethod
    def _step(
        source: GuardedProvider,
        candidate: GuardedProvider,
        error: LLMProviderError,
        decision: Literal["allowed", "once", "always", "cancel", "skipped"],
    ) -> FallbackStep:
        return FallbackStep(
            source.name, source.model, candidate.name, candidate.model, error.code.value, decision
        )
