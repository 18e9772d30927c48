"""Training and evaluation of 3DCrowdNet::

    python -m train fit --config configs/train/synthetic.yaml [dotted.key=value ...]
    python -m train eval --config configs/train/synthetic.yaml --checkpoint out/.../snapshot_N.pth

    python -m train fit --config configs/train/3dpw_crowd.yaml data.root=/data     # official datasets
    python -m train eval --config configs/train/3dpw_crowd.yaml --checkpoint ...   # 3DPW-Crowd, 3DPW, MuPoTS

``train.config`` (recipes), ``train.trainer`` (fit loop, Ray Train; re-exports ``train.build``: body,
network, optimizer, dataset, and ``train.checkpoints``: snapshots, load, export), ``train.evaluate``
(synthetic; 3DPW / 3DPW-Crowd / MuPoTS in the paper's table), ``train.synthetic`` (synthetic crowd
dataset), ``train.reduced`` (small CPU model), ``train.datasets`` (official annotation readers),
``train.pipeline`` (readers -> crop/augment/PoseFix/fit targets, the 50/50 3D/2D mix, test crops).
Pure building blocks: ``train.losses`` (the seven official loss terms), ``nets.metrics``
(MPJPE, PA-MPJPE, MPVPE, MuPoTS 3DPCK, CrowdIndex), ``train.posefix`` (synthetic 2D input
errors), ``train.augment`` (crop + augmentation with consistent 3D targets).

Where the code departs from the official release on purpose (fixed bugs, seeded randomness, choices the
paper leaves open): docs/training-deviations.md.
"""
