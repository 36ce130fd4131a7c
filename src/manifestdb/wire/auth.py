"""Who signed a request. With auth off (the default) any well-formed credentials are accepted.

The region comes from the SigV4 credential scope
(`Credential=AKID/20240101/<region>/rekognition/aws4_request`), as AWS derives it; requests
without a signature act in the default region.
"""

from __future__ import annotations

import re

from manifestdb.config import DEFAULT_REGION, Settings
from manifestdb.service.context import Caller

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]{1,32})/")


def caller_from_headers(authorization: str | None, settings: Settings) -> Caller:
    """The caller a request acts as (auth off: the configured account)."""
    region = DEFAULT_REGION
    if authorization:
        match = _SCOPE.search(authorization)
        if match:
            region = match["region"]
    return Caller(
        account=settings.account,
        region=region,
        principal=f"arn:aws:iam::{settings.account}:root",
    )
