"""Parameter types shared by every API router (they live in :mod:`veille.core.params`)."""

from veille.core.params import MAX_ID as MAX_ID
from veille.core.params import IsoTime as IsoTime
from veille.core.params import QueryText as QueryText
from veille.core.params import QueryTime as QueryTime
from veille.core.params import RecordId as RecordId
from veille.core.params import refuse_repeated_scalars as refuse_repeated_scalars
