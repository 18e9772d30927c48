"""``python -m train fit|eval --config configs/train/<recipe>.yaml [dotted.key=value ...]``.

    python -m train fit --config configs/train/synthetic.yaml optim.max_steps=600
    python -m train eval --config configs/train/synthetic.yaml --checkpoint output/synthetic/checkpoint/snapshot_1.pth
    python -m train eval --config configs/train/3dpw_crowd.yaml --checkpoint ...   # 3DPW-Crowd, 3DPW, MuPoTS table
    python -m train export --checkpoint ... --official out.pth.tar     # the official release layout
    python -m train export --checkpoint ... --project model.pt         # loads in `stream process model.checkpoint=`
    python -m train ablate --config configs/train/ablation.yaml        # variants x seeds, cached per run
"""
from __future__ import annotations

import argparse
import logging
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description="3DCrowdNet training and evaluation")
    sub = parser.add_subparsers(dest="command", required=True)
    p_fit = sub.add_parser("fit", help="train (resumes from <output_dir>/checkpoint when present)")
    p_eval = sub.add_parser("eval", help="a checkpoint on data.test: synthetic, or the paper's table "
                                         "(3DPW-Crowd, 3DPW, MuPoTS)")
    p_exp = sub.add_parser("export", help="write a training checkpoint in the official release layout (--official) "
                                          "or as a crowdmesh model checkpoint for the stream (--project)")
    p_abl = sub.add_parser("ablate", help="train and score model variants on synthetic crowds (train.ablation); "
                                          "a rerun trains only what changed")
    for p in (p_fit, p_eval, p_abl):
        p.add_argument("--config", required=True, help="configs/train/<recipe>.yaml")
        p.add_argument("overrides", nargs="*", help="dotted.key=value")
    p_eval.add_argument("--checkpoint", required=True)
    p_exp.add_argument("--checkpoint", required=True)
    p_exp.add_argument("--official", help="output path (ckpt['network'], module.* keys; official architecture)")
    p_exp.add_argument("--project", help="output path (nets.checkpoint format: model config + weights)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from train.config import ConfigError, load_config
    from train import trainer
    try:
        if args.command == "fit":
            cfg = load_config(args.config, args.overrides)
            result = trainer.fit(cfg)
            print(f"trained to epoch {result.epoch}, step {result.step}; checkpoint {result.checkpoint}")
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in result.metrics.items()})
            return 0
        if args.command == "eval":
            return _evaluate(args)
        if args.command == "ablate":
            from train.ablation import load_ablation, run_ablation
            run_ablation(load_ablation(args.config, args.overrides), echo=print)
            return 0
    except (FileNotFoundError, ConfigError) as e:  # each names the file or key and what is expected
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not (args.official or args.project):
        parser.error("export needs --official PATH and/or --project PATH")
    state = trainer.read_state(args.checkpoint)
    model = trainer.load_trained(args.checkpoint)
    if args.official:
        print(f"wrote {trainer.export_official(model, args.official, state['epoch'])}")
    if args.project:
        print(f"wrote {trainer.export_project(model, args.project, epoch=state['epoch'])}")
    return 0


def _evaluate(args) -> int:
    from train import trainer
    from train.config import load_config
    from train.evaluate import evaluate, evaluate_recipe, format_official_table, format_table
    cfg = load_config(args.config, args.overrides)
    model = trainer.load_trained(args.checkpoint)
    device = trainer.pick_device(cfg)
    state = trainer.read_state(args.checkpoint)
    label = f"{state['arch']} epoch {state['epoch']}"
    if trainer.eval_set_names(cfg) == ["synthetic"]:
        test_set = trainer.make_dataset(cfg, model.body, model.config, "test")
        print(format_table({f"{label} (synthetic)": evaluate(model, test_set, device=device)}))
    else:
        print(format_official_table({label: evaluate_recipe(model, cfg, device=device)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
