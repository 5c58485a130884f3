"""One place that owns the shared guard machinery and wraps providers with it.

guards = ProviderGuards(load_guard_settings(env, store), clock=SystemClock(), on_attempt=write_to_ledger,
                        daily=usage_counters, budget=budget_guard)   # both optional
guards.seed_from(store)                      # the limiter windows survive a restart
provider = guards.wrap(create_provider("groq", settings))
chain = guards.chain([groq, gemini, ollama], consent=ask_user)   # when fallback is on
unsubscribe = guards.state.subscribe(on_change)                  # the panel / CLI
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import tzinfo

from app.core.guards.breaker import CircuitBreaker
from app.core.guards.fallback import ConsentCallback, FallbackChain
from app.core.guards.guarded import AttemptCallback, BudgetCheck, GuardedProvider, ListPrice
from app.core.guards.retry import RetryPolicy
from app.core.providers.base import LLMProvider
from app.core.ratelimit.clock import Clock, SystemClock
from app.core.ratelimit.limiter import DailyRequestCount, RateLimiterRegistry, RequestLedger
from app.core.ratelimit.settings import GuardSettings
from app.core.ratelimit.state import RateLimitState


class ProviderGuards:
    """The limiters, breakers, retry policy and state that every guarded provider of the app shares."""

    def __init__(
        self,
        settings: GuardSettings | None = None,
        *,
        clock: Clock | None = None,
        state: RateLimitState | None = None,
        on_attempt: AttemptCallback | None = None,
        ledger: RequestLedger | None = None,
        local_tz: tzinfo | None = None,
        rng: random.Random | None = None,
        daily: DailyRequestCount | None = None,
        budget: BudgetCheck | None = None,
        list_price: ListPrice | None = None,
    ) -> None:
        self.settings = settings or GuardSettings()
        self.budget = budget  # spending caps, checked before each attempt of every wrapped provider
        self.list_price = list_price  # each attempt's ledger row carries its cost
        self.clock: Clock = clock or SystemClock()
        self.local_tz = local_tz
        self.state = state or RateLimitState(self.clock, local_tz=local_tz)
        self.registry = RateLimiterRegistry(
            self.clock, self.settings.limits, local_tz=local_tz, ledger=ledger, daily=daily
        )
        self.registry.add_listener(self.state.on_limiter_event)
        self.policy = RetryPolicy(self.settings.retry, rng=rng)
        self.on_attempt = on_attempt
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, provider: str) -> CircuitBreaker:
        breaker = self._breakers.get(provider)
        if breaker is None:
            breaker = CircuitBreaker(
                provider,
                self.settings.breaker,
                clock=self.clock,
                local_tz=self.local_tz,
                listener=lambda b: self.state.set_circuit(b.provider, b.view()),
            )
            self._breakers[provider] = breaker
        return breaker

    def wrap(self, provider: LLMProvider | GuardedProvider) -> GuardedProvider:
        if isinstance(provider, GuardedProvider):
            return provider
        return GuardedProvider(
            provider,
            limiter=self.registry.limiter(provider.name, provider.model),
            breaker=self.breaker(provider.name),
            policy=self.policy,
            state=self.state,
            clock=self.clock,
            on_attempt=self.on_attempt,
            local_tz=self.local_tz,
            budget=self.budget,
            list_price=self.list_price,
        )

    def chain(
        self, providers: Sequence[LLMProvider | GuardedProvider], *, consent: ConsentCallback | None = None
    ) -> FallbackChain:
        return FallbackChain([self.wrap(p) for p in providers], consent=consent)

    def apply(self, settings: GuardSettings) -> None:
        """Take new settings live: limits, retry budget, breaker thresholds."""
        self.settings = settings
        for provider, config in settings.limits.items():
            self.registry.configure(provider, config)
        self.policy.configure(settings.retry)
        for breaker in self._breakers.values():
            breaker.configure(settings.breaker)

    def seed_from(self, ledger: RequestLedger) -> None:
        self.registry.seed_from(ledger)


def guard(
    provider: LLMProvider,
    settings: GuardSettings | None = None,
    state: RateLimitState | None = None,
    clock: Clock | None = None,
    *,
    on_attempt: AttemptCallback | None = None,
    local_tz: tzinfo | None = None,
) -> GuardedProvider:
    """Wrap one provider with guards of its own (tests, scripts). An app shares one ProviderGuards instead."""
    return ProviderGuards(settings, clock=clock, state=state, on_attempt=on_attempt, local_tz=local_tz).wrap(
        provider
    )
