"""crowdmesh stream: images and video in, SMPL out.

Now: ``stream image`` (``stream.image``), crops as the official demo makes them (``stream.crops``),
the mesh overlay renderer (``stream.render``, on the z-buffer of ``nets.synth.raster``) and the built-in
stand-in example (``stream.demo``); ``stream synth`` (``stream.synth``): synthetic crowd clips with ground truth
and simulated detections;
``stream poses`` (``stream.poses``): frames in (``stream.frames``), a 2D pose backend (``stream.pose2d``),
COCO keypoint results out (``stream.poses_io``), skeletons drawn (``stream.draw``), weights fetched by
``stream.assets``. ``stream.store``: the per-video Zarr store (``StoreWriter``, ``open_store``; ``stream info``).
The Ray video pipeline follows (see DESIGN.md)::

    from stream.crops import crop_people
    from stream.image import estimate, read_image, read_poses

    people = estimate(model, read_image("photo.jpg"), read_poses("poses.json", "photo.jpg"))

    from stream.frames import FrameSource
    from stream.pose2d import make_backend
    from stream.poses import estimate_poses

    estimate_poses(FrameSource("clip.mp4"), make_backend("precomputed", poses="in.json"), "poses.json")
"""
