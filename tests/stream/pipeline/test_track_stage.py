"""``TrackStage``: frames come back ``birth_delay`` frames late, each once, with new people from their first frame."""
import pytest

from nets.joints import joint_names
from stream.pipeline.track import TrackStage
from stream.pose2d.precomputed import read_poses_file
from trackers import PoseTracker, TrackerConfig


def entries(tracked) -> set[tuple[int, int, int]]:
    return {(index, p.track_id, p.detection_index) for index, people in tracked for p in people}


@pytest.mark.parametrize("delay", [1, 3])
def test_frames_come_back_late_with_each_tracks_tentative_frames(pipeline_clip, delay):
    dets = read_poses_file(pipeline_clip.detections["coco17"])[1]
    config = TrackerConfig(birth_delay=delay)
    stage, plain = TrackStage(config, "coco17"), PoseTracker(config, joint_names=joint_names("coco17"))
    handed, seen = [], []
    for f in range(pipeline_clip.frames):
        out = stage(f, dets[f])
        assert [index for index, _ in out] == ([f - delay] if f >= delay else [])
        handed += out
        seen += [(f, plain.update(dets[f].keypoints, dets[f].boxes, dets[f].scores, f))]
    handed += stage.flush()
    assert [index for index, _ in handed] == list(range(pipeline_clip.frames))
    for index, people in handed:
        assert all(p.frame_index == index for p in people)
        assert len({p.detection_index for p in people}) == len({p.track_id for p in people}) == len(people)

    extra = entries(handed) - entries(seen)
    assert entries(seen) <= entries(handed)                 # the held stage loses nothing
    first = {}
    for index, track, _ in sorted(entries(seen)):
        first.setdefault(track, index)
    assert extra and all(first[t] - delay <= f < first[t] for f, t, _ in extra)
    assert {t for f, t, _ in extra if f == 0} == {t for t, f in first.items() if f == delay}
