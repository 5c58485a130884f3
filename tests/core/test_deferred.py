"""DeferredWork: a reply's bookkeeping on the loop's next turn, or sooner for a reader."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.core.deferred import DeferredWork


def test_without_a_running_loop_a_call_runs_at_once() -> None:
    work, ran = DeferredWork(), []
    work.add(ran.append, "now")
    assert ran == ["now"] and not work


async def test_on_the_loop_calls_wait_for_the_next_turn_and_run_in_order() -> None:
    work, ran = DeferredWork(), []
    work.add(ran.append, 1)
    work.add(ran.append, 2)
    assert ran == [] and work  # the caller's code goes on first
    await asyncio.sleep(0)
    assert ran == [1, 2] and not work


async def test_a_reader_settles_them_before_the_turn_and_the_turn_then_finds_nothing() -> None:
    work, ran = DeferredWork(), []
    work.add(ran.append, 1)
    work.settle()
    assert ran == [1] and not work
    await asyncio.sleep(0)
    assert ran == [1]


async def test_a_call_that_fails_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    work, ran = DeferredWork(), []

    def broken() -> None:
        raise ValueError("bad bookkeeping")

    work.add(broken)
    work.add(ran.append, "after")
    await asyncio.sleep(0)
    assert ran == ["after"]
    assert "failed" in caplog.text and "bad bookkeeping" in caplog.text
    assert any(r.levelno == logging.ERROR for r in caplog.records)
