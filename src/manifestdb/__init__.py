"""manifestdb: a self-hosted, wire-compatible Amazon Rekognition Custom Labels dataset service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("manifestdb")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
