"""Task families for the suggestion-quality benchmark: generated and scikit-learn data only.

A *family* is an architecture on a dataset. Each family has variants that change the
batch size, the training length and the data size, and a *case* is one variant trained
with one optimizer. The development families (``DEV_FAMILIES``) are the ones every
constant of a rule is cross-validated on; the fresh families (``FRESH_FAMILIES``) are the
final check of the frozen rule and played no part in choosing it.

Text comes from Python's own standard library sources (read from the running
interpreter's ``stdlib`` directory), so nothing is downloaded. Every dataset is built
deterministically from fixed seeds and cached per process.
"""

from __future__ import annotations

import functools
import itertools
import math
import sysconfig
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    make_classification,
    make_friedman1,
    make_friedman3,
)
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrtune.tasks import Task

DATA_SEED = 0
VAL_FRACTION = 0.2
VAL_BATCH = 256


# --- data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor

    def subset(self, n_train: int | None) -> Split:
        """The first ``n_train`` training rows (the split is already shuffled)."""
        if n_train is None:
            return self
        return Split(self.x_train[:n_train], self.y_train[:n_train], self.x_val, self.y_val)


def _standardized(x: np.ndarray, y: np.ndarray, stratify: bool) -> Split:
    x_train, x_val, y_train, y_val = train_test_split(
        x.astype(np.float32),
        y,
        test_size=VAL_FRACTION,
        random_state=DATA_SEED,
        stratify=y if stratify else None,
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return Split(
        torch.from_numpy((x_train - mean) / std),
        torch.from_numpy(y_train),
        torch.from_numpy((x_val - mean) / std),
        torch.from_numpy(y_val),
    )


@functools.cache
def digits() -> Split:
    x, y = load_digits(return_X_y=True)
    return _standardized(x, y.astype(np.int64), stratify=True)


@functools.cache
def breast_cancer() -> Split:
    x, y = load_breast_cancer(return_X_y=True)
    return _standardized(x, y.reshape(-1, 1).astype(np.float32), stratify=True)


@functools.cache
def synthetic_classes(
    n: int, features: int, informative: int, classes: int, sep: float, seed: int
) -> Split:
    x, y = make_classification(
        n_samples=n,
        n_features=features,
        n_informative=informative,
        n_redundant=0,
        n_classes=classes,
        n_clusters_per_class=2,
        class_sep=sep,
        flip_y=0.02,
        random_state=seed,
    )
    return _standardized(x, y.astype(np.int64), stratify=True)


def _standardized_target(split: Split) -> Split:
    mean, std = split.y_train.mean(), split.y_train.std()
    return Split(
        split.x_train, (split.y_train - mean) / std, split.x_val, (split.y_val - mean) / std
    )


@functools.cache
def friedman1(n: int) -> Split:
    x, y = make_friedman1(n_samples=n, n_features=10, noise=1.0, random_state=DATA_SEED)
    return _standardized_target(_standardized(x, y.reshape(-1, 1).astype(np.float32), False))


@functools.cache
def friedman3(n: int) -> Split:
    x, y = make_friedman3(n_samples=n, noise=0.1, random_state=DATA_SEED)
    return _standardized_target(_standardized(x, y.reshape(-1, 1).astype(np.float32), False))


@functools.cache
def signals(n: int, length: int = 64) -> Split:
    """Noisy sums of sinusoids; the class is which of 4 frequency bands dominates."""
    rng = np.random.default_rng(DATA_SEED)
    labels = rng.integers(0, 4, size=n)
    t = np.arange(length) / length
    base = (2.0 + 3.0 * labels)[:, None] + rng.uniform(-0.7, 0.7, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    clutter = rng.uniform(1.0, 12.0, size=(n, 1))
    x = np.sin(2 * np.pi * base * t + phase) + 0.6 * np.sin(2 * np.pi * clutter * t)
    x += rng.normal(0, 0.8, size=x.shape)
    return _standardized(x[:, None, :], labels.astype(np.int64), stratify=True)


@functools.cache
def diabetes() -> Split:
    x, y = load_diabetes(return_X_y=True)
    return _standardized_target(_standardized(x, y.reshape(-1, 1).astype(np.float32), False))


@functools.cache
def motifs(n: int, length: int = 32, channels: int = 2) -> Split:
    """Noise with one of 4 short two-channel motifs hidden at a random place; the class is
    which motif."""
    rng = np.random.default_rng(DATA_SEED + 3)
    shapes = rng.normal(0, 1, size=(4, 6, channels))
    labels = rng.integers(0, 4, size=n)
    x = rng.normal(0, 1.0, size=(n, length, channels))
    starts = rng.integers(0, length - 6, size=n)
    for i, (label, start) in enumerate(zip(labels, starts, strict=True)):
        x[i, start : start + 6] += 1.5 * shapes[label]
    return _standardized(x.reshape(n, -1), labels.astype(np.int64), stratify=True)


# --- text from the standard library --------------------------------------------------

STDLIB_FILES = (
    "argparse.py",
    "textwrap.py",
    "difflib.py",
    "inspect.py",
    "pathlib.py",
    "dataclasses.py",
    "functools.py",
    "typing.py",
    "enum.py",
    "shutil.py",
    "tarfile.py",
    "configparser.py",
)
"""Source files every CPython 3.10+ ships; a few may be missing in a trimmed install."""

VOCAB = 96
"""Printable ASCII (95 characters) and newline; anything else maps to space."""


def _stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@functools.cache
def stdlib_text() -> str:
    """The sources of ``STDLIB_FILES``, concatenated in that order."""
    parts = []
    for name in STDLIB_FILES:
        path = _stdlib_dir() / name
        if path.exists():
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    text = "\n".join(parts)
    if len(text) < 200_000:
        raise RuntimeError(f"Too little stdlib source found in {_stdlib_dir()}.")
    return text


def encode(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8).astype(np.int64)
    ids = np.where((codes >= 32) & (codes < 127), codes - 31, 0)
    return np.where(codes == 10, VOCAB - 1, ids)


@functools.cache
def char_windows(seq_len: int, n_train: int, n_val: int) -> Split:
    """Next-character prediction windows: the last tenth of the text is validation only."""
    ids = encode(stdlib_text())
    cut = int(len(ids) * 0.9)
    train = _windows(ids[:cut], seq_len, n_train, seed=1)
    val = _windows(ids[cut:], seq_len, n_val, seed=2)
    return Split(train[0], train[1], val[0], val[1])


def _windows(ids: np.ndarray, seq_len: int, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    starts = np.random.default_rng(seed).integers(0, len(ids) - seq_len - 1, size=n)
    x = np.stack([ids[s : s + seq_len] for s in starts])
    y = np.stack([ids[s + 1 : s + seq_len + 1] for s in starts])
    return torch.from_numpy(x), torch.from_numpy(y)


@functools.cache
def stdlib_lines(trigram_buckets: int, max_trigrams: int = 48) -> Split:
    """Which of the files a non-trivial source line comes from, as hashed char trigrams."""
    rows, labels = [], []
    for label, name in enumerate(STDLIB_FILES[:6]):
        path = _stdlib_dir() / name
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if len(line) < 12:
                continue
            grams = [line[i : i + 3] for i in range(len(line) - 2)][:max_trigrams]
            ids = [zlib.crc32(g.encode()) % (trigram_buckets - 1) + 1 for g in grams]
            rows.append(ids + [0] * (max_trigrams - len(ids)))
            labels.append(label)
    x, y = np.array(rows, dtype=np.int64), np.array(labels, dtype=np.int64)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=VAL_FRACTION, random_state=DATA_SEED, stratify=y
    )
    return Split(*map(torch.from_numpy, (x_train, y_train, x_val, y_val)))


# --- models --------------------------------------------------------------------------


def mlp(sizes: tuple[int, ...], activation: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def conv_net(batch_norm: bool) -> nn.Module:
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        norm: list[nn.Module] = [nn.BatchNorm2d(c_out)] if batch_norm else []
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm), *norm, nn.ReLU()]

    return nn.Sequential(
        *block(1, 16),
        *block(16, 16),
        nn.MaxPool2d(2),
        *block(16, 32),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 10),
    )


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet(channels: int = 16, blocks: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1, bias=False),
        *(ResidualBlock(channels) for _ in range(blocks)),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, 10),
    )


