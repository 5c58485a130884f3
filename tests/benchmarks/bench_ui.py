"""UI benchmarks, run on demand (no asserts on time): start-up, streaming responsiveness, idle memory.

    QT_QPA_PLATFORM=offscreen python -m tests.benchmarks.bench_ui [--runs 7] [--seconds 4]

1. Process start to first paint: `python -m app --smoke-test` (finding its per-user folder, under a scratch
  XDG_DATA_HOME, as a user's start does) against a bare PySide6 QMainWindow script,
  measured the same way in the same run (the parent passes its CLOCK_MONOTONIC stamp; each child reports its
  first Paint event relative to it), alternating, median of --runs each. Target: at most 1.3x the bare window.
  The app's first paint is the window as the user sees it, every widget painted.
2. The emulator streams ~2,000 tokens/s from Groq into the real window (real service, SDK and store, the
  app's GUI-thread garbage collector): the longest event-loop stall from the moment Generate is pressed (a
  1 ms QTimer heartbeat records the gaps) and each token's delay from arrival to the flush that put it on
  screen. A process's first Generate runs in a fresh interpreter, twice: pressed as the topic is typed (the
  provider's SDK still loading on a worker thread, which holds the interpreter lock in long slices) and
  1.5 s later, as a person types. Targets: stall <= 16 ms, token to screen <= 50 ms.
3. Idle RSS (/proc/<pid>/status VmRSS) of the app (core attached) against the bare window, 3 s after start.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.app_process import app_env

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_ENV = "SCRIPTWRIGHT_LAUNCHED_AT"

BARE_WINDOW = r"""
import os, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

def process_start():
    return float(os.environ["SCRIPTWRIGHT_LAUNCHED_AT"])

app = QApplication(sys.argv)
window = QMainWindow()
window.setWindowTitle("bare")
window.resize(1180, 760)

class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, done)
        return False

def done():
    print(f"first paint: {(time.perf_counter() - process_start()) * 1000:.0f} ms", flush=True)
    print(f"cpu time to the first paint: {time.process_time() * 1000:.0f} ms", flush=True)
    if "--stay" not in sys.argv:
        os._exit(0)

watcher = FirstPaint()
window.installEventFilter(watcher)
window.show()
app.exec()
"""


def child_env(data_dir: Path) -> dict[str, str]:
    env = app_env(data_dir)
    # The app finds its per-user folder as a user's start does (no SCRIPTWRIGHT_DATA_DIR), under data_dir.
    del env["SCRIPTWRIGHT_DATA_DIR"]
    env["XDG_DATA_HOME"] = str(data_dir)
    # Measure what users run: an installed app has its bytecode compiled (pip does it); without cached .pyc
    # every start would recompile the app's modules (~25 ms here). The warm-up run writes them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def first_paint_ms(command: list[str], data_dir: Path) -> tuple[float, float]:
    """The first paint in ms since the parent started the child, and the CPU time the child had used by
    then."""
    env = child_env(data_dir)
    env[LAUNCH_ENV] = repr(time.perf_counter())
    done = subprocess.run(
        command, env=env, cwd=data_dir, capture_output=True, text=True, timeout=120, check=False
    )
    match = re.search(r"first paint: (\d+) ms", done.stdout)
    if not match:
        raise RuntimeError(f"no first paint reported by {command}: {done.stdout}{done.stderr}")
    cpu = re.search(r"cpu time to the first paint: (\d+) ms", done.stdout)
    if not cpu:
        raise RuntimeError(f"no cpu time reported by {command}: {done.stdout}{done.stderr}")
    return float(match.group(1)), float(cpu.group(1))


def bench_start(runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"app": [], "bare": [], "app cpu": [], "bare cpu": []}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        bare = base / "bare_window.py"
        bare.write_text(BARE_WINDOW, encoding="utf-8")
        app_command = [sys.executable, "-m", "app", "--smoke-test"]
        bare_command = [sys.executable, str(bare)]
        first_paint_ms(app_command, base)  # warm the file cache once for both
        first_paint_ms(bare_command, base)
        for _ in range(runs):
            first, cpu = first_paint_ms(app_command, base)
            results["app"].append(first)
            results["app cpu"].append(cpu)
            bare_first, bare_cpu = first_paint_ms(bare_command, base)
            results["bare"].append(bare_first)
            results["bare cpu"].append(bare_cpu)
    return results


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def idle_rss(command: list[str], data_dir: Path, settle: float = 3.0) -> int:
    env = child_env(data_dir)
    env[LAUNCH_ENV] = repr(time.perf_counter())
    process = subprocess.Popen(
        command, env=env, cwd=data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(settle)
        return rss_kib(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_rss() -> dict[str, int]:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        bare = base / "bare_window.py"
        bare.write_text(BARE_WINDOW, encoding="utf-8")
        return {
            "app": idle_rss([sys.executable, "-m", "app"], base),
            "bare": idle_rss([sys.executable, str(bare), "--stay"], base),
        }


EMULATOR = r"""
import sys, threading
from tests.emulator.emulator import Emulator
words, rate, paragraph = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
emu = Emulator()
# The emulator sends whitespace-split words, so a paragraph break travels as the word PARAGRAPH.
emu.reply_text = " ".join(
    "PARAGRAPH" if paragraph and i % paragraph == paragraph - 1 else f"word{i}" for i in range(words)
)
emu.token_rate = rate if rate > 0 else None
for model in emu.groq_models:
    emu.set_groq_limits(model, rpm=10**6, rpd=10**6, tpm=10**8, tpd=10**9)
