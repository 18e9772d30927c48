"""Backbones split in two: ResNet-50 with torchvision's parameter names (so ImageNet weights load), and
a small ResNet for fast CPU runs.

3DCrowdNet runs the stem on the image, mixes in the 2D-pose heatmaps, then runs the rest:
``stem(img) (B,3,256,256) -> (B,64,64,64)`` and ``trunk(feat) (B,64,64,64) -> (B,2048,8,8)``.
Every backbone says its widths as ``stem_channels`` and ``out_channels``; ``build_backbone(name, widths)``
makes one by the name ``ModelConfig.backbone`` holds (``BACKBONES`` lists them).
"""
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Sequential | None:
    """A residual block's projection (1x1 conv + BN, torchvision's ``downsample``), or None for identity."""
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


def fold_block_bn(block: nn.Module, convs: int) -> None:
    """Fold ``bn1..bnN`` into ``conv1..convN`` and the downsample BN into its conv (eval mode, in place)."""
    for k in range(1, convs + 1):
        setattr(block, f"conv{k}", fuse_conv_bn_eval(getattr(block, f"conv{k}"), getattr(block, f"bn{k}")))
        setattr(block, f"bn{k}", nn.Identity())
    if block.downsample is not None:
        block.downsample = nn.Sequential(fuse_conv_bn_eval(*block.downsample))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (carries the stride) -> 1x1, times 4 channels, with a residual."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_ch, out_ch, stride)

    def fuse_bn(self) -> None:
        """Fold each eval-mode BatchNorm into the conv before it (inference only; in place)."""
        fold_block_bn(self, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class StemTrunk(nn.Module):
    """A ResNet split where 3DCrowdNet joins the pose heatmaps: ``stem`` (conv1, bn1, relu, maxpool) then
    ``trunk`` (layer1-4). Subclasses build those modules."""

    def stem(self, img: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B,C0,H/4,W/4); C0 = 64 for ResNet-50."""
        return self.maxpool(self.relu(self.bn1(self.conv1(img))))

    def trunk(self, feat: torch.Tensor) -> torch.Tensor:
        """(B,C0,h,w) -> (B,C,h/8,w/8); C = 2048 for ResNet-50."""
        return self.layer4(self.layer3(self.layer2(self.layer1(feat))))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.stem(img))


class ResNet50(StemTrunk):
    """torchvision ResNet-50 without ``avgpool``/``fc``."""

    stem_channels, out_channels = 64, 2048

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_ch = 64
        for i, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))):
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(in_ch, width, stride if b == 0 else 1))
                in_ch = width * Bottleneck.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))

    def fuse_bn(self) -> None:
        """Fold every eval-mode BatchNorm into its conv (inference only; in place)."""
        self.conv1, self.bn1 = fuse_conv_bn_eval(self.conv1, self.bn1), nn.Identity()
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                block.fuse_bn()


class BasicBlock(nn.Module):
    """3x3 (carries the stride) -> 3x3 with a residual (1x1 projection when the shape changes)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_ch, out_ch, stride)

    def fuse_bn(self) -> None:
        """Fold each eval-mode BatchNorm into the conv before it (inference only; in place)."""
        fold_block_bn(self, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


SMALL_WIDTHS = (16, 32, 64, 128)


class SmallResNet(StemTrunk):
    """A ResNet-18-style backbone with one BasicBlock per stage, for CPU runs at 128² crops.

    (B,3,128,128) -> stem (B,w0,32,32) -> trunk (B,w3,4,4) for stage widths (w0, w1, w2, w3).
    """

    def __init__(self, widths: tuple[int, ...] = SMALL_WIDTHS):
        super().__init__()
        widths = tuple(widths)
        if len(widths) != 4 or any(not isinstance(w, int) or w <= 0 for w in widths):
            raise ValueError(f"widths: expected 4 positive integer stage widths, got {widths}")
        self.stem_channels, self.out_channels = widths[0], widths[-1]
        self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_ch = widths[0]
        for i, (width, stride) in enumerate(zip(widths, (1, 2, 2, 2))):
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(in_ch, width, stride)))
            in_ch = width

    def fuse_bn(self) -> None:
        """Fold every eval-mode BatchNorm into its conv (inference only; in place)."""
        self.conv1, self.bn1 = fuse_conv_bn_eval(self.conv1, self.bn1), nn.Identity()
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                block.fuse_bn()


BACKBONES = {"resnet50": ResNet50, "small": SmallResNet}


def build_backbone(name: str, widths: tuple[int, ...] | None = None) -> StemTrunk:
    """The backbone ``name`` (a key of ``BACKBONES``); ``widths`` only for "small" (None: ``SMALL_WIDTHS``)."""
    if name not in BACKBONES:
        raise ValueError(f"backbone: unknown name {name!r}; valid: {sorted(BACKBONES)}")
    if name == "resnet50":
        if widths is not None:
            raise ValueError(f"backbone 'resnet50' has fixed widths; got widths={widths}, expected None")
        return ResNet50()
    return SmallResNet(SMALL_WIDTHS if widths is None else tuple(widths))
