"""Groq's OpenAI-compatible API under ``/openai/v1`` (wire doc sections 1 and 5.1-5.11)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .buckets import Bucket, ceil_seconds
from .durations import go_duration, parse_go_duration
from .generation import Generation, count_words, emit_tokens, plan
from .scripting import ERROR_FAULTS, Fault, ScriptedResponse
from .server import Exchange, compact_json

if TYPE_CHECKING:
    from .emulator import Emulator

# Free-plan quotas from the docs' table (wire doc 1.9); every number is overridable.
DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "llama-3.3-70b-versatile": {"rpm": 30, "rpd": 1000, "tpm": 12000, "tpd": 100000},
    "llama-3.1-8b-instant": {"rpm": 30, "rpd": 14400, "tpm": 6000, "tpd": 500000},
    "meta-llama/llama-4-scout-17b-16e-instruct": {"rpm": 30, "rpd": 1000, "tpm": 30000, "tpd": 500000},
    "openai/gpt-oss-120b": {"rpm": 30, "rpd": 1000, "tpm": 8000, "tpd": 200000},
    "openai/gpt-oss-20b": {"rpm": 30, "rpd": 1000, "tpm": 8000, "tpd": 200000},
    "qwen/qwen3-32b": {"rpm": 60, "rpd": 1000, "tpm": 6000, "tpd": 500000},
}
FALLBACK_LIMITS = {"rpm": 30, "rpd": 1000, "tpm": 6000, "tpd": 500000}

ORG_ID = "org_01emulatorscriptwright000"
_UPGRADE = "Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing"
_WINDOW_WORDS = {
    "rpm": ("requests", "minute", "RPM", 60.0),
    "rpd": ("requests", "day", "RPD", 86_400.0),
    "tpm": ("tokens", "minute", "TPM", 60.0),
    "tpd": ("tokens", "day", "TPD", 86_400.0),
}
_OWNERS = {"meta-llama": "Meta", "llama": "Meta", "openai": "OpenAI", "qwen": "Alibaba Cloud", "groq": "Groq"}
_PROXY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)


def handle(emu: Emulator, ex: Exchange) -> None:
    path = ex.path
    if ex.method == "POST" and path == "/openai/v1/chat/completions":
        if _authorized(emu, ex):
            _chat(emu, ex)
    elif ex.method == "GET" and path == "/openai/v1/models":
        if _authorized(emu, ex):
            ex.respond_json(200, {"object": "list", "data": [_model_entry(m) for m in emu.groq_models]})
    elif ex.method == "GET" and path.startswith("/openai/v1/models/"):
        model = path.removeprefix("/openai/v1/models/")
        if not _authorized(emu, ex):
            return
        if model in emu.groq_models:
            ex.respond_json(200, _model_entry(model))
        else:
            _model_not_found(ex, model)
    else:
        message = (
            f"Unknown request URL: {ex.method} {path}. "
            "Please check the URL for typos, or see the docs at https://console.groq.com/docs/"
        )
        _error(ex, 404, message, code="unknown_url")


# -- chat completions --------------------------------------------------------------------------------


def _chat(emu: Emulator, ex: Exchange) -> None:
    body = ex.body
    if not isinstance(body, dict):
        _error(ex, 400, "We could not parse the JSON body of your request.")
        return
    model = body.get("model")
    if not model:
        _error(ex, 400, "'model' : property 'model' is missing")
        return
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        _error(ex, 400, "'messages' : minimum number of items is 1")
        return
    if body.get("n") not in (None, 1):
        _error(ex, 400, "'n' : number must be at most 1")
        return
    if model not in emu.groq_models:
        _model_not_found(ex, model)
        return

    prompt = count_words(_message_texts(messages))
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    requested = prompt + (max_tokens or 0)
    request_id = "req_01" + uuid.uuid4().hex[:24]

    scripted = emu.next_scripted("groq")
    if isinstance(scripted, ScriptedResponse):
        ex.respond_scripted(scripted)
        return
    with emu.lock:
        now = emu.clock()
        buckets = emu.buckets("groq", model)
        refusal: Refusal | None
        if scripted is not None and scripted.kind in ERROR_FAULTS:
            refusal = _fault_response(scripted, model, buckets, requested, now)
        else:
            refusal = _admit(model, buckets, prompt, requested, now)
        headers = {
            "x-request-id": request_id,
            **openai_style_ratelimit_headers(buckets["rpd"], buckets["tpm"], now),
        }
    if refusal is not None:
        status, error_body, extra = refusal
        if status != 429:  # only 2xx and 429 carry the quota headers
            headers = {"x-request-id": request_id}
        if isinstance(error_body, str):
            ex.respond(status, error_body.encode(), "text/html; charset=UTF-8", headers)
        else:
            ex.respond_json(status, error_body, {**headers, **extra})
        return

    fault: Fault | None = scripted
    response_format = body.get("response_format") or {}
    want_json = response_format.get("type") in ("json_object", "json_schema")
    gen = plan(emu, prompt, max_tokens, want_json, fault)
    settle = functools.partial(emu.account, ex, model, prompt, charge=("tpm", "tpd"))
    if fault is not None and fault.kind == "slow" and not ex.pause(float(fault.params["delay"])):
        settle(0)
        return
    stream = bool(body.get("stream"))
    head = {  # the leading fields of the body or of every chunk
        "id": f"chatcmpl-{uuid.uuid4()}",
        "object": "chat.completion.chunk" if stream else "chat.completion",
        "created": int(emu.clock()),
        "model": model,
        "system_fingerprint": "fp_" + uuid.uuid5(uuid.NAMESPACE_DNS, model).hex[:10],
    }
    x_groq = {"id": request_id, "seed": body.get("seed", 0)}
    if stream:
        _stream(emu, ex, gen, head, x_groq, headers, settle)
    else:
        _complete(emu, ex, gen, head, x_groq, headers, body.get("service_tier") or "on_demand", settle)


def _complete(
    emu: Emulator,
    ex: Exchange,
    gen: Generation,
    head: dict[str, Any],
    x_groq: dict[str, Any],
    headers: dict[str, str],
    service_tier: str,
    settle: Callable[[int], None],
) -> None:
    completion = 0 if gen.cut_by else len(gen.tokens)
    settle(completion)  # before the last byte, so a client that got the answer sees the ledger updated
    if gen.cut_by == "drop_connection":
        ex.drop()
        return
    if gen.cut_by:
        ex.respond_json(500, {"error": _stream_error(gen.fault)}, {"x-request-id": x_groq["id"]})
        return
    ex.respond_json(
        200,
        {
            **head,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": gen.text},
                    "logprobs": None,
                    "finish_reason": gen.finish,
                }
            ],
            "usage": _usage(emu, gen.prompt_tokens, completion),
            "usage_breakdown": None,
            "x_groq": x_groq,
            "service_tier": service_tier,
        },
        headers,
    )


def _stream(
    emu: Emulator,
    ex: Exchange,
    gen: Generation,
    head: dict[str, Any],
    x_groq: dict[str, Any],
    headers: dict[str, str],
    settle: Callable[[int], None],
) -> None:
    def frame(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        chunk = {**head, "choices": [choice], **extra}
        return b"data: " + compact_json(chunk).encode() + b"\n\n"

    if not ex.start_stream(200, "text/event-stream", {**headers, "Cache-Control": "no-cache"}):
        settle(0)
        return
    ex.write(frame({"role": "assistant", "content": ""}, x_groq=x_groq))
    sent = emit_tokens(ex, emu, gen.to_send, lambda _i, token: frame({"content": token}))
    settle(sent)
    if not ex.alive:
        return
    if gen.cut_by == "drop_connection":
        ex.drop()
        return
    if gen.cut_by:
        ex.write(b"data: " + compact_json({"error": _stream_error(gen.fault)}).encode() + b"\n\n")
    else:
        usage = _usage(emu, gen.prompt_tokens, sent)
        ex.write(frame({}, gen.finish, x_groq={"id": x_groq["id"], "usage": usage}, usage=usage))
        ex.write(b"data: [DONE]\n\n")
    ex.end_stream()


def _usage(emu: Emulator, prompt: int, completion: int) -> dict[str, Any]:
    prompt_time = round(prompt * 0.0001, 6)
    completion_time = round(completion / (emu.token_rate or 500.0), 6)
    return {
        "queue_time": 0.012,
        "prompt_tokens": prompt,
        "prompt_time": prompt_time,
        "completion_tokens": completion,
        "completion_time": completion_time,
        "total_tokens": prompt + completion,
        "total_time": round(prompt_time + completion_time, 6),
    }


def _message_texts(messages: list[Any]) -> list[str]:
    texts = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text", "") for p in content if isinstance(p, dict)]
    return texts


# -- quotas ------------------------------------------------------------------------------------------

Refusal = tuple[int, "dict[str, Any] | str", dict[str, str]]


def _admit(model: str, buckets: dict[str, Bucket], prompt: int, requested: int, now: float) -> Refusal | None:
    """Check the four buckets (413 if one request exceeds TPM) and take the request's share."""
    tpm = buckets["tpm"]
    if requested > tpm.limit:
        return 413, _too_large_body(model, tpm.limit, requested), {}
    for window, amount in (("rpm", 1), ("rpd", 1), ("tpm", requested), ("tpd", requested)):
        bucket = buckets[window]
        wait = bucket.wait_for(amount, now)
        if wait > 0:
            body = _rate_limit_body(model, window, bucket.limit, bucket.used(now), amount, go_duration(wait))
            return 429, body, {"retry-after": str(ceil_seconds(wait))}
    for window, amount in (("rpm", 1), ("rpd", 1), ("tpm", prompt), ("tpd", prompt)):
        buckets[window].add(amount, now)
    return None


