"""nets.assets: where the licensed assets are looked for when no path is given."""
from pathlib import Path

from nets.assets import DEFAULT_FILES, crowdmesh_home, default_asset_paths


def test_default_paths_are_under_crowdmesh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDMESH_HOME", str(tmp_path))
    assert crowdmesh_home() == tmp_path
    assert default_asset_paths() == {"checkpoint": tmp_path / "snapshot_6.pth.tar",
                                     "smpl": tmp_path / "smpl" / "SMPL_NEUTRAL.pkl",
                                     "joint_regressor_extra": tmp_path / "J_regressor_extra.npy"}
    assert default_asset_paths(tmp_path / "other")["smpl"] == tmp_path / "other" / DEFAULT_FILES["smpl"]


def test_without_the_variable_home_is_the_user_cache(monkeypatch):
    monkeypatch.delenv("CROWDMESH_HOME", raising=False)
    assert crowdmesh_home() == Path.home() / ".cache" / "crowdmesh"
