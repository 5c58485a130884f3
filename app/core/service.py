"""ScriptService: topic + persona + length -> prompt -> the chosen provider (guarded) -> a saved script.

The window and the CLI drive this one object; it knows no Qt.

Contract used by the UI:
- `generate(request, on_delta=..., consent=...)` streams, calls `on_delta(text)` for each delta and saves the
  script (the partial text too). Provider errors come back as `ScriptOutcome(status="failed", error=...)`;
  cancelling the awaiting task cancels upstream, saves the partial text as "cancelled" and re-raises
  `CancelledError`. The rows are written behind the reply (the store's background writer): the outcome is
  returned at once and `await outcome.wait_saved()` gives the script's id, or raises StoreError when the
  database refused it.
- `consent(FallbackProposal)` -> "once" | "always" | "cancel" is awaited before another provider is used.
- `state` is the live rate-limit state (subscribe with plain callbacks).
- `apply_settings()` re-reads preferences, the named OpenAI-compatible instances, provider settings, limits
  and the fallback order after Settings saved.
- Usage: every attempt goes to the ledger with its cost (`prices`) and to the daily counters (`counters`);
  `budgets` refuses a provider whose cap is reached (subscribe for alerts); `cache` answers a request already
  paid for (`ScriptRequest(use_cache=False)` bypasses it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from contextlib import aclosing
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from app.core.catalogue import (
    INSTANCES_KEY,
    catalogue_entry,
    parse_instances,
    provider_names,
    register_instances,
)
from app.core.config import ProviderSettings, resolve_provider_settings
from app.core.errors import LLMProviderError
from app.core.guards import CallReport, FallbackChain, FallbackProposal, GuardedProvider, ProviderGuards
from app.core.guards.fallback import ConsentDecision
from app.core.guards.guarded import OpenedStream
from app.core.prompts import build_script_messages, clamp_words, words_for_minutes
from app.core.providers import create_provider
from app.core.ratelimit.clock import Clock, SystemClock
from app.core.ratelimit.limiter import WaitCancelled
from app.core.ratelimit.settings import load_guard_settings
from app.core.ratelimit.snapshot import LimitSource, RateLimitSnapshot, Window, WindowLimit
from app.core.ratelimit.state import RateLimitState
from app.core.types import ChatMessage, GenerateResult, HealthReport, ModelInfo
from app.core.usage.budgets import BudgetGuard, load_budget_settings
from app.core.usage.cache import ResponseCache, cache_key, load_cache_settings, replay
from app.core.usage.counters import UsageCounters
from app.core.usage.pricing import PRICES_KEY, PriceTable

if TYPE_CHECKING:
    from app.core.keys import KeyStore
    from app.core.providers.base import LLMProvider
    from app.store import RequestRecord, Store
    from app.store.writer import QueuedWrite, WriteHold

log = logging.getLogger(__name__)

__all__ = ["FallbackProposal", "ScriptOutcome", "ScriptRequest", "ScriptService", "words_for_minutes"]

ALWAYS_ALLOWED_KEY = "fallback.always_allowed"  # (from, to) pairs the user answered "Always" for
REPORTED_KEY_PREFIX = "reported."  # the limits each provider last reported, so a restart still shows them
REPORTED_SAVE_INTERVAL_S = 30.0
# The rows a reply leaves wait behind it at most this long, so a crash mid-stream still leaves its row.
HELD_WRITES_MAX_S = 1.0


@dataclass(slots=True)
class _ScriptRows:
    """The rows one generate() leaves: its script row, its calls' ledger rows, the answer it caches and its
    outcome. They are written behind the reply in one queued write (`queue_final`), which `hold` keeps from
    the writer until the caller has its outcome: four queued writes cost the reply ~40 us more. A reply that
    outlives HELD_WRITES_MAX_S has its script row and calls so far queued then (`queue_started`), so that a
    crash mid-stream still leaves them."""

    store: Store
    create: Callable[[], int]  # the script's row, as it started
    hold: WriteHold
    created: QueuedWrite[int] | None = None
    calls: list[RequestRecord] = field(default_factory=list)  # not queued yet
    costs: list[float | None] = field(default_factory=list)  # None: a call whose price is unknown
    extras: list[tuple[str, Callable[[], object]]] = field(default_factory=list)  # (what failed, write)
    final: QueuedWrite[int] | None = None

    def cost(self) -> float | None:
        return None if None in self.costs else sum(c for c in self.costs if c is not None)

    def queue_started(self) -> None:
        if self.created is None:
            self.created = self.store.later(self.create)
        if self.calls:
            calls, self.calls, created = self.calls, [], self.created
            self.store.later(lambda: self._write_calls(created.applied(), calls))

    def queue_final(self, outcome: dict[str, Any]) -> QueuedWrite[int]:
        calls, extras, created = self.calls, self.extras, self.created

        def write() -> int:
            script_id = created.applied() if created is not None else self.create()
            self._write_calls(script_id, calls)
            for what, extra in extras:
                _logged(what, extra)
            self.store.finish_script(script_id, **outcome)
            return script_id

        self.final = self.store.later(write)
        return self.final

    def _write_calls(self, script_id: int, calls: list[RequestRecord]) -> None:
        # Each in a savepoint of its own: a ledger row that fails is logged, the script is saved regardless.
        for call in calls:
            _logged(
                "could not write a call to the ledger",
                self.store.record_request,
                replace(call, script_id=script_id),
            )


# The script an attempt belongs to, so the ledger row can point at it (set per generate() task).
_current_script: ContextVar[_ScriptRows | None] = ContextVar("current_script", default=None)


@dataclass(frozen=True, slots=True)
class ScriptRequest:
    topic: str
    persona_id: str | None = None
    target_words: int | None = None
    provider: str | None = None  # an explicit choice for this call beats the saved preference
    model: str | None = None
    use_cache: bool = (
        True  # False: "Regenerate" / --no-cache: ask the provider again (and cache the new answer)
    )


@dataclass(frozen=True, slots=True)
class ScriptOutcome:
    # The script is written to the history behind the reply, so the caller never waits for SQLite: this
    # resolves to its id once it and its calls are in the database, or holds the error saying why not.
    saved: Future[int] = field(compare=False, repr=False)
    status: str  # "complete" | "cancelled" | "failed"
    text: str
    provider: str  # who actually wrote it, fallback included
    model: str
    result: GenerateResult | None = None
    error: LLMProviderError | None = None
    attempts: int = 0
    waited_ms: float = 0.0
    fallback_from: str | None = None
    cached: bool = False  # served from the response cache: nothing was sent
    cost_usd: float | None = None  # what the script's calls cost; None when a price is unknown
    # Hands the rows to the writer now: the service does on the event loop's next turn, which a caller
    # blocking that loop in `script_id` would never reach.
    hand_over: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)

    @property
    def script_id(self) -> int:
        """The script's id in the history. Blocks until it is saved: async code awaits `wait_saved()`."""
        self.hand_over()
        return self.saved.result()

    async def wait_saved(self) -> int:
        """The script's id, once the script and its calls are saved; raises StoreError when they were not."""
        return await asyncio.wrap_future(self.saved)


