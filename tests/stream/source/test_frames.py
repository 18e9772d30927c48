"""Frames in from videos, image folders and single images; video out."""
import cv2
import numpy as np
import pytest

from stream.source.frames import FrameSource, FrameSourceError, FrameSourceNotFoundError, VideoWriter
from stream.pose2d.base import FrameError


def test_video_frames_in_order_with_times(h264_clip):
    source = FrameSource(h264_clip(n=12, size=(96, 64), fps=24))
    frames = list(source)
    assert source.kind == "video" and source.fps == 24 and len(source) == 12
    assert [f.index for f in frames] == list(range(12))
    np.testing.assert_allclose([f.time for f in frames], np.arange(12) / 24, atol=1e-6)
    for f in frames:
        assert f.bgr.shape == (64, 96, 3) and f.bgr.dtype == np.uint8 and f.name is None
        assert round(float(f.bgr.mean()) / 20) == f.index  # lossy, but each frame stays nearest its own level


def test_image_folder_any_pixel_format(tmp_path):
    cv2.imwrite(str(tmp_path / "img10_gray.png"), np.full((5, 7), 77, np.uint8))
    cv2.imwrite(str(tmp_path / "img2_16bit.png"), np.full((6, 4, 3), 200 * 257, np.uint16))
    cv2.imwrite(str(tmp_path / "img3_rgba.png"), np.dstack([np.full((3, 3), v, np.uint8) for v in (10, 20, 30, 0)]))
    cv2.imwrite(str(tmp_path / "img1_tiny.png"), np.array([[[1, 2, 3]]], np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"")
    source = FrameSource(tmp_path)
    frames = list(source)
    assert source.kind == "folder" and len(source) == 4
    assert [f.name for f in frames] == ["img1_tiny.png", "img2_16bit.png", "img3_rgba.png", "img10_gray.png"]
    assert all(f.bgr.dtype == np.uint8 and f.bgr.ndim == 3 and f.bgr.shape[2] == 3 for f in frames)
    np.testing.assert_array_equal(frames[0].bgr, [[[1, 2, 3]]])
    assert (frames[1].bgr == 200).all() and frames[1].bgr.shape == (6, 4, 3)
    assert (frames[2].bgr == [10, 20, 30]).all()
    assert (frames[3].bgr == 77).all() and frames[3].bgr.shape == (5, 7, 3)


def test_single_image(tmp_path):
    cv2.imwrite(str(tmp_path / "one.jpg"), np.zeros((8, 8, 3), np.uint8))
    frames = list(FrameSource(tmp_path / "one.jpg"))
    assert len(frames) == 1 and frames[0].name == "one.jpg" and frames[0].time is None


def test_empty_image_file_is_named(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(FrameSourceError, match=r"a\.png is an empty file"):
        list(FrameSource(tmp_path))


def test_corrupt_image_is_named(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"\x89PNG garbage")
    source = iter(FrameSource(tmp_path))
    assert next(source).name == "a.png"
    with pytest.raises(FrameSourceError, match=r"b\.png could not be decoded"):
        next(source)


def test_bad_inputs(tmp_path):
    with pytest.raises(FrameSourceNotFoundError, match="nope.mp4 does not exist"):
        FrameSource(tmp_path / "nope.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FrameSourceError, match="has no images"):
        FrameSource(tmp_path / "empty")
    (tmp_path / "notes.mp4").write_text("this is text")
    with pytest.raises(FrameSourceError, match="could not be opened as a video"):
        FrameSource(tmp_path / "notes.mp4")
    (tmp_path / "zero.mp4").write_bytes(b"")
    with pytest.raises(FrameSourceError, match="empty file"):
        FrameSource(tmp_path / "zero.mp4")


def test_video_writer_round_trip_pads_odd_sizes(tmp_path):
    with VideoWriter(tmp_path / "out.mp4", fps=10) as out:
        for i in range(5):
            out.write(np.full((21, 33, 3), 40 * i, np.uint8))
    frames = list(FrameSource(tmp_path / "out.mp4"))
    assert len(frames) == 5 and frames[0].bgr.shape == (22, 34, 3)
    assert [round(float(f.bgr[:21, :33].mean()) / 40) for f in frames] == [0, 1, 2, 3, 4]


def test_video_writer_refuses_a_size_change(tmp_path):
    with pytest.raises(FrameError, match="frame 1 is 8x8, the video is 16x16"):
        with VideoWriter(tmp_path / "out.mp4") as out:
            out.write(np.zeros((16, 16, 3), np.uint8))
            out.write(np.zeros((8, 8, 3), np.uint8))
