"""``docs/configuration.md`` from the fields of ``config.Settings``."""

from __future__ import annotations

import json
import re
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo

from spendwarden.config import Settings
from spendwarden.docs_gen.markdown import cell, table

BOUNDS = ((Ge, "ge", "≥"), (Gt, "gt", ">"), (Le, "le", "≤"), (Lt, "lt", "<"))

HEADER = """# Configuration

Generated from `spendwarden.config.Settings` by `python -m spendwarden.docs_gen`; do not edit by hand.

Every setting is read from an environment variable `SPENDWARDEN_<NAME>` (upper case) or from a
`.env` file in the working directory. Settings of a dict type take JSON, e.g.
`SPENDWARDEN_SIGNALS='{"velocity_ratio": 4}'`. With `SPENDWARDEN_ENVIRONMENT=production` unsafe values
are refused at start (for example an admin token shorter than 24 characters).

"""


def type_name(annotation: Any) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return re.sub(r"\btyping\.", "", text)


def constraints(info: FieldInfo) -> str:
    out = []
    for item in info.metadata:
        for kind, attr, sign in BOUNDS:
            if isinstance(item, kind):
                out.append(f"{sign} {getattr(item, attr)}")
    return ", ".join(out)


def default_text(info: FieldInfo) -> str:
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value, sort_keys=True)}`"
    return f"`{value}`"


def render_configuration() -> str:
    rows = []
    for name in sorted(Settings.model_fields):
        info = Settings.model_fields[name]
        kind = type_name(info.annotation)
        bound = constraints(info)
        rows.append(
            [
                f"`{name}`",
                f"`SPENDWARDEN_{name.upper()}`",
                cell(f"{kind} ({bound})" if bound else kind),
                cell(default_text(info)),
                cell(info.description or ""),
            ]
        )
    return HEADER + table(["setting", "environment variable", "type", "default", "description"], rows)
