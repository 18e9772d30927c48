"""Running ``stream process``: the stages of one input chained in this process or on Ray actors.

    from stream.pipeline import run_local                 # every stage in this process
    from stream.pipeline.ray_driver import run_ray        # the same stages as Ray actors (imports Ray)

    summary = run_local(cfg)      # RunSummary: store, frames, processed, person_crops, tracks, errors, seconds

One frame, decode to store (four changes of form)::

    Frame            index, time, bgr (H, W, 3)          stream.source.frames.FrameSource, in pose batches
      -> FramePoses  keypoints (P, K, 3), boxes, scores  stream.pose2d.stage.PoseStage (a batch of frames a call)
      -> people      [TrackedPerson]: track_id,          stream.pipeline.track.TrackStage (frames in order,
                     keypoints, box, score               each handed back birth_delay frames later, with the
                                                         people confirmed since from their first frame)
      -> crops       {N rows}: model inputs (img, joints, stream.mesh.stage.MeshStage.crops (drops weak poses)
                     joints_mask, crop_bbox) + each
                     person's track_id, keypoints2d,
                     bbox, score + its image's camera
      -> rows        {N rows}: PERSON_FIELDS, translation stream.mesh.stage.MeshStage.__call__, in passes of
                     and joints in the image's camera    frames (and videos) gathered by MeshBatcher
    rows -> StoreSink.add -> StoreWriter.add_frame       written as they are (smoothing adds two arrays)

Modules: ``setup`` (``Run``: input, models, store checks, camera; asset paths, loaders, fingerprints), ``track``
(``TrackStage``), ``sink`` (``StoreSink``), ``local`` (``run_local``), ``ray_actors`` (the pose and mesh workers
around the stages, the progress board), ``ray_pools`` (each node's workers: sizes, placement), ``video_runner``
(one video's pipeline on one node: decode, track, store), ``ray_driver`` (``run_ray``, ``run_many``: jobs to
runners, retries, Ctrl-C), ``ray_setup`` (start or join Ray).
Frames a resumed store already holds go through 2D pose and tracking only (``Run.frames``), so track IDs continue
as in an uninterrupted run. A run that stops early stores none of the frames the tracker still holds (their people
may change with the frames after them); ``--resume`` makes them.
"""
from stream.pipeline.local import run_local
from stream.pipeline.setup import Run, RunSummary

__all__ = ["Run", "RunSummary", "run_local"]
