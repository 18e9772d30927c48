"""crowdmesh stream: images and video in, SMPL out.

Now: ``stream image`` (``stream.image``), crops as the official demo makes them (``stream.crops``),
a small OpenCV mesh renderer (``stream.render``) and the built-in stand-in example (``stream.demo``).
The Ray video pipeline and the Zarr store follow (see DESIGN.md)::

    from stream.crops import crop_people
    from stream.image import estimate, read_image, read_poses

    people = estimate(model, read_image("photo.jpg"), read_poses("poses.json", "photo.jpg"))
"""
