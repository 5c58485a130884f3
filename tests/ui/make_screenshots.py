"""Screenshots of the settings dialog and the rate-limit panel, offscreen, for the docs and for review.

    QT_QPA_PLATFORM=offscreen python -m tests.ui.make_screenshots [--theme light|dark] [--out docs]

Writes settings-dialog.png (the dialog as it opens, Groq tested), settings-dialog-full.png (the whole page),
rate-limit-panel.png (detailed cards: a 429 countdown, a used-up daily quota, an open circuit) and
rate-limit-panel-compact.png (the dock's one-line mode); "-dark" is added for the dark theme. Nothing touches
the network or the real keychain: the dialog runs on the tests' fake service and an in-memory keychain.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.ui.settings_fakes import MemoryKeyring


class SecretService(MemoryKeyring):
    """Described as the Secret Service keychain, like on a Linux desktop; keeps everything in memory."""


KEY = "example-not-a-real-key"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "docs")
    args = parser.parse_args(argv)
    os.environ["SCRIPTWRIGHT_THEME"] = args.theme

    import qasync
    from PySide6.QtWidgets import QApplication, QScrollArea, QVBoxLayout, QWidget

    from app.core.keys import KeyStore
    from app.store import Store
    from app.ui import theme
    from app.ui.rate_limit_panel import RateLimitPanel
    from app.ui.settings_dialog import SettingsDialog
    from tests.ui import limit_states
    from tests.ui.settings_fakes import FakeSettingsService

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)  # closing the dialog must not end the run
    theme.apply_theme(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.theme == "light" else "-dark"

    async def settle() -> None:
        for _ in range(5):
            await asyncio.sleep(0.05)

    async def shoot() -> None:
        state, _clock, _handle = limit_states.showcase()

        host = QWidget()
        layout = QVBoxLayout(host)
        layout.setContentsMargins(16, 16, 16, 16)
        panel = RateLimitPanel(state, host, scrollable=False)
        layout.addWidget(panel)

        async def fit(width: int) -> None:
            for _ in range(3):  # wrapped labels settle their height after a resize or two
                host.resize(width, host.heightForWidth(width) if host.hasHeightForWidth() else 10)
                await settle()

        host.show()
        host.setFocus()
        await fit(560)
        host.grab().save(str(out / f"rate-limit-panel{suffix}.png"))
        await fit(300)
        host.grab().save(str(out / f"rate-limit-panel-narrow{suffix}.png"))

        panel.set_compact(True)
        await fit(380)
        host.grab().save(str(out / f"rate-limit-panel-compact{suffix}.png"))
        host.close()

        with tempfile.TemporaryDirectory() as tmp:
            store = Store.open(Path(tmp) / "scriptwright.db")
            key_store = KeyStore(Path(tmp), backend=SecretService())
            key_store.set("groq", KEY)
            store.set_default_provider("groq")
            service = FakeSettingsService(store, {}, state)
            dialog = SettingsDialog(service, key_store)
            dialog.open()
            while not dialog.is_loaded:
                await asyncio.sleep(0.02)
            await settle()
            dialog.sections["groq"].test_connection()
            while dialog.sections["groq"].test_result.isHidden():
                await asyncio.sleep(0.02)
            dialog.save_button.setFocus()
            await settle()
            dialog.grab().save(str(out / f"settings-dialog{suffix}.png"))

            body = dialog.pages.currentWidget()
            assert isinstance(body, QScrollArea)
            page = body.widget()
            assert page is not None
            full_height = dialog.height() + page.sizeHint().height() - body.viewport().height()
            dialog.resize(dialog.width(), full_height + 4)
            await settle()
            dialog.grab().save(str(out / f"settings-dialog-full{suffix}.png"))
            dialog.reject()
            await settle()
            store.close()

    with loop:
        loop.run_until_complete(shoot())
    print(f"Screenshots written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
