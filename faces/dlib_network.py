"""dlib's face recognition ResNet run by torch, with the weights of dlib's own model file.

The dlib-bin wheel computes this network without BLAS (about 0.15 s per face on two cores);
torch runs the same arithmetic batched through oneDNN (or cuDNN) in a fraction of that. Each
affine layer (dlib's inference form of batch normalisation) is folded into the convolution
before it, which changes the float rounding only: on the same 150x150 chips, vectors match
dlib's own ``compute_face_descriptor`` to a cosine of 0.9999998 or more (64 lfw_dev chips,
``manage.py bench_faces --only descriptor``; ``tests/test_faces_dlib_network.py`` checks 0.9999).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from faces.dlib_format import CHIP_SIZE, Affine, Convolution, ResidualUnit, ResnetWeights

if TYPE_CHECKING:
    from collections.abc import Sequence


def _folded_conv(conv: Convolution, affine: Affine) -> nn.Conv2d:
    out_channels, in_channels, rows, _ = conv.weight.shape
    layer = nn.Conv2d(in_channels, out_channels, rows, stride=conv.stride, padding=conv.padding)
    gamma = torch.from_numpy(affine.gamma.astype(np.float64))
    weight = torch.from_numpy(conv.weight.astype(np.float64)) * gamma[:, None, None, None]
    bias = torch.from_numpy(conv.bias.astype(np.float64)) * gamma + torch.from_numpy(
        affine.beta.astype(np.float64)
    )
    with torch.no_grad():
        layer.weight.copy_(weight.float())
        layer.bias.copy_(bias.float())
    return layer


def _add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b where the smaller one is zero-padded at the end of each axis (dlib's add_prev):
    more channels after a downsampling unit, and a 3x3 block output beside a 4x4 pooled skip."""
    if a.shape == b.shape:
        return a + b
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True)]

    def padded(t: torch.Tensor) -> torch.Tensor:
        channels, rows, columns = t.shape[1:]
        return F.pad(t, (0, size[2] - columns, 0, size[1] - rows, 0, size[0] - channels))

    return padded(a) + padded(b)


class _Residual(nn.Module):
    def __init__(self, unit: ResidualUnit) -> None:
        super().__init__()
        self.first = _folded_conv(*unit.first)
        self.second = _folded_conv(*unit.second)
        self.downsample = unit.downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block = self.second(F.relu(self.first(x)))
        skip = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(_add_zero_padded(block, skip))


class DlibResnet(nn.Module):
    """(n, 150, 150, 3) RGB chips as 0-255 floats in, (n, 128) dlib descriptors out."""

    def __init__(self, weights: ResnetWeights) -> None:
        super().__init__()
        means = torch.tensor(weights.channel_means, dtype=torch.float32)
        self.register_buffer("means", means.view(1, 3, 1, 1))
        self.stem = _folded_conv(*weights.stem)
        self.units = nn.Sequential(*(_Residual(unit) for unit in weights.units))
        self.register_buffer("fc", torch.from_numpy(weights.fc.copy()))

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.permute(0, 3, 1, 2) - self.means) / 256.0
        x = x.contiguous(memory_format=torch.channels_last)
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        x = self.units(x)
        return x.mean(dim=(2, 3)) @ self.fc


def descriptors(network: DlibResnet, chips: Sequence[np.ndarray], *, batch_size: int) -> np.ndarray:
    """Raw (not normalised) float32 descriptors of 150x150 RGB uint8 chips, in order."""
    if not len(chips):
        return np.empty((0, network.fc.shape[1]), dtype=np.float32)
    on = network.fc.device
    rows = []
    with torch.inference_mode():
        for start in range(0, len(chips), batch_size):
            batch = np.stack(chips[start : start + batch_size])
            if batch.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
                raise ValueError(f"chips must be {CHIP_SIZE}x{CHIP_SIZE} RGB, got {batch.shape}")
            tensor = torch.from_numpy(batch).to(on).float()
            rows.append(network(tensor).float().cpu().numpy())
    return np.concatenate(rows)