class RowLSTM(nn.Module):
    """Reads an 8x8 digit row by row; classifies from the last hidden state."""

    def __init__(self, hidden: int = 48) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 10)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(rows)
        return self.head(hidden[-1])


class CharGRU(nn.Module):
    def __init__(self, embed: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, VOCAB)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(ids))
        return self.head(out)


class CharTransformer(nn.Module):
    """A causal pre-norm transformer language model over characters."""

    def __init__(self, seq_len: int, width: int = 64, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, width)
        self.position = nn.Parameter(torch.randn(seq_len, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, VOCAB)
        mask = torch.triu(torch.full((seq_len, seq_len), -math.inf), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        n = ids.shape[1]
        hidden = self.embed(ids) + self.position[:n]
        hidden = self.body(hidden, mask=self.mask[:n, :n], is_causal=True)
        return self.head(self.norm(hidden))


class GeluBlockNet(nn.Module):
    """Linear-LayerNorm-GELU-Dropout blocks with a linear head."""

    def __init__(self, features: int, width: int, depth: int, classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(features if i == 0 else width, width), nn.LayerNorm(width)]
            layers += [nn.GELU(), nn.Dropout(0.1)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def conv1d_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(1, 16, 7, padding=3),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(16, 32, 5, padding=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(32, 4),
    )


class TrigramBag(nn.Module):
    """An embedding bag over hashed character trigrams, then one hidden layer."""

    def __init__(self, buckets: int, width: int = 32, classes: int = 6) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(buckets, width, mode="mean", padding_idx=0)
        self.head = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, classes))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids))


