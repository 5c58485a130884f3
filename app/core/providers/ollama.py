"""Ollama (local): our request <-> the `ollama` SDK's AsyncClient; its exceptions -> our errors.

Facts relied on (reference/provider-wire.md section 3): a refused connection raises the builtin
`ConnectionError` for a plain call but a raw `httpx.ConnectError` on the first iteration of a stream; an error
line inside a 200 stream raises `ResponseError` with status -1; the SDK has no timeout unless given one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import ollama

from app.core.config import ProviderSettings
from app.core.errors import ErrorCode, LLMProviderError
from app.core.providers.base import (
    LLMProvider,
    ProviderChunk,
    ProviderRequest,
    close_stream,
    shared_tls_context,
)
from app.core.ratelimit.clock import Clock
from app.core.types import ModelInfo, TokenUsage

DEFAULT_HOST = "http://127.0.0.1:11434"


class OllamaProvider(LLMProvider):
    name = "ollama"

    def __init__(self, settings: ProviderSettings, *, clock: Clock | None = None) -> None:
        super().__init__(settings, clock=clock)
        self._client: ollama.AsyncClient | None = None

    @property
    def host(self) -> str:
        return self.settings.base_url or DEFAULT_HOST

    def prepare(self) -> None:
        self._sdk()

    def _sdk(self) -> ollama.AsyncClient:
        if self._client is None:
            self._client = ollama.AsyncClient(
                host=self.host,
                timeout=httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
                verify=shared_tls_context(),  # for an https host; shared so no client reloads the CA bundle
            )
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # --- requests --------------------------------------------------------------------------------------

    def _chat_arguments(self, request: ProviderRequest) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system_prompt}] if request.system_prompt else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        options: dict[str, Any] = {}
        if request.options.temperature is not None:
            options["temperature"] = request.options.temperature
        if request.options.max_output_tokens is not None:
            options["num_predict"] = request.options.max_output_tokens
        arguments: dict[str, Any] = {"model": request.model, "messages": messages, "options": options or None}
        if request.options.json_schema is not None:
            arguments["format"] = dict(request.options.json_schema)
        return arguments

    async def _complete(self, request: ProviderRequest) -> ProviderChunk:
        response = await self._sdk().chat(**self._chat_arguments(request), stream=False)
        chunk = self._chunk(response)
        if chunk.finish_reason is None:
            raise self._unreadable_error(f"a non-streamed reply without done=true: {str(response)[:300]}")
        return chunk

    async def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderChunk]:
        stream = await self._sdk().chat(**self._chat_arguments(request), stream=True)
        finished = False
        try:
            async for part in stream:
                chunk = self._chunk(part)
                finished = finished or chunk.finish_reason is not None
                yield chunk
        finally:
            await close_stream(stream)  # closes the response: a cancelled stream stops Ollama generating
        if not finished:
            raise self._dropped_error("the stream ended without a done=true line")

    def _chunk(self, response: ollama.ChatResponse) -> ProviderChunk:
        message = response.message
        text = message.content if message is not None else None
        if text is not None and not isinstance(text, str):
            raise self._unreadable_error(f"message.content is a {type(text).__name__}")
        if not response.done:
            return ProviderChunk(text=text or "")
        prompt = response.prompt_eval_count or 0
        completion = response.eval_count or 0
        return ProviderChunk(
            text=text or "",
            usage=TokenUsage(
                prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
            ),
            finish_reason=response.done_reason or "stop",
        )

    async def _list_models(self) -> list[ModelInfo]:
        listing = await self._sdk().list()
        return [ModelInfo(id=m.model) for m in listing.models if m.model]

    # --- errors ----------------------------------------------------------------------------------------

    def _not_running(self) -> str:
        return (
            f"Ollama is not running at {self.host}. Start it with `ollama serve` (or open the Ollama app), "
            "then try again."
        )

    def _map_error(self, exc: BaseException) -> LLMProviderError:
        if isinstance(exc, LLMProviderError):
            return exc
        detail = self._detail(exc)
        if isinstance(exc, ollama.ResponseError):
            return self._map_response_error(exc, detail)
        if isinstance(exc, ConnectionError):  # the SDK's own, for a refused non-streamed call
            return self.error(ErrorCode.NETWORK_ERROR, self._not_running(), detail=detail)
        transport = self._transport_error(exc, unreachable=self._not_running())
        if transport is not None:
            return transport
        return self._fallback_error(exc)

    def _map_response_error(self, exc: ollama.ResponseError, detail: str) -> LLMProviderError:
        status = exc.status_code
        said = _plain(str(exc.error))
        if status == 404 and "not found" in said.lower():
            model = self.model
            return self.error(
                ErrorCode.MODEL_NOT_FOUND,
                f"Ollama has no model '{model}'. Run `ollama pull {model}` or pick an installed model "
                "in Settings.",
                status_code=404,
                detail=detail,
            )
        if status == -1:  # an error line inside a 200 stream
            return self.error(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"Ollama failed while writing the reply ({said or 'no reason given'}). Try again; "
                "if it keeps failing, restart Ollama or pick a smaller model.",
                detail=detail,
            )
        if status == 503:
            return self.error(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "Ollama is busy with other requests. Wait a moment and try again.",
                status_code=status,
                detail=detail,
            )
        if status == 400:
            return self.error(
                ErrorCode.INVALID_REQUEST,
                f"Ollama refused the request: {said or 'HTTP 400'}",
                status_code=status,
                detail=detail,
            )
        if status in (401, 403):
            return self.error(
                ErrorCode.AUTHENTICATION_FAILED,
                "Ollama refused the request as unauthorised. If you use an Ollama cloud host, check "
                "OLLAMA_API_KEY.",
                status_code=status,
                detail=detail,
            )
        if status == 429:
            return self.error(
                ErrorCode.RATE_LIMIT_EXCEEDED,
                "Ollama's host is rate-limiting requests. Wait a minute and try again.",
                status_code=status,
                detail=detail,
            )
        return self.error(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"Ollama reported an error (HTTP {status}{': ' + said if said else ''}). "
            "Try again, or restart Ollama.",
            status_code=status,
            detail=detail,
        )


def _plain(text: str) -> str:
    """Ollama's error string fit for a sentence: the first line, and nothing when it is an HTML page."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return "" if line.startswith("<") else line[:200]
