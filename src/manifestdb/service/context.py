"""Who is calling: the account, region and principal every operation acts for."""

from __future__ import annotations

from dataclasses import dataclass

from manifestdb.config import DEFAULT_ACCOUNT, DEFAULT_REGION


@dataclass(frozen=True, slots=True)
class Caller:
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    principal: str = f"arn:aws:iam::{DEFAULT_ACCOUNT}:root"