class PatchTransformer(nn.Module):
    """A tiny vision transformer: 2x2 patches of an 8x8 digit, mean-pooled, no class token."""

    def __init__(self, width: int = 32, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Linear(4, width)
        self.position = nn.Parameter(torch.randn(16, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = x.view(-1, 4, 2, 4, 2).permute(0, 1, 3, 2, 4).reshape(-1, 16, 4)
        hidden = self.body(self.embed(patches) + self.position)
        return self.head(hidden.mean(dim=1))


def groupnorm_cnn() -> nn.Module:
    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(4, c_out), nn.ELU()]

    return nn.Sequential(
        *block(1, 24),
        nn.MaxPool2d(2),
        *block(24, 48),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(48, 10),
    )


class BiGRU(nn.Module):
    """A bidirectional GRU over a two-channel sequence; classifies from both final states."""

    def __init__(self, channels: int = 2, hidden: int = 32, classes: int = 4) -> None:
        super().__init__()
        self.channels = channels
        self.gru = nn.GRU(channels, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, hidden = self.gru(x.view(x.shape[0], -1, self.channels))
        return self.head(torch.cat([hidden[0], hidden[1]], dim=1))


# --- losses --------------------------------------------------------------------------


def sequence_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


# --- families and their cases --------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """How a family is trained: batch size, epochs and training rows (``None``: all)."""

    name: str
    batch_size: int
    epochs: int
    n_train: int | None = None


@dataclass(frozen=True)
class Family:
    """An architecture on a dataset, with the variants and optimizers it is benchmarked on.

    ``cases`` lists ``(variant name, optimizer)`` pairs.
    """

    name: str
    description: str
    data: Callable[[], Split]
    model: Callable[[], nn.Module]
    criterion: Callable[[Any, Any], torch.Tensor]
    variants: tuple[Variant, ...]
    cases: tuple[tuple[str, str], ...]
    reshape: Callable[[torch.Tensor], torch.Tensor] | None = None

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    def task(self, variant_name: str) -> Task:
        variant = self.variant(variant_name)
        return Task(
            name=f"{self.name}/{variant.name}",
            model=self.model,
            train_loader=functools.partial(self._loader, variant, train=True),
            val_loader=functools.partial(self._loader, variant, train=False),
            criterion=self.criterion,
            epochs=variant.epochs,
            description=self.description,
        )

    def _loader(self, variant: Variant, *, train: bool) -> DataLoader[Any]:
        split = self.data().subset(variant.n_train)
        x, y = (split.x_train, split.y_train) if train else (split.x_val, split.y_val)
        if self.reshape is not None:
            x = self.reshape(x)
        batch = variant.batch_size if train else VAL_BATCH
        return DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=train, num_workers=0)


def _variants(*specs: tuple[str, int, int, int | None]) -> tuple[Variant, ...]:
    return tuple(Variant(*spec) for spec in specs)


_CE = nn.CrossEntropyLoss()
_MSE = nn.MSELoss()
_FIVE = (("a", "sgd"), ("a", "adamw"), ("a", "rmsprop"), ("b", "sgd"), ("b", "adamw"))


def _images(x: torch.Tensor) -> torch.Tensor:
    return x.view(-1, 1, 8, 8)


def _rows(x: torch.Tensor) -> torch.Tensor:
    return x.view(-1, 8, 8)


FIRST_DEV_FAMILIES: tuple[Family, ...] = (
    Family(
        "mlp-relu",
        "digits, MLP 64-128-10, ReLU",
        digits,
        lambda: mlp((64, 128, 10), nn.ReLU),
        _CE,
        _variants(("a", 32, 4, None), ("b", 128, 30, None)),
        _FIVE,
    ),
    Family(
        "mlp-deep-tanh",
        "synthetic 20-feature 4-class data, 6 hidden tanh layers of 64",
        lambda: synthetic_classes(4000, 20, 10, 4, 1.0, 1),
        lambda: mlp((20, 64, 64, 64, 64, 64, 64, 4), nn.Tanh),
        _CE,
        _variants(("a", 64, 10, None), ("b", 16, 2, None)),
        _FIVE,
    ),
    Family(
        "cnn-bn",
        "digits, 3 conv layers with BatchNorm, 2 pools",
        digits,
        lambda: conv_net(batch_norm=True),
        _CE,
        _variants(("a", 64, 6, None), ("b", 256, 20, None)),
        _FIVE,
        _images,
    ),
    Family(
        "cnn-plain",
        "digits, 3 conv layers without normalization, 2 pools",
        digits,
        lambda: conv_net(batch_norm=False),
        _CE,
        _variants(("a", 32, 5, None), ("b", 128, 25, 600)),
        _FIVE,
        _images,
    ),
    Family(
        "resnet",
        "digits, pre-activation residual net, 3 blocks of 16 channels",
        digits,
        resnet,
        _CE,
        _variants(("a", 32, 3, None), ("b", 32, 12, 500)),
        _FIVE,
        _images,
    ),
    Family(
        "gru-char",
        "next character of stdlib source (windows of 32), GRU(64)",
        lambda: char_windows(32, 6000, 400),
        CharGRU,
        sequence_cross_entropy,
        _variants(("a", 32, 1, None), ("b", 64, 5, 2000)),
        _FIVE,
    ),
    Family(
        "lstm-rows",
        "digits read row by row, LSTM(48)",
        digits,
        RowLSTM,
        _CE,
        _variants(("a", 64, 8, None), ("b", 16, 3, None)),
        _FIVE,
        _rows,
    ),
    Family(
        "transformer-char",
        "next character of stdlib source (windows of 32), causal 2-layer transformer "
        "(width 64, 4 heads)",
        lambda: char_windows(32, 5000, 400),
        lambda: CharTransformer(32),
        sequence_cross_entropy,
        _variants(("a", 32, 2, 3000), ("b", 16, 1, None)),
        _FIVE,
    ),
    Family(
        "autoencoder",
        "digits, autoencoder 64-32-8-32-64 (ReLU), MSE",
        lambda: _autoencoding(digits()),
        lambda: mlp((64, 32, 8, 32, 64), nn.ReLU),
        _MSE,
        _variants(("a", 64, 10, None), ("b", 256, 30, None)),
        _FIVE,
    ),
    Family(
        "regression",
        "Friedman #1 (noise 1), MLP 10-64-64-1 (ReLU), MSE on a standardized target",
        lambda: friedman1(2500),
        lambda: mlp((10, 64, 64, 1), nn.ReLU),
        _MSE,
        _variants(("a", 32, 10, None), ("b", 128, 30, 800)),
        _FIVE,
    ),
    Family(
        "logistic",
        "breast cancer, logistic regression (b: 200 training rows)",
        breast_cancer,
        lambda: nn.Linear(30, 1),
        nn.BCEWithLogitsLoss(),
        _variants(("a", 16, 5, None), ("b", 32, 30, 200)),
        _FIVE,
    ),
)
"""The first development families: every constant of the first fitted rule (2026-12-02)
was cross-validated on these."""


def _autoencoding(split: Split) -> Split:
    return Split(split.x_train, split.x_train, split.x_val, split.x_val)


FIRST_FRESH_FAMILIES: tuple[Family, ...] = (
    Family(
        "gelu-layernorm",
        "synthetic 40-feature 6-class data, 3 Linear-LayerNorm-GELU-Dropout blocks of 96",
        lambda: synthetic_classes(5000, 40, 16, 6, 1.2, 7),
        lambda: GeluBlockNet(40, 96, 3, 6),
        _CE,
        _variants(("a", 64, 8, None), ("b", 32, 2, None)),
        _FIVE,
    ),
    Family(
        "conv1d-signals",
        "noisy sinusoids, 4 frequency bands, 1-D CNN with global pooling",
        lambda: signals(3000),
        conv1d_net,
        _CE,
        _variants(("a", 32, 6, None), ("b", 128, 20, 1200)),
        _FIVE,
    ),
    Family(
        "trigram-bag",
        "which stdlib file a source line is from, EmbeddingBag over hashed trigrams",
        lambda: stdlib_lines(4096),
        lambda: TrigramBag(4096),
        _CE,
        _variants(("a", 64, 5, None), ("b", 256, 20, None)),
        _FIVE,
    ),
    Family(
        "silu-regression",
        "Friedman #3, MLP 4-128-128-1 (SiLU), MSE on a standardized target",
        lambda: friedman3(3000),
        lambda: mlp((4, 128, 128, 1), nn.SiLU),
        _MSE,
        _variants(("a", 16, 3, None), ("b", 256, 30, None)),
        _FIVE,
    ),
)
"""The first rule's out-of-sample check, added after it was frozen; seen since, so now
development families."""

DEV_FAMILIES: tuple[Family, ...] = FIRST_DEV_FAMILIES + FIRST_FRESH_FAMILIES
"""The families every fitted constant is cross-validated on (2026-12-03 on)."""

FRESH_FAMILIES: tuple[Family, ...] = (
    Family(
        "vit-digits",
        "digits as 16 patches of 2x2, a 2-layer pre-norm transformer (width 32), mean-pooled",
        digits,
        PatchTransformer,
        _CE,
        _variants(("a", 32, 4, None), ("b", 128, 15, 800)),
        _FIVE,
    ),
    Family(
        "groupnorm-cnn",
        "digits, 2 conv layers with GroupNorm and ELU, global pooling, dropout 0.2",
        digits,
        groupnorm_cnn,
        _CE,
        _variants(("a", 64, 5, None), ("b", 16, 2, None)),
        _FIVE,
        _images,
    ),
    Family(
        "bigru-motifs",
        "which of 4 motifs hides in a 2-channel noise sequence of 32, bidirectional GRU(32)",
        lambda: motifs(3000),
        BiGRU,
        _CE,
        _variants(("a", 32, 3, None), ("b", 128, 12, 1500)),
        _FIVE,
    ),
    Family(
        "diabetes-leaky",
        "sklearn's diabetes (353 training rows), MLP 10-64-64-1 (LeakyReLU, dropout 0.1), MSE",
        diabetes,
        lambda: nn.Sequential(
            nn.Linear(10, 64),
            nn.LeakyReLU(0.1),
            nn.Dropout(0.1),
            nn.Linear(64, 64),
            nn.LeakyReLU(0.1),
            nn.Dropout(0.1),
            nn.Linear(64, 1),
        ),
        _MSE,
        _variants(("a", 16, 10, None), ("b", 64, 30, None)),
        _FIVE,
    ),
)
"""The final check of the rules fitted on ``DEV_FAMILIES``: added 2026-12-03, before any
rule of that round was frozen, and read only by the runs that score frozen rules."""


FAMILIES: dict[str, Family] = {family.name: family for family in DEV_FAMILIES + FRESH_FAMILIES}
