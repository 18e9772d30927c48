"""The one progress bar (stream.progress): counts, bytes, the rate note, and silence when disabled."""
import pytest

from stream.progress import batch_progress, process_progress, progress_bar


def test_an_items_bar_shows_the_count_done_of_the_total(capsys):
    with progress_bar("poses", total=5) as advance:
        advance(2)
        advance(3)
    err = capsys.readouterr().err
    assert "poses" in err and "5/5" in err


def test_a_bytes_bar_starts_at_completed_and_shows_sizes(capsys):
    with progress_bar("rtmo.pth", total=2048, unit="bytes", completed=1024) as advance:
        advance(1024)
    err = capsys.readouterr().err
    assert "rtmo.pth" in err and "2.0/2.0 kB" in err


def test_process_progress_notes_frames_and_people_per_second(capsys):
    with process_progress(total=4) as advance:
        advance(frames=4, people=10)
    err = capsys.readouterr().err
    assert "4/4" in err and "frames/s" in err and "people/s" in err


def test_a_disabled_bar_prints_nothing(capsys):
    with progress_bar("poses", total=5, enabled=False) as advance:
        advance(5, "note")
    with process_progress(total=5, enabled=False) as advance:
        advance(frames=5, people=2)
    assert capsys.readouterr() == ("", "")


def test_an_unknown_unit_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="items, bytes"):
        with progress_bar("x", total=1, unit="frames"):
            pass


def test_batch_progress_counts_videos_and_sizes_the_bar_from_the_videos_started(capsys, monkeypatch):
    """Two of three videos started (36 and 24 frames): the total counts the third at their mean (30)."""
    monkeypatch.setenv("COLUMNS", "200")
    with batch_progress(3) as (advance, status):
        status({"videos": 3, "done": 0, "failed": 0, "totals": {0: 36, 1: 24}})
        advance(frames=45, people=90)
        status({"videos": 3, "done": 2, "failed": 1, "totals": {0: 36, 1: 24, 2: 30}})
        advance(frames=45, people=90)
    err = capsys.readouterr().err
    assert "batch 2/3 videos, 1 failed" in err and "90/90" in err and "frames/s" in err
    with batch_progress(3, enabled=False) as (advance, status):
        advance(1, 1)
        status({"videos": 3, "done": 0, "failed": 0, "totals": {}})
    assert capsys.readouterr() == ("", "")
