"""crowdmesh stream: images and video in, one SMPL sequence per tracked person out.

The main job, ``stream process`` (``stream.cli_process``): plain stages (``stream.stages``: 2D pose, tracking,
person crops + batched 3DCrowdNet, store rows) run in this process (``stream.pipeline.run_local``) or as Ray
actors (``stream.ray_pipeline.run_ray`` / ``run_many`` for ``stream batch``; Ray started or joined by
``stream.ray_setup``, loopback-only when embedded); results go to a per-video Zarr store (``stream.store``:
``StoreWriter``, ``open_store``; ``stream info``) with optional One-Euro smoothing (``stream.smoothing``), and
out as BVH / GLB / npz / video (``stream.export``). ``stream demo`` (``stream.demo``) runs it all on a synthetic
crowd (``stream.synth``). Also: ``stream image`` (``stream.image``, crops as the official demo makes them in
``stream.crops``), ``stream poses`` (``stream.poses``: frames from ``stream.frames``, a backend of
``stream.pose2d``, COCO results via ``stream.poses_io``), weights via ``stream.assets``::

    from stream.config import load_pipeline_config
    from stream.pipeline import run_local
    from stream.store import open_store

    cfg = load_pipeline_config("configs/pipeline.yaml", ["input=clip.mp4", "pose2d.backend=precomputed",
                                                         "pose2d.poses=poses.json"])
    summary = run_local(cfg)                       # or stream.ray_pipeline.run_ray(cfg)
    with open_store(summary.store) as store:
        for track_id in store.track_ids():
            track = store.track(track_id)          # frame, smpl_pose (T,24,3), smpl_betas, cam_trans, joints3d ...
"""
