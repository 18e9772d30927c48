"""SMPL body model: the smplx layer plus the 30-joint regressor.

    body = BodyModel.from_files("basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
                                "J_regressor_extra.npy")
    out = body(pose, betas)          # pose (B, 72) axis-angle, root first; betas (B, 10)
    out.vertices                     # (B, V, 3) metres
    out.joints                       # (B, 30, 3): 24 SMPL joints, 5 face vertices, head top

Files are read by ``nets.smpl_file`` (no chumpy, no pickled code run). ``BodyConfig`` is the ``body``
section of the stream's and the trainer's configs: the same two files under the same keys in both.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import smplx
import torch

from nets.smpl_file import (NUM_BETAS, NUM_SMPL_JOINTS, OFFICIAL_SMPL_KEYS, check_smpl, joint_regressor_30,
                            load_joint_regressor_extra, load_smpl_pkl)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BodyConfig:
    """The body-model files (``BodyModel.from_files``); None = not given: ``stream`` then looks under
    ``$CROWDMESH_HOME`` (``nets.assets.default_asset_paths``), ``train`` uses the stand-in body (``nets.standin``)."""
    smpl: str | None = None                    # SMPL_NEUTRAL.pkl (or basicModel_neutral_lbs_10_207_0_v1.0.0.pkl)
    joint_regressor_extra: str | None = None   # J_regressor_extra.npy


@dataclass
class BodyOutput:
    vertices: torch.Tensor  # (B, V, 3)
    joints: torch.Tensor  # (B, 30, 3)


def _check_batch(name: str, value: Any, width: int, batch: int | None = None) -> None:
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.ndim != 2 or value.shape[1] != width or batch is not None and value.shape[0] != batch:
        rows = "B" if batch is None else str(batch)
        raise ValueError(f"{name} has shape {tuple(value.shape)}, expected ({rows}, {width})")


class BodyModel(torch.nn.Module):
    """SMPL (smplx layer) plus the (30, V) joint regressor of the 30-joint set."""

    def __init__(self, smpl: dict, joint_regressor_extra: np.ndarray):
        super().__init__()
        check_smpl(smpl, "SMPL model dict")
        regressor = joint_regressor_30(smpl["J_regressor"], joint_regressor_extra)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):  # smplx prints a warning for 10-beta models
            self.smpl = smplx.SMPL(
                model_path="", data_struct=smplx.utils.Struct(**smpl), num_betas=NUM_BETAS,
                create_betas=False, create_global_orient=False, create_body_pose=False,
                create_transl=False, gender="neutral")
        if printed.getvalue().strip():
            logger.debug("smplx: %s", printed.getvalue().strip())
        self.register_buffer("joint_regressor", torch.from_numpy(regressor))

    @classmethod
    def from_files(cls, smpl_path: str | os.PathLike,
                   joint_regressor_extra_path: str | os.PathLike) -> BodyModel:
        smpl = load_smpl_pkl(smpl_path)
        extra = load_joint_regressor_extra(joint_regressor_extra_path, smpl["v_template"].shape[0])
        return cls(smpl, extra)

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangle vertex ids."""
        return self.smpl.faces_tensor.detach().cpu().numpy().astype(np.int64)

    def fingerprint(self) -> str:
        """sha256 over the model's tensors (names and float64 values): which body a result was made with."""
        digest = hashlib.sha256()
        for name, tensor in sorted(self.state_dict().items()):
            digest.update(name.encode() + tensor.detach().cpu().to(torch.float64).numpy().tobytes())
        return digest.hexdigest()

    def forward(self, pose: torch.Tensor, betas: torch.Tensor,
                transl: torch.Tensor | None = None) -> BodyOutput:
        """pose (B, 72) axis-angle, root first; betas (B, 10); transl (B, 3) or None."""
        _check_batch("pose", pose, 3 * NUM_SMPL_JOINTS)
        _check_batch("betas", betas, NUM_BETAS, pose.shape[0])
        dtype = self.joint_regressor.dtype
        if transl is not None:
            _check_batch("transl", transl, 3, pose.shape[0])
            transl = transl.to(dtype)
        pose, betas = pose.to(dtype), betas.to(dtype)
        out = self.smpl(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:], transl=transl)
        joints = torch.einsum("jv,bvc->bjc", self.joint_regressor, out.vertices)
        return BodyOutput(vertices=out.vertices, joints=joints)

    @torch.no_grad()
    def load_official_buffers(self, sd: dict[str, torch.Tensor]) -> list[str]:
        """Copy the official checkpoint's SMPL-layer buffers (smplpytorch names, no prefix).

        Returns the keys consumed (th_betas is accepted when present but not used).
        The (30, V) joint regressor is kept: the official code rebuilds it from the pkl.
        """
        layer = self.smpl
        n_verts, n_poses = layer.v_template.shape[0], layer.posedirs.shape[0]
        targets = {  # key: (buffer, official shape, official -> smplx layout)
            "th_shapedirs": (layer.shapedirs, tuple(layer.shapedirs.shape), lambda t: t),
            "th_posedirs": (layer.posedirs, (n_verts, 3, n_poses), lambda t: t.reshape(-1, n_poses).T),
            "th_v_template": (layer.v_template, (1, n_verts, 3), lambda t: t[0]),
            "th_J_regressor": (layer.J_regressor, tuple(layer.J_regressor.shape), lambda t: t),
            "th_weights": (layer.lbs_weights, tuple(layer.lbs_weights.shape), lambda t: t),
            "th_faces": (layer.faces_tensor, tuple(layer.faces_tensor.shape), lambda t: t),
        }
        values = {}
        for key, (_, shape, _) in targets.items():
            if key not in sd:
                raise ValueError(f"official SMPL buffer {key!r} is missing, expected shape {shape}")
            values[key] = torch.as_tensor(sd[key])
            if tuple(values[key].shape) != shape:
                raise ValueError(f"official SMPL buffer {key!r} has shape {tuple(values[key].shape)}, "
                                 f"expected {shape}")
        faces = values["th_faces"]
        if faces.min() < 0 or faces.max() >= n_verts:
            raise ValueError(f"official SMPL buffer 'th_faces' indexes vertices "
                             f"{int(faces.min())}..{int(faces.max())}, expected 0..{n_verts - 1}")
        if "th_betas" in sd and tuple(sd["th_betas"].shape) != (1, NUM_BETAS):
            raise ValueError(f"official SMPL buffer 'th_betas' has shape {tuple(sd['th_betas'].shape)}, "
                             f"expected (1, {NUM_BETAS})")
        for key, (buffer, _, to_smplx) in targets.items():
            buffer.copy_(to_smplx(values[key]).to(device=buffer.device, dtype=buffer.dtype))
        layer.faces = faces.cpu().numpy().astype(np.int64)
        return [key for key in OFFICIAL_SMPL_KEYS if key in sd]