DeltaCallback = Callable[[str], None]
ConsentCallback = Callable[[FallbackProposal], Awaitable[ConsentDecision]]


class ScriptService:
    def __init__(
        self,
        store: Store,
        env: Mapping[str, str],
        *,
        clock: Clock | None = None,
        key_store: KeyStore | None = None,
    ) -> None:
        self.store = store
        self.env = dict(env)
        self.clock = clock or SystemClock()
        self.key_store = key_store
        self._instance_warnings: list[str] = []
        self._register_instances()  # before anything reads the catalogue: instances are providers like any
        self.counters = UsageCounters(store, clock=self.clock)
        self.prices = PriceTable()
        self.budgets = BudgetGuard(self.counters, clock=self.clock)
        self.cache = ResponseCache(store, clock=self.clock)
        self._load_usage_settings()
        self.guards = ProviderGuards(
            load_guard_settings(self.env, store),
            clock=self.clock,
            on_attempt=self._record_attempt,
            daily=self.counters,
            budget=self.budgets,
            list_price=self._list_price,
        )
        self.guards.seed_from(store)  # a restart does not forget the calls of the last minute and day
        self._providers: dict[tuple[str, str], GuardedProvider] = {}
        self._prepared: dict[tuple[str, str], LLMProvider] = {}  # built by prepare(), not yet wrapped
        self._building = threading.Lock()
        # Resolved once per provider (a keychain read can block): apply_settings() clears it.
        self._settings: dict[str, ProviderSettings] = {}
        self._reported_saved_at: dict[tuple[str, str], float] = {}
        # Every provider's settings, keys included, now: the window builds the service on a worker thread, so
        # the first request (and the window's first look at the provider) reads neither store nor keychain.
        for name in provider_names():
            self.provider_settings(name)
        self._track_current_models()
        self._restore_reported()

    @property
    def state(self) -> RateLimitState:
        return self.guards.state

    @property
    def settings_warnings(self) -> list[str]:
        """Invalid limit, budget, price and cache settings, replaced or ignored: one sentence each."""
        return [*self._instance_warnings, *self.guards.settings.warnings, *self._usage_warnings]

    def _register_instances(self) -> None:
        """The user's named OpenAI-compatible servers (`providers.openai_instances`) join the catalogue."""
        warnings: list[str] = []
        register_instances(parse_instances(self.store.get_setting(INSTANCES_KEY), warnings))
        self._instance_warnings = warnings

    def _load_usage_settings(self) -> None:
        saved = self.store.settings_with_prefix("usage.")
        warnings: list[str] = []
        self.prices = PriceTable.from_saved(saved.get(PRICES_KEY), warnings)
        budgets = load_budget_settings(saved)
        self.budgets.configure(budgets)
        cache = load_cache_settings(self.env, saved)
        self.cache.configure(cache)
        self._usage_warnings = [*warnings, *budgets.warnings, *cache.warnings]

    def _track_current_models(self) -> None:
        """Give each provider's current model a row in the state, so the panel shows it before first use, and
        load today's and this month's usage now: the first request's limiter and budget checks then read
        memory, not a ledger behind the writes that request has just queued."""
        for name in provider_names():
            # Only the model: settings re-applied on the event loop must not wait for the keychain.
            self.state.track(self.guards.registry.limiter(name, self.current_model(name)))
            self.counters.day(name)
            self.counters.month(name)

    # --- choosing a provider -------------------------------------------------------------------------

    def current_provider(self) -> str:
        """The saved preference, else LLM_PROVIDER, else ollama."""
        saved = self.store.get_saved_provider()
        if saved and saved in provider_names():  # a named instance since removed falls back
            return saved
        from_env = self.env.get("LLM_PROVIDER", "").strip().lower()
        return from_env if from_env in provider_names() else "ollama"

    def provider_settings(self, name: str) -> ProviderSettings:
        """What a request to `name` needs, its key included (the first call reads the keychain: blocking)."""
        cached = self._settings.get(name)
        if cached is None:
            saved_key = self.key_store.get(name) if self.key_store else None
            cached = self._settings[name] = resolve_provider_settings(
                name, self.env, self._saved_settings(name), saved_key
            )
        return cached

    def current_model(self, name: str) -> str:
        """The model `name` writes with, without reading its key from the keychain."""
        cached = self._settings.get(name)
        if cached is not None:
            return cached.model
        return resolve_provider_settings(name, self.env, self._saved_settings(name)).model

    def _saved_settings(self, name: str) -> dict[str, Any]:
        catalogue_entry(name)  # unknown names fail with INVALID_REQUEST
        prefix = f"provider.{name}."
        return {k.removeprefix(prefix): v for k, v in self.store.settings_with_prefix(prefix).items()}

    def _guarded(self, name: str, model: str | None = None) -> GuardedProvider:
        settings = self.provider_settings(name)
        if model:
            settings = replace(settings, model=model)
        cache_key = (name, settings.model)
        with self._building:
            if cache_key not in self._providers:
                adapter = self._prepared.pop(cache_key, None)
                if adapter is None:
                    adapter = create_provider(name, settings, clock=self.clock)
                # Wrapping registers the provider with the live state, whose listeners are the window's: this
                # happens here, on the event loop, never in prepare()'s thread.
                self._providers[cache_key] = self.guards.wrap(adapter)
            return self._providers[cache_key]

    def prepare(self, provider: str | None = None) -> None:
        """Build what the first generation with `provider` (default: the current one) and its fallbacks would
        build on the event loop: their settings (a keychain read), adapters and SDK clients. Blocking: the
        window calls it on a worker thread while a topic is typed; the next generation picks them up."""
        name = provider or self.current_provider()
        for each in self.guards.settings.fallback_order(name):
            settings = self.provider_settings(each)
            key = (each, settings.model)
            with self._building:
                if key in self._providers or key in self._prepared:
                    continue
            adapter = create_provider(each, settings, clock=self.clock)
            adapter.prepare()
            with self._building:
                self._prepared.setdefault(key, adapter)

    def _writer(
        self, name: str, model: str | None, consent: ConsentCallback | None
    ) -> GuardedProvider | FallbackChain:
        """The chosen provider, or a fallback chain headed by it when the user configured one."""
        order = self.guards.settings.fallback_order(name)
        first = self._guarded(name, model)
        if len(order) == 1:
            return first
        chain = self.guards.chain([first, *(self._guarded(n) for n in order[1:])], consent=consent)
        chain.always_allowed = {(str(a), str(b)) for a, b in self.store.get_setting(ALWAYS_ALLOWED_KEY, [])}
        return chain

    # --- generating ------------------------------------------------------------------------------------

    async def generate(
        self,
        request: ScriptRequest,
        *,
        on_delta: DeltaCallback | None = None,
        consent: ConsentCallback | None = None,
        yield_every_s: float | None = None,
    ) -> ScriptOutcome:
        """Stream one script and save it. `yield_every_s`: a caller sharing the event loop (the window) gets a
        loop turn at least this often, even from a reply already buffered that never suspends on its own.
        Without it, no turn is forced: each costs ~40 us once the SDK's parsing has evicted the loop from the
        CPU's caches, about a tenth of what the app adds to a request."""
        name = request.provider or self.current_provider()
        persona = self.store.get_persona(request.persona_id) if request.persona_id else None
        if persona is None:
            persona = self.store.default_persona()
        target_words = clamp_words(request.target_words)
        system_prompt, messages = build_script_messages(
            request.topic, persona.prompt if persona else None, target_words
        )
        writer = self._writer(name, request.model, consent)
        hit = None
        if self.cache.enabled and request.use_cache:
            # Looked up on the store's writer, behind the writes queued before it: the event loop never waits
            # for SQLite, and an answer cached a moment ago is found.
            key = cache_key(name, writer.model, system_prompt, messages, None)
            hit = await asyncio.wrap_future(self.store.later(partial(self.cache.lookup, key)))
        # Every row this call leaves is written behind it, once the reply is in: queued (the script's row
        # first) while a reply streams, they would compete with it for the interpreter and a core.
        hold = self.store.writes_held()
        loop = asyncio.get_running_loop()
        try:
            rows = _ScriptRows(
                self.store,
                partial(self.store.create_script, request.topic, persona, name, writer.model, target_words),
                hold,
            )
            # An event-loop timer, not the writer thread, bounds the hold: waking that thread now to wait
            # would cost the request a switch of the interpreter lock.
            hold_limit = loop.call_later(HELD_WRITES_MAX_S, self._let_rows_go, rows)
            token = _current_script.set(rows)
            report = CallReport()
            parts: list[str] = []
            try:
                if hit is not None:
                    log.info(
                        "[ScriptService] %s/%s answered from the response cache", hit.provider, hit.model
                    )
                    opened = await OpenedStream.of(
                        replay(hit, clock=self.clock, report=report, on_attempt=self._record_attempt)
                    )
                else:
                    opened = await writer.open_stream(messages, system_prompt=system_prompt, report=report)
                # The provider's own stream, read here: the guards hear how it ends from the stream itself.
                async with aclosing(opened.rest) as rest:
                    first = opened.first
                    if not isinstance(first, str):  # a reply without text
                        return self._finish(rows, first, report, name, system_prompt, messages)
                    parts.append(first)
                    if on_delta is not None:
                        on_delta(first)
                    # Once per token: local names are faster.
                    clock, add_part = time.perf_counter, parts.append
                    interval = yield_every_s if yield_every_s is not None else math.inf
                    yield_after = clock() + interval
                    async for item in rest:
                        if isinstance(item, str):
                            add_part(item)
                            if on_delta is not None:
                                on_delta(item)
                            if clock() > yield_after:
                                await asyncio.sleep(0)
                                yield_after = clock() + interval
                        else:
                            return self._finish(rows, item, report, name, system_prompt, messages)
            except LLMProviderError as error:
                log.warning("[ScriptService] %s failed: %s (%s)", name, error.code.value, error.message)
                return self._end(rows, "failed", parts, report, name, writer, error)
            except WaitCancelled:  # the user cancelled a visible wait: nothing more was sent
                return self._end(rows, "cancelled", parts, report, name, writer, None)
            except asyncio.CancelledError:
                self._end(rows, "cancelled", parts, report, name, writer, None)
                raise
            finally:
                hold_limit.cancel()
                _current_script.reset(token)
                if isinstance(writer, FallbackChain):
                    self._remember_always(writer)
                # After the state has taken in what the reply reported (also on the loop's next turn).
                loop.call_soon(self._save_all_reported, report)
            return self._end(rows, "failed", parts, report, name, writer, opened.ended_early())
        finally:
            # The rows go to the writer once the caller has its outcome: waking that thread costs the waker
            # ~60 us on a virtual machine, which the reply need not wait for.
            loop.call_soon(hold.end)

    def _finish(
        self,
        rows: _ScriptRows,
        result: GenerateResult,
        report: CallReport,
        chosen: str,
        system_prompt: str,
        messages: list[ChatMessage],
    ) -> ScriptOutcome:
        if not result.cached:
            self._cache_result(rows, result, report, system_prompt, messages)
        saved = self._save_script(
            rows,
            text=result.text,
            status="complete",
            provider=result.provider,
            model=result.model,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            total_tokens=result.usage.total_tokens,
            latency_ms=result.latency_ms,
            ttft_ms=result.time_to_first_token_ms,
            finish_reason=result.finish_reason,
        )
        return ScriptOutcome(
            saved,
            "complete",
            result.text,
            result.provider,
            result.model,
            result=result,
            attempts=report.attempt_count,
            waited_ms=report.waited_ms,
            fallback_from=chosen if result.provider != chosen else None,
            cached=result.cached,
            cost_usd=rows.cost(),
            hand_over=partial(self._hand_over, rows.hold),
        )

    def _cache_result(
        self,
        rows: _ScriptRows,
        result: GenerateResult,
        report: CallReport,
        system_prompt: str,
        messages: list[ChatMessage],
    ) -> None:
        """Cache a fresh answer under the provider and model that wrote it (after a fallback too)."""
        if not self.cache.enabled or not report.attempts:
            return
        last = report.attempts[-1]

        def save() -> None:  # the key (a SHA-256 of the request) is computed behind the reply too
            key = cache_key(last.provider, last.model, system_prompt, messages, None)
            self.cache.save(key, last.provider, last.model, result)

        rows.extras.append(("could not cache the answer", save))  # the script is saved regardless

    def _end(
        self,
        rows: _ScriptRows,
        status: str,
        parts: list[str],
        report: CallReport,
        chosen: str,
        writer: GuardedProvider | FallbackChain,
        error: LLMProviderError | None,
    ) -> ScriptOutcome:
        """A failed or cancelled script keeps its partial text, under the provider that was writing it."""
        provider = report.provider or writer.name
        model = report.model or writer.model
        text = "".join(parts)
        saved = self._save_script(
            rows,
            text=text,
            status=status,
            provider=provider,
            model=model,
            error_code=error.code.value if error else None,
            error_message=error.message if error else None,
        )
        return ScriptOutcome(
            saved,
            status,
            text,
            provider,
            model,
            error=error,
            attempts=report.attempt_count,
            waited_ms=report.waited_ms,
            fallback_from=chosen if provider != chosen else None,
            cost_usd=rows.cost(),
            hand_over=partial(self._hand_over, rows.hold),
        )

    def _hand_over(self, hold: WriteHold) -> None:
        """This generation's rows to the writer now, with whatever another one's hold keeps."""
        hold.end()
        self.store.release_held_writes()

    def _save_script(self, rows: _ScriptRows, **outcome: Any) -> Future[int]:
        """Queue the script's rows with its outcome (partial text included). The future resolves to the
        script's id; a failure is logged and left on it for the caller to show."""
        saved = rows.queue_final(outcome)
        saved.add_done_callback(_log_failure("could not save the script"))
        return saved

    def _let_rows_go(self, rows: _ScriptRows) -> None:
        """A reply streaming past HELD_WRITES_MAX_S: its script row and calls so far go to the writer."""
        rows.queue_started()
        self.store.release_held_writes()

    def _record_attempt(self, record: RequestRecord) -> None:
        """Each attempt that reached a provider (or a cache hit), priced: its ledger row, then the counters.

        The counters (which budgets read) count it at once; the ledger row is written behind, with the row of
        the script the attempt belongs to.
        """
        rows = _current_script.get()
        if rows is None or rows.final is not None:
            self.store.later(partial(self.store.record_request, record)).add_done_callback(
                _log_failure("could not write a call to the ledger")
            )
        else:  # written with the script's row, once the reply is in
            cost = record.cost_usd
            used_tokens = (record.prompt_tokens or 0) + (record.completion_tokens or 0) > 0
            rows.costs.append(None if cost is None and used_tokens else cost or 0.0)
            rows.calls.append(record)
        self.counters.record(record)

    def _list_price(
        self, provider: str, model: str, prompt_tokens: int | None, completion_tokens: int | None
    ) -> float | None:
        return self.prices.cost(provider, model, prompt_tokens, completion_tokens)  # Settings may replace it

    def _save_all_reported(self, report: CallReport) -> None:
        for attempt in {(a.provider, a.model) for a in report.attempts}:
            self._save_reported(*attempt)

    def _save_reported(self, provider: str, model: str, *, force: bool = False) -> None:
        """Keep what the provider last reported, at most every 30 s (and at close): it is for display."""
        now = self.clock.now()
        if not force and now - self._reported_saved_at.get((provider, model), -REPORTED_SAVE_INTERVAL_S) < (
            REPORTED_SAVE_INTERVAL_S
        ):
            return
        self._reported_saved_at[(provider, model)] = now
        view = self.state.view(provider, model)
        if view.reported:
            rows = [
                {
                    "window": w.window.value,
                    "limit": w.limit,
                    "remaining": w.remaining,
                    "reset_at": w.reset_at,
                    "observed_at": w.observed_at,
                }
                for w in view.reported
                if w.source is LimitSource.PROVIDER
            ]
            key = f"{REPORTED_KEY_PREFIX}{provider}/{view.model or ''}"
            self.store.later(partial(self.store.set_setting, key, rows)).add_done_callback(
                _log_failure("could not keep the reported limits")
            )

    def _restore_reported(self) -> None:
        for key, rows in self.store.settings_with_prefix(REPORTED_KEY_PREFIX).items():
            provider, _, model = key.removeprefix(REPORTED_KEY_PREFIX).partition("/")
            try:
                windows = tuple(
                    WindowLimit(
                        Window(row["window"]),
                        row["limit"],
                        row["remaining"],
                        row["reset_at"],
                        LimitSource.PROVIDER,
                        row["observed_at"],
                    )
                    for row in rows
                )
            except (KeyError, TypeError, ValueError):  # a damaged entry is dropped, not fatal
                log.warning("[ScriptService] ignoring unreadable saved limits for %s", provider)
                continue
            if provider in provider_names():
                self.state.observe_snapshot(RateLimitSnapshot(provider, model, windows))

    def _remember_always(self, chain: FallbackChain) -> None:
        pairs = sorted(list(pair) for pair in chain.always_allowed)
        if pairs != sorted(self.store.get_setting(ALWAYS_ALLOWED_KEY, [])):
            self.store.set_setting(ALWAYS_ALLOWED_KEY, pairs)

    # --- settings dialog and CLI helpers -------------------------------------------------------------

    async def list_models(self, provider: str, settings: ProviderSettings | None = None) -> list[ModelInfo]:
        adapter = create_provider(provider, settings or self.provider_settings(provider), clock=self.clock)
        try:
            return await adapter.list_models()
        finally:
            await adapter.aclose()

    async def health(self, provider: str, settings: ProviderSettings | None = None) -> HealthReport:
        adapter = create_provider(provider, settings or self.provider_settings(provider), clock=self.clock)
        try:
            return await adapter.health()
        finally:
            await adapter.aclose()

    def apply_settings(self) -> None:
        """Settings changed: new limits take effect at once; cached adapters go, so the next call uses the new
        model, key and host."""
        self._register_instances()
        self._settings.clear()
        self._load_usage_settings()
        self.guards.apply(load_guard_settings(self.env, self.store))
        self.state.retain(provider_names())  # a removed instance leaves the panel
        self._track_current_models()
        with self._building:
            stale: list[GuardedProvider | LLMProvider] = [*self._providers.values(), *self._prepared.values()]
            self._providers.clear()
            self._prepared.clear()
        for adapter in stale:
            asyncio.get_event_loop().create_task(adapter.aclose())

    async def aclose(self) -> None:
        for provider, model in list(self._reported_saved_at):
            self._save_reported(provider, model, force=True)
        adapters = list(self._providers.values())
        self._providers.clear()
        await asyncio.gather(*(a.aclose() for a in adapters), return_exceptions=True)


def _logged(what: str, write: Callable[..., object], *args: Any) -> None:
    """Run one of a script's side writes on the writer thread; its failure is logged, not raised."""
    try:
        write(*args)
    except Exception as error:
        log.error("[ScriptService] %s: %s", what, error, exc_info=error)


def _log_failure(what: str) -> Callable[[Future[Any]], None]:
    """A done-callback that logs a queued write's failure (it runs on the writer thread)."""

    def check(written: Future[Any]) -> None:
        error = written.exception()
        if error is not None:
            log.error("[ScriptService] %s: %s", what, error, exc_info=error)

    return check
