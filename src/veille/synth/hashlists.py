"""Write the known-content base as hash lists in three open formats.

- ``known-content.csv``: one row per item with every hash and label;
- ``known-content.vics.json``: Project VIC VICS 2.0 JSON (MD5/SHA1 items with
  Category, Series, VictimIdentified, OffenderIdentified, IsDistributed, Tags);
- ``known-content.pdq.txt``: ``pdq <hex>`` lines, the plain signal file that
  ThreatExchange / HMA file exchanges read.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from veille.synth.media import ContentBase

CSV_COLUMNS = (
    "item_id",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
    "media_type",
    "size_bytes",
    "category",
    "series",
    "victim_identified",
    "offender_identified",
    "is_distributed",
    "tags",
)
VICS_CONTEXT = (
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
)


def write_hash_lists(content: ContentBase, folder: Path) -> None:
    """Write the three list files of ``content``'s known items into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (
        (folder / "known-content.csv").open("w", encoding="utf-8", newline="") as csv_file,
        (folder / "known-content.pdq.txt").open("w", encoding="utf-8", newline="\n") as pdq_file,
        (folder / "known-content.vics.json").open("w", encoding="utf-8", newline="\n") as vics_file,
    ):
        table = csv.writer(csv_file, lineterminator="\n")
        table.writerow(CSV_COLUMNS)
        vics_file.write('{"@odata.context":' + json.dumps(VICS_CONTEXT) + ',"value":[\n')
        for index in range(content.known_count):
            fields = content.known_fields(index)
            series = int(content.series[index])
            category = int(content.category[series])
            identified = bool(content.victim_identified[series])
            pdq = fields.get("pdq")
            table.writerow(
                (
                    content.known_id(index),
                    fields["md5"],
                    fields["sha1"],
                    fields["sha256"],
                    pdq or "",
                    fields.get("pdq_quality", ""),
                    fields["media_type"],
                    fields["size_bytes"],
                    category,
                    f"series-{series:05d}",
                    "true" if identified else "false",
                    "false",
                    "true",
                    "synthetic",
                )
            )
            if pdq:
                pdq_file.write(f"pdq {pdq}\n")
            item = {
                "MediaID": index + 1,
                "Category": category,
                "MD5": str(fields["md5"]).upper(),
                "SHA1": str(fields["sha1"]).upper(),
                "MediaSize": fields["size_bytes"],
                "Series": f"series-{series:05d}",
                "VictimIdentified": identified,
                "OffenderIdentified": False,
                "IsDistributed": True,
                "IsPrecategorized": True,
                "Tags": ["synthetic"],
            }
            separator = ",\n" if index + 1 < content.known_count else "\n"
            vics_file.write(json.dumps(item, separators=(",", ":")) + separator)
        vics_file.write("]}\n")
