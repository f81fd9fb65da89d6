"""PDQ hashing of decoded images, bit-identical to the reference implementation.

The ``pdqhash`` package wraps Meta's C++ PDQ code but computes the RGB→luma
step in NumPy float64 with three temporaries, which costs a quarter of the
time on large images. Here the luma is computed in one compiled pass with the
same float64 arithmetic (so the float32 result is identical, bit for bit) and
handed straight to the C++ ``pdqHash256FromFloatLuma`` that ``pdqhash`` ships.
When that symbol cannot be found, ``pdqhash.compute`` is used instead.

Image modes are converted the way the reference does: palette (P), LA, I;16,
CMYK and the other modes become RGB colours first (a palette image is hashed
by its colours, never by its palette indices); alpha is dropped.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

DIHEDRAL_NAMES = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flip_plus1",
    "flip_minus1",
)

_HASH_SYMBOL = (
    "_ZN8facebook3pdq7hashing23pdqHash256FromFloatLumaEPfS2_iiPA64_fS4_PA16_fRNS1_7Hash256ERi"
)
_DIHEDRAL_SYMBOL = (
    "_ZN8facebook3pdq7hashing33pdqDihedralHash256esFromFloatLumaEPfS2_iiPA64_fS4_PA16_fS6_"
    "PNS1_7Hash256ES8_S8_S8_S8_S8_S8_S8_Ri"
)
_Hash256 = ctypes.c_uint16 * 16
_FloatPtr = ctypes.POINTER(ctypes.c_float)


@dataclass(frozen=True)
class PdqResult:
    """A PDQ hash (64 lower-case hex characters) and its quality (0–100)."""

    hash_hex: str
    quality: int


def rgb_array(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The image as an H×W×3 ``uint8`` RGB array, converted as the reference does."""
    if image.mode == "L":
        grey = np.asarray(image, dtype=np.uint8)
        return np.repeat(grey[:, :, np.newaxis], 3, axis=2)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


@lru_cache(maxsize=1)
def _luma_kernel() -> Any:
    import numba

    # r*0.299 + g*0.587 + b*0.114 in float64, then rounded to float32: exactly
    # what pdqhash does, in one pass without temporaries (no fastmath, so the
    # compiler may not fuse or reorder the operations).
    @numba.njit(cache=True, nogil=True)
    def luma(
        rgb: npt.NDArray[np.uint8], out: npt.NDArray[np.float32]
    ) -> None:  # pragma: no cover - compiled
        rows, cols = out.shape
        for i in range(rows):
            for j in range(cols):
                out[i, j] = np.float32(
                    np.float64(rgb[i, j, 0]) * 0.299
                    + np.float64(rgb[i, j, 1]) * 0.587
                    + np.float64(rgb[i, j, 2]) * 0.114
                )

    return luma


def luma_of(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The float32 luma plane PDQ hashes (same values as ``pdqhash``'s own step)."""
    out = np.empty(rgb.shape[:2], dtype=np.float32)
    _luma_kernel()(rgb, out)
    return out


@lru_cache(maxsize=1)
def _native() -> tuple[Any, Any] | None:
    try:
        from pdqhash import bindings

        library = ctypes.CDLL(bindings.__file__)
        single = getattr(library, _HASH_SYMBOL)
        dihedral = getattr(library, _DIHEDRAL_SYMBOL)
    except (ImportError, OSError, AttributeError):
        return None
    single.restype = None
    dihedral.restype = None
    return single, dihedral


def _hex_of_words(words: Any) -> str:
    # Hash256.w[15] carries the first 16 bits of the hex form.
    return "".join(f"{words[index]:04x}" for index in range(15, -1, -1))


def _hex_of_vector(vector: Any) -> str:
    return f"{int(''.join(str(int(bit)) for bit in vector), 2):064x}"


def pdq_of_rgb(rgb: npt.NDArray[np.uint8]) -> PdqResult:
    """PDQ hash and quality of an H×W×3 ``uint8`` RGB array."""
    native = _native()
    if native is None:
        import pdqhash

        vector, quality = pdqhash.compute(rgb)
        return PdqResult(_hex_of_vector(vector), int(quality))
    luma = luma_of(rgb)
    scratch = np.zeros_like(luma)
    buffers = (
        np.empty((64, 64), np.float32),
        np.empty((16, 64), np.float32),
        np.empty((16, 16), np.float32),
    )
    words = _Hash256()
    quality = ctypes.c_int(0)
    native[0](
        luma.ctypes.data_as(_FloatPtr),
        scratch.ctypes.data_as(_FloatPtr),
        ctypes.c_int(luma.shape[0]),
        ctypes.c_int(luma.shape[1]),
        *(buffer.ctypes.data_as(_FloatPtr) for buffer in buffers),
        ctypes.byref(words),
        ctypes.byref(quality),
    )
    return PdqResult(_hex_of_words(words), quality.value)


def pdq_dihedral_of_rgb(rgb: npt.NDArray[np.uint8]) -> tuple[dict[str, str], int]:
    """The 8 dihedral PDQ hashes (rotations and flips, named) and the quality."""
    native = _native()
    if native is None:
        import pdqhash

        vectors, quality = pdqhash.compute_dihedral(rgb)
        return (
            {name: _hex_of_vector(v) for name, v in zip(DIHEDRAL_NAMES, vectors, strict=True)},
            int(quality),
        )
    luma = luma_of(rgb)
    scratch = np.zeros_like(luma)
    buffers = (
        np.empty((64, 64), np.float32),
        np.empty((16, 64), np.float32),
        np.empty((16, 16), np.float32),
        np.empty((16, 16), np.float32),
    )
    hashes = [_Hash256() for _ in DIHEDRAL_NAMES]
    quality = ctypes.c_int(0)
    native[1](
        luma.ctypes.data_as(_FloatPtr),
        scratch.ctypes.data_as(_FloatPtr),
        ctypes.c_int(luma.shape[0]),
        ctypes.c_int(luma.shape[1]),
        *(buffer.ctypes.data_as(_FloatPtr) for buffer in buffers),
        *(ctypes.byref(words) for words in hashes),
        ctypes.byref(quality),
    )
    return (
        {name: _hex_of_words(w) for name, w in zip(DIHEDRAL_NAMES, hashes, strict=True)},
        quality.value,
    )


def pdq_of_image(image: Image.Image) -> PdqResult:
    """PDQ hash and quality of a Pillow image (any mode)."""
    return pdq_of_rgb(rgb_array(image))
