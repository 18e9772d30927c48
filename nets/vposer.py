"""VPoser v1 decoder: latent z (B,32) -> 21 SMPL body-joint rotations.

Parameter names follow the VPoser v1.0 snapshot (``bodyprior_dec_*``) so its weights load as they are.
"""
import torch
import torch.nn.functional as F
from torch import nn

from nets.geometry import matrix_to_axis_angle, rot6d_to_matrix

NUM_BODY_JOINTS = 21


class VPoserDecoder(nn.Module):
    def __init__(self, latent_dim: int = 32, hidden: int = 512, num_joints: int = NUM_BODY_JOINTS):
        super().__init__()
        self.num_joints = num_joints
        self.bodyprior_dec_fc1 = nn.Linear(latent_dim, hidden)
        self.bodyprior_dec_fc2 = nn.Linear(hidden, hidden)
        self.bodyprior_dec_out = nn.Linear(hidden, num_joints * 6)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B,32) -> (B,21,3,3) rotation matrices. (v1's dropout sits here; it is inactive in eval.)"""
        x = F.leaky_relu(self.bodyprior_dec_fc1(z), 0.2)
        x = F.leaky_relu(self.bodyprior_dec_fc2(x), 0.2)
        x = self.bodyprior_dec_out(x)
        return rot6d_to_matrix(x.reshape(-1, 6)).reshape(z.shape[0], self.num_joints, 3, 3)

    def decode_axis_angle(self, z: torch.Tensor) -> torch.Tensor:
        """(B,32) -> (B,21,3)."""
        R = self(z)
        return matrix_to_axis_angle(R.reshape(-1, 3, 3)).reshape(z.shape[0], self.num_joints, 3)
