"""crowdmesh stream: images and video in, one SMPL sequence per tracked person out.

The main job, ``stream process`` (``stream.cli.process``): plain stages (2D pose ``stream.pose2d.stage``, tracking
``stream.pipeline.track``, person crops + batched 3DCrowdNet ``stream.mesh``, store ``stream.pipeline.sink``; the hops
of a frame in ``stream.pipeline``) run in this process (``stream.pipeline.local.run_local``) or as Ray actors
(``stream.pipeline.ray_driver.run_ray`` / ``run_many`` for ``stream batch``; Ray started or joined by
``stream.pipeline.ray_setup``, loopback-only when embedded); results go to a per-video Zarr store (``stream.store``:
``StoreWriter``, ``open_store``; ``stream info``) with optional One-Euro smoothing (``stream.smooth.online``), and
out as BVH / GLB / npz / video (``stream.export``). ``stream demo`` (``stream.demo.run``) runs it all on a synthetic
crowd (``stream.demo.synth``). Also: ``stream image`` (``stream.mesh.image``, crops as the official demo makes them in
``nets.crops``), ``stream poses`` (``stream.pose2d.estimate``: frames from ``stream.source.frames``, a backend of
``stream.pose2d.base``, COCO results via ``stream.pose2d.precomputed``), weights via ``stream.pose2d.assets``::

    from stream.config import load_pipeline_config
    from stream.pipeline.local import run_local
    from stream.store import open_store

    cfg = load_pipeline_config("configs/pipeline.yaml", ["input=clip.mp4", "pose2d.backend=precomputed",
                                                         "pose2d.poses=poses.json"])
    summary = run_local(cfg)                       # or stream.pipeline.ray_driver.run_ray(cfg)
    with open_store(summary.store) as store:
        for track_id in store.track_ids():
            track = store.track(track_id)          # frame, smpl_pose (T,24,3), smpl_betas, cam_trans, joints3d ...
"""
