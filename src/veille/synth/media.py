"""The content world: known items in series, versions, new items, viral waves.

Every reported file is drawn from here, with the truth about it: which
content it is, which near-duplicate family (cluster) it belongs to and how a
version differs from its original (transform and PDQ distance in bits).
Synthetic PDQ hashes have exactly 128 one-bits, like real ones, and versions
flip equal numbers of ones and zeros so distances are realistic and even.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veille.synth.config import Media
from veille.synth.images import TRANSFORMS, ImageFile, ImageTask, hamming_hex, make_images

VICS_CATEGORIES = (1, 2, 3)  # Project VIC: 1 CSAM, 2 exploitative / age difficult, 3 CGI-animation


@dataclass
class MediaDraw:
    """One reported file: its ``MediaIn`` fields and the truth about it."""

    fields: dict[str, object]
    content: str
    cluster: str
    status: str  # known | new_version | new
    transform: str | None = None
    distance_bits: int | None = None
    wave: str | None = None

    def truth(self) -> dict[str, object]:
        """The truth line of this file (without the report it belongs to)."""
        line: dict[str, object] = {
            "content": self.content,
            "cluster": self.cluster,
            "status": self.status,
        }
        if self.transform is not None:
            line["transform"] = self.transform
            line["distance_bits"] = self.distance_bits
        if self.wave is not None:
            line["wave"] = self.wave
        return line


@dataclass
class Wave:
    """A viral wave: one item (and a few re-encoded variants) re-shared by many users."""

    wave_id: str
    origin: MediaDraw
    variants: list[MediaDraw]
    start_week: int
    weeks: int
    size: int
    category: str
    reported: int = 0


def random_pdq_bits(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` random 256-bit vectors with exactly 128 ones."""
    base = np.zeros((count, 256), dtype=np.uint8)
    base[:, :128] = 1
    return rng.permuted(base, axis=1)


