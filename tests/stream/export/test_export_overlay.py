"""Overlay video: meshes land where the synthetic crowd's ground truth puts them, in their track colours."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from export_data import FPS

from nets.synth import rasterize, render
from stream.export import write_overlay
from stream.export.motion import track_color
from stream.export.overlay import PLAIN_BACKGROUND
from stream.source.frames import FrameSource, VideoWriter


def _frames(path) -> list[np.ndarray]:
    return [f.bgr for f in FrameSource(path)]


def _stored_mask(crowd, store, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth person id per pixel, and whether that pixel's person has a row in the store at frame t."""
    _, mesh_id = render(crowd, t)
    stored = [i for i in store.track_ids() if t in store.track(i).frame]
    return mesh_id, np.isin(mesh_id, stored)


def _truth_meshes(crowd, store, t: int) -> np.ndarray:
    """Pixels the ground-truth meshes of the tracks stored at frame t cover (the crowd's own camera)."""
    stored = [i for i in store.track_ids() if t in store.track(i).frame]
    return rasterize(crowd.vertices(t)[stored], crowd.faces, crowd.camera.K, crowd.camera.size).mesh_id >= 0


def _label_area(store, t: int, shape) -> np.ndarray:
    """Where the id labels may be: a band above the top-left corner of each stored box."""
    area = np.zeros(shape[:2], bool)
    for i in store.track_ids():
        track = store.track(i)
        rows = np.flatnonzero(track.frame == t)
        if len(rows):
            x, y = track.bbox[rows[0], :2].astype(int)
            area[max(y - 26, 0):max(y + 2, 0), max(x - 3, 0):x + 40] = True
    return area


@pytest.fixture(scope="module")
def plain_overlay(export_store, export_body, tmp_path_factory):
    path = tmp_path_factory.mktemp("overlay") / "overlay.mp4"
    summary = write_overlay(export_store, export_body, path, progress=False)
    return summary, _frames(path)


def test_overlay_without_a_video_draws_the_stored_people_on_a_plain_background(plain_overlay, export_store,
                                                                                export_crowd):
    summary, frames = plain_overlay
    assert summary.background == "plain" and "no source video" in summary.reason
    assert len(frames) == len(export_store) == 30
    assert frames[0].shape == (192, 320, 3)
    for t in (5, 15, 25):
        truth = _truth_meshes(export_crowd, export_store, t).astype(np.uint8)
        drawn = np.abs(frames[t].astype(int) - PLAIN_BACKGROUND).sum(-1) > 30
        labels = _label_area(export_store, t, drawn.shape)
        assert drawn[labels].sum() > 20 * len(export_store.track_ids())           # the ids are written
        inner = cv2.erode(truth, np.ones((3, 3), np.uint8)) > 0
        near = cv2.dilate(truth, np.ones((3, 3), np.uint8)) > 0
        # the meshes cover the truth; beyond one pixel of it (H.264 blurs thin limbs) almost nothing is drawn
        assert drawn[inner].mean() > 0.99
        assert (drawn & ~near & ~labels).sum() < 0.03 * truth.sum(), t


def test_overlay_paints_each_track_in_its_colour(plain_overlay, export_store, export_crowd):
    _, frames = plain_overlay
    t = 15
    mesh_id, stored = _stored_mask(export_crowd, export_store, t)
    ids = export_store.track_ids()
    palette = np.array([track_color(i)[::-1] for i in ids], dtype=float)          # BGR
    palette /= np.linalg.norm(palette, axis=1, keepdims=True)
    checked = 0
    for i in ids:
        pixels = frames[t][(mesh_id == i) & stored].astype(float)
        if len(pixels) < 100:
            continue
        colour = np.median(pixels, axis=0) - 0.2 * np.array(PLAIN_BACKGROUND)      # alpha 0.8 over the grey
        assert ids[int(np.argmax(palette @ (colour / np.linalg.norm(colour))))] == i
        checked += 1
    assert checked >= 2


def test_overlay_draws_over_the_source_video(export_store, export_body, export_crowd, tmp_path):
    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, fps=FPS) as writer:
        for t in range(export_crowd.frames):
            writer.write(render(export_crowd, t)[0])
    summary = write_overlay(export_store, export_body, tmp_path / "over.mp4", video=clip, progress=False)
    assert summary.background == "video" and summary.reason is None
    source, frames = _frames(clip), _frames(tmp_path / "over.mp4")
    assert len(frames) == len(source)
    t = 10
    _, stored = _stored_mask(export_crowd, export_store, t)
    away = ~stored
    away[:24] = False                                   # the labels sit above the boxes
    assert np.abs(frames[t][away].astype(int) - source[t][away]).mean() < 4       # the video shows through
    assert np.abs(frames[t][stored].astype(int) - source[t][stored]).mean() > 20   # the meshes cover it


def test_overlay_of_a_missing_video_says_so_and_uses_the_plain_background(export_store, export_body, tmp_path):
    summary = write_overlay(export_store, export_body, tmp_path / "o.mp4", video=tmp_path / "moved.mp4",
                            tracks=[2], progress=False)
    assert summary.background == "plain" and "moved.mp4" in summary.reason and summary.tracks == 1
