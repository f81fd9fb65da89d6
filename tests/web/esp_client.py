"""A minimal CyberTipline-style client, written the way providers' clients talk."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

GOLDEN = Path(__file__).resolve().parents[1] / "intake" / "esp_golden"


@dataclass
class Answer:
    """A parsed reportResponse / reportDoneResponse."""

    status: int
    code: int
    text: str

    def value(self, element: str) -> str | None:
        found = re.search(rf"<{element}>([^<]*)</{element}>", self.text)
        return found.group(1) if found else None

    def values(self, element: str) -> list[str]:
        return re.findall(rf"<{element}>([^<]*)</{element}>", self.text)


def answer(response: httpx.Response) -> Answer:
    code = re.search(r"<responseCode>(\d+)</responseCode>", response.text)
    assert code is not None, response.text
    return Answer(response.status_code, int(code.group(1)), response.text)


def procedural_jpeg(seed: int, size: int = 256, quality: int = 90) -> bytes:
    """A benign procedural image: coloured waves and rings that differ with ``seed``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    fx, fy, phase = rng.uniform(2, 9), rng.uniform(2, 9), rng.uniform(0, 6.3)
    cx, cy = rng.uniform(0.2, 0.8, 2)
    rings = np.sin(40 * np.hypot(x - cx, y - cy) + phase)
    red = 127 + 120 * np.sin(2 * np.pi * fx * x + phase)
    green = 127 + 120 * rings
    blue = 127 + 120 * np.cos(2 * np.pi * fy * y)
    noise = rng.normal(0, 12, (size, size, 3))
    pixels = np.clip(np.dstack([red, green, blue]) + noise, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def file_details(
    report_id: str, file_id: str, template: str = "file_details_all_annotations.xml"
) -> str:
    text = (GOLDEN / template).read_text(encoding="utf-8")
    return text.replace("{report_id}", report_id).replace("{file_id}", file_id)


MINIMAL_REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<report>
  <incidentSummary>
    <incidentType>Online Enticement of Children for Sexual Acts</incidentType>
    <incidentDateTime>2024-05-01T08:30:00Z</incidentDateTime>
  </incidentSummary>
</report>
"""
