"""scriptwright-cli: the same core as the window, without Qt.

Exit codes: 0 success, 1 a local failure (e.g. a damaged database), 2 a usage error, 3 a provider error.
`--help` imports no provider SDK: adapters load only when a command talks to a provider.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from app import __version__
from app.core.catalogue import CATALOGUE, PROVIDER_NAMES, provider_names
from app.core.errors import LLMProviderError

if TYPE_CHECKING:
    from app.core.service import ScriptService

EXIT_OK, EXIT_LOCAL, EXIT_USAGE, EXIT_PROVIDER = 0, 1, 2, 3


class UsageError(Exception):
    """Bad arguments that argparse could not catch (exit 2)."""


# The named OpenAI-compatible instances are known only once the service has read the settings, so --provider
# is checked after parsing (`_check_provider`), with the same exit code as argparse's own usage errors.
_PROVIDER_HELP = f"one of {', '.join(PROVIDER_NAMES)}, or openai:<name> for a server added in Settings"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scriptwright-cli",
        description="Write video scripts with the LLM you choose, from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"scriptwright {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="write a script and stream it to stdout")
    generate.add_argument("--topic", required=True, help="what the video is about")
    generate.add_argument(
        "--provider", metavar="PROVIDER", help=f"override the saved provider once; {_PROVIDER_HELP}"
    )
    generate.add_argument("--model", help="override the provider's model for this call")
    generate.add_argument("--persona", help="persona name or id (default: the default persona)")
    length = generate.add_mutually_exclusive_group()
    length.add_argument("--words", type=_positive_int, help="target length in words")
    length.add_argument("--minutes", type=_positive_float, help="target spoken minutes (~150 words a minute)")
    generate.add_argument("--json", action="store_true", help="print one JSON object, not streamed text")
    generate.add_argument(
        "--no-cache",
        action="store_true",
        help="ask the provider even if the same request was answered before",
    )

    providers = commands.add_parser("providers", help="each provider: configured? reachable? model, latency")
    providers.add_argument("--json", action="store_true")

    models = commands.add_parser("models", help="the models a provider lists")
    models.add_argument("--provider", metavar="PROVIDER", required=True, help=_PROVIDER_HELP)

    prefs = commands.add_parser("prefs", help="read or change saved preferences")
    prefs_commands = prefs.add_subparsers(dest="prefs_command", required=True, metavar="ACTION")
    prefs_get = prefs_commands.add_parser("get", help="print a preference")
    prefs_get.add_argument("key", choices=("default_llm_provider", "default_persona_id"))
    prefs_set = prefs_commands.add_parser("set", help="change a preference")
    prefs_set.add_argument("key", choices=("default_llm_provider", "default_persona_id"))
    prefs_set.add_argument("value")

    limits = commands.add_parser("limits", help="where each provider stands with its rate limits")
    limits.add_argument("--json", action="store_true")

    history = commands.add_parser("history", help="the scripts written so far, newest first")
    history.add_argument("--limit", type=_positive_int, default=20)
    history.add_argument("--json", action="store_true")

    usage = commands.add_parser("usage", help="requests, tokens, cost and latency per provider, model or day")
    usage.add_argument("--since", type=_day, help="first local day, YYYY-MM-DD (default: 30 days ago)")
    usage.add_argument("--until", type=_day, help="last local day, YYYY-MM-DD (default: today)")
    usage.add_argument("--by", choices=("provider", "model", "day"), default="model", help="group rows by")
    usage.add_argument("--json", action="store_true")

    cache = commands.add_parser("cache", help="the response cache")
    cache.add_argument("cache_command", choices=("stats", "clear"), metavar="ACTION", help="stats | clear")
    cache.add_argument("--json", action="store_true")
    return parser


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2025-11-22") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be greater than zero")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be greater than zero")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import os

    from app.core.logs import configure_logging
    from app.store.errors import StoreError
    from app.store.paths import data_dir

    # The CLI prints its own one-line errors; the details go to the log file only.
    configure_logging(data_dir(), level=os.environ.get("SCRIPTWRIGHT_LOG_LEVEL", "INFO"), stderr_level=None)
    try:
        return asyncio.run(_run(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LLMProviderError as exc:
        print(f"error: {exc.code.value}: {exc.message}", file=sys.stderr)
        return EXIT_PROVIDER
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCAL
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace) -> int:
    from app.core.bootstrap import open_service

    service = open_service()
    try:
        _check_provider(getattr(args, "provider", None))
        handler = _COMMANDS[args.command]
        return await handler(service, args)
    finally:
        await service.aclose()
        service.store.close()


def _check_provider(name: str | None) -> None:
    """An unknown --provider is a usage error naming every provider, named instances included."""
    if name is not None and name not in provider_names():
        raise UsageError(
            f"argument --provider: invalid choice: '{name}' (choose from {', '.join(provider_names())})"
        )


async def _generate(service: ScriptService, args: argparse.Namespace) -> int:
    from app.core.prompts import words_for_minutes
    from app.core.service import ScriptRequest

    persona_id = None
    if args.persona:
        persona = service.store.get_persona(args.persona)
        if persona is None:
            names = ", ".join(p.name for p in service.store.list_personas())
            raise UsageError(f"no persona '{args.persona}'. Choose one of: {names}.")
        persona_id = persona.id
    words = args.words or (words_for_minutes(args.minutes) if args.minutes else None)
    request = ScriptRequest(
        args.topic, persona_id, words, args.provider, args.model, use_cache=not args.no_cache
    )

    def write_delta(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    alerts = _AlertReporter(service)
    alerts.report(request.provider or service.current_provider())  # already over a threshold: say so first
    unsubscribe = service.state.subscribe(_WaitReporter(service))
    unsubscribe_alerts = service.budgets.subscribe(alerts)
    try:
        outcome = await service.generate(request, on_delta=None if args.json else write_delta)
    finally:
        unsubscribe()
        unsubscribe_alerts()
    if outcome.error is not None:
        if not args.json and outcome.text:
            sys.stdout.write("\n")
        raise outcome.error
    script_id = await outcome.wait_saved()  # one the database refused ends as an error, its text printed
    if args.json:
        result = outcome.result
        usage = asdict(result.usage) if result else None
        payload = {
            "text": outcome.text,
            "provider": outcome.provider,
            "model": outcome.model,
            "usage": usage,
            "latency_ms": round(result.latency_ms, 3) if result else None,
            "finish_reason": result.finish_reason if result else None,
            "script_id": script_id,
            "waited_ms": round(outcome.waited_ms, 1),
            "attempts": outcome.attempts,
            "fallback_from": outcome.fallback_from,
            "cached": outcome.cached,
            "cost_usd": outcome.cost_usd,
        }
        print(json.dumps(payload, ensure_ascii=False))
    else:
        sys.stdout.write("\n")
    return EXIT_OK


class _AlertReporter:
    """Prints each budget alert on stderr once: "warning: Groq has used 85% of its daily budget (...)"."""

    def __init__(self, service: ScriptService) -> None:
        self._service = service
        self._said: set[str] = set()

    def report(self, provider: str) -> None:
        for alert in self._service.budgets.alerts(provider):
            self(alert)

    def __call__(self, alert: Any) -> None:
        if alert.message in self._said:
            return
        self._said.add(alert.message)
        print(f"warning: {alert.message}", file=sys.stderr, flush=True)


class _WaitReporter:
    """Prints each wait on stderr as it starts: "waiting 28 s: Groq limit 2/min (local)"."""

    def __init__(self, service: ScriptService) -> None:
        self._service = service
        self._seen: set[int] = set()

    def __call__(self, key: tuple[str, str | None]) -> None:
        view = self._service.state.view(*key)
        for wait in view.active_waits:
            if id(wait.handle) in self._seen:
                continue
            self._seen.add(id(wait.handle))
            local = wait.kind == "rate_limit" and view.hold_until is None
            source = "local" if local else f"reported by {view.label}"
            print(
                f"waiting {wait.remaining_seconds:.0f} s: {view.label} {wait.reason} ({source})",
                file=sys.stderr,
                flush=True,
            )


async def _limits(service: ScriptService, args: argparse.Namespace) -> int:
    for name in CATALOGUE:  # every provider gets a row, used or not
        service.state.view(
            name, service.provider_settings(name).model if CATALOGUE[name].limits_per_model else None
        )
    views = service.state.snapshot()
    if args.json:
        print(json.dumps([_view_json(view) for view in views], ensure_ascii=False))
        return EXIT_OK
    for view in views:
        print(view.headline)
        print(f"  {view.next_available_text}")
        for window in view.reported:
            print(f"  {_reported_text(window, service.clock.now())}")
        if view.circuit.is_open:
            print(f"  circuit {view.circuit.state.value}")
        if view.last_error is not None:
            print(f"  last error: {view.last_error.message}")
    for warning in service.settings_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _reported_text(window: Any, now: float) -> str:
    remaining = "?" if window.remaining is None else window.remaining
    limit = "?" if window.limit is None else window.limit
    reset = "" if window.reset_at is None else f", resets in {max(0.0, window.reset_at - now):.0f} s"
    return f"{window.window.label}: {remaining}/{limit} left{reset} ({window.source.value})"


def _view_json(view: Any) -> dict[str, Any]:
    return {
        "provider": view.provider,
        "model": view.model,
        "enabled": view.enabled,
        "headline": view.headline,
        "next_available": view.next_available_text,
        "next_free_at": view.next_free_at,
        "requests_used_last_minute": view.rpm_used,
        "requests_per_minute_limit": view.rpm_limit,
        "reported": [
            {
                "window": w.window.value,
                "limit": w.limit,
                "remaining": w.remaining,
                "reset_at": w.reset_at,
                "source": w.source.value,
                "observed_at": w.observed_at,
            }
            for w in view.reported
        ],
        "active_waits": [{"reason": w.reason, "until": w.until} for w in view.active_waits],
        "circuit": view.circuit.state.value,
        "last_error": None
        if view.last_error is None
        else {"code": view.last_error.code, "message": view.last_error.message},
    }


async def _providers(service: ScriptService, args: argparse.Namespace) -> int:
    names = list(CATALOGUE)
    settings = [service.provider_settings(name) for name in names]
    reports = await asyncio.gather(*(service.health(s.name, s) for s in settings))
    rows: list[dict[str, Any]] = []
    for setting, report in zip(settings, reports, strict=True):
        entry = CATALOGUE[setting.name]
        rows.append(
            {
                "provider": setting.name,
                "label": entry.display_name,
                "configured": not entry.needs_key or bool(setting.api_key),
                "key_source": setting.key_source,
                "reachable": report.reachable,
                "key_accepted": report.key_accepted,
                "model": setting.model,
                "latency_ms": round(report.latency_ms, 1) if report.latency_ms is not None else None,
                "message": report.message,
            }
        )
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    current = service.current_provider()
    for row in rows:
        marker = "*" if row["provider"] == current else " "
        state = "reachable" if row["reachable"] else "unreachable"
        latency = f"{row['latency_ms']:.0f} ms" if row["latency_ms"] is not None else "-"
        configured = "configured" if row["configured"] else "no key"
        print(f"{marker} {row['label']:<16} {configured:<11} {state:<12} {latency:>8}  {row['model']}")
        if not row["reachable"] or row["key_accepted"] is False:
            print(f"    {row['message']}")
    return EXIT_OK


async def _models(service: ScriptService, args: argparse.Namespace) -> int:
    for model in await service.list_models(args.provider):
        print(model.id)
    return EXIT_OK


async def _prefs(service: ScriptService, args: argparse.Namespace) -> int:
    from app.store.errors import InvalidPreferenceError

    if args.prefs_command == "get":
        value = service.store.get_preference(args.key)
        print("" if value is None else value)
        return EXIT_OK
    if args.key == "default_llm_provider" and args.value.strip().lower().startswith("openai:"):
        _check_provider(args.value.strip().lower())  # a named instance must exist (Settings adds them)
    try:
        service.store.set_preference(args.key, args.value)
    except InvalidPreferenceError as exc:
        raise UsageError(str(exc)) from None
    print(f"{args.key} = {args.value}")
    return EXIT_OK


async def _history(service: ScriptService, args: argparse.Namespace) -> int:
    records = service.store.list_scripts(limit=args.limit)
    if args.json:
        print(json.dumps([asdict(r) for r in records], ensure_ascii=False))
        return EXIT_OK
    for record in records:
        words = len(record.text.split())
        status = "" if record.status == "complete" else f" [{record.status}]"
        when = record.created_at[:16].replace("T", " ")
        print(f"#{record.id:<5} {when}  {record.provider:<7} {words:>5} words  {record.topic}{status}")
    return EXIT_OK


async def _usage(service: ScriptService, args: argparse.Namespace) -> int:
    from app.core.usage.report import report_rows
    from app.store.usage import GroupBy

    today = date.fromtimestamp(service.clock.now())
    until = args.until or today
    since = args.since or until - timedelta(days=29)
    if since > until:
        raise UsageError(f"--since {since} is after --until {until}.")
    groups: dict[str, tuple[GroupBy, ...]] = {
        "provider": ("provider",),
        "model": ("provider", "model"),
        "day": ("day",),
    }
    group = groups[args.by]
    report = await asyncio.to_thread(service.store.usage_report, since, until, group)
    rows = report_rows(report)
    if args.json:
        print(
            json.dumps({"since": since.isoformat(), "until": until.isoformat(), "by": args.by, "rows": rows})
        )
        return EXIT_OK
    if not rows:
        print(f"No calls between {since} and {until}.")
        return EXIT_OK
    headers = ("", "requests", "errors", "cached", "tokens in", "tokens out", "cost", "p50 ms", "p95 ms")
    table = [
        (
            row["label"],
            f"{row['requests']:,}",
            f"{row['errors']:,}",
            f"{row['cached']:,}",
            f"{row['prompt_tokens']:,}",
            f"{row['completion_tokens']:,}",
            _usd(row["cost_usd"]),
            _ms(row["latency_p50_ms"]),
            _ms(row["latency_p95_ms"]),
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in (headers, *table)) for i in range(len(headers))]
    for line in (headers, *table):
        print(
            "  ".join(
                str(cell).ljust(w) if i == 0 else str(cell).rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    if not report.exact_percentiles:
        print("(latency percentiles from 5% histograms: within 2.5% of the exact values)", file=sys.stderr)
    return EXIT_OK


def _usd(value: float | None) -> str:
    from app.core.usage.pricing import format_usd

    return format_usd(value) or "—"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


async def _cache(service: ScriptService, args: argparse.Namespace) -> int:
    if args.cache_command == "clear":
        removed = await asyncio.to_thread(service.cache.clear)
        print(f"Removed {removed} cached response{'s' if removed != 1 else ''}.")
        return EXIT_OK
    stats = await asyncio.to_thread(service.cache.stats)
    settings = service.cache.settings
    payload = {
        "entries": stats.entries,
        "size_bytes": stats.size_bytes,
        "hits": stats.hits,
        "misses": stats.misses,
        "evictions": stats.evictions,
        "hit_ratio": stats.hit_ratio,
        "ttl_hours": settings.ttl_hours,
        "max_mb": settings.max_mb,
    }
    if args.json:
        print(json.dumps(payload))
        return EXIT_OK
    ratio = "—" if stats.hit_ratio is None else f"{stats.hit_ratio:.0%}"
    state = f"TTL {settings.ttl_hours:g} h" if settings.enabled else "off (TTL 0)"
    print(f"Response cache: {state}, cap {settings.max_mb:g} MB")
    print(f"  {stats.entries} entries, {stats.size_bytes / 1024:,.1f} KB")
    print(f"  {stats.hits} hits, {stats.misses} misses ({ratio} hit ratio), {stats.evictions} evicted")
    return EXIT_OK


_COMMANDS = {
    "generate": _generate,
    "providers": _providers,
    "models": _models,
    "prefs": _prefs,
    "history": _history,
    "limits": _limits,
    "usage": _usage,
    "cache": _cache,
}


if __name__ == "__main__":
    sys.exit(main())
