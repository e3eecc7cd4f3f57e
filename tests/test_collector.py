"""``collector_paused``: the cycle collector off for a block, as it was after."""

from __future__ import annotations

import gc

import pytest

from lrtune._collector import collector_paused


def test_the_collector_is_paused_in_the_block_and_runs_again_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer block turns it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_block_that_raises_turns_the_collector_back_on() -> None:
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("stop")
    assert gc.isenabled()


def test_a_collector_paused_before_stays_paused() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
