"""Running ``stream process``: run setup and the local runner (``stream.pipeline.local``), Ray actors and driver
(``stream.pipeline.ray_driver``), starting or joining Ray (``stream.pipeline.ray_setup``).

    from stream.pipeline.local import run_local           # every stage in this process
    from stream.pipeline.ray_driver import run_ray        # the same stages as Ray actors (imports Ray)

    summary = run_local(cfg)      # RunSummary: store, frames, processed, person_crops, tracks, errors, seconds
"""
