"""Where the licensed assets crowdmesh loads but cannot ship are looked for, and the errors when one is not there.

SMPL, J_regressor_extra.npy, the 3DCrowdNet checkpoint and VPoser come from their
owners' sites. When one is missing or malformed, the error names the file, what it
is, the setting that points to it and where to get it::

    paths = default_asset_paths()            # {"checkpoint", "smpl", "joint_regressor_extra"} under crowdmesh_home()
    raise missing_asset("SMPL model file", path, "--smpl / body.smpl", SOURCES["smpl"])

``crowdmesh_home()`` is ``$CROWDMESH_HOME``, else ``~/.cache/crowdmesh``: the default asset files, the
stand-ins (``standin/``) and downloaded weights (``weights/``) live there.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_FILES: dict[str, str] = {           # under crowdmesh_home(), when no path is given
    "checkpoint": "snapshot_6.pth.tar",
    "smpl": "smpl/SMPL_NEUTRAL.pkl",
    "joint_regressor_extra": "J_regressor_extra.npy",
}

SOURCES: dict[str, str] = {
    "smpl": (
        "SMPL_NEUTRAL from https://smpl.is.tue.mpg.de (registration required): "
        "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    ),
    "joint_regressor_extra": (
        "J_regressor_extra.npy from the data folder of the 3DCrowdNet release "
        "(https://github.com/hongsukchoi/3DCrowdNet_RELEASE, data/J_regressor_extra.npy; "
        "the same file ships with I2L-MeshNet)"
    ),
    "checkpoint": (
        "the released 3DCrowdNet snapshot_6.pth.tar from the Google Drive link in the README "
        "of https://github.com/hongsukchoi/3DCrowdNet_RELEASE"
    ),
    "vposer": (
        "VPoser v1.0 (the vposer_v1_0 folder) from https://smpl-x.is.tue.mpg.de "
        "(registration required)"
    ),
}


class AssetError(FileNotFoundError):
    """A licensed asset is missing or is not the expected file."""


class AssetFormatError(AssetError, ValueError):
    """A licensed asset exists but its content is not what was expected."""


def missing_asset(what: str, path: str | os.PathLike, setting: str, source: str) -> AssetError:
    """Build the error for an asset file that is not at ``path``.

    ``what`` says what the file is, ``setting`` the config key / CLI flag that sets
    its path, ``source`` where the user gets it.
    """
    return AssetError(
        f"{what} not found: {os.fspath(path)}\n"
        f"  set its path with {setting}\n"
        f"  get it from: {source}"
    )


def crowdmesh_home() -> Path:
    """Where default asset paths, stand-ins and downloads live: $CROWDMESH_HOME or ~/.cache/crowdmesh."""
    return Path(os.environ.get("CROWDMESH_HOME", Path.home() / ".cache" / "crowdmesh"))


def default_asset_paths(home: str | os.PathLike | None = None) -> dict[str, Path]:
    """``DEFAULT_FILES`` under ``home`` (default ``crowdmesh_home()``): checkpoint, smpl, joint_regressor_extra."""
    home = Path(home) if home is not None else crowdmesh_home()
    return {key: home / name for key, name in DEFAULT_FILES.items()}
