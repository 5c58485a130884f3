"""An OpenAI-compatible Chat Completions API under ``/openai-compat/v1`` (base URL ``emu.url + PREFIX``).

What differs from Groq's flavour (groq_api.py), after OpenAI's API reference: the `x-ratelimit-*`
`requests` headers count per MINUTE (Groq's per day), resets are Go-style durations (`6m0s`, `20ms`);
a streamed usage arrives only with `stream_options.include_usage`, in a last chunk whose `choices` is
empty, before `data: [DONE]`; errors carry `error.code` / `error.type` (`invalid_api_key`,
`model_not_found`, `rate_limit_exceeded`, `insufficient_quota`, `context_length_exceeded`).
"""

from __future__ import annotations

import functools
import uuid
from typing import TYPE_CHECKING, Any

from .buckets import Bucket, ceil_seconds
from .durations import go_duration
from .generation import Generation, count_words, emit_tokens, plan
from .groq_api import _message_texts, openai_style_ratelimit_headers
from .scripting import ERROR_FAULTS, Fault, ScriptedResponse
from .server import Exchange, compact_json

if TYPE_CHECKING:
    from .emulator import Emulator

PREFIX = "/openai-compat/v1"

DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "gpt-4o-mini": {"rpm": 500, "tpm": 200000},
    "gpt-4.1": {"rpm": 500, "tpm": 30000},
}
FALLBACK_LIMITS = {"rpm": 500, "tpm": 30000}

_PROXY_PAGE = "<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"


def handle(emu: Emulator, ex: Exchange) -> None:
    path = ex.path.removeprefix(PREFIX)
    if ex.method == "POST" and path == "/chat/completions":
        if _authorized(emu, ex):
            _chat(emu, ex)
    elif ex.method == "GET" and path == "/models":
        if _authorized(emu, ex):
            ex.respond_json(200, {"object": "list", "data": [_model_entry(m) for m in emu.openai_models]})
    else:
        _error(ex, 404, f"Invalid URL ({ex.method} {ex.path})", "invalid_request_error", None)


def _chat(emu: Emulator, ex: Exchange) -> None:
    body = ex.body
    if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
        _error(ex, 400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        return
    model = body["model"]
    if model not in emu.openai_models:
        _error(
            ex,
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )
        return
    prompt = count_words(_message_texts(body["messages"]))
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    scripted = emu.next_scripted("openai")
    if isinstance(scripted, ScriptedResponse):
        ex.respond_scripted(scripted)
        return
    with emu.lock:
        now = emu.clock()
        buckets = emu.buckets("openai", model)
        refusal = None
        if scripted is not None and scripted.kind in ERROR_FAULTS:
            refusal = _fault_response(scripted, model, buckets, now)
        else:
            for window, amount in (("rpm", 1), ("tpm", prompt)):
                wait = buckets[window].wait_for(amount, now)
                if wait > 0:
                    refusal = _rate_limit(model, window, buckets[window].limit, wait)
                    break
            else:
                buckets["rpm"].add(1, now)
                buckets["tpm"].add(prompt, now)
        headers = {
            "x-request-id": "req_" + uuid.uuid4().hex,
            **openai_style_ratelimit_headers(buckets["rpm"], buckets["tpm"], now),
        }
    if refusal is not None:
        status, error_body, extra = refusal
        if isinstance(error_body, str):
            ex.respond(status, error_body.encode(), "text/html; charset=UTF-8", {})
        else:
            ex.respond_json(status, error_body, {**headers, **extra})
        return
    fault: Fault | None = scripted
    response_format = body.get("response_format") or {}
    want_json = response_format.get("type") in ("json_object", "json_schema")
    gen = plan(emu, prompt, max_tokens, want_json, fault)
    settle = functools.partial(emu.account, ex, model, prompt, charge=("tpm",))
    if fault is not None and fault.kind == "slow" and not ex.pause(float(fault.params["delay"])):
        settle(0)
        return
    head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(emu.clock()), "model": model}
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        _stream(emu, ex, gen, head, headers, include_usage, settle)
    else:
        _complete(ex, gen, head, headers, settle)


def _complete(
    ex: Exchange, gen: Generation, head: dict[str, Any], headers: dict[str, str], settle: Any
) -> None:
    completion = 0 if gen.cut_by else len(gen.tokens)
    settle(completion)
    if gen.cut_by == "drop_connection":
        ex.drop()
        return
    if gen.cut_by:
        ex.respond_json(500, {"error": _server_error(gen.fault)}, headers)
        return
    choice = {"index": 0, "message": {"role": "assistant", "content": gen.text}, "finish_reason": gen.finish}
    usage = _usage(gen.prompt_tokens, completion)
    ex.respond_json(200, {**head, "object": "chat.completion", "choices": [choice], "usage": usage}, headers)


