"""Anthropic's Messages API under ``/anthropic/v1`` (base URL ``emu.url + PREFIX``).

Under a prefix because Gemini already answers ``GET /v1/models``. After Anthropic's API reference:
`x-api-key` and `anthropic-version` headers; `system` top level; `max_tokens` required; SSE events
`message_start` (usage.input_tokens), `content_block_start`, `ping`, `content_block_delta` (text_delta),
`content_block_stop`, `message_delta` (stop_reason, usage.output_tokens), `message_stop`, and `error`
mid-stream; errors `{"type": "error", "error": {"type", "message"}}`; 529 `overloaded_error`;
`anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}` headers with
RFC 3339 resets, and `retry-after` on a 429.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .buckets import Bucket, ceil_seconds
from .generation import Generation, count_words, emit_tokens, plan
from .scripting import ERROR_FAULTS, Fault, ScriptedResponse
from .server import Exchange, compact_json

if TYPE_CHECKING:
    from .emulator import Emulator

PREFIX = "/anthropic"
VERSION = "2023-06-01"

DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "claude-sonnet-4-5": {"rpm": 50, "tpm": 30000},
    "claude-haiku-4-5": {"rpm": 50, "tpm": 50000},
}
FALLBACK_LIMITS = {"rpm": 50, "tpm": 30000}
_STOP = {"stop": "end_turn", "length": "max_tokens"}


def handle(emu: Emulator, ex: Exchange) -> None:
    path = ex.path.removeprefix(PREFIX)
    if not _authorized(emu, ex):
        return
    if ex.method == "POST" and path == "/v1/messages":
        _messages(emu, ex)
    elif ex.method == "GET" and path == "/v1/models":
        data = [
            {"type": "model", "id": m, "display_name": _display(m), "created_at": "2025-09-29T00:00:00Z"}
            for m in emu.anthropic_models
        ]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        ex.respond_json(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
    else:
        _error(ex, 404, "not_found_error", "Not found")


def _messages(emu: Emulator, ex: Exchange) -> None:
    body = ex.body
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        _error(ex, 400, "invalid_request_error", "messages: Field required")
        return
    if not isinstance(body.get("max_tokens"), int):
        _error(ex, 400, "invalid_request_error", "max_tokens: Field required")
        return
    model = body.get("model")
    if model not in emu.anthropic_models:
        _error(ex, 404, "not_found_error", f"model: {model}")
        return
    texts = [body["system"]] if isinstance(body.get("system"), str) else []
    for message in body["messages"]:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text", "") for p in content if isinstance(p, dict)]
    prompt = count_words(texts)
    scripted = emu.next_scripted("anthropic")
    if isinstance(scripted, ScriptedResponse):
        ex.respond_scripted(scripted)
        return
    with emu.lock:
        now = emu.clock()
        buckets = emu.buckets("anthropic", model)
        refusal = None
        if scripted is not None and scripted.kind in ERROR_FAULTS:
            refusal = _fault_response(scripted, buckets)
        else:
            for window, amount in (("rpm", 1), ("tpm", prompt)):
                wait = buckets[window].wait_for(amount, now)
                if wait > 0:
                    refusal = _rate_limit(window, buckets[window].limit, wait)
                    break
            else:
                buckets["rpm"].add(1, now)
                buckets["tpm"].add(prompt, now)
        headers = {"request-id": _request_id(), **_ratelimit_headers(buckets, now)}
    if refusal is not None:
        status, error_body, extra = refusal
        if isinstance(error_body, str):
            ex.respond(status, error_body.encode(), "text/html; charset=UTF-8", {})
        else:
            ex.respond_json(status, error_body, {**headers, **extra})
        return
    fault: Fault | None = scripted
    output_format = body.get("output_format") or {}
    want_json = isinstance(output_format, dict) and output_format.get("type") == "json_schema"
    gen = plan(emu, prompt, body["max_tokens"], want_json, fault)
    settle = functools.partial(emu.account, ex, model, prompt, charge=("tpm",))
    if fault is not None and fault.kind == "slow" and not ex.pause(float(fault.params["delay"])):
        settle(0)
        return
    message_id = "msg_01" + uuid.uuid4().hex[:22]
    if body.get("stream"):
        _stream(emu, ex, gen, model, message_id, headers, settle)
    else:
        _complete(ex, gen, model, message_id, headers, settle)


def _complete(
    ex: Exchange, gen: Generation, model: str, message_id: str, headers: dict[str, str], settle: Any
) -> None:
    completion = 0 if gen.cut_by else len(gen.tokens)
    settle(completion)
    if gen.cut_by == "drop_connection":
        ex.drop()
        return
    if gen.cut_by:
        ex.respond_json(
            500, _error_body("api_error", _fault_message(gen.fault, "Internal server error")), headers
        )
        return
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": gen.text}],
        "stop_reason": _STOP[gen.finish],
        "stop_sequence": None,
        "usage": {"input_tokens": gen.prompt_tokens, "output_tokens": completion},
    }
    ex.respond_json(200, message, headers)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + compact_json({"type": name, **data}).encode() + b"\n\n"


def _stream(
    emu: Emulator,
    ex: Exchange,
    gen: Generation,
    model: str,
    message_id: str,
    headers: dict[str, str],
    settle: Any,
) -> None:
    if not ex.start_stream(200, "text/event-stream; charset=utf-8", {**headers, "Cache-Control": "no-cache"}):
        settle(0)
        return
    start = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": gen.prompt_tokens, "output_tokens": 1},
    }
    ex.write(_event("message_start", {"message": start}))
    ex.write(_event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
    ex.write(_event("ping", {}))
    sent = emit_tokens(
        ex,
        emu,
        gen.to_send,
        lambda _i, token: _event(
            "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": token}}
        ),
    )
    settle(sent)
    if not ex.alive:
        return
    if gen.cut_by == "drop_connection":
        ex.drop()
        return
    if gen.cut_by:
        ex.write(
            _event(
                "error",
                {"error": {"type": "overloaded_error", "message": _fault_message(gen.fault, "Overloaded")}},
            )
        )
    else:
        ex.write(_event("content_block_stop", {"index": 0}))
        delta = {"stop_reason": _STOP[gen.finish], "stop_sequence": None}
        ex.write(_event("message_delta", {"delta": delta, "usage": {"output_tokens": sent}}))
        ex.write(_event("message_stop", {}))
    ex.end_stream()


# -- quotas and faults ---------------------------------------------------------------------------------

Refusal = tuple[int, "dict[str, Any] | str", dict[str, str]]


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ratelimit_headers(buckets: dict[str, Bucket], now: float) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, window in (
        ("requests", "rpm"),
        ("tokens", "tpm"),
        ("input-tokens", "tpm"),
        ("output-tokens", "tpm"),
    ):
        bucket = buckets[window]
        headers[f"anthropic-ratelimit-{name}-limit"] = str(bucket.limit)
        headers[f"anthropic-ratelimit-{name}-remaining"] = str(bucket.remaining(now))
        headers[f"anthropic-ratelimit-{name}-reset"] = _rfc3339(now + bucket.reset_in(now))
    return headers


def _rate_limit(window: str, limit: int, wait: float) -> Refusal:
    what = "requests" if window == "rpm" else "input tokens"
    message = (
        f"This request would exceed the rate limit for your organization (emulator) of {limit:,} {what} per "
        "minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."
    )
    return 429, _error_body("rate_limit_error", message), {"retry-after": str(ceil_seconds(wait))}


def _fault_response(fault: Fault, buckets: dict[str, Bucket]) -> Refusal:
    p = fault.params
    if fault.kind == "rate_limit":
        window = p.get("window", "rpm")
        return _rate_limit(
            window, int(p.get("limit", buckets[window].limit)), float(p.get("retry_after", 20))
        )
    if fault.kind in ("bad_gateway", "gateway_timeout"):
        status = 502 if fault.kind == "bad_gateway" else 504
        return status, p.get("message", f"<html><body><h1>{status}</h1></body></html>"), {}
    status, kind, message = {
        "server_error": (500, "api_error", "Internal server error"),
        "overloaded": (529, "overloaded_error", "Overloaded"),
        "too_large": (413, "request_too_large", "Request exceeds the maximum allowed number of bytes."),
        "flex": (503, "api_error", "Service unavailable"),
    }[fault.kind]
    return status, _error_body(kind, p.get("message", message)), {}


def _fault_message(fault: Fault | None, default: str) -> str:
    return str((fault.params if fault else {}).get("message", default))


def _request_id() -> str:
    return "req_011" + uuid.uuid4().hex[:21]


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": _request_id()}


def _error(ex: Exchange, status: int, kind: str, message: str) -> None:
    ex.respond_json(status, _error_body(kind, message), {"request-id": _request_id()})


def _authorized(emu: Emulator, ex: Exchange) -> bool:
    if ex.headers.get("anthropic-version") != VERSION:
        _error(ex, 400, "invalid_request_error", "anthropic-version: header is required")
        return False
    if ex.headers.get("x-api-key") == emu.anthropic_key:
        return True
    _error(ex, 401, "authentication_error", "invalid x-api-key")
    return False


def _display(model: str) -> str:
    return " ".join(
        part.capitalize() if not part[0].isdigit() else part for part in model.split("-")
    ).replace(" 4 5", " 4.5")