def flip_bits(bits: np.ndarray, distance: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``bits`` at Hamming distance ``distance`` (even) that keeps 128 ones."""
    half = min(distance // 2, 128)
    ones = np.flatnonzero(bits)
    zeros = np.flatnonzero(bits == 0)
    copy = bits.copy()
    copy[ones[rng.permutation(len(ones))[:half]]] = 0
    copy[zeros[rng.permutation(len(zeros))[:half]]] = 1
    return copy


def _hex(bits: np.ndarray) -> str:
    return np.packbits(bits).tobytes().hex()


@dataclass
class ContentBase:
    """Known items, with drawing of known, version, new and viral files."""

    seed: int
    settings: Media
    rng: np.random.Generator
    known_count: int
    image_dir: Path | None = None
    image_budget: int = 0
    pdq_bits: np.ndarray = field(init=False)
    series: np.ndarray = field(init=False)
    category: np.ndarray = field(init=False)
    victim_identified: np.ndarray = field(init=False)
    is_video: np.ndarray = field(init=False)
    popularity: list[float] = field(init=False)
    imaged_known: dict[int, ImageFile] = field(default_factory=dict)
    imaged_versions: dict[int, list[tuple[str, ImageFile, int]]] = field(default_factory=dict)
    imaged_new: deque[ImageFile] = field(default_factory=deque)
    recent_new: deque[MediaDraw] = field(default_factory=lambda: deque(maxlen=5000))
    counters: dict[str, int] = field(default_factory=dict)
    images_written: int = 0
    tag: str = ""
    image_truth: list[dict[str, object]] = field(default_factory=list)
    _fresh: np.ndarray = field(init=False)
    _fresh_next: int = 0

    def __post_init__(self) -> None:
        n = self.known_count
        self.pdq_bits = random_pdq_bits(self.rng, n)
        sizes = self.rng.geometric(1.0 / self.settings.series_size_mean, n)
        self.series = np.repeat(np.arange(n), sizes)[:n]
        series_count = int(self.series[-1]) + 1 if n else 0
        self.category = self.rng.choice(VICS_CATEGORIES, series_count, p=(0.7, 0.25, 0.05))
        self.victim_identified = self.rng.random(series_count) < 0.3
        self.is_video = self.rng.random(n) < self.settings.video_share
        weights = 1.0 / (np.arange(n) + 10.0) ** 0.8
        self.popularity = (np.cumsum(weights) / weights.sum()).tolist()
        names = list(self.settings.transforms)
        weights_t = np.array([self.settings.transforms[t].weight for t in names])
        self.transform_names = names
        self.transform_cumulative = (np.cumsum(weights_t) / weights_t.sum()).tolist()
        self.transform_bits = {t: self.settings.transforms[t].bits for t in names}
        self._fresh = np.zeros((0, 256), dtype=np.uint8)

    def fresh_bits(self) -> np.ndarray:
        """PDQ bits of a new item (drawn in batches: one vector at a time is slow)."""
        if self._fresh_next >= len(self._fresh):
            self._fresh = random_pdq_bits(self.rng, 4096)
            self._fresh_next = 0
        self._fresh_next += 1
        return self._fresh[self._fresh_next - 1]

    # -- identities and hashes -------------------------------------------------

    def _next(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}{self.tag}{self.counters[prefix]:07d}"

    def start_part(self, part: int, parts: int, rng: np.random.Generator) -> None:
        """Prepare this (forked) copy to generate part ``part`` of ``parts``: own ids and randomness."""
        self.tag = "abcdefghij"[part]
        self.rng = rng
        self.imaged_new = deque(f for i, f in enumerate(self.imaged_new) if i % parts == part)

    def _crypto(self, content: str) -> dict[str, object]:
        # Stand-ins for the hashes of bytes that do not exist: one extendable-output
        # hash cut into the three lengths is as random as three hashes, and cheaper.
        text = hashlib.shake_256(f"{self.seed}:{content}".encode()).hexdigest(68)
        return {"md5": text[:32], "sha1": text[32:72], "sha256": text[72:136]}

    def _synthetic_fields(
        self, content: str, bits: np.ndarray | None, video: bool, size: int
    ) -> dict[str, object]:
        crypto = self._crypto(content)
        fields: dict[str, object] = {
            "file_name": f"{str(crypto['sha256'])[:16]}.{'mp4' if video else 'jpg'}",
            "size_bytes": size,
            "media_type": "video/mp4" if video else "image/jpeg",
            **crypto,
        }
        if bits is not None:
            fields["pdq"] = _hex(bits)
            fields["pdq_quality"] = 70 + zlib.crc32(content.encode()) % 31
        return fields

    def known_id(self, index: int) -> str:
        """The content id of known item ``index``."""
        return f"K{index:07d}"

    def known_fields(self, index: int) -> dict[str, object]:
        """The hashes of known item ``index`` (real ones for items that exist as images)."""
        if index in self.imaged_known:
            return self.imaged_known[index].media_fields()
        video = bool(self.is_video[index])
        size = 40_000 + (index * 7919) % 2_000_000
        bits = None if video else self.pdq_bits[index]
        return self._synthetic_fields(self.known_id(index), bits, video, size)

    # -- real images -------------------------------------------------------------

    def render_images(self) -> None:
        """Write the image budget: known originals, their versions and new images."""
        if self.image_dir is None or self.image_budget <= 0:
            return
        budget = self.image_budget
        known = min(self.known_count, max(1, int(budget * 0.4)))
        versions = int(budget * 0.3)
        new = budget - known - versions
        tasks = [ImageTask("known", index) for index in range(known)]
        tasks += [
            ImageTask("version", number, number % known, TRANSFORMS[number % len(TRANSFORMS)])
            for number in range(versions)
        ]
        tasks += [ImageTask("new", number) for number in range(new)]
        files = make_images(self.seed, self.image_dir, tasks)
        for task, file in zip(tasks, files, strict=True):
            if task.kind == "known":
                self.is_video[task.number] = False
                self.imaged_known[task.number] = file
                self.image_truth.append(
                    {"file": file.path, "role": "known", "content": self.known_id(task.number)}
                )
            elif task.kind == "version":
                distance = hamming_hex(file.pdq, self.imaged_known[task.index].pdq)
                self.image_truth.append(
                    {
                        "file": file.path,
                        "role": "new_version",
                        "content": f"V-{file.path}",
                        "base": self.known_id(task.index),
                        "transform": task.transform,
                        "distance_bits": distance,
                    }
                )
                self.imaged_versions.setdefault(task.index, []).append(
                    (task.transform, file, distance)
                )
            else:
                self.imaged_new.append(file)
                self.image_truth.append({"file": file.path, "role": "new"})
        self.images_written = known + versions + new

    # -- drawing files -------------------------------------------------------------

    def draw_known_index(self, rng: random.Random) -> int:
        """A known item, popular ones more often."""
        return min(bisect.bisect_left(self.popularity, rng.random()), self.known_count - 1)

    def draw_known(self, rng: random.Random) -> MediaDraw:
        """An exact copy of a known item."""
        index = self.draw_known_index(rng)
        content = self.known_id(index)
        return MediaDraw(self.known_fields(index), content, content, "known")

    def draw_version(self, rng: random.Random) -> MediaDraw:
        """A new version of a known item: other bytes, a PDQ hash some bits away."""
        index = self.draw_known_index(rng)
        base = self.known_id(index)
        if index in self.imaged_versions:
            options = self.imaged_versions[index]
            transform, file, distance = options[rng.randrange(len(options))]
            return MediaDraw(
                file.media_fields(),
                f"V-{file.path}",
                base,
                "new_version",
                transform,
                distance,
            )
        content = self._next("V")
        position = bisect.bisect_left(self.transform_cumulative, rng.random())
        transform = self.transform_names[min(position, len(self.transform_names) - 1)]
        if self.is_video[index]:
            fields = self._synthetic_fields(content, None, True, 30_000 + rng.randrange(2_000_000))
            return MediaDraw(fields, content, base, "new_version", transform, None)
        low, high = self.transform_bits[transform]
        distance = rng.randint(low // 2, high // 2) * 2
        bits = flip_bits(self.pdq_bits[index], distance, self.rng)
        fields = self._synthetic_fields(content, bits, False, 20_000 + rng.randrange(900_000))
        return MediaDraw(fields, content, base, "new_version", transform, distance)

    def draw_new(self, rng: random.Random, reshare: bool = True) -> MediaDraw:
        """Content not in any list: fresh, or a re-share of earlier new content."""
        if reshare and self.recent_new and rng.random() < self.settings.reshare_new_share:
            earlier = self.recent_new[rng.randrange(len(self.recent_new))]
            return MediaDraw(dict(earlier.fields), earlier.content, earlier.cluster, "new")
        content = self._next("N")
        if self.imaged_new:
            fields = self.imaged_new.popleft().media_fields()
        else:
            video = rng.random() < self.settings.video_share
            bits = None if video else self.fresh_bits()
            fields = self._synthetic_fields(content, bits, video, 20_000 + rng.randrange(3_000_000))
        draw = MediaDraw(fields, content, content, "new")
        self.recent_new.append(draw)
        return draw

    def repost(self, draw: MediaDraw) -> MediaDraw:
        """The same file posted again (same bytes, same hashes)."""
        return MediaDraw(
            dict(draw.fields),
            draw.content,
            draw.cluster,
            draw.status,
            draw.transform,
            draw.distance_bits,
        )

    def near_duplicate(self, draw: MediaDraw, rng: random.Random) -> MediaDraw:
        """A re-encoded copy of ``draw``: other bytes, a PDQ hash a few bits away (videos: no PDQ)."""
        content = self._next("V")
        pdq = draw.fields.get("pdq")
        if not isinstance(pdq, str):
            fields = self._synthetic_fields(content, None, True, 30_000 + rng.randrange(2_000_000))
            return MediaDraw(fields, content, draw.cluster, "new", "reencode", None)
        bits = np.unpackbits(np.frombuffer(bytes.fromhex(pdq), dtype=np.uint8))
        distance = rng.randint(1, 5) * 2
        fields = self._synthetic_fields(
            content, flip_bits(bits, distance, self.rng), False, 20_000 + rng.randrange(900_000)
        )
        return MediaDraw(fields, content, draw.cluster, "new", "reencode", distance)

    def new_wave(
        self,
        rng: random.Random,
        start_week: int,
        size: int,
        category: str,
        known: bool,
        variant_count: int,
    ) -> Wave:
        """A viral wave around one item and a few re-encoded variants of it."""
        wave_id = self._next("W")
        if known:
            index = self.draw_known_index(rng)
            while self.is_video[index] and index + 1 < self.known_count:
                index += 1
            origin = MediaDraw(
                self.known_fields(index), self.known_id(index), self.known_id(index), "known"
            )
            bits = self.pdq_bits[index]
        else:
            content = self._next("N")
            bits = self.fresh_bits()
            fields = self._synthetic_fields(content, bits, False, 200_000 + rng.randrange(900_000))
            origin = MediaDraw(fields, content, content, "new")
        origin_pdq = origin.fields.get("pdq")
        if isinstance(origin_pdq, str):
            bits = np.unpackbits(np.frombuffer(bytes.fromhex(origin_pdq), dtype=np.uint8))
        variants = []
        for _ in range(variant_count):
            content = self._next("V")
            distance = rng.randint(1, 4) * 2
            fields = self._synthetic_fields(
                content,
                flip_bits(bits, distance, self.rng),
                False,
                150_000 + rng.randrange(900_000),
            )
            status = "new_version" if known else "new"
            variants.append(
                MediaDraw(fields, content, origin.cluster, status, "reencode", distance, wave_id)
            )
        origin.wave = wave_id
        weeks = rng.randint(1, 4)
        return Wave(wave_id, origin, variants, start_week, weeks, size, category)

    def draw_from_wave(self, wave: Wave, rng: random.Random) -> MediaDraw:
        """One re-share of a wave's item (most often the original bytes)."""
        if rng.random() < 0.6 or not wave.variants:
            chosen = wave.origin
        else:
            chosen = wave.variants[rng.randrange(len(wave.variants))]
        return MediaDraw(
            dict(chosen.fields),
            chosen.content,
            chosen.cluster,
            chosen.status,
            chosen.transform,
            chosen.distance_bits,
            wave.wave_id,
        )