def _stream(
    emu: Emulator,
    ex: Exchange,
    gen: Generation,
    head: dict[str, Any],
    headers: dict[str, str],
    include_usage: bool,
    settle: Any,
) -> None:
    def frame(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        chunk = {**head, "object": "chat.completion.chunk", "choices": choices, **extra}
        return b"data: " + compact_json(chunk).encode() + b"\n\n"

    def delta(content: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": content, "finish_reason": finish}]

    if not ex.start_stream(200, "text/event-stream", {**headers, "Cache-Control": "no-cache"}):
        settle(0)
        return
    ex.write(frame(delta({"role": "assistant", "content": ""})))
    sent = emit_tokens(ex, emu, gen.to_send, lambda _i, token: frame(delta({"content": token})))
    settle(sent)
    if not ex.alive:
        return
    if gen.cut_by == "drop_connection":
        ex.drop()
        return
    if gen.cut_by:
        ex.write(b"data: " + compact_json({"error": _server_error(gen.fault)}).encode() + b"\n\n")
    else:
        ex.write(frame(delta({}, gen.finish)))
        if include_usage:
            ex.write(frame([], usage=_usage(gen.prompt_tokens, sent)))
        ex.write(b"data: [DONE]\n\n")
    ex.end_stream()


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# -- quotas and faults ---------------------------------------------------------------------------------

Refusal = tuple[int, "dict[str, Any] | str", dict[str, str]]


def _rate_limit(model: str, window: str, limit: int, wait: float, used: int | None = None) -> Refusal:
    unit, abbr = ("requests", "RPM") if window == "rpm" else ("tokens", "TPM")
    message = (
        f"Rate limit reached for {model} in organization org-emulator on {unit} per min ({abbr}): "
        f"Limit {limit}, Used {limit if used is None else used}, Requested 1. "
        f"Please try again in {go_duration(wait)}. Visit https://platform.openai.com/account/rate-limits "
        "to learn more."
    )
    body = {"error": {"message": message, "type": unit, "param": None, "code": "rate_limit_exceeded"}}
    return 429, body, {"retry-after": str(ceil_seconds(wait))}


def _fault_response(fault: Fault, model: str, buckets: dict[str, Bucket], now: float) -> Refusal:
    p = fault.params
    if fault.kind == "rate_limit":
        if p.get("insufficient_quota"):
            message = (
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes."
            )
            error = {
                "message": message,
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
            return 429, {"error": error}, {}
        window = p.get("window", "rpm")
        limit = int(p.get("limit", buckets[window].limit))
        return _rate_limit(model, window, limit, float(p.get("retry_after", 20)))
    if fault.kind in ("bad_gateway", "gateway_timeout"):
        status = 502 if fault.kind == "bad_gateway" else 504
        return status, p.get("message", _PROXY_PAGE.format(status=status)), {}
    status, message, kind = {
        "server_error": (
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
        ),
        "overloaded": (503, "The engine is currently overloaded, please try again later.", "server_error"),
        "too_large": (400, "This model's maximum context length is 128000 tokens.", "invalid_request_error"),
        "flex": (503, "Resource unavailable.", "server_error"),
    }[fault.kind]
    error: dict[str, Any] = {"message": p.get("message", message), "type": kind, "param": None, "code": None}
    if fault.kind == "too_large":
        error["code"] = "context_length_exceeded"
    return status, {"error": error}, {}


def _server_error(fault: Fault | None) -> dict[str, Any]:
    message = (fault.params if fault else {}).get(
        "message", "The server had an error processing your request."
    )
    return {"message": message, "type": "server_error", "param": None, "code": None}


def _authorized(emu: Emulator, ex: Exchange) -> bool:
    if ex.headers.get("authorization") == f"Bearer {emu.openai_key}":
        return True
    message = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
    _error(ex, 401, message, "invalid_request_error", "invalid_api_key")
    return False


def _error(ex: Exchange, status: int, message: str, kind: str, code: str | None) -> None:
    error = {"message": message, "type": kind, "param": None, "code": code}
    ex.respond_json(status, {"error": error}, {"x-request-id": "req_" + uuid.uuid4().hex})


def _model_entry(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1715367049, "owned_by": "system"}