def openai_style_ratelimit_headers(requests: Bucket, tokens: Bucket, now: float) -> dict[str, str]:
    """The six `x-ratelimit-*` headers, resets as Go durations. Which window each bucket counts is the
    provider's choice: Groq's `requests` track RPD, OpenAI's RPM; both count tokens per minute."""
    return {
        "x-ratelimit-limit-requests": str(requests.limit),
        "x-ratelimit-limit-tokens": str(tokens.limit),
        "x-ratelimit-remaining-requests": str(requests.remaining(now)),
        "x-ratelimit-remaining-tokens": str(tokens.remaining(now)),
        "x-ratelimit-reset-requests": go_duration(round(requests.reset_in(now), 3)),
        "x-ratelimit-reset-tokens": go_duration(round(tokens.reset_in(now), 3)),
    }


def _rate_limit_body(model: str, window: str, limit: int, used: int, requested: int, try_again: str) -> dict:
    unit, period, abbr, _ = _WINDOW_WORDS[window]
    message = (
        f"Rate limit reached for model `{model}` in organization `{ORG_ID}` service tier `on_demand` "
        f"on {unit} per {period} ({abbr}): Limit {limit}, Used {used}, Requested {requested}. "
        f"Please try again in {try_again}. {_UPGRADE}"
    )
    return {"error": {"message": message, "type": unit, "code": "rate_limit_exceeded"}}


