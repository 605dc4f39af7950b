"""A reader for dlib's face recognition network (``dlib_face_recognition_resnet_model_v1.dat``).

dlib writes a network with its own serialisation (dlib/serialize.h, dlib/dnn/core.h and
layers.h): integers as one control byte (size in the low four bits, 0x80 for a negative
sign) and that many little-endian bytes; strings as an integer length and their bytes; floats
as an integer mantissa and exponent; bools as the characters '1' and '0'; tensors as version 2,
four integer dimensions and raw little-endian float32 values.

A network is written from its loss layer down: each layer writes its version and then its
sub-network, so the file begins with the versions of all layers top to bottom, then the input
layer, then each layer's details bottom to top, each followed by its training state (three
bools and empty tensors). This file holds the 29-convolution ResNet of dlib's
``dnn_face_recognition_ex.cpp``: a 7x7 convolution, max pooling, 14 residual units, average
pooling over everything and a 256 -> 128 fully connected layer without bias.

The reader checks every version, layer name and shape against that architecture, so another
file fails with a message instead of producing another network's vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# (filters, downsampling) of the residual units, input side first: dlib's alevel4 .. alevel0.
RESIDUAL_UNITS: tuple[tuple[int, bool], ...] = (
    ((32, False),) * 3
    + ((64, True),)
    + ((64, False),) * 3
    + ((128, True),)
    + ((128, False),) * 2
    + ((256, True),)
    + ((256, False),) * 2
    + ((256, True),)
)
CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128
STEM_FILTERS = 32

# Versions as this file's dlib wrote them: generic layers, tags/skips, the input-side layer.
_LAYER_VERSION, _TAG_VERSION, _INPUT_SIDE_VERSIONS = 2, 1, (2, 3)


class DlibFormatError(ValueError):
    """The file is not the dlib face recognition ResNet this reader knows."""


@dataclass(frozen=True)
class Convolution:
    weight: np.ndarray  # (out, in, rows, columns), float32
    bias: np.ndarray  # (out,)
    stride: int
    padding: int


@dataclass(frozen=True)
class Affine:
    """Per-channel ``x * gamma + beta`` (dlib's inference form of batch normalisation)."""

    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class ResidualUnit:
    """relu(affine2(conv2(relu(affine1(conv1(x))))) + skip(x)); the skip is a 2x2 average
    pooling when the unit downsamples, and the sum zero-pads the smaller operand (dlib's
    add_prev), which is how the channel count grows."""

    first: tuple[Convolution, Affine]
    second: tuple[Convolution, Affine]
    downsample: bool


@dataclass(frozen=True)
class ResnetWeights:
    channel_means: tuple[float, float, float]  # subtracted from 0-255 RGB, then / 256
    stem: tuple[Convolution, Affine]
    units: tuple[ResidualUnit, ...]
    fc: np.ndarray  # (256, 128): descriptor = pooled features @ fc


def read_resnet(path: Path) -> ResnetWeights:
    """The weights in ``path``; DlibFormatError (or OSError) says what is wrong."""
    return _ResnetReader(Path(path).read_bytes()).read()


class _Stream:
    """dlib's primitive encodings over a bytes object."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise DlibFormatError(f"the file ends early (at byte {len(self.data)})")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def integer(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if size > 8:
            raise DlibFormatError(f"bad integer at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def string(self) -> str:
        length = self.integer()
        if not 0 <= length <= 256:
            raise DlibFormatError(f"bad string length {length} at byte {self.pos}")
        return self._take(length).decode("latin-1")

    def real(self) -> float:
        mantissa = self.integer()
        return float(mantissa * 2.0 ** self.integer())

    def flag(self) -> bool:
        char = self._take(1)
        if char not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool at byte {self.pos - 1}")
        return char == b"1"

    def tensor(self) -> np.ndarray:
        self.expect(self.integer(), 2, "tensor version")
        shape = tuple(self.integer() for _ in range(4))
        if min(shape) < 0:
            raise DlibFormatError(f"bad tensor shape {shape} at byte {self.pos}")
        count = int(np.prod(shape))
        values = np.frombuffer(self._take(4 * count), dtype="<f4")
        return values.astype(np.float32).reshape(shape)

    def alias(self) -> tuple[int, ...]:
        self.expect(self.integer(), 1, "tensor alias version")
        return tuple(self.integer() for _ in range(4))

    def expect(self, found: object, wanted: object, what: str) -> None:
        if found != wanted:
            raise DlibFormatError(f"{what}: expected {wanted!r}, found {found!r} (byte {self.pos})")


class _ResnetReader:
    def __init__(self, data: bytes) -> None:
        self.stream = _Stream(data)
        self.first_layer = True
        self.input_side_version = 0

    def read(self) -> ResnetWeights:
        s = self.stream
        s.expect(s.integer(), 1, "loss layer version")
        s.expect(s.string(), "loss_metric_2", "loss layer")
        s.real(), s.real()  # margin and distance threshold: training only
        self._read_versions()
        s.expect(s.string(), "input_rgb_image_sized", "input layer")
        means = (s.real(), s.real(), s.real())
        s.expect((s.integer(), s.integer()), (CHIP_SIZE, CHIP_SIZE), "input size")
        stem = self._conv_affine(STEM_FILTERS, 3, kernel=7, stride=2, padding=0)
        self._parameterless("relu_")
        self._pool("max_pool_2", (3, 3, 2, 2, 0, 0))
        units, channels = [], STEM_FILTERS
        for filters, downsample in RESIDUAL_UNITS:
            units.append(self._unit(channels, filters, downsample))
            channels = filters
        self._pool("avg_pool_2", (0, 0, 1, 1, 0, 0))
        fc = self._fc(channels)
        if s.pos != len(s.data):
            raise DlibFormatError(f"{len(s.data) - s.pos} unexpected bytes after the network")
        return ResnetWeights(means, stem, tuple(units), fc)

    def _read_versions(self) -> None:
        """The versions written on the way down, checked against the architecture."""
        wanted = [_LAYER_VERSION, _LAYER_VERSION]  # fc, average pooling over everything
        for _, downsample in reversed(RESIDUAL_UNITS):
            if downsample:  # relu, add_prev, avg_pool, skip, tag2, block (5 layers), tag1
                wanted += [_LAYER_VERSION] * 3 + [_TAG_VERSION] * 2
            else:  # relu, add_prev, block, tag1
                wanted += [_LAYER_VERSION] * 2
            wanted += [_LAYER_VERSION] * 5 + [_TAG_VERSION]
        wanted += [_LAYER_VERSION] * 3  # max pooling, relu, affine of the stem
        s = self.stream
        found = [s.integer() for _ in wanted]
        s.expect(found, wanted, "layer structure")
        self.input_side_version = s.integer()
        if self.input_side_version not in _INPUT_SIDE_VERSIONS:
            s.expect(self.input_side_version, _INPUT_SIDE_VERSIONS, "first layer version")

    def _layer(self, name: str) -> None:
        self.stream.expect(self.stream.string(), name, "layer")

    def _parameterless(self, name: str) -> None:
        self._layer(name)
        self._end_layer()

    def _end_layer(self) -> None:
        """The training state dlib writes after each layer's details: bools, empty tensors."""
        s = self.stream
        for _ in range(3):
            s.flag()
        for _ in range(3):
            s.tensor()
        if self.first_layer and self.input_side_version == 3:
            s.integer()  # sample expansion factor
        self.first_layer = False

    def _conv_affine(
        self, filters: int, inputs: int, *, kernel: int, stride: int, padding: int
    ) -> tuple[Convolution, Affine]:
        s = self.stream
        self._layer("con_4")
        params = s.tensor().reshape(-1)
        geometry = tuple(s.integer() for _ in range(7))
        s.expect(geometry, (filters, kernel, kernel, stride, stride, padding, padding), "conv")
        weight_shape, bias_shape = s.alias(), s.alias()
        s.expect(weight_shape, (filters, inputs, kernel, kernel), "conv filters")
        s.expect(bias_shape, (1, filters, 1, 1), "conv biases")
        for _ in range(4):
            s.real()  # learning-rate and weight-decay multipliers
        weights = filters * inputs * kernel * kernel
        s.expect(params.size, weights + filters, "conv parameter count")
        self._end_layer()
        conv = Convolution(
            params[:weights].reshape(weight_shape), params[weights:], stride, padding
        )
        self._layer("affine_")
        params = s.tensor().reshape(-1)
        s.expect((s.alias(), s.alias()), ((1, filters, 1, 1),) * 2, "affine shapes")
        s.expect(s.integer(), 0, "affine mode (per channel)")
        s.expect(params.size, 2 * filters, "affine parameter count")
        self._end_layer()
        return conv, Affine(params[:filters], params[filters:])

    def _pool(self, name: str, geometry: tuple[int, ...]) -> None:
        self._layer(name)
        self.stream.expect(tuple(self.stream.integer() for _ in range(6)), geometry, name)
        self._end_layer()

    def _unit(self, inputs: int, filters: int, downsample: bool) -> ResidualUnit:
        first = self._conv_affine(
            filters, inputs, kernel=3, stride=2 if downsample else 1, padding=0 if downsample else 1
        )
        self._parameterless("relu_")
        second = self._conv_affine(filters, filters, kernel=3, stride=1, padding=1)
        if downsample:
            self._pool("avg_pool_2", (2, 2, 2, 2, 0, 0))
        self._parameterless("add_prev_")
        self._parameterless("relu_")
        return ResidualUnit(first, second, downsample)

    def _fc(self, inputs: int) -> np.ndarray:
        s = self.stream
        self._layer("fc_2")
        s.expect((s.integer(), s.integer()), (DESCRIPTOR_SIZE, inputs), "fc size")
        params = s.tensor()
        s.expect(s.alias(), (inputs, DESCRIPTOR_SIZE, 1, 1), "fc weights")
        s.expect(s.alias(), (0, 0, 0, 0), "fc biases (none)")
        s.expect(s.integer(), 1, "fc bias mode (no bias)")
        for _ in range(4):
            s.real()
        self._end_layer()
        return params.reshape(inputs, DESCRIPTOR_SIZE)
