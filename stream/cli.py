"""The ``stream`` command line."""
import logging
import pickle
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="crowdmesh: 3D SMPL motion for every person in crowd images and videos.")
log = logging.getLogger("crowdmesh")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")


def crowdmesh_home() -> Path:
    """Where stand-ins are cached and default asset paths live: $CROWDMESH_HOME or ~/.cache/crowdmesh."""
    return Path(os.environ.get("CROWDMESH_HOME", Path.home() / ".cache" / "crowdmesh"))


def _fail(err: Exception) -> None:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


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
    import torch

    from nets.assets import AssetError
    from nets.body import BodyModel
    from nets.checkpoint import CheckpointError, load_model
    from stream.demo import STANDIN_NOTICE, example_scene, standin_assets
    from stream.image import InputError, estimate, read_image, read_poses, write_results

    try:
        home = crowdmesh_home()
        use_standin = standin or image is None
        if use_standin:
            assets = standin_assets(home / "standin")
            smpl = smpl or assets["smpl"]
            joint_regressor_extra = joint_regressor_extra or assets["joint_regressor_extra"]
            checkpoint = checkpoint or assets["checkpoint"]
            typer.secho(STANDIN_NOTICE, fg=typer.colors.YELLOW, err=True)
        smpl = smpl or home / "smpl" / "SMPL_NEUTRAL.pkl"
        joint_regressor_extra = joint_regressor_extra or home / "J_regressor_extra.npy"
        checkpoint = checkpoint or home / "snapshot_6.pth.tar"
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
        dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
        model = load_model(checkpoint, body).for_inference().to(dev)
        result = estimate(model, rgb, people, joint_set, batch_size)
        path = write_results(out, result, body.faces, rgb)
    except (InputError, AssetError, CheckpointError, KeyError, ValueError, pickle.UnpicklingError) as err:
        _fail(err)
    n = len(result["index"])
    dropped = sorted(set(range(len(people))) - set(result["index"].tolist()))
    typer.echo(f"{n} of {len(people)} people estimated"
               + (f" (dropped as weak or duplicate poses: {dropped})" if dropped else "") + f" -> {path}")
    if use_standin:
        typer.secho("(stand-in assets: results are not real estimates)", fg=typer.colors.YELLOW, err=True)


if __name__ == "__main__":
    sys.exit(app())
