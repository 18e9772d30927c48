"""Synthetic clips through the real pipeline, and their tracks as raw, online and offline motions.

    clip = write_clip(work, ClipSpec(people=8, noise="moderate", seed=2024), frames=300)
    store = run_clip(clip, work / "run.zarr", smoothing={"enabled": True})
    tracks, truth = read_clip(store, clip)
    joints = FastJoints(body)                              # exact 30 joints from pose, betas, translation
    motions = {"raw": raw_motions(tracks, truth), "online": online_motions(tracks, truth, joints),
               "offline": offline_motions(tracks, truth, joints, fps)}
    scores = score_motions(motions["online"], truth)

Clips are the demo's (``stream.demo.run``): ``DEMO_SIZE`` frames of a ``nets.synth`` crowd of the stand-in body,
simulated COCO-17 detections of a ``NOISE_PRESETS`` level (seeded with the clip's seed), run by
``stream.pipeline.local.run_local`` with the shipped synthetic-domain weights (``assets/demo/crowdnet_synthetic.pt``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smplx.lbs
import torch

from stream.demo.score import Motion, fill_who, load_truth, match_rows, track_motions

FPS = 30.0
UNIT_NOISE = (0.02, 0.005)   # rad, m: ``matched_noisy_truth``'s rotation and translation noise before scaling


@dataclass(frozen=True)
class ClipSpec:
    people: int
    noise: str        # a nets.synth.NOISE_PRESETS name
    seed: int         # the crowd's and the detection noise's

    @property
    def name(self) -> str:
        return f"{self.people}p-{self.noise}-s{self.seed}"


def demo_assets() -> tuple[dict, Path]:
    """The stand-in body files and the demo checkpoint; an error when the synthetic-domain weights are absent."""
    from nets.assets import crowdmesh_home
    from stream.demo.run import demo_weights, standin_assets

    assets = standin_assets(crowdmesh_home() / "standin")
    checkpoint, trained = demo_weights(assets)
    if not trained:
        raise FileNotFoundError("assets/demo/crowdnet_synthetic.pt not found: the quality benchmark needs the "
                                "shipped synthetic-domain weights (a source checkout of crowdmesh)")
    return assets, checkpoint


@dataclass(frozen=True)
class Clip:
    """The files of a written clip (those of ``stream.demo.synth.SynthSummary`` that are read here)."""
    video: Path
    truth: Path
    detections: dict


def write_clip(work: Path, spec: ClipSpec, frames: int, reuse: bool = False) -> Clip:
    """The clip of ``spec`` written under ``work``; ``reuse``: a clip already there is taken as it is."""
    from nets.synth import CrowdConfig
    from stream.demo.run import DEMO_SIZE
    from stream.demo.synth import write_synthetic_clip

    folder = Path(work) / f"{spec.name}-{frames}f"
    done = Clip(folder / "clip.mp4", folder / "truth.npz", {"coco17": folder / "detections_coco17.json"})
    if reuse and all(p.is_file() for p in (done.video, done.truth, done.detections["coco17"])):
        return done
    width, height = DEMO_SIZE
    config = CrowdConfig(people=spec.people, frames=frames, fps=FPS, width=width, height=height, seed=spec.seed)
    clip = write_synthetic_clip(folder, config, noise=spec.noise, joint_sets=("coco17",))
    return Clip(clip.video, clip.truth, clip.detections)


def run_clip(clip: Clip, out: Path, smoothing: dict | None = None, reuse: bool = False) -> Path:
    """``run_local`` on the clip's video and detections; ``smoothing``: ``smoothing.<key>`` settings;
    ``reuse``: a complete store already at ``out`` is taken as it is."""
    from stream.config import load_pipeline_config
    from stream.pipeline.local import run_local
    from stream.store import open_store, store_exists

    if reuse and store_exists(out):
        with open_store(out) as store:
            if store.complete:
                return Path(out)
    assets, checkpoint = demo_assets()
    focal = float(np.load(clip.truth)["K"][0, 0])
    cfg = load_pipeline_config(None, [
        f"input={clip.video}", f"output={out}", "pose2d.backend=precomputed",
        f"pose2d.poses={clip.detections['coco17']}", f"model.checkpoint={checkpoint}", f"body.smpl={assets['smpl']}",
        f"body.joint_regressor_extra={assets['joint_regressor_extra']}", f"camera.focal={focal}",
        *(f"smoothing.{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in (smoothing or {}).items())])
    return run_local(cfg, overwrite=True).store


def read_clip(store_path, clip) -> tuple[list, object]:
    """The store's tracks (``stream.store.Track``) and the clip's truth (``stream.demo.score.Truth``)."""
    from stream.store import open_store

    with open_store(store_path) as store:
        tracks = [store.track(i) for i in store.track_ids()]
        joint_set = store.joint_set
    return tracks, load_truth(clip.truth, joint_set)


class FastJoints:
    """The body model's 30 joints without its whole mesh: skinning only the vertices its joint regressors read
    (about 500 of SMPL's 6890) gives the same joints as ``BodyModel(...).joints`` an order of magnitude faster."""

    def __init__(self, body):
        layer = body.smpl
        used = (body.joint_regressor != 0).any(0) | (layer.J_regressor != 0).any(0)
        idx = torch.nonzero(used).flatten()
        columns = (idx[:, None] * 3 + torch.arange(3)).flatten()
        self.v_template, self.shapedirs = layer.v_template[idx], layer.shapedirs[idx]
        self.posedirs, self.lbs_weights = layer.posedirs[:, columns], layer.lbs_weights[idx]
        self.j_regressor, self.parents = layer.J_regressor[:, idx], layer.parents
        self.regressor = body.joint_regressor[:, idx]

    @torch.no_grad()
    def __call__(self, pose, betas, trans) -> np.ndarray:
        """pose (T,24,3) or (T,72), betas (T,10), trans (T,3) -> (T,30,3) float64 joints, camera frame."""
        pose = torch.as_tensor(np.asarray(pose, np.float32).reshape(-1, 72))
        if not len(pose):
            return np.zeros((0, 30, 3))
        verts, _ = smplx.lbs.lbs(torch.as_tensor(np.asarray(betas, np.float32)), pose, self.v_template,
                                 self.shapedirs, self.posedirs, self.j_regressor, self.parents, self.lbs_weights)
        joints = torch.einsum("jv,bvc->bjc", self.regressor, verts)
        return joints.double().numpy() + np.asarray(trans, np.float64)[:, None]


def raw_motions(tracks, truth, who=None) -> list[Motion]:
    """The stored raw rows."""
    return track_motions(tracks, truth, who=who)


def online_motions(tracks, truth, joints: FastJoints, who=None, smoothed=None) -> list[Motion]:
    """The rows' smoothed values: the store's ``smooth_*`` arrays, or ``smoothed`` (per track (pose, trans))."""
    smoothed = smoothed or [(t.smooth_smpl_pose, t.smooth_cam_trans) for t in tracks]
    if any(pose is None for pose, _ in smoothed):
        raise ValueError("the store was written without smoothing (smoothing.enabled=true) and no smoothed values "
                         "were given")
    return track_motions(tracks, truth, [joints(p, t.smpl_betas, tr) for t, (p, tr) in zip(tracks, smoothed)], who)


def offline_motions(tracks, truth, joints: FastJoints, fps: float, config=None, who=None) -> list[Motion]:
    """``stream.smooth.offline.smooth_track`` on each track (``config``: a ``SmoothingConfig``, default its
    defaults); filled frames take the true person of the observed rows around them, extended ones that of the
    track's end where that person is in view (``fill_who``)."""
    from stream.config import SmoothingConfig
    from stream.smooth.offline import smooth_track

    config = config or SmoothingConfig()
    who = match_rows(tracks, truth) if who is None else who
    out = []
    for track, matched in zip(tracks, who):
        s = smooth_track(track.frame, track.smpl_pose, track.cam_trans, track.smpl_betas, fps=fps, config=config,
                         last_frame=len(truth.keypoints) - 1)
        who_filled = fill_who(s["frame"], track.frame, matched, truth.visible)
        out.append(Motion(int(track.track_id), s["frame"].astype(np.int64), who_filled,
                          joints(s["smpl_pose"], s["smpl_betas"], s["cam_trans"]), s["smpl_betas"], s["observed"]))
    return out


@dataclass(frozen=True)
class TruthTrack:
    """One true person's own SMPL parameters over the frames they are present, noise added (``noisy_truth``):
    a stored track's fields that the smoothers read."""
    track_id: int
    frame: np.ndarray        # (T,)
    smpl_pose: np.ndarray    # (T, 24, 3)
    cam_trans: np.ndarray    # (T, 3)
    smpl_betas: np.ndarray   # (T, 10)


def noisy_truth(clip: Clip, rot_sd: float, trans_sd: float, seed: int) -> list[TruthTrack]:
    """The truth's tracks, each joint rotation turned by a random rotation (axis-angle ~ N(0, ``rot_sd``² rad²)
    per component) and the translation moved by N(0, ``trans_sd``² m²), independently per frame."""
    from nets.rotations import axis_angle_to_quaternion, quaternion_multiply, quaternion_to_axis_angle

    d, rng, out = np.load(clip.truth), np.random.default_rng(seed), []
    for n in range(d["present"].shape[1]):
        frame = np.flatnonzero(d["present"][:, n])
        pose = d["smpl_pose"][frame, n].reshape(-1, 24, 3)
        turn = axis_angle_to_quaternion(rng.normal(0.0, rot_sd, pose.shape))
        pose = quaternion_to_axis_angle(quaternion_multiply(axis_angle_to_quaternion(pose), turn))
        trans = d["trans"][frame, n] + rng.normal(0.0, trans_sd, (len(frame), 3))
        out.append(TruthTrack(n, frame, pose, trans, np.repeat(d["betas"][n][None], len(frame), 0)))
    return out


def truth_motions(tracks: list[TruthTrack], joints: FastJoints) -> list[Motion]:
    """``noisy_truth`` tracks as Motions (every row its own true person)."""
    return [Motion(t.track_id, t.frame, np.full(len(t.frame), t.track_id), joints(t.smpl_pose, t.smpl_betas, t.cam_trans),
                   t.smpl_betas, np.ones(len(t.frame), bool)) for t in tracks]


def matched_noisy_truth(clip: Clip, truth, joints: FastJoints, accel_mm: float, seed: int) -> list[TruthTrack]:
    """``noisy_truth`` with its noise as strong as the network's: scaled from ``UNIT_NOISE`` so that its
    acceleration error is ``accel_mm`` (linearly, as the acceleration error of noise grows with its size)."""
    from stream.demo.score import score_motions

    unit = score_motions(truth_motions(noisy_truth(clip, *UNIT_NOISE, seed), joints), truth)["accel_error_mm"]
    return noisy_truth(clip, *(v * accel_mm / unit for v in UNIT_NOISE), seed)


def smoother_alone(tracks: list[TruthTrack], truth, joints: FastJoints, config=None) -> dict:
    """The offline smoother apart from the network, scored: "truth+noise" (``tracks``, e.g. of
    ``matched_noisy_truth``) and "its offline" (``offline_motions`` of them, ``config`` a ``SmoothingConfig``)."""
    from stream.demo.score import score_motions

    return {"truth+noise": score_motions(truth_motions(tracks, joints), truth),
            "its offline": score_motions(smoothed_truth_motions(tracks, truth, joints, config), truth)}


def smoothed_truth_motions(tracks: list[TruthTrack], truth, joints: FastJoints, config=None) -> list[Motion]:
    """``offline_motions`` of ``TruthTrack``s (every row its own true person)."""
    return offline_motions(tracks, truth, joints, FPS, config, [np.full(len(t.frame), t.track_id) for t in tracks])


def refilter(tracks, min_cutoff: float, beta: float, **params) -> list[tuple[np.ndarray, np.ndarray]]:
    """The online One-Euro filter (``stream.smooth.online.TrackSmoother``) over the stored raw rows, frame by
    frame as the pipeline runs it: per track (smooth pose (T,24,3), smooth trans (T,3))."""
    from stream.smooth.online import TrackSmoother

    smoother = TrackSmoother(min_cutoff=min_cutoff, beta=beta, **params)
    frame = np.concatenate([t.frame for t in tracks]) if tracks else np.zeros(0, np.int64)
    which = np.concatenate([np.full(len(t.frame), i) for i, t in enumerate(tracks)]) if tracks else frame
    row = np.concatenate([np.arange(len(t.frame)) for t in tracks]) if tracks else frame
    pose = [np.zeros_like(t.smpl_pose) for t in tracks]
    trans = [np.zeros_like(t.cam_trans) for t in tracks]
    order = np.argsort(frame, kind="stable")
    for part in np.split(order, np.flatnonzero(np.diff(frame[order])) + 1):
        if not len(part):
            continue
        people = {"track_id": np.array([tracks[i].track_id for i in which[part]]),
                  "smpl_pose": np.stack([tracks[i].smpl_pose[r] for i, r in zip(which[part], row[part])]),
                  "cam_trans": np.stack([tracks[i].cam_trans[r] for i, r in zip(which[part], row[part])])}
        time = float(tracks[which[part[0]]].time[row[part[0]]])
        out = smoother.smooth_frame(time, people)
        for k, (i, r) in enumerate(zip(which[part], row[part])):
            pose[i][r], trans[i][r] = out["smooth_smpl_pose"][k], out["smooth_cam_trans"][k]
    return list(zip(pose, trans))