with emu:
    print(emu.url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""


PARAGRAPH = "PARAGRAPH"


def with_breaks(text: str) -> str:
    """The emulator's paragraph marker shown as the break a real reply would carry."""
    return text.replace(f"{PARAGRAPH} ", "\n\n")


def start_emulator(words: int, rate: float, paragraph: int) -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process, so its threads do not compete with the window for the GIL."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", EMULATOR, str(words), str(rate), str(paragraph)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def bench_stream(
    seconds: float,
    tokens_per_second: float = 2000.0,
    nominal_rate: float = 0.0,
    paragraph: int = 60,
    typed_before: float = 0.0,
) -> dict[str, float]:
    """The real window over the real service, Groq from the emulator at `tokens_per_second`.

    `paragraph`: words per paragraph, as scripts come; 0 sends one paragraph of every word, the worst case for
    the text layout (a paragraph is laid out whole whenever it grows). `typed_before`: seconds between typing
    the topic (which starts loading the provider on a worker thread) and pressing Generate."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui import theme
    from app.ui.app_context import build_context
    from app.ui.event_loop import new_event_loop
    from app.ui.gc_guard import GuiGarbageCollector
    from app.ui.main_window import MainWindow
    from app.ui.tasks import run_blocking

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    GuiGarbageCollector.install(app)  # as the app runs: collections on a timer, long-lived objects frozen
    theme.apply_theme(app)
    loop = new_event_loop(app)
    asyncio.set_event_loop(loop)
    figures: dict[str, float] = {}

    async def run() -> None:
        emulator, url = start_emulator(
            int(seconds * tokens_per_second), nominal_rate or tokens_per_second, paragraph
        )
        try:
            await measure(url)
        finally:
            assert emulator.stdin is not None
            emulator.stdin.close()
            emulator.wait(timeout=10)

    async def measure(url: str) -> None:
        with tempfile.TemporaryDirectory() as folder:
            data_dir = Path(folder)
            env = {
                "GROQ_API_KEY": "test-groq-key",
                "GROQ_BASE_URL": url,
                "GEMINI_API_KEY": "test-gemini-key",
                "GOOGLE_GEMINI_BASE_URL": url,
                "OLLAMA_HOST": url,
                "LLM_PROVIDER": "groq",
                "GROQ_RATE_LIMIT_ENABLED": "false",
            }
            context = await run_blocking(build_context, env, data_dir=data_dir, use_keychain=False)
            window = MainWindow(context.service, key_store=context.key_store, data_dir=data_dir)
            window.resize(1280, 800)
            window.show()
            await asyncio.sleep(0.5)

            latencies: list[float] = []
            window.script_view.latency_probe = latencies.append
            append = window.script_view.append_delta
            received: list[str] = []

            first_delta_at: list[float] = []
            last_delta_at = [0.0]

            def append_with_paragraphs(text: str) -> None:
                received.append(text)
                last_delta_at[0] = time.perf_counter()
                if not first_delta_at:
                    first_delta_at.append(last_delta_at[0])
                append(with_breaks(text))

            window.script_view.append_delta = append_with_paragraphs  # type: ignore[method-assign]
            # The finished script differs from what streamed (markers, not breaks), so the window shows it
            # whole: with breaks too, as it would show a real reply's (which, equal to the stream, it keeps).
            set_script = window.script_view.set_script
            window.script_view.set_script = lambda text: set_script(with_breaks(text))  # type: ignore[method-assign]
            beats: list[float] = []
            heartbeat = QTimer()
            heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
            heartbeat.setInterval(1)
            cpu_at: dict[float, float] = {}  # the GUI thread's CPU time at each beat

            def beat() -> None:
                now = time.perf_counter()
                beats.append(now)
                cpu_at[now] = time.thread_time()

            heartbeat.timeout.connect(beat)

            window.topic_edit.setText("Benchmark")
            window.length_spin.setValue(0)
            await asyncio.sleep(typed_before)
            flushes_before = window.script_view.flush_count
            heartbeat.start()
            started = time.perf_counter()
            beats.append(started)  # a stall in the first steps of Generate counts too
            task = window.generate()
            assert task is not None
            outcome = await task
            heartbeat.stop()
            elapsed = time.perf_counter() - started
            gaps = [(b - a) * 1000.0 for a, b in itertools.pairwise(beats)]
            # The criterion is the stall from Generate until the last token; what the window does once the
            # script is complete (here: showing it whole, see set_script above) is reported apart.
            streaming_gaps = [(b - a) * 1000.0 for a, b in itertools.pairwise(beats) if b <= last_delta_at[0]]
            first_at = first_delta_at[0] if first_delta_at else last_delta_at[0]
            arriving = [(a, b) for a, b in itertools.pairwise(beats) if first_at <= b <= last_delta_at[0]]
            arriving_gaps = [(b - a) * 1000.0 for a, b in arriving]  # while tokens arrive: first token on
            # How much of the longest such gap this thread spent computing: near 100% is the app's own work;
            # far below, the thread was waiting (another thread holding the interpreter, or the machine).
            longest = max(arriving, key=lambda gap: gap[1] - gap[0], default=None)
            busy = (
                (cpu_at[longest[1]] - cpu_at[longest[0]]) / (longest[1] - longest[0])
                if longest is not None and longest[0] in cpu_at and longest[1] > longest[0]
                else 0.0
            )
            figures.update(
                max_stall_while_streaming_ms=max(streaming_gaps) if streaming_gaps else 0.0,
                max_stall_while_tokens_arrive_ms=max(arriving_gaps) if arriving_gaps else 0.0,
                longest_stall_busy_share=busy,
                first_token_ms=(first_delta_at[0] - started) * 1000.0 if first_delta_at else 0.0,
            )
            figures.update(
                status=1.0 if outcome is not None and outcome.status == "complete" else 0.0,
                tokens=float(window.script_view.delta_count),
                seconds=elapsed,
                tokens_per_second=window.script_view.delta_count / elapsed if elapsed else 0.0,
                flushes=float(window.script_view.flush_count - flushes_before),
                max_stall_ms=max(gaps) if gaps else 0.0,
                p99_gap_ms=statistics.quantiles(gaps, n=100)[98] if len(gaps) > 100 else 0.0,
                median_token_to_screen_ms=statistics.median(latencies) if latencies else 0.0,
                p99_token_to_screen_ms=statistics.quantiles(latencies, n=100)[98]
                if len(latencies) > 100
                else 0.0,
                max_token_to_screen_ms=max(latencies) if latencies else 0.0,
                # every delta arrived, in order, and the view ends on the saved text
                text_exact=1.0
                if outcome is not None
                and "".join(received) == outcome.text
                and window.script_view.toPlainText() == with_breaks(outcome.text)
                else 0.0,
            )
            window.close()
            await window.wait_idle()
            await context.aclose()

    with loop:
        loop.run_until_complete(run())
    return figures


def bench_stream_in_new_process(**arguments: float) -> dict[str, float]:
    """`bench_stream` in a fresh interpreter: its Generate is the process's first (nothing loaded yet)."""
    code = (
        "import json, sys; from tests.benchmarks.bench_ui import bench_stream; "
        f"print(json.dumps(bench_stream(**{arguments!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--seconds", type=float, default=4.0, help="length of the streamed reply at 2,000 tokens/s"
    )
    parser.add_argument(
        "--emulator-rate",
        type=float,
        default=4000.0,
        help="the emulator's configured tokens/s (it pauses that long after each write, so the rate it "
        "reaches is lower: 4,000 gives about 2,000 here)",
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["start", "stream", "rss"])
    args = parser.parse_args(argv)

    if "start" not in args.skip:
        start = bench_start(args.runs)
        app_ms, bare_ms = statistics.median(start["app"]), statistics.median(start["bare"])
        print(f"\n1. Process start to first paint (median of {args.runs}, ms)")
        print(f"   {'':28s}{'median':>8s}{'min':>8s}{'max':>8s}")
        for name, values in (("app", start["app"]), ("bare QMainWindow", start["bare"])):
            print(f"   {name:28s}{statistics.median(values):8.0f}{min(values):8.0f}{max(values):8.0f}")
        verdict = "met" if app_ms / bare_ms <= 1.3 else "not met"
        print(f"   app / bare: {app_ms / bare_ms:.2f}x (target <= 1.30x: {verdict})")
        # Less exposed to the machine's load changing between runs: each app start against the bare start
        # right after it.
        paired = statistics.median(a / b for a, b in zip(start["app"], start["bare"], strict=True))
        print(f"   median of paired ratios (each start against the bare one after it): {paired:.2f}x")
        # CPU time (all threads, from exec) is what each process computed, whatever else ran meanwhile:
        # the wall-clock ratio it would approach on an idle machine.
        app_cpu, bare_cpu = statistics.median(start["app cpu"]), statistics.median(start["bare cpu"])
        print(
            f"   CPU time to the first paint, app / bare: {app_cpu:.0f} / {bare_cpu:.0f}"
            f" ms = {app_cpu / bare_cpu:.2f}x"
        )

    if "stream" not in args.skip:
        print("\n2. Streaming ~2,000 tokens/s from the emulator (separate process) into the window")
        runs = (
            ("paragraphs of 60 words, the first Generate, pressed as the topic is typed", 60, 0.0, True),
            ("paragraphs of 60 words, the first Generate, 1.5 s after the topic is typed", 60, 1.5, True),
            ("paragraphs of 60 words, a later Generate", 60, 0.0, False),
            ("one paragraph (worst case), a later Generate", 0, 0.0, False),
        )
        bench_stream(args.seconds, nominal_rate=args.emulator_rate)  # this process's first Generate
        for label, paragraph, typed_before, first in runs:
            arguments = dict(
                seconds=args.seconds,
                nominal_rate=args.emulator_rate,
                paragraph=paragraph,
                typed_before=typed_before,
            )
            figures = bench_stream_in_new_process(**arguments) if first else bench_stream(**arguments)
            stall, p99 = figures["max_stall_ms"], figures["p99_gap_ms"]
            print(f"   {label}:")
            print(
                f"     outcome complete: {bool(figures['status'])}, every delta shown and final text exact: "
                f"{bool(figures['text_exact'])}"
            )
            print(
                f"     tokens: {figures['tokens']:.0f} in {figures['seconds']:.2f} s "
                f"({figures['tokens_per_second']:.0f}/s), flushes: {figures['flushes']:.0f}"
            )
            print(f"     longest event-loop stall: {stall:.1f} ms, p99 gap {p99:.1f} ms (target <= 16 ms)")
            print(
                "     longest stall from Generate to the last token: "
                f"{figures['max_stall_while_streaming_ms']:.1f} ms (the rest is finishing the script); "
                f"first token after {figures['first_token_ms']:.0f} ms"
            )
            print(
                "     longest stall from the first token to the last: "
                f"{figures['max_stall_while_tokens_arrive_ms']:.1f} ms, "
                f"{figures['longest_stall_busy_share']:.0%} of it computing on the GUI thread"
            )
            print(
                f"     token to screen: median {figures['median_token_to_screen_ms']:.1f} ms, "
                f"p99 {figures['p99_token_to_screen_ms']:.1f} ms, "
                f"max {figures['max_token_to_screen_ms']:.1f} ms (target <= 50 ms)"
            )

    if "rss" not in args.skip:
        rss = bench_rss()
        print("\n3. Idle memory, 3 s after start (VmRSS)")
        print(f"   app (core attached): {rss['app'] / 1024:.1f} MiB")
        print(f"   bare QMainWindow:    {rss['bare'] / 1024:.1f} MiB")
        print(f"   difference:          {(rss['app'] - rss['bare']) / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
