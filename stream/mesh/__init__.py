"""Person crops and batched 3DCrowdNet: ``MeshStage`` (crops per frame, one forward for many frames, crop camera
to image camera), ``stream image`` (``stream.mesh.image``), mesh drawing (``stream.mesh.render``).

    from stream.mesh.stage import MeshStage, concat_jobs

    stage = MeshStage(model.for_inference(), "coco17", max_batch=32, device="cuda", crop_device="gpu")
    rows = stage(concat_jobs([stage.jobs(index, bgr, people) for index, bgr, people in frames]))
"""
