"""Screenshots of the main window MID-STREAM against the provider emulator, for the docs and for review.

    QT_QPA_PLATFORM=offscreen python -m tests.ui.make_window_screenshots [--out docs]

Writes docs/main-window.png (light) and docs/main-window-dark.png (and main-window-empty.png, the first
start): a seeded history (one cancelled and one failed script among them), Groq writing a script at a readable
pace, and the dock counting down to Groq's next free request (its local limit of 2 requests per minute is used
up). Nothing leaves this machine.

`--long-history` writes history-load-more.png (light and dark) instead, for review: a history longer than a
page, scrolled to its end, the keyboard on its "Load more" row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PARAGRAPH = "¶"  # the emulator streams whitespace-split words; this marker stands for a paragraph break

SCRIPT = f"""
HOOK: An octopus can open a jar from the inside. Nobody taught it how. {PARAGRAPH}
INTRO: Today we look at the strangest mind on the planet: nine brains, three hearts, and a talent for escape
that has embarrassed aquarium keepers for a century. {PARAGRAPH}
PART ONE, THE BODY THAT THINKS: Two thirds of an octopus's neurons are not in its head. They sit in its arms,
and each arm can taste, touch and decide on its own. Cut the link to the brain and the arm still reaches for
food. {PARAGRAPH}
PART TWO, THE ESCAPE ARTIST: In 2016 an octopus named Inky squeezed through a gap in his tank in New Zealand,
crossed the floor at night and slid down a drain pipe to the sea. {PARAGRAPH}
PART THREE, WHY IT MATTERS: Octopuses live only a year or two and never meet their parents. Everything they
know, they work out alone. {PARAGRAPH}
OUTRO: Next time you see one, remember: it is probably watching you too. Subscribe for part two.
"""

SEEDED = [
    ("Five habits of calm morning people", "calm-documentary-narrator", "groq", "complete",
     "HOOK: What if the calmest hour of your day came first? " * 12),
    ("The 60-second history of the paperclip", "short-form-hook-writer", "gemini", "complete",
     "HOOK: This tiny bent wire changed every office on Earth. " * 6),
    ("Why do cats knock things off tables?", "energetic-youtuber", "ollama", "cancelled",
     "HOOK: Your cat is not being rude. Well, mostly not. It is running an experiment"),
    ("How volcanoes make new islands", "educational-explainer", "gemini", "failed", ""),
    ("Budget travel in Lisbon on 40 euros a day", "energetic-youtuber", "groq", "complete",
     "HOOK: Forty euros. One day. Let's see how far it goes in Lisbon. " * 10),
]  # fmt: skip


def seed_history(store: object, count: int = len(SEEDED)) -> None:
    """`count` scripts from SEEDED, in turn (numbered once they repeat)."""
    for i in range(count):
        topic, persona_id, provider, status, text = SEEDED[i % len(SEEDED)]
        if count > len(SEEDED):
            topic = f"{topic} ({i + 1})"
        persona = store.get_persona(persona_id)  # type: ignore[attr-defined]
        model = {"groq": "llama-3.3-70b-versatile", "gemini": "gemini-2.5-flash", "ollama": "llama3.2"}[
            provider
        ]
        script_id = store.create_script(topic, persona, provider, model, 450)  # type: ignore[attr-defined]
        store.finish_script(  # type: ignore[attr-defined]
            script_id,
            text=text.strip(),
            status=status,
            provider=provider,
            model=model,
            error_code="NETWORK_ERROR" if status == "failed" else None,
            error_message="Gemini can't be reached. Check your connection and try again."
            if status == "failed"
            else None,
        )


async def shoot(out: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from app.ui import theme
    from app.ui.app_context import build_context
    from app.ui.main_window import MainWindow
    from app.ui.tasks import run_blocking
    from tests.emulator.emulator import Emulator

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    with Emulator() as emu, tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        env = {
            "GROQ_API_KEY": emu.groq_key,
            "GROQ_BASE_URL": emu.url,
            "GEMINI_API_KEY": emu.gemini_key,
            "GOOGLE_GEMINI_BASE_URL": emu.url,
            "OLLAMA_HOST": emu.url,
            "LLM_PROVIDER": "groq",
            "GROQ_RATE_LIMIT_ENABLED": "true",
            "GROQ_RATE_LIMIT_REQUESTS_PER_MINUTE": "2",
        }
        context = await run_blocking(build_context, env, data_dir=data_dir, use_keychain=False)
        window = MainWindow(context.service, key_store=context.key_store, data_dir=data_dir)
        window.resize(1320, 820)
        window.show()
        await asyncio.sleep(0.5)
        out.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out / "main-window-empty.png"))  # the first start: nothing written yet
        print(out / "main-window-empty.png")
        seed_history(context.store)
        await window.history.refresh()
        original_append = window.script_view.append_delta
        window.script_view.append_delta = lambda text: original_append(  # type: ignore[method-assign]
            text.replace(f"{PARAGRAPH} ", "\n\n").replace(PARAGRAPH, "\n\n")
        )
        await asyncio.sleep(0.5)

        # A first, quick script uses one of Groq's two requests this minute.
        emu.reply_text = "HOOK: A warm-up script. " * 20
        window.topic_edit.setText("A warm-up script")
        task = window.generate()
        assert task is not None
        await task
        await asyncio.sleep(2.0)

        # The second streams slowly; the dock counts down to the next free request.
        emu.reply_text = " ".join(SCRIPT.split())
        emu.token_rate = 12.0
        window.topic_edit.setText("Why octopuses are so clever")
        window.persona_combo.setCurrentIndex(window.persona_combo.findData("educational-explainer"))
        task = window.generate()
        assert task is not None
        while window.script_view.words.count < 118:
            await asyncio.sleep(0.05)
        window.script_view.flush()
        await asyncio.sleep(0.1)

        for name, scheme in (("main-window.png", "light"), ("main-window-dark.png", "dark")):
            os.environ[theme.THEME_ENV] = scheme
            theme.apply_theme(app)
            window.refresh_theme()
            await asyncio.sleep(0.15)
            window.grab().save(str(out / name))
            print(out / name)
        window.stop()
        await asyncio.wait([task], timeout=5)
        window.close()
        await window.wait_idle()
        await context.aclose()


async def shoot_long_history(out: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from app.store import Store
    from app.ui import theme
    from app.ui.history import HISTORY_PAGE
    from app.ui.main_window import MainWindow

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "scriptwright.db")
        seed_history(store, HISTORY_PAGE + 40)
        window = MainWindow()
        window.resize(1320, 820)
        window.show()
        window.history.set_store(store)
        while not window.history.has_more:
            await asyncio.sleep(0.05)
        history = window.history.list
        history.setFocus()
        history.setCurrentIndex(window.history.model.index(window.history.model.rowCount() - 1, 0))
        history.scrollToBottom()
        out.mkdir(parents=True, exist_ok=True)
        for name, scheme in (("history-load-more.png", "light"), ("history-load-more-dark.png", "dark")):
            os.environ[theme.THEME_ENV] = scheme
            theme.apply_theme(app)
            window.refresh_theme()
            await asyncio.sleep(0.2)
            window.grab().save(str(out / name))
            print(out / name)
        window.close()
        await window.wait_idle()
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "docs")
    parser.add_argument("--long-history", action="store_true", help="the history's Load more row, for review")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from app.ui import theme
    from app.ui.event_loop import new_event_loop

    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    theme.apply_theme(app)
    loop = new_event_loop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(shoot_long_history(args.out) if args.long_history else shoot(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
