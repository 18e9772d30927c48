"""Comparing two stores track by track (pipeline tests)."""
import numpy as np

from stream.store import open_store

FIELDS = ("frame", "smpl_pose", "smpl_betas", "cam_trans", "joints3d", "keypoints2d", "bbox", "score")


def read_tracks(path) -> dict[int, dict[str, np.ndarray]]:
    with open_store(path) as store:
        tracks = [store.track(t) for t in store.track_ids()]  # each read once: a store at a URL reads by request
        return {track.track_id: {k: np.asarray(getattr(track, k)) for k in FIELDS} for track in tracks}


def assert_same_store(a, b, atol=1e-5, pixel_atol=None):
    """Same tracks over the same frames; values equal up to float rounding of differently grouped batches
    (``pixel_atol``, default ``atol``, for the image-pixel fields keypoints2d and bbox)."""
    ta, tb = read_tracks(a), read_tracks(b)
    assert sorted(ta) == sorted(tb)
    for t in ta:
        np.testing.assert_array_equal(ta[t]["frame"], tb[t]["frame"])
        for k in FIELDS[1:]:
            tol = pixel_atol if pixel_atol is not None and k in ("keypoints2d", "bbox") else atol
            np.testing.assert_allclose(ta[t][k], tb[t][k], atol=tol, rtol=2e-5, err_msg=f"track {t} {k}")
    with open_store(a) as sa, open_store(b) as sb:
        assert sa.frames_done == sb.frames_done and sa.complete and sb.complete
        np.testing.assert_array_equal(sa.frames()[1], sb.frames()[1])
        np.testing.assert_allclose(sa.frames()[0], sb.frames()[0], atol=1e-9)
