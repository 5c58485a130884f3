"""Ollama's local API at ``/`` and ``/api/...`` (wire doc sections 3 and 5.20-5.23).

Errors are ``{"error": "<string>"}``; streams are NDJSON, one object per line and never a blank
line (the SDK's strict parser would crash on one). Streaming is the default when ``stream`` is absent.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .generation import Generation, count_words, emit_tokens, plan
from .scripting import ERROR_FAULTS, Fault, ScriptedResponse
from .server import Exchange, compact_json

if TYPE_CHECKING:
    from .emulator import Emulator

DEFAULT_MODELS = ("llama3.2:latest", "qwen2.5:7b", "mistral:latest")
KEEP_ALIVE_SECONDS = 300.0
JSON_TYPE = "application/json; charset=utf-8"
_MODIFIED_AT = "2025-10-01T12:00:00.000000Z"
_SIZE = 2019393189
_DETAILS = {
    "parent_model": "",
    "format": "gguf",
    "family": "llama",
    "families": ["llama"],
    "parameter_size": "3.2B",
    "quantization_level": "Q4_K_M",
}
_ERRORS = {
    "rate_limit": (429, "too many requests, please try again later"),
    "server_error": (500, "llama runner process has terminated: exit status 2"),
    "overloaded": (503, "server busy, please try again.  maximum pending requests exceeded"),
    "error_in_stream": (500, "an error was encountered while running the model"),
}
_PROXY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def handle(emu: Emulator, ex: Exchange) -> None:
    routes: dict[tuple[str, str], Callable[[Emulator, Exchange], None]] = {
        ("GET", "/"): _root,
        ("HEAD", "/"): _root,
        ("GET", "/api/version"): lambda emu, ex: ex.respond_json(200, {"version": emu.ollama_version}),
        ("GET", "/api/tags"): _tags,
        ("GET", "/api/ps"): _ps,
        ("POST", "/api/show"): _show,
        ("POST", "/api/chat"): lambda emu, ex: _generate(emu, ex, chat=True),
        ("POST", "/api/generate"): lambda emu, ex: _generate(emu, ex, chat=False),
    }
    route = routes.get((ex.method, ex.path))
    if route is None:
        ex.respond(404, b"404 page not found", "text/plain")
    else:
        route(emu, ex)


def _root(emu: Emulator, ex: Exchange) -> None:
    ex.respond(200, b"Ollama is running", "text/plain; charset=utf-8")


# -- generation --------------------------------------------------------------------------------------


def _generate(emu: Emulator, ex: Exchange, *, chat: bool) -> None:
    body = _request_body(ex)
    if body is None:
        return
    model = body.get("model") or ""
    name = _resolve(emu, model, ex)
    if name is None:
        return
    if not body.get("messages" if chat else "prompt"):
        _load_or_unload(emu, ex, body, name, chat)
        return
    if chat:
        texts = [m.get("content") or "" for m in body["messages"] if isinstance(m, dict)]
    else:
        texts = [body["prompt"], body.get("system") or ""]
    prompt = count_words(texts)

    scripted = emu.next_scripted("ollama")
    if isinstance(scripted, ScriptedResponse):
        ex.respond_scripted(scripted)
        return
    if scripted is not None and scripted.kind in ERROR_FAULTS:
        _send_fault(ex, scripted)
        return
    fault: Fault | None = scripted
    num_predict = (body.get("options") or {}).get("num_predict")
    gen = plan(
        emu, prompt, num_predict if num_predict and num_predict > 0 else None, bool(body.get("format")), fault
    )
    settle = functools.partial(emu.account, ex, name, prompt)
    if fault is not None and fault.kind == "slow" and not ex.pause(float(fault.params["delay"])):
        settle(0)
        return
    with emu.lock:
        emu.ollama_loaded[name] = emu.clock()
    reply = _Reply(emu, model, chat)
    if body.get("stream") is False:
        _complete(ex, gen, reply, settle)
    else:
        _stream(emu, ex, gen, reply, settle)


class _Reply:
    """Builds the response objects; /api/chat wraps text in `message`, /api/generate uses `response`."""

    def __init__(self, emu: Emulator, model: str, chat: bool) -> None:
        self.emu, self.model, self.chat = emu, model, chat

    def line(self, text: str, done: bool) -> dict[str, Any]:
        content = {"message": {"role": "assistant", "content": text}} if self.chat else {"response": text}
        return {"model": self.model, "created_at": _iso(self.emu.clock()), **content, "done": done}

    def final(self, text: str, gen: Generation, completion: int) -> dict[str, Any]:
        """The done line: done_reason plus ns metrics (zero metrics omitted, as Go's omitempty does)."""
        rate = self.emu.token_rate or 50.0
        metrics = {
            "load_duration": 1_250_000,
            "prompt_eval_count": gen.prompt_tokens,
            "prompt_eval_duration": gen.prompt_tokens * 1_000_000,
            "eval_count": completion,
            "eval_duration": int(completion * 1e9 / rate),
        }
        total = (
            1_000_000 + metrics["load_duration"] + metrics["prompt_eval_duration"] + metrics["eval_duration"]
        )
        metrics = {"total_duration": total, **{k: v for k, v in metrics.items() if v}}
        return {**self.line(text, True), "done_reason": gen.finish, **metrics}


def _complete(ex: Exchange, gen: Generation, reply: _Reply, settle: Callable[[int], None]) -> None:
    settle(0 if gen.cut_by else len(gen.tokens))  # before the last byte: the ledger is current for the client
    if gen.cut_by == "drop_connection":
        ex.drop()
    elif gen.cut_by:
        _send_fault(ex, gen.fault)
    else:
        ex.respond_json(200, reply.final(gen.text, gen, len(gen.tokens)), content_type=JSON_TYPE)


def _stream(
    emu: Emulator, ex: Exchange, gen: Generation, reply: _Reply, settle: Callable[[int], None]
) -> None:
    def line(obj: dict[str, Any]) -> bytes:
        return compact_json(obj).encode() + b"\n"

    if not ex.start_stream(200, "application/x-ndjson"):
        settle(0)
        return
    sent = emit_tokens(ex, emu, gen.to_send, lambda _i, token: line(reply.line(token, False)))
    settle(sent)
    if not ex.alive:
        return
    if gen.cut_by == "drop_connection":
        ex.drop()
        return
    if gen.cut_by:
        ex.write(
            line(
                {
                    "error": (gen.fault.params if gen.fault else {}).get(
                        "message", _ERRORS["error_in_stream"][1]
                    )
                }
            )
        )
    else:
        ex.write(line(reply.final("", gen, sent)))
    ex.end_stream()


def _load_or_unload(emu: Emulator, ex: Exchange, body: dict[str, Any], name: str, chat: bool) -> None:
    """An empty request loads the model (or unloads it with keep_alive 0) and answers one object."""
    unload = body.get("keep_alive") in (0, "0", "0s")
    with emu.lock:
        if unload:
            emu.ollama_loaded.pop(name, None)
        else:
            emu.ollama_loaded[name] = emu.clock()
    reply = _Reply(emu, body["model"], chat).line("", True)
    ex.respond_json(200, {**reply, "done_reason": "unload" if unload else "load"}, content_type=JSON_TYPE)


def _send_fault(ex: Exchange, fault: Fault | None) -> None:
    params = fault.params if fault else {}
    kind = fault.kind if fault else "error_in_stream"
    if kind in ("bad_gateway", "gateway_timeout"):
        status, reason = (502, "Bad Gateway") if kind == "bad_gateway" else (504, "Gateway Time-out")
        page = params.get("message", _PROXY_PAGE.format(status=status, reason=reason))
        ex.respond(status, page.encode(), "text/html")
        return
    status, message = _ERRORS[kind]
    ex.respond_json(status, {"error": params.get("message", message)}, content_type=JSON_TYPE)


# -- catalogue endpoints -----------------------------------------------------------------------------


def _tags(emu: Emulator, ex: Exchange) -> None:
    ex.respond_json(200, {"models": [_model_entry(m) for m in emu.ollama_models]}, content_type=JSON_TYPE)


def _ps(emu: Emulator, ex: Exchange) -> None:
    with emu.lock:
        now = emu.clock()
        loaded = {m: at for m, at in emu.ollama_loaded.items() if at + KEEP_ALIVE_SECONDS > now}
    models = [
        {
            "name": m,
            "model": m,
            "size": _SIZE,
            "digest": _digest(m),
            "details": _DETAILS,
            "expires_at": _iso(at + KEEP_ALIVE_SECONDS),
            "size_vram": _SIZE,
            "context_length": 4096,
        }
        for m, at in loaded.items()
    ]
    ex.respond_json(200, {"models": models}, content_type=JSON_TYPE)


def _show(emu: Emulator, ex: Exchange) -> None:
    body = _request_body(ex)
    if body is None:
        return
    name = _resolve(emu, body.get("model") or body.get("name") or "", ex)
    if name is None:
        return
    digest = _digest(name)
    ex.respond_json(
        200,
        {
            "license": "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
            "modelfile": f'# Modelfile generated by "ollama show"\n\nFROM /models/blobs/sha256-{digest}\n',
            "parameters": 'stop                           "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": _DETAILS,
            "model_info": {
                "general.architecture": "llama",
                "general.parameter_count": 3212749888,
                "llama.context_length": 131072,
                "llama.embedding_length": 3072,
            },
            "capabilities": ["completion", "tools"],
            "modified_at": _MODIFIED_AT,
        },
        content_type=JSON_TYPE,
    )


# -- helpers -----------------------------------------------------------------------------------------


def _request_body(ex: Exchange) -> dict[str, Any] | None:
    """The JSON body, or None after answering 400 the way Ollama does."""
    if not ex.raw_body:
        ex.respond_json(400, {"error": "missing request body"}, content_type=JSON_TYPE)
        return None
    if not isinstance(ex.body, dict):
        ex.respond_json(
            400, {"error": "invalid character looking for beginning of value"}, content_type=JSON_TYPE
        )
        return None
    return ex.body


def _resolve(emu: Emulator, model: str, ex: Exchange) -> str | None:
    """The installed model `model` names ("llama3.2" means "llama3.2:latest"), or None after a 400/404."""
    if not model:
        ex.respond_json(400, {"error": "model is required"}, content_type=JSON_TYPE)
        return None
    name = model if ":" in model else f"{model}:latest"
    if name in emu.ollama_models:
        return name
    ex.respond_json(404, {"error": emu.ollama_missing_model_text.format(model=model)}, content_type=JSON_TYPE)
    return None


def _model_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": _MODIFIED_AT,
        "size": _SIZE,
        "digest": _digest(name),
        "details": _DETAILS,
    }


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
