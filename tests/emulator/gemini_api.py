"""The Gemini Developer API under ``/v1/`` and ``/v1beta/`` (wire doc sections 2 and 5.12-5.19).

Gemini sends no quota headers; quotas show only in 429 bodies. Request keys are accepted in
camelCase and snake_case alike, as the real server's proto3 JSON parser does.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .buckets import Bucket
from .generation import Generation, count_words, emit_tokens, plan
from .scripting import ERROR_FAULTS, Fault, ScriptedResponse
from .server import Exchange, compact_json

if TYPE_CHECKING:
    from .emulator import Emulator

# The last published free-tier table (wire doc 2.8); every number is overridable.
DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "gemini-2.5-flash": {"rpm": 10, "rpd": 250, "tpm": 250000},
    "gemini-2.5-flash-lite": {"rpm": 15, "rpd": 1000, "tpm": 250000},
    "gemini-2.5-pro": {"rpm": 5, "rpd": 100, "tpm": 250000},
}
FALLBACK_LIMITS = {"rpm": 10, "rpd": 250, "tpm": 250000}

JSON_TYPE = "application/json; charset=UTF-8"
_HEADERS = {
    "Vary": "Origin, X-Origin, Referer",
    "Server": "scaffolding on HTTPServer2",
    "Server-Timing": "gfet4t7; dur=412",
    "X-XSS-Protection": "0",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
}
_ROUTE = re.compile(r"/(v1|v1beta)/models(?:/([^:/]+))?(?::(\w+))?")
_GENERATE = ("generateContent", "streamGenerateContent")
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS"}
_REQUESTS_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
_QUOTAS = {
    "rpm": ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", _REQUESTS_METRIC),
    "rpd": ("GenerateRequestsPerDayPerProjectPerModel-FreeTier", _REQUESTS_METRIC),
    "tpm": (
        "GenerateContentInputTokensPerModelPerMinute-FreeTier",
        "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
    ),
}
_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information on "
    "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, "
    "head to: https://ai.dev/rate-limit. \n* Quota exceeded for metric: {metric}, limit: {limit}, "
    "model: {model}\nPlease retry in {retry}."
)
_SERVER_ERRORS = {
    "server_error": (500, "INTERNAL", "An internal error has occurred. Please retry or report in "
                     "https://developers.generativeai.google/guide/troubleshooting"),
    "overloaded": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "gateway_timeout": (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    "error_in_stream": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
}  # fmt: skip
_BAD_GATEWAY_PAGE = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 502 (Server Error)!!1</title>\n"
    "  <p><b>502.</b> <ins>That’s an error.</ins>\n  <p>The server encountered a temporary error and could "
    "not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>\n"
)


def handle(emu: Emulator, ex: Exchange) -> None:
    route = _ROUTE.fullmatch(ex.path)
    if route is None:
        _error(ex, 404, "NOT_FOUND", f"Method not found: {ex.method} {ex.path}")
        return
    version, model, method = route.groups()
    if not _authorized(emu, ex):
        return
    if ex.method == "GET" and model is None and method is None:
        _list_models(emu, ex)
    elif ex.method == "GET" and model is not None and method is None:
        if model in emu.gemini_models:
            ex.respond_json(200, _model_entry(model), _HEADERS, content_type=JSON_TYPE, indent=2)
        else:
            _error(ex, 404, "NOT_FOUND", f"models/{model} is not found for API version {version}")
    elif ex.method == "POST" and model is not None and method in (*_GENERATE, "countTokens"):
        if model not in emu.gemini_models:
            message = (
                f"models/{model} is not found for API version {version}, or is not supported for {method}. "
                "Call ListModels to see the list of available models and their supported methods."
            )
            _error(ex, 404, "NOT_FOUND", message)
        elif not isinstance(ex.body, dict):
            _error(ex, 400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.")
        elif method == "countTokens":
            _count_tokens(ex)
        else:
            _generate(emu, ex, model, stream=method == "streamGenerateContent")
    else:
        _error(ex, 404, "NOT_FOUND", f"Method not found: {ex.method} {ex.path}")


# -- generation --------------------------------------------------------------------------------------


def _generate(emu: Emulator, ex: Exchange, model: str, *, stream: bool) -> None:
    body: dict[str, Any] = ex.body
    contents = _get(body, "contents")
    if not contents:
        _error(ex, 400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n")
        return
    prompt = count_words(_request_texts(body))
    config = _get(body, "generationConfig") or {}

    scripted = emu.next_scripted("gemini")
    if isinstance(scripted, ScriptedResponse):
        ex.respond_scripted(scripted)
        return
    with emu.lock:
        now = emu.clock()
        buckets = emu.buckets("gemini", model)
        refusal: tuple[int, Any] | None
        if scripted is not None and scripted.kind in ERROR_FAULTS:
            refusal = _fault_response(scripted, model, buckets, now)
        else:
            refusal = _admit(model, buckets, prompt, now)
    if refusal is not None:
        status, error_body = refusal
        if isinstance(error_body, str):
            ex.respond(status, error_body.encode(), "text/html; charset=UTF-8")
        else:
            ex.respond_json(status, error_body, _HEADERS, content_type=JSON_TYPE, indent=2)
        return

    fault: Fault | None = scripted
    want_json = _get(config, "responseMimeType") == "application/json"
    gen = plan(emu, prompt, _get(config, "maxOutputTokens"), want_json, fault)
    settle = functools.partial(emu.account, ex, model, prompt)
    if fault is not None and fault.kind == "slow" and not ex.pause(float(fault.params["delay"])):
        settle(0)
        return
    response_id = uuid.uuid4().hex[:22]
    if fault is not None and fault.kind == "blocked_prompt":
        blocked = {
            "promptFeedback": {"blockReason": fault.params.get("reason", "SAFETY")},
            "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt},
            "modelVersion": model,
            "responseId": response_id,
        }
        settle(0)
        if stream:
            _stream_single(ex, blocked)
        else:
            ex.respond_json(200, blocked, _HEADERS, content_type=JSON_TYPE, indent=2)
    elif stream:
        _stream(emu, ex, gen, model, response_id, settle)
    else:
        _complete(ex, gen, model, response_id, settle)


def _complete(
    ex: Exchange, gen: Generation, model: str, response_id: str, settle: Callable[[int], None]
) -> None:
    completion = 0 if gen.cut_by else len(gen.tokens)
    settle(completion)  # before the last byte, so a client that got the answer sees the ledger updated
    if gen.cut_by == "drop_connection":
        ex.drop()
    elif gen.cut_by:
        ex.respond_json(503, _stream_error(gen.fault), _HEADERS, content_type=JSON_TYPE, indent=2)
    else:
        body = _chunk(gen.text, gen.prompt_tokens, completion, _FINISH[gen.finish], model, response_id)
        ex.respond_json(200, body, _HEADERS, content_type=JSON_TYPE, indent=2)


class _Framer:
    """Frames stream chunks as SSE events (`alt=sse`: CRLF CRLF, no [DONE]) or as one JSON array."""

    def __init__(self, sse: bool) -> None:
        self.sse = sse
        self.content_type = "text/event-stream" if sse else JSON_TYPE
        self._opened = False

    def frame(self, obj: dict[str, Any]) -> bytes:
        if self.sse:
            return b"data: " + compact_json(obj).encode() + b"\r\n\r\n"
        prefix, self._opened = (b",\r\n" if self._opened else b"["), True
        return prefix + json.dumps(obj, indent=2, ensure_ascii=False).encode()

    def close(self) -> bytes:
        if self.sse:
            return b""
        return b"]" if self._opened else b"[]"


def _stream(
    emu: Emulator, ex: Exchange, gen: Generation, model: str, response_id: str, settle: Callable[[int], None]
) -> None:
    framer = _Framer(ex.query.get("alt") == "sse")

    def token_frame(i: int, token: str) -> bytes:
        finish = _FINISH[gen.finish] if not gen.cut_by and i == len(gen.tokens) - 1 else None
        return framer.frame(_chunk(token, gen.prompt_tokens, i + 1, finish, model, response_id))

    if not ex.start_stream(200, framer.content_type, _HEADERS):
        settle(0)
        return
    settle(emit_tokens(ex, emu, gen.to_send, token_frame))
    if not ex.alive:
        return
    if gen.cut_by == "drop_connection":
        ex.drop()
        return
    if gen.cut_by:
        ex.write(framer.frame(_stream_error(gen.fault)))
    elif not gen.tokens:  # an empty answer still ends with a finishing chunk
        ex.write(framer.frame(_chunk("", gen.prompt_tokens, 0, _FINISH[gen.finish], model, response_id)))
    ex.write(framer.close())
    ex.end_stream()


def _stream_single(ex: Exchange, obj: dict[str, Any]) -> None:
    framer = _Framer(ex.query.get("alt") == "sse")
    if ex.start_stream(200, framer.content_type, _HEADERS):
        ex.write(framer.frame(obj) + framer.close())
        ex.end_stream()


def _chunk(text: str, prompt: int, completion: int, finish: str | None, model: str, response_id: str) -> dict:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": completion,
            "totalTokenCount": prompt + completion,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        },
        "modelVersion": model,
        "responseId": response_id,
    }


def _count_tokens(ex: Exchange) -> None:
    body: dict[str, Any] = ex.body
    total = count_words(_request_texts(_get(body, "generateContentRequest") or body))
    result = {"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}
    ex.respond_json(200, result, _HEADERS, content_type=JSON_TYPE, indent=2)


def _request_texts(body: dict[str, Any]) -> list[str]:
    """Text of every part in `contents` and `systemInstruction`."""
    contents = _get(body, "contents") or []
    system = _get(body, "systemInstruction")
    pieces = (contents if isinstance(contents, list) else [contents]) + ([system] if system else [])
    texts = []
    for piece in pieces:
        if isinstance(piece, str):
            texts.append(piece)
        elif isinstance(piece, dict):
            texts += [p.get("text", "") for p in piece.get("parts", []) if isinstance(p, dict)]
    return texts


def _get(obj: dict[str, Any], camel: str) -> Any:
    """A request field by its camelCase name, or by the snake_case spelling."""
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), camel))


# -- quotas ------------------------------------------------------------------------------------------


def _admit(model: str, buckets: dict[str, Bucket], prompt: int, now: float) -> tuple[int, dict] | None:
    for window, amount in (("rpm", 1), ("rpd", 1), ("tpm", prompt)):
        wait = buckets[window].wait_for(amount, now)
        if wait > 0:
            return 429, _quota_body(model, window, buckets[window].limit, wait)
    for window, amount in (("rpm", 1), ("rpd", 1), ("tpm", prompt)):
        buckets[window].add(amount, now)
    return None


def _quota_body(
    model: str,
    window: str,
    limit: int,
    retry_in: float,
    *,
    quota_id: str | None = None,
    quota_value: str | None = None,
    retry_delay: str | None = None,
) -> dict[str, Any]:
    """RESOURCE_EXHAUSTED with the message bullets, Help, QuotaFailure and RetryInfo (wire doc 2.6)."""
    default_id, metric = _QUOTAS[window]
    retry_text = f"{retry_in:.9f}".rstrip("0").rstrip(".") + "s"
    message = _QUOTA_MESSAGE.format(metric=metric, limit=limit, model=model, retry=retry_text)
    violation = {
        "quotaMetric": metric,
        "quotaId": quota_id or default_id,
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": quota_value if quota_value is not None else str(limit),
    }
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
        {
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": retry_delay or f"{int(retry_in)}s",
        },
    ]
    return {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": details}}


def _fault_response(fault: Fault, model: str, buckets: dict[str, Bucket], now: float) -> tuple[int, Any]:
    p = fault.params
    if fault.kind == "rate_limit":
        window = p.get("window", "rpm")
        limit = 0 if p.get("limit_zero") else int(p.get("limit", buckets[window].limit))
        if "retry_delay" in p:
            retry_in = float(str(p["retry_delay"]).rstrip("s"))
        elif window == "rpd":
            retry_in = buckets["rpd"].reset_in(now)
        else:
            retry_in = 60.0 / max(limit, 1)
        body = _quota_body(
            model,
            window,
            limit,
            retry_in,
            quota_id=p.get("quota_id"),
            quota_value=p.get("quota_value"),
            retry_delay=p.get("retry_delay"),
        )
        if "message" in p:
            body["error"]["message"] = p["message"]
        return 429, body
    if fault.kind == "bad_gateway":
        return 502, p.get("message", _BAD_GATEWAY_PAGE)
    code, status, message = _SERVER_ERRORS[fault.kind]
    return code, {"error": {"code": code, "message": p.get("message", message), "status": status}}


def _stream_error(fault: Fault | None) -> dict[str, Any]:
    code, status, message = _SERVER_ERRORS["error_in_stream"]
    params = fault.params if fault else {}
    return {
        "error": {
            "code": params.get("code", code),
            "message": params.get("message", message),
            "status": status,
        }
    }


# -- small bodies ------------------------------------------------------------------------------------


def _authorized(emu: Emulator, ex: Exchange) -> bool:
    key = ex.headers.get("x-goog-api-key") or ex.query.get("key")
    if not key:
        message = (
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API."
        )
        _error(ex, 403, "PERMISSION_DENIED", message)
        return False
    if key != emu.gemini_key:
        message = "API key not valid. Please pass a valid API key."
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message,
            },
        ]
        _error(ex, 400, "INVALID_ARGUMENT", message, details)
        return False
    return True


def _list_models(emu: Emulator, ex: Exchange) -> None:
    try:
        size = min(max(int(ex.query.get("pageSize") or 50), 1), 1000)
        token = ex.query.get("pageToken")
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError:
        _error(ex, 400, "INVALID_ARGUMENT", "Invalid page token or page size.")
        return
    body: dict[str, Any] = {"models": [_model_entry(m) for m in emu.gemini_models[offset : offset + size]]}
    if offset + size < len(emu.gemini_models):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
    ex.respond_json(200, body, _HEADERS, content_type=JSON_TYPE, indent=2)


def _model_entry(model: str) -> dict[str, Any]:
    display = " ".join(part.capitalize() for part in model.split("-"))
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": display,
        "description": f"Emulated {display}",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": [
            "generateContent",
            "countTokens",
            "createCachedContent",
            "batchGenerateContent",
        ],
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
        "thinking": True,
    }


def _error(ex: Exchange, code: int, status: str, message: str, details: list[dict] | None = None) -> None:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    ex.respond_json(code, {"error": error}, _HEADERS, content_type=JSON_TYPE, indent=2)
