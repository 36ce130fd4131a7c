"""Real manifestdb servers for tests and benchmarks: `ServerProcess` (`manifestdb serve` as a
subprocess), throw-away PostgreSQL databases, and raw HTTP/1.1 over a socket.

The pytest plugin (`manifestdb.pytest_plugin`) starts its server with this package, as the
project's own tests and benchmarks do. Standard library only until a client or a database is
asked for.
"""

from manifestdb.harness.postgres import PostgresDatabases, database_url, postgres_problem
from manifestdb.harness.process import (
    ServerProcess,
    ServerStartError,
    WorkerProcess,
    free_port,
    server_environment,
)
from manifestdb.harness.rawhttp import (
    ConnectionClosed,
    Headers,
    RawClient,
    RawResponse,
    ResponseReader,
    connect,
    read_response,
    request_head,
)

__all__ = [
    "ConnectionClosed",
    "Headers",
    "PostgresDatabases",
    "RawClient",
    "RawResponse",
    "ResponseReader",
    "ServerProcess",
    "ServerStartError",
    "WorkerProcess",
    "connect",
    "database_url",
    "free_port",
    "postgres_problem",
    "read_response",
    "request_head",
    "server_environment",
]
