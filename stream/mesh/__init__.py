"""Person crops and batched 3DCrowdNet: tracked people in, the store's per-person rows out.

    from stream.mesh import MeshBatcher, MeshStage

    stage = MeshStage(model.for_inference(), "coco17", max_batch=32, device="cuda", crop_device="gpu")
    batcher = MeshBatcher(stage, max_batch=32)
    for frame, people in tracked_frames:
        for frame, rows in batcher.add(frame, stage.crops(frame.index, frame.bgr, people, camera)):
            ...                                    # rows: track_id, smpl_pose, cam_trans (image camera), ...
    done = batcher.flush()

Modules: ``stage`` (``MeshStage``: crops per frame, one forward for many; ``person_crops``), ``batcher``
(``MeshBatcher``: passes of up to ``max_batch`` crops, for every runner), ``camera`` (crop camera -> image
camera), ``image`` (``stream image``), ``render`` (mesh drawing).
"""
from stream.mesh.batcher import MeshBatcher
from stream.mesh.camera import crop_camera_to_image
from stream.mesh.stage import MeshStage, person_crops

__all__ = ["MeshBatcher", "MeshStage", "crop_camera_to_image", "person_crops"]
