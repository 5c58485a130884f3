"""A screenshot of the usage dashboard over a month of made-up calls, offscreen, for the docs and for review.

    QT_QPA_PLATFORM=offscreen python -m tests.ui.make_dashboard_screenshot [--out docs]

Writes dashboard.png. The data are generated (three providers, a few models, some errors and cache hits);
nothing touches the network.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TZ = ZoneInfo("Europe/London")
MODELS = (
    ("groq", "llama-3.3-70b-versatile", 0.45),
    ("gemini", "gemini-2.5-flash", 0.35),
    ("gemini", "gemini-2.5-pro", 0.05),
    ("ollama", "llama3.2", 0.15),
)
LATENCY = {"groq": (7.2, 0.35), "gemini": (8.3, 0.4), "ollama": (9.0, 0.3)}


def fill(store: object, end: datetime, days: int = 30, seed: int = 3) -> None:
    from app.core.usage.pricing import PriceTable
    from app.store import RequestRecord

    prices = PriceTable()
    rng = random.Random(seed)
    start = end - timedelta(days=days)
    for day in range(days):
        calls = rng.randint(6, 22)
        for _ in range(calls):
            at = (start + timedelta(days=day, hours=rng.uniform(8, 23))).timestamp()
            provider, model, _weight = rng.choices(MODELS, weights=[m[2] for m in MODELS])[0]
            roll = rng.random()
            if roll < 0.12:
                record = RequestRecord(
                    provider=provider,
                    model=model,
                    started_at=at,
                    outcome="ok",
                    cached=True,
                    cost_usd=0.0,
                    latency_ms=rng.uniform(2, 9),
                )
            elif roll < 0.18:
                code = rng.choice(["RATE_LIMIT_EXCEEDED", "QUOTA_EXHAUSTED", "NETWORK_ERROR"])
                record = RequestRecord(
                    provider=provider,
                    model=model,
                    started_at=at,
                    outcome="error",
                    error_code=code,
                    latency_ms=rng.uniform(80, 400),
                    cost_usd=0.0,
                )
            else:
                prompt, completion = rng.randint(350, 700), rng.randint(500, 1600)
                mu, sigma = LATENCY[provider]
                record = RequestRecord(
                    provider=provider,
                    model=model,
                    started_at=at,
                    outcome="ok",
                    streamed=True,
                    latency_ms=rng.lognormvariate(mu, sigma),
                    time_to_first_token_ms=rng.lognormvariate(5.6, 0.4),
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    cost_usd=prices.cost(provider, model, prompt, completion),
                )
            store.record_request(record)  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "docs")
    args = parser.parse_args(argv)

    import qasync
    from PySide6.QtWidgets import QApplication

    from app.core.ratelimit.clock import FakeClock
    from app.store import Store
    from app.ui import theme
    from app.ui.dashboard import UsageDashboard

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    theme.apply_theme(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    end = datetime(2025, 11, 21, 18, 0, tzinfo=TZ)

    class Service:
        def __init__(self, store: Store) -> None:
            self.store = store
            self.clock = FakeClock(end.timestamp())

    async def shoot() -> None:
        with tempfile.TemporaryDirectory() as folder:
            store = Store.open(Path(folder) / "usage.db", usage_tz=TZ)
            fill(store, end)
            dashboard = UsageDashboard(Service(store))
            dashboard.resize(1180, 760)
            dashboard.show()
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def finished() -> None:
                if not done.done():
                    done.set_result(None)

            dashboard.refreshed.connect(finished)
            await asyncio.wait_for(done, 10)
            for _ in range(5):
                app.processEvents()
                await asyncio.sleep(0.05)
            args.out.mkdir(parents=True, exist_ok=True)
            dashboard.grab().save(str(args.out / "dashboard.png"))
            dashboard.close()
            store.close()

    with loop:
        loop.run_until_complete(shoot())
    print(args.out / "dashboard.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
