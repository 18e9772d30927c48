"""crowdmesh networks and body model: 3DCrowdNet, SMPL, joint sets. Nothing here knows Ray or video.

Usage::

    import torch
    from nets import BodyModel, CrowdNet

    body = BodyModel.from_files("SMPL_NEUTRAL.pkl", "J_regressor_extra.npy")
    model = CrowdNet.from_checkpoint("snapshot_6.pth.tar", body)      # official or crowdmesh format
    with torch.no_grad():
        out = model(img, joints, joints_mask, bbox)                    # (B,3,256,256), (B,30,2), (B,30,1), (B,4)
    out.smpl_pose, out.smpl_shape, out.mesh_cam_render                 # (B,72), (B,10), (B,6890,3)

Crops and joints for ``img``/``joints`` come from ``nets.crops.crop_people`` with
``CropConfig(model.config.input_size, model.config.heatmap_size)``. ``CrowdNet(body, ModelConfig(backbone=
"small", ...))`` is the reduced CPU model (``train.reduced.REDUCED_CONFIG``); its checkpoints load the same way.
``load_demo_model(BodyModel(*make_standin_body()))`` gives the shipped synthetic-domain demo weights
(``nets.demo_weights``).
"""
from nets.body import BodyModel
from nets.checkpoint import load_model, save_checkpoint
from nets.demo_weights import demo_checkpoint, load_demo_model
from nets.model import CrowdNet, CrowdNetOutput, ModelConfig

__all__ = ["BodyModel", "CrowdNet", "CrowdNetOutput", "ModelConfig", "demo_checkpoint", "load_demo_model", "load_model",
           "save_checkpoint"]
