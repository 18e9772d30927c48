"""Skeleton drawing: what is drawn where, and what is left out."""
import numpy as np

from nets.joints import joint_names
from stream.pose2d.draw import draw_poses, person_color, score_color
from stream.pose2d.base import FramePoses


def one_person(joint_set="crowdpose14", score=0.9):
    k = len(joint_names(joint_set))
    kpts = np.zeros((1, k, 3), np.float32)
    kpts[0, :, 0] = np.linspace(20, 180, k)
    kpts[0, :, 1] = 100
    kpts[0, :, 2] = score
    return FramePoses.from_keypoints(kpts, joint_set, boxes=[[10, 50, 180, 100]])


def test_draws_joints_limbs_and_box_on_a_copy():
    bgr = np.zeros((200, 200, 3), np.uint8)
    fp = one_person()
    out = draw_poses(bgr, fp)
    assert out.shape == bgr.shape and out.dtype == np.uint8 and not bgr.any()
    x, y = fp.keypoints[0, 0, :2].astype(int)
    np.testing.assert_array_equal(out[y, x], score_color(0.9))       # joint dot, coloured by score
    assert (out[50, 60:150] == person_color(0)).all()                 # top edge of the box
    assert out[40:60].any() and not out[160:].any()                   # nothing far from the person


def test_low_scores_are_not_drawn():
    bgr = np.zeros((200, 200, 3), np.uint8)
    out = draw_poses(bgr, one_person(score=0.1), threshold=0.3, boxes=False)
    assert not out.any()


def test_any_input_image_and_wild_coordinates():
    fp = one_person("coco17")
    fp.keypoints[0, 3, :2] = [1e12, -1e12]
    fp.keypoints[0, 4, 0] = np.nan
    out = draw_poses(np.full((50, 60), 7, np.uint16), fp)   # 16-bit grayscale in, BGR8 out
    assert out.shape == (50, 60, 3) and out.dtype == np.uint8


def test_score_colors_run_red_to_green():
    assert score_color(0.0) == (0, 0, 255) and score_color(1.0) == (0, 255, 0) and score_color(0.5) == (0, 255, 255)