def _too_large_body(model: str, limit: int, requested: int) -> dict:
    message = (
        f"Request too large for model `{model}` in organization `{ORG_ID}` service tier `on_demand` "
        f"on tokens per minute (TPM): Limit {limit}, Requested {requested}, "
        f"please reduce your message size and try again. {_UPGRADE}"
    )
    return {"error": {"message": message, "type": "tokens", "code": "rate_limit_exceeded"}}


# -- faults ------------------------------------------------------------------------------------------


def _fault_response(
    fault: Fault, model: str, buckets: dict[str, Bucket], requested: int, now: float
) -> Refusal:
    p = fault.params
    if fault.kind == "rate_limit":
        window = p.get("window", "tpm")
        bucket = buckets[window]
        limit = int(p.get("limit", bucket.limit))
        is_tokens = _WINDOW_WORDS[window][0] == "tokens"
        used = int(p.get("used", bucket.used(now) if is_tokens else limit))
        amount = int(p.get("requested", requested if is_tokens else 1))
        if "try_again" in p:
            try_again = str(p["try_again"])
        elif "retry_after" in p:
            try_again = go_duration(float(p["retry_after"]))
        else:
            excess = max(used + amount - limit, 1)
            try_again = go_duration(excess * _WINDOW_WORDS[window][3] / max(limit, 1))
        retry_after = p.get("retry_after", ceil_seconds(parse_go_duration(try_again)))
        body = _rate_limit_body(model, window, limit, used, amount, try_again)
        if "message" in p:
            body["error"]["message"] = p["message"]
        return 429, body, {"retry-after": str(retry_after)}
    if fault.kind == "too_large":
        body = _too_large_body(
            model, int(p.get("limit", buckets["tpm"].limit)), int(p.get("requested", requested))
        )
        return 413, body, {}
    if fault.kind in ("bad_gateway", "gateway_timeout"):
        status, reason = (502, "Bad Gateway") if fault.kind == "bad_gateway" else (504, "Gateway Time-out")
        return status, p.get("message", _PROXY_PAGE.format(status=status, reason=reason)), {}
    status, message, kind = {
        "server_error": (500, "Internal Server Error", "internal_server_error"),
        "overloaded": (
            503,
            f"{model} is currently over capacity. Please try again and back off exponentially. "
            "Visit https://groqstatus.com to see if there is an active incident.",
            "internal_server_error",
        ),
        # 498's exact text is unconfirmed; this follows the docs' "flex tier capacity exceeded".
        "flex": (498, "Flex tier capacity exceeded. Please try again later.", "capacity_exceeded"),
    }[fault.kind]
    return status, {"error": {"message": p.get("message", message), "type": kind}}, {}


def _stream_error(fault: Fault | None) -> dict[str, Any]:
    message = (fault.params if fault else {}).get("message", "Service Unavailable")
    return {"message": message, "type": "internal_server_error"}


# -- small bodies ------------------------------------------------------------------------------------


def _authorized(emu: Emulator, ex: Exchange) -> bool:
    if ex.headers.get("authorization") == f"Bearer {emu.groq_key}":
        return True
    _error(ex, 401, "Invalid API Key", code="invalid_api_key")
    return False


def _model_not_found(ex: Exchange, model: str) -> None:
    message = f"The model `{model}` does not exist or you do not have access to it."
    _error(ex, 404, message, code="model_not_found")


def _error(ex: Exchange, status: int, message: str, *, code: str | None = None) -> None:
    error: dict[str, Any] = {"message": message, "type": "invalid_request_error"}
    if code:
        error["code"] = code
    ex.respond_json(status, {"error": error}, {"x-request-id": "req_01" + uuid.uuid4().hex[:24]})


def _model_entry(model: str) -> dict[str, Any]:
    family = model.split("/")[0] if "/" in model else model.split("-")[0]
    return {
        "id": model,
        "object": "model",
        "created": 1733447754,
        "owned_by": _OWNERS.get(family, "Groq"),
        "active": True,
        "context_window": 131072,
        "public_apps": None,
        "max_completion_tokens": 32768,
    }
