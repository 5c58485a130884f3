"""The `Emulator`: one loopback HTTP server speaking every provider's wire format.

Paths do not collide, so one port serves all five: Groq under ``/openai/``, an OpenAI-compatible
server under ``/openai-compat/v1/``, Anthropic under ``/anthropic/v1/`` (Gemini owns ``/v1/models``),
Gemini under ``/v1/`` and ``/v1beta/``, Ollama everywhere else. Configuration lives in plain
attributes that the request threads read; mutable state (queues, records, buckets, usage) is guarded by
one lock.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import anthropic_api, gemini_api, groq_api, ollama_api, openai_api
from .buckets import Bucket, PacificDayBucket, RefillBucket
from .scripting import PROVIDERS, SUPPORTED_FAULTS, Fault, RecordedRequest, ScriptedResponse
from .server import EmulatorHTTPServer, Exchange

HOST = "127.0.0.1"

DEFAULT_REPLY = (
    "TITLE: Three Providers, One Script. HOOK: What if your script writer never wasted a request? "
    "SCENE ONE: A desk at night, a laptop glowing. NARRATOR: Every creator hits a limit sooner or later. "
    "SCENE TWO: The rate-limit panel fills with calm green bars. NARRATOR: This time you see it coming. "
    "OUTRO: Subscribe for part two."
)
DEFAULT_JSON_REPLY: dict[str, Any] = {
    "title": "Three Providers, One Script",
    "hook": "What if your script writer never wasted a request?",
    "scenes": [
        {"heading": "A desk at night", "narration": "Every creator hits a limit sooner or later."},
        {"heading": "The rate-limit panel", "narration": "This time you see it coming."},
    ],
}

# Window name -> seconds, for the refilling buckets.
_WINDOWS = {"rpm": 60.0, "tpm": 60.0, "rpd": 86_400.0, "tpd": 86_400.0}
_PROVIDER_MODULES: dict[str, ModuleType] = {
    "groq": groq_api,
    "gemini": gemini_api,
    "ollama": ollama_api,
    "openai": openai_api,
    "anthropic": anthropic_api,
}


class Emulator:
    """A started-on-demand fake of the three providers for the unmodified official SDKs."""

    def __init__(self, port: int = 0) -> None:
        self.host = HOST
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[tuple[str, float]] = []
        self.lock = threading.RLock()
        self._disconnect_seen = threading.Condition(self.lock)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._epoch = 0  # bumped by reset()/stop(); answers begun in an older epoch are abandoned
        self._restore_defaults()
        self._clear_state()

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._server = EmulatorHTTPServer((self.host, self.port), self._dispatch)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        with self.lock:
            self._epoch += 1
        server.shutdown()
        server.server_close()
        server.sever_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return f"http://{self.host}:{self.port}"

    # -- configuration -------------------------------------------------------------------------------

    def _restore_defaults(self) -> None:
        self.groq_key = "test-groq-key"
        self.gemini_key = "test-gemini-key"
        self.openai_key = "test-openai-key"
        self.anthropic_key = "test-anthropic-key"
        self.openai_models: list[str] = list(openai_api.DEFAULT_LIMITS)
        self.anthropic_models: list[str] = list(anthropic_api.DEFAULT_LIMITS)
        self.groq_models: list[str] = list(groq_api.DEFAULT_LIMITS)
        self.gemini_models: list[str] = list(gemini_api.DEFAULT_LIMITS)
        self.ollama_models: list[str] = list(ollama_api.DEFAULT_MODELS)
        self.ollama_missing_model_text = "model '{model}' not found"
        self.ollama_version = "0.12.6"
        self.reply_text = DEFAULT_REPLY
        self.json_reply: Any = copy.deepcopy(DEFAULT_JSON_REPLY)
        self.token_rate: float | None = None
        self.first_token_delay = 0.0
        self.clock: Callable[[], float] = time.time

    def _clear_state(self) -> None:
        self._queues: dict[str, deque[ScriptedResponse | Fault]] = {p: deque() for p in PROVIDERS}
        self.requests.clear()
        self.disconnects.clear()
        self._disconnects_returned = 0
        self._limits: dict[tuple[str, str], dict[str, int]] = {}
        self._buckets: dict[tuple[str, str], dict[str, Bucket]] = {}
        self._usage = {p: {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0} for p in PROVIDERS}
        self.ollama_loaded: dict[str, float] = {}  # model -> clock time it was last used

    def reset(self) -> None:
        """Back to a fresh emulator: queues, records, buckets and usage cleared, defaults restored.

        Answers still streaming from before the reset are cut off and not recorded.
        """
        with self.lock:
            self._epoch += 1
            self._restore_defaults()
            self._clear_state()

    def set_groq_limits(
        self,
        model: str,
        rpm: int | None = None,
        rpd: int | None = None,
        tpm: int | None = None,
        tpd: int | None = None,
    ) -> None:
        """Change a Groq model's quotas (None keeps the current value); usage so far is kept."""
        self._set_limits("groq", model, rpm=rpm, rpd=rpd, tpm=tpm, tpd=tpd)

    def set_gemini_limits(
        self, model: str, rpm: int | None = None, rpd: int | None = None, tpm: int | None = None
    ) -> None:
        """Change a Gemini model's quotas (None keeps the current value); usage so far is kept."""
        self._set_limits("gemini", model, rpm=rpm, rpd=rpd, tpm=tpm)

    def set_openai_limits(self, model: str, rpm: int | None = None, tpm: int | None = None) -> None:
        self._set_limits("openai", model, rpm=rpm, tpm=tpm)

    def set_anthropic_limits(self, model: str, rpm: int | None = None, tpm: int | None = None) -> None:
        self._set_limits("anthropic", model, rpm=rpm, tpm=tpm)

    def _set_limits(self, provider: str, model: str, **changes: int | None) -> None:
        with self.lock:
            limits = self.limits(provider, model)
            buckets = self.buckets(provider, model)
            for window, value in changes.items():
                if value is not None:
                    limits[window] = value
                    buckets[window].limit = value

    # -- scripting and inspection --------------------------------------------------------------------

    def queue(self, provider: str, *responses: ScriptedResponse | Fault) -> None:
        """Script the next generation requests of `provider`, first in first out."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        for item in responses:
            if isinstance(item, Fault) and item.kind not in SUPPORTED_FAULTS[provider]:
                raise ValueError(f"{provider} has no faithful {item.kind!r} fault")
            if not isinstance(item, (Fault, ScriptedResponse)):
                raise TypeError(f"expected ScriptedResponse or Fault, got {item!r}")
        with self.lock:
            self._queues[provider].extend(responses)

    def requests_for(self, provider: str, path_contains: str | None = None) -> list[RecordedRequest]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.provider == provider and (path_contains is None or path_contains in r.path)
            ]

    def wait_for_disconnect(self, timeout: float) -> float | None:
        """Block until a disconnect not yet returned by this method is seen; its monotonic time or None."""
        with self._disconnect_seen:
            if not self._disconnect_seen.wait_for(
                lambda: len(self.disconnects) > self._disconnects_returned, timeout
            ):
                return None
            self._disconnects_returned += 1
            return self.disconnects[self._disconnects_returned - 1][1]

    def usage_totals(self, provider: str) -> dict[str, int]:
        """Requests and tokens this emulator served for `provider` (scripted answers not included)."""
        with self.lock:
            return dict(self._usage[provider])

    # -- used by the provider modules ----------------------------------------------------------------

    def next_scripted(self, provider: str) -> ScriptedResponse | Fault | None:
        with self.lock:
            queue = self._queues[provider]
            return queue.popleft() if queue else None

    def limits(self, provider: str, model: str) -> dict[str, int]:
        """The model's quota table (window -> limit), created from the provider's defaults."""
        with self.lock:
            key = (provider, model)
            if key not in self._limits:
                module = _PROVIDER_MODULES[provider]
                self._limits[key] = dict(module.DEFAULT_LIMITS.get(model, module.FALLBACK_LIMITS))
            return self._limits[key]

    def buckets(self, provider: str, model: str) -> dict[str, Bucket]:
        """The model's live counters, one per quota window. Call with `lock` held to check-and-add."""
        with self.lock:
            key = (provider, model)
            if key not in self._buckets:
                self._buckets[key] = {
                    window: PacificDayBucket(limit)
                    if (provider, window) == ("gemini", "rpd")
                    else RefillBucket(limit, _WINDOWS[window])
                    for window, limit in self.limits(provider, model).items()
                }
            return self._buckets[key]

    def account(
        self,
        ex: Exchange,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        charge: tuple[str, ...] = (),
    ) -> None:
        """Add a served generation to the usage ledger and its completion tokens to the `charge` buckets.

        Skipped for answers begun before a reset, so a previous test cannot leak into this one.
        """
        with self.lock:
            if ex.cancelled():
                return
            usage = self._usage[ex.provider]
            usage["requests"] += 1
            usage["prompt_tokens"] += prompt_tokens
            usage["completion_tokens"] += completion_tokens
            for window in charge:
                self.buckets(ex.provider, model)[window].add(completion_tokens, self.clock())

    # -- request dispatch ----------------------------------------------------------------------------

    def _dispatch(self, ex: Exchange) -> None:
        path = ex.path
        if path.startswith(openai_api.PREFIX + "/"):
            ex.provider = "openai"
        elif path.startswith(anthropic_api.PREFIX + "/"):
            ex.provider = "anthropic"
        elif path.startswith("/openai/"):
            ex.provider = "groq"
        elif path.startswith(("/v1/", "/v1beta/")):
            ex.provider = "gemini"
        else:
            ex.provider = "ollama"
        with self.lock:
            epoch = self._epoch
            self.requests.append(
                RecordedRequest(ex.provider, ex.method, path, ex.query, ex.headers, ex.body, time.monotonic())
            )
        ex.cancelled = lambda: self._epoch != epoch
        ex.on_disconnect = lambda gone: self._record_disconnect(gone.provider, epoch)
        _PROVIDER_MODULES[ex.provider].handle(self, ex)

    def _record_disconnect(self, provider: str, epoch: int) -> None:
        at = time.monotonic()
        with self._disconnect_seen:
            if epoch == self._epoch:
                self.disconnects.append((provider, at))
                self._disconnect_seen.notify_all()
