import numpy as np
import pytest
import torch

from nets.assets import AssetError
from nets.checkpoint import CheckpointError, load_model, save_checkpoint


def test_project_checkpoint_round_trip(official_model, tmp_path):
    path = save_checkpoint(official_model, tmp_path / "model.pt", note="test")
    ckpt = torch.load(path, weights_only=True)
    assert not any(k.startswith("body.") for k in ckpt["network"])  # never the licensed body model
    reloaded = load_model(path, official_model.body)
    img = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    joints = torch.rand(2, 30, 2, generator=torch.Generator().manual_seed(1)) * 64
    mask = torch.ones(2, 30, 1)
    with torch.no_grad():
        a, b = official_model(img, joints, mask), reloaded(img, joints, mask)
    np.testing.assert_array_equal(a.smpl_mesh_cam.numpy(), b.smpl_mesh_cam.numpy())


@pytest.mark.parametrize("change", ["extra", "missing", "shape"])
def test_official_checkpoint_mismatch_names_keys(official_checkpoint, official_model, tmp_path, change):
    ckpt = torch.load(official_checkpoint, weights_only=True)
    net = ckpt["network"]
    key = "module.rotation_net.cam_out.0.bias"
    if change == "extra":
        net["module.rotation_net.extra_head.weight"] = torch.zeros(3)
        expected = "extra_head"
    elif change == "missing":
        del net[key]
        expected = "cam_out.0.bias"
    else:
        net[key] = torch.zeros(4)
        expected = "cam_out.0.bias"
    torch.save(ckpt, tmp_path / "bad.pth.tar")
    with pytest.raises(CheckpointError, match=expected):
        load_model(tmp_path / "bad.pth.tar", official_model.body)


def test_missing_checkpoint_says_where_to_get_it(official_model, tmp_path):
    with pytest.raises(AssetError, match="--checkpoint") as err:
        load_model(tmp_path / "nope.pth.tar", official_model.body)
    assert "3DCrowdNet_RELEASE" in str(err.value) and "nope.pth.tar" in str(err.value)


def test_not_a_checkpoint_is_refused(official_model, tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="'network'"):
        load_model(tmp_path / "other.pt", official_model.body)


def _garbage(kind: str, path):
    """Files that are not checkpoints: what a wrong path or a broken download leaves."""
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(100_000))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("<html>quota exceeded</html>\n")
    else:                                          # a PyTorch file cut off halfway
        torch.save({"network": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:2000])
    return path


@pytest.mark.parametrize("kind", ["random", "empty", "text", "truncated"])
def test_a_file_torch_cannot_read_is_named_with_the_accepted_formats(standin_body, tmp_path, kind):
    path = _garbage(kind, tmp_path / "snapshot_6.pth.tar")
    with pytest.raises(CheckpointError) as err:
        load_model(path, standin_body)
    message = str(err.value)
    assert f"{path} is not a 3DCrowdNet checkpoint" in message
    assert "snapshot_*.pth.tar" in message and "checkpoint crowdmesh wrote" in message
    assert "weights_only" not in message and err.value.__cause__ is None and err.value.__suppress_context__
