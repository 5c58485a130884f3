"""What the app adds to one request: service + guards + adapter + SQLite writes, over a bare SDK call.

Run on demand: `python tests/benchmarks/bench_request_overhead.py [--requests 300]`. Three measurements,
the two paths alternating so that drift in the machine's load hits both alike:
1. against the emulator in a separate process (real HTTP on loopback: realistic, but the network's jitter is
   larger than what is measured);
2. with both SDK clients on one in-process transport that replays the emulator's recorded reply, so the only
   difference left between the two paths is what each does with the reply;
3. the same replay, against the least any client of the SDK can do instead of a bare SDK call: send through
   the SDK, read the reply's frames as JSON and keep their text. The app reads Groq's reply that way too
   (the SDK's per-chunk models cost far more than the app's own work), so against a bare SDK call the app
   comes out ahead; this row is what the app's own work costs, its bookkeeping, guards and writes.
Each row gives the difference of the two paths' percentiles and the percentiles of paired differences (each
app call against the bare call just before it). The rows a generation leaves are written behind it, on the
store's writer thread: after each app call the benchmark waits, untimed, until they are committed, so that
they never run during (and slow down) the next bare call; how long they take to land is reported apart, as
is the event loop's CPU time added per request, the work the app leaves until after the reply (handing its
rows and log lines to their threads) included. The app runs as a person runs it: its log file at INFO, the
limiter on. Prints a table; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

KEY = "test-groq-key"
MODEL = "llama-3.3-70b-versatile"


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", "--port", "0", "--unlimited"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        process.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return process, match.group(0)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def record_reply(url: str) -> tuple[bytes, dict[str, str]]:
    """One real streamed reply from the emulator: its body and headers."""
    import httpx

    recorded = httpx.post(
        f"{url}/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    headers = dict(recorded.headers)
    headers.pop("transfer-encoding", None)
    headers.pop("content-length", None)
    return recorded.content, headers


async def measure(url: str, requests: int, *, mode: str) -> dict[str, list[float]]:
    """`mode`: "http" (the emulator over loopback), "replay" (one recorded reply served from memory to both
    SDK clients) or "floor" (the same replay, the bare path reading it as plain JSON frames)."""
    import groq
    import httpx

    original = groq.DefaultAsyncHttpxClient
    if mode in ("replay", "floor"):
        body, headers = record_reply(url)
        transport = httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, content=body))
        groq.DefaultAsyncHttpxClient = lambda **kw: original(transport=transport, **kw)  # type: ignore[misc]
    try:
        return await measure_paths(url, requests, mode)
    finally:
        groq.DefaultAsyncHttpxClient = original  # type: ignore[misc]


async def measure_paths(url: str, requests: int, mode: str) -> dict[str, list[float]]:
    import groq

    from app.core.logs import configure_logging
    from app.core.service import ScriptOutcome, ScriptRequest, ScriptService
    from app.store import Store

    data_dir = Path(tempfile.mkdtemp(prefix="scriptwright-bench-"))
    # The app as a person runs it: its log file at INFO, the limiter on (with limits this run never reaches).
    configure_logging(data_dir, stderr_level=None)
    env = {
        "GROQ_API_KEY": KEY,
        "GROQ_BASE_URL": url,
        "GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE": "1000000",
        "GROQ_RATE_LIMIT_TOKENS_PER_MINUTE": "1000000000",
        "GROQ_RATE_LIMIT_REQUESTS_PER_DAY": "100000000",
        "SCRIPTWRIGHT_DATA_DIR": str(data_dir),
    }
    service = ScriptService(Store.open(data_dir / "scriptwright.db"), env)
    assert service.settings_warnings == [], service.settings_warnings
    bare = groq.AsyncGroq(
        api_key=KEY, base_url=url, max_retries=0, http_client=groq.DefaultAsyncHttpxClient()
    )
    # The exact messages the app sends, so both paths move the same bytes.
    from app.core.prompts import build_script_messages

    system_prompt, messages = build_script_messages("Benchmarks", service.store.default_persona().prompt, 300)
    wire_messages = [{"role": "system", "content": system_prompt}] + [
        {"role": m.role, "content": m.content} for m in messages
    ]

    async def sdk_call() -> None:
        stream = await bare.chat.completions.create(
            model=MODEL,
            messages=wire_messages,
            stream=True,
            extra_body={"stream_options": {"include_usage": True}},
        )
        _ = stream.response.headers
        async with stream:
            async for _chunk in stream:
                pass

    async def floor_call() -> None:
        texts: list[str] = []
        async with bare.chat.completions.with_streaming_response.create(
            model=MODEL,
            messages=wire_messages,
            stream=True,
            extra_body={"stream_options": {"include_usage": True}},
        ) as response:
            _ = response.headers
            async for line in response.iter_lines():
                if line.startswith("data: {"):
                    choices = json.loads(line[6:]).get("choices")
                    if choices:
                        texts.append(choices[0]["delta"].get("content") or "")
        "".join(texts)

    bare_call = floor_call if mode == "floor" else sdk_call

    async def app_call() -> ScriptOutcome:
        outcome = await service.generate(
            ScriptRequest("Benchmarks", target_words=300, provider="groq", use_cache=False)
        )
        assert outcome.status == "complete", outcome.error
        return outcome

    timings: dict[str, list[float]] = {"bare SDK": [], "app": [], "writes": [], "bare cpu": [], "app cpu": []}
    for _ in range(20):  # warm up both paths: imports, TLS context, connection pools, SQLite pages
        await bare_call()
        await (await app_call()).wait_saved()
    for _ in range(requests):
        cpu, started = time.thread_time(), time.perf_counter()
        await bare_call()
        timings["bare SDK"].append((time.perf_counter() - started) * 1000)
        timings["bare cpu"].append((time.thread_time() - cpu) * 1000)
        cpu, started = time.thread_time(), time.perf_counter()
        outcome = await app_call()
        returned = time.perf_counter()
        timings["app"].append((returned - started) * 1000)
        await outcome.wait_saved()  # untimed for the request: its rows land before the next bare call starts
        timings["writes"].append((time.perf_counter() - returned) * 1000)
        # The event loop's CPU time for the whole request, what it does after the reply included (handing
        # the rows and log lines over to their threads), but not those threads' own work.
        timings["app cpu"].append((time.thread_time() - cpu) * 1000)
    await bare.close()
    await service.aclose()
    service.store.close()
    return timings


MEASUREMENTS = (
    ("http", "emulator over loopback HTTP"),
    ("replay", "in-process replay"),
    ("floor", "replay, against a JSON read"),
)


def summary(timings: dict[str, list[float]]) -> dict[str, float]:
    """One measurement's figures (ms): added p50/p95 as the difference of percentiles and as paired
    differences, the rows' landing time and the loop's added CPU time."""
    bare, app = timings["bare SDK"], timings["app"]
    paired = [a - b for a, b in zip(app, bare, strict=True)]
    cpu = [a - b for a, b in zip(timings["app cpu"], timings["bare cpu"], strict=True)]
    return {
        "bare_p50": percentile(bare, 0.5),
        "bare_p95": percentile(bare, 0.95),
        "app_p50": percentile(app, 0.5),
        "app_p95": percentile(app, 0.95),
        "added_p50": percentile(app, 0.5) - percentile(bare, 0.5),
        "added_p95": percentile(app, 0.95) - percentile(bare, 0.95),
        "paired_p50": percentile(paired, 0.5),
        "paired_p95": percentile(paired, 0.95),
        "writes_p50": percentile(timings["writes"], 0.5),
        "writes_p95": percentile(timings["writes"], 0.95),
        "cpu_p50": percentile(cpu, 0.5),
        "cpu_p95": percentile(cpu, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--modes", default=",".join(mode for mode, _ in MEASUREMENTS), help="http, replay and/or floor"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object of figures instead of a table")
    args = parser.parse_args()
    titles = dict(MEASUREMENTS)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = [mode for mode in modes if mode not in titles]
    if unknown or not modes:
        parser.error(f"unknown measurement {', '.join(unknown) or '(none)'}; choose from {', '.join(titles)}")
    emulator, url = start_emulator()
    try:
        results = {mode: summary(asyncio.run(measure(url, args.requests, mode=mode))) for mode in modes}
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    if args.json:
        print(json.dumps({"requests": args.requests, "load": os.getloadavg()[0], "results": results}))
        return
    print(f"{args.requests} streamed Groq requests per path, alternating (ms)")
    print(f"{'measurement':<30}{'path':<28}{'p50':>9}{'p95':>9}")
    rows = (
        ("bare SDK call", "bare"),
        ("app (service+guards+DB)", "app"),
        ("added (p50/p95 difference)", "added"),
        # Each app call against the bare call just before it: drift in the machine's speed cancels out.
        ("added (paired differences)", "paired"),
        ("rows saved, after the reply", "writes"),
        ("loop CPU added, with after", "cpu"),
    )
    for mode, figures in results.items():
        for name, key in rows:
            print(f"{titles[mode]:<30}{name:<28}{figures[key + '_p50']:>9.3f}{figures[key + '_p95']:>9.3f}")
    print(f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
