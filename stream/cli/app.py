"""The ``stream`` command line."""
import logging
import pickle
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from nets.assets import crowdmesh_home
from stream.cli.errors import fail
from stream.cli.logs import ray_log_path, setup_logging
from stream.cli.batch import batch
from stream.cli.process import demo, process
from stream.cli.smooth import smooth

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="crowdmesh: 3D SMPL motion for every person in crowd images and videos.")
log = logging.getLogger("crowdmesh")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging, and Ray's own lines on "
                                               "stderr (always in $CROWDMESH_HOME/logs/ray.log).")] = False) -> None:
    setup_logging(verbose, ray_log_path(crowdmesh_home()))


@app.command()
def image(
    image: Annotated[Optional[Path], typer.Argument(help="Image file. Omit it to run the built-in example.")] = None,
    poses: Annotated[Optional[Path], typer.Option(help="2D poses JSON, official demo format "
                                                       "{image_name: [[[x, y, score] x 17], ...]}.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="3DCrowdNet checkpoint (official snapshot or crowdmesh).")] = None,
    smpl: Annotated[Optional[Path], typer.Option(help="SMPL neutral model .pkl.")] = None,
    joint_regressor_extra: Annotated[Optional[Path], typer.Option(help="J_regressor_extra.npy.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/image"),
    joint_set: Annotated[str, typer.Option(help="Joint set of the poses.")] = "coco17",
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, help="People per forward pass.")] = 64,
    standin: Annotated[bool, typer.Option(help="Use the untrained stand-in assets for any asset not given.")] = False,
) -> None:
    """Estimate SMPL for every person of one image from its 2D poses, all in one batched forward."""
    from nets.assets import AssetError, default_asset_paths
    from nets.body import BodyModel
    from nets.checkpoint import CheckpointError, load_model
    from nets.devices import resolve_device
    from stream.demo.run import STANDIN_NOTICE, example_scene, standin_assets
    from stream.mesh.image import InputError, estimate, read_image, read_poses, write_results

    try:
        home = crowdmesh_home()
        use_standin = standin or image is None
        if use_standin:
            assets = standin_assets(home / "standin")
            smpl = smpl or assets["smpl"]
            joint_regressor_extra = joint_regressor_extra or assets["joint_regressor_extra"]
            checkpoint = checkpoint or assets["checkpoint"]
            typer.secho(STANDIN_NOTICE, fg=typer.colors.YELLOW, err=True)
        defaults = default_asset_paths(home)
        smpl = smpl or defaults["smpl"]
        joint_regressor_extra = joint_regressor_extra or defaults["joint_regressor_extra"]
        checkpoint = checkpoint or defaults["checkpoint"]
        body = None
        if image is None:
            body = BodyModel.from_files(smpl, joint_regressor_extra)
            image, poses = example_scene(body, out)
            typer.echo(f"built-in example: {image} with poses {poses}", err=True)
        if poses is None:
            raise InputError("--poses is required with an image: a JSON of 2D poses for it "
                             "(official demo format {image_name: [[[x, y, score] x 17], ...]})")
        rgb = read_image(image)
        people = read_poses(poses, image.name, joint_set)
        body = body or BodyModel.from_files(smpl, joint_regressor_extra)
        model = load_model(checkpoint, body).for_inference().to(resolve_device(device))
        result = estimate(model, rgb, people, joint_set, batch_size)
        path = write_results(out, result, body.faces, rgb, model.config.focal)
    except (InputError, AssetError, CheckpointError, KeyError, ValueError, pickle.UnpicklingError) as err:
        fail(err)
    n = len(result["index"])
    dropped = sorted(set(range(len(people))) - set(result["index"].tolist()))
    typer.echo(f"{n} of {len(people)} people estimated"
               + (f" (dropped as weak or duplicate poses: {dropped})" if dropped else "") + f" -> {path}")
    if use_standin:
        typer.secho("(stand-in assets: results are not real estimates)", fg=typer.colors.YELLOW, err=True)


@app.command()
def poses(
    input: Annotated[Path, typer.Argument(help="An image, an image folder or a video.")],
    backend: Annotated[str, typer.Option(help="rtmo (native RTMO), mmpose, or precomputed (--poses).")] = "rtmo",
    checkpoint: Annotated[Optional[str], typer.Option(help="Weights: a .pth path or a known name "
                                                           "(`stream assets`), e.g. rtmo-l_crowdpose.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="mmpose config file (--backend mmpose).")] = None,
    poses_file: Annotated[Optional[Path], typer.Option("--poses", help="Poses JSON for --backend precomputed: COCO "
                                                       "keypoint results or the official demo format.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, help="Frames per forward pass.")] = 8,
    out: Annotated[Path, typer.Option(help="Output COCO keypoint-results JSON.")] = Path("poses.json"),
    draw: Annotated[Optional[Path], typer.Option(help="Draw the skeletons: a .mp4 video, a .png (one image) "
                                                      "or a folder of PNGs.")] = None,
    draw_threshold: Annotated[float, typer.Option(help="Joints scored below this are not drawn.")] = 0.3,
) -> None:
    """2D poses of every person in an image, an image folder or a video, as COCO keypoint results."""
    from nets.assets import AssetError
    from stream.pose2d.assets import resolve_asset
    from stream.source.frames import FrameSource
    from stream.pose2d.base import make_backend
    from stream.pose2d.estimate import estimate_poses

    try:
        source = FrameSource(input)
        if backend in ("rtmo", "mmpose") and checkpoint is not None:
            checkpoint = resolve_asset(checkpoint, crowdmesh_home())
        pose_backend = make_backend(backend, checkpoint=checkpoint, config=config, poses=poses_file, device=device,
                                    batch_size=batch_size)
        summary = estimate_poses(source, pose_backend, out, draw=draw, batch_size=batch_size,
                                 threshold=draw_threshold)
    except (AssetError, OSError, ValueError, KeyError, ImportError) as err:
        fail(err)
    typer.echo(f"{summary.frames} frames, {summary.people} people ({summary.joint_set}) -> {summary.out}"
               + (f"; skeletons -> {summary.draw}" if summary.draw else ""))


@app.command()
def info(
    store: Annotated[str, typer.Argument(help="A store written by `stream process` (OUT.zarr, or a URL: "
                                              "s3://bucket/OUT.zarr).")],
    top: Annotated[int, typer.Option(min=0, help="Tracks listed, longest first.")] = 10,
) -> None:
    """Summarise a store: source, frames done, fps, tracks (the longest) and recorded errors."""
    from stream.store import info_lines, open_store

    try:
        lines = info_lines(open_store(store), top=top)
    except (OSError, ValueError, KeyError) as err:
        fail(err)
    typer.echo("\n".join(lines))


def _parse_size(size: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size {size!r}: expected WIDTHxHEIGHT in pixels, e.g. 640x360") from None
    if width < 16 or height < 16:
        raise ValueError(f"--size {size!r}: expected at least 16x16 pixels, e.g. 640x360")
    return width, height


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Output folder.")],
    people: Annotated[int, typer.Option(help="People in the crowd.")] = 8,
    frames: Annotated[int, typer.Option(help="Frames to generate.")] = 300,
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 30.0,
    size: Annotated[str, typer.Option(help="Video size WIDTHxHEIGHT (even numbers for H.264).")] = "640x360",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same clip.")] = 0,
    noise: Annotated[str, typer.Option(help="Detection noise preset: none, moderate or heavy.")] = "moderate",
    smpl: Annotated[Optional[Path], typer.Option(help="SMPL .pkl to build the people from (default: the "
                                                      "synthetic stand-in body).")] = None,
    joint_regressor_extra: Annotated[Optional[Path], typer.Option(help="J_regressor_extra.npy (with --smpl).")] = None,
) -> None:
    """A synthetic crowd video with ground truth and simulated 2D pose detections (COCO keypoint results)."""
    from nets.assets import AssetError
    from nets.synth import CrowdConfig
    from nets.synth.noise import noise_config
    from stream.demo.synth import write_synthetic_clip

    try:
        width, height = _parse_size(size)
        config = CrowdConfig(people=people, frames=frames, fps=fps, width=width, height=height, seed=seed)
        noise_config(noise)
        body = None
        if smpl is not None or joint_regressor_extra is not None:
            from nets.body import BodyModel

            if smpl is None or joint_regressor_extra is None:
                raise ValueError("--smpl and --joint-regressor-extra go together: pass both, or neither for the "
                                 "stand-in body")
            body = BodyModel.from_files(smpl, joint_regressor_extra)
        summary = write_synthetic_clip(out_dir, config, noise=noise, body=body)
    except (AssetError, OSError, ValueError, KeyError, pickle.UnpicklingError) as err:
        fail(err)
    occ = summary.occlusion
    typer.echo(f"{summary.video}: {summary.frames} frames, {summary.size[0]}x{summary.size[1]}, {summary.fps:g} fps, "
               f"{summary.people} people ({summary.seconds:.1f} s)")
    typer.echo(f"{summary.truth}: ground truth (SMPL, 3D joints, 2D keypoints with visibility, boxes, camera)")
    for name, path in summary.detections.items():
        typer.echo(f"{path}: {summary.detection_counts[name]} detections ({noise} noise); "
                   f"truth: {summary.truth_poses[name]}")
    typer.echo(f"occlusion: {occ['keypoints_occluded']:.1%} of in-image keypoints hidden "
               f"({occ['by_others']:.1%} behind other people), {occ['heavily_occluded']:.1%} of person-frames "
               f"at least half hidden, {occ['fully_hidden']:.1%} fully hidden")


def _parse_tracks(tracks: str | None) -> list[int] | None:
    if tracks is None:
        return None
    try:
        ids = [int(t) for t in tracks.replace(" ", "").split(",") if t]
    except ValueError:
        raise ValueError(f"--tracks {tracks!r}: expected track ids separated by commas, e.g. 3,7") from None
    if not ids:
        raise ValueError(f"--tracks {tracks!r}: expected at least one track id, e.g. 3,7")
    return ids


@app.command("export")
def export_command(
    store: Annotated[str, typer.Argument(help="A store written by `stream process` (OUT.zarr, or a URL: "
                                              "s3://bucket/OUT.zarr).")],
    format: Annotated[str, typer.Option("--format", "-f", help="bvh (one file per track), glb (all tracks, "
                                        "skinned and animated), npz (AMASS-style) or video (meshes over the video).")],
    out: Annotated[Path, typer.Option(help="A .glb / .mp4 file, or a folder for bvh and npz.")],
    tracks: Annotated[Optional[str], typer.Option(help="Track ids to export, e.g. 3,7 (default: all).")] = None,
    min_length: Annotated[int, typer.Option(min=1, help="Leave out tracks with fewer frames.")] = 1,
    video: Annotated[Optional[Path], typer.Option(help="--format video: the input video, when it has moved "
                                                       "from the path the store records.")] = None,
    units: Annotated[str, typer.Option(help="--format bvh: m (metres, Blender's default scale) or cm.")] = "m",
    smpl: Annotated[Optional[Path], typer.Option(help="SMPL neutral model .pkl (the one the store was made "
                                                      "with).")] = None,
    joint_regressor_extra: Annotated[Optional[Path], typer.Option(help="J_regressor_extra.npy.")] = None,
    standin: Annotated[bool, typer.Option(help="Use the synthetic stand-in body (the default for stores that "
                                               "record it, e.g. the demo's and synthetic crowds').")] = False,
    raw: Annotated[bool, typer.Option(help="Export the raw values (default: the offline-smoothed ones where the "
                                          "store has them, `stream smooth`, else the online-smoothed ones, else "
                                          "the raw ones).")] = False,
    smoothed: Annotated[bool, typer.Option(help="As the default, but an error for a store without smoothed "
                                                "values.")] = False,
    progress: Annotated[bool, typer.Option(help="Progress bar (--format video).")] = True,
) -> None:
    """Export a store's tracks as BVH, GLB, AMASS-style npz or an overlay video."""
    from nets.assets import AssetError, default_asset_paths
    from nets.body import BodyModel
    from stream.export import FORMATS, export_store, recorded_standin
    from stream.store import open_store

    try:
        if format not in FORMATS:
            raise ValueError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
        if units not in ("m", "cm"):
            raise ValueError(f"--units {units!r}: expected m or cm")
        if raw and smoothed:
            raise ValueError("--raw and --smoothed: expected one of them at most")
        ids = _parse_tracks(tracks)
        opened = open_store(store)
        if standin:
            from nets.standin import standin_body_files

            smpl, joint_regressor_extra = standin_body_files(crowdmesh_home() / "standin")
        defaults = default_asset_paths()
        given = standin or smpl is not None or joint_regressor_extra is not None
        body = None if given else recorded_standin(opened)    # a store made with the stand-in body records it
        if body is None:
            body = BodyModel.from_files(smpl or defaults["smpl"],
                                        joint_regressor_extra or defaults["joint_regressor_extra"])
        summary = export_store(opened, body, format, out, tracks=ids, min_length=min_length, video=video,
                               bvh_scale=100.0 if units == "cm" else 1.0, progress=progress,
                               values="raw" if raw else "smoothed" if smoothed else "auto")
    except (AssetError, OSError, ValueError, KeyError, pickle.UnpicklingError) as err:
        fail(err)
    for note in summary.notes:
        typer.secho(f"note: {note}", fg=typer.colors.YELLOW, err=True)
    where = summary.paths[0] if len(summary.paths) == 1 else summary.paths[0].parent
    typer.echo(f"{len(summary.tracks)} tracks ({', '.join(map(str, summary.tracks))}) -> {where} "
               f"({len(summary.paths)} file{'s' if len(summary.paths) > 1 else ''}, {format}, {summary.values} values)")


assets_app = typer.Typer(add_completion=False, help="Known downloadable weights (mmpose RTMO checkpoints).")
app.add_typer(assets_app, name="assets")


@assets_app.callback(invoke_without_command=True)
def assets(ctx: typer.Context,
           verify: Annotated[bool, typer.Option(help="Also check the sha256 of the files present.")] = False) -> None:
    """List the known weights, where they go and whether they are present. `stream assets get NAME` fetches one."""
    if ctx.invoked_subcommand is not None:
        return
    from stream.pose2d.assets import ASSETS, HashMismatchError, asset_path, verify as verify_file, weights_dir

    typer.echo(f"weights folder: {weights_dir(crowdmesh_home())}")
    for name, asset in ASSETS.items():
        path = asset_path(name, crowdmesh_home())
        status = "present" if path.is_file() else "missing"
        if verify and path.is_file():
            try:
                verify_file(path, name)
                status = "verified"
            except HashMismatchError:
                status = "BAD HASH"
        typer.echo(f"  {name:24s} {asset.joint_set:12s} {asset.input_size[0]}x{asset.input_size[1]}  {status:8s}  "
                   f"{asset.note}")


@assets_app.command("get")
def assets_get(
    name: Annotated[str, typer.Argument(help="A known asset name (see `stream assets`).")],
    source: Annotated[Optional[str], typer.Option("--from", help="A local file or URL to take it from instead "
                                                                 "of the official address.")] = None,
) -> None:
    """Download (or copy from --from) a known asset into the weights folder and verify its sha256."""
    from stream.pose2d.assets import get_asset_file

    try:
        path = get_asset_file(name, crowdmesh_home(), source=source)
    except (OSError, ValueError) as err:
        fail(err)
    typer.echo(f"{name} -> {path}")


app.command()(process)    # the pipeline commands live in stream.cli.process
app.command()(batch)
app.command()(demo)
app.command()(smooth)    # stream.cli.smooth


if __name__ == "__main__":
    sys.exit(app())
