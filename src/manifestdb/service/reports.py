"""Update reports: what each create, update or distribution did (a manifestdb extension)."""

from __future__ import annotations

from typing import Any

from manifestdb.service.base import ServiceBase
from manifestdb.service.context import Caller
from manifestdb.service.errors import InvalidParameterException


class ReportOperations(ServiceBase):
    def list_update_reports(
        self,
        caller: Caller,
        dataset_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        """Reports newest first; authorized like DescribeDataset."""
        limit = 20 if max_results is None else max_results
        if not 1 <= limit <= 100:
            raise InvalidParameterException("MaxResults must be between 1 and 100.")
        before = self.tokens.read(next_token, "ListUpdateReports", [dataset_arn])
        with self.store.read() as tx:
            dataset = self.dataset_for(tx, caller, dataset_arn)
            found = tx.report_page(dataset.id, before, limit + 1)
        page = found[:limit]
        output: dict[str, Any] = {
            "DatasetArn": dataset_arn,
            "Updates": [dict(report, id=report_id) for report_id, report in page],
        }
        if len(found) > limit:
            output["NextToken"] = self.tokens.issue("ListUpdateReports", [dataset_arn], page[-1][0])
        return output
