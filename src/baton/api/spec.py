"""Print the API's OpenAPI spec (docs/openapi.json is this output, checked by a test):

python -m baton.api.spec > docs/openapi.json
"""

from __future__ import annotations

import json

from ..store import MemoryStore
from .app import create_app


def spec() -> dict[str, object]:
    return create_app(MemoryStore()).openapi()


if __name__ == "__main__":
    print(json.dumps(spec(), indent=2, ensure_ascii=False))
