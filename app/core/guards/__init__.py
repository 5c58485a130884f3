"""Reliability written once, composed around any provider: limiter -> circuit breaker -> retry -> fallback."""

from app.core.guards.breaker import CircuitBreaker, CircuitOpenError, is_connection_refused, is_outage
from app.core.guards.factory import ProviderGuards, guard
from app.core.guards.fallback import (
    ConsentCallback,
    ConsentDecision,
    FallbackChain,
    FallbackProposal,
    should_fall_back,
)
from app.core.guards.guarded import CallReport, ChatProvider, FallbackStep, GuardedProvider
from app.core.guards.retry import GiveUp, RetryPolicy

__all__ = [
    "CallReport",
    "ChatProvider",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConsentCallback",
    "ConsentDecision",
    "FallbackChain",
    "FallbackProposal",
    "FallbackStep",
    "GiveUp",
    "GuardedProvider",
    "ProviderGuards",
    "RetryPolicy",
    "guard",
    "is_connection_refused",
    "is_outage",
    "should_fall_back",
]
