"""Every code and message the manifest engine writes, and the order in which its checks run.

The codes and messages of non-terminal and terminal problems are AWS's (see
`spec/manifest.md`); the messages of dropped lines are manifestdb's, since AWS reports nothing.

Precedence, line by line (`line.check_line`, `change.ChangeReader`):

1. A blank line (only spaces, tabs, CR, LF, VT, FF) is skipped, whatever its length.
2. Dropped, the first that applies wins: ERROR_JSON_LINE_TOO_LONG, ERROR_INVALID_JSON_LINE (not
   UTF-8, not JSON, not an object), ERROR_MISSING_SOURCE_REF (absent, not a string),
   ERROR_INVALID_SOURCE_REF_FORMAT, ERROR_DUPLICATE_SOURCE_REF (decided by the change reader).
   A line nested too deeply to be written back is found last, as ERROR_INVALID_JSON_LINE.
3. Kept lines: the key scan first: ERROR_NO_LABEL_ATTRIBUTES (line, at most once). Then each
   label attribute pair in the user's key order, through stages; a *format* stage that fails
   stops that pair (its other checks would judge a shape that is not there):
   a. the `-metadata` value is not an object, or `type` is missing or not a string:
      ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT (stop);
   b. `type` is not a supported type: ERROR_UNSUPPORTED_USE_CASE_TYPE (stop);
   c. the attribute body has the wrong shape for that type:
      ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT (stop);
   d. a required metadata field missing or of the wrong type:
      ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT (stop);
   e. content, all reported: image-level: ERROR_INVALID_LABEL_NAME_LENGTH. Boxes:
      ERROR_INVALID_IMAGE_DIMENSION (line), ERROR_TOO_MANY_BOUNDING_BOXES (attribute),
      ERROR_INVALID_LABEL_NAME_LENGTH (attribute, once), ERROR_MISSING_BOUNDING_BOX_CONFIDENCE
      (metadata); then per box ERROR_INVALID_BOUNDING_BOX, else ERROR_BOUNDING_BOX_TOO_SMALL
      (an off-frame box is not judged for size), and independently ERROR_MISSING_CLASS_MAP_ID;
      then ERROR_NO_VALID_ANNOTATIONS (attribute) or WARNING_NO_ANNOTATIONS (line, no boxes).
4. ERROR_NO_VALID_LABEL_ATTRIBUTES (line) when the line has pairs and none is valid.
5. WARNING_UNANNOTATED_RECORD (line) when the line has no pair and no ERROR_NO_LABEL_ATTRIBUTES.

Within one `errors` array, errors appear in the order above; the same line-level problem (code
and message) is written once, however many attributes cause it.

Terminal outcomes, the first that applies wins:
1. ERROR_MANIFEST_SIZE_TOO_LARGE, ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM (manifest file limits: the
   reader stops at the first one passed);
2. ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT (no line is a JSON object);
3. ERROR_TOO_MANY_RECORDS_IN_ERROR (more than the allowed fraction of lines dropped);
4. after merging into the dataset (`change.dataset_terminal`): ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM
   (entry limit), ERROR_MANIFEST_TOO_MANY_LABELS, ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS;
5. ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE belongs to DistributeDatasetEntries only.
"""

from __future__ import annotations

from dataclasses import dataclass

from manifestdb.manifest.types import Level, Terminal

# Keys the service writes into a stored line; a client sending them back gets them recomputed.
SERVICE_KEYS: tuple[str, ...] = ("cl-metadata", "errors", "warnings", "cl-errors")

TYPE_CLASSIFICATION = "groundtruth/image-classification"
TYPE_CLASSIFICATION_MULTILABEL = "groundtruth/image-classification-multilabel"
TYPE_OBJECT_DETECTION = "groundtruth/object-detection"
CLASSIFICATION_TYPES = frozenset({TYPE_CLASSIFICATION, TYPE_CLASSIFICATION_MULTILABEL})


@dataclass(frozen=True, slots=True)
class Code:
    """A non-terminal error or warning: its code, message template and level (from the spec)."""

    code: str
    template: str  # may hold `{name}`, the label attribute name
    level: Level
    warning: bool = False

    def message(self, name: str = "") -> str:
        """The message with `{name}` filled in."""
        return self.template.format(name=name) if "{name}" in self.template else self.template


NO_LABEL_ATTRIBUTES = Code("ERROR_NO_LABEL_ATTRIBUTES", "No label attributes found.", "line")
INVALID_LABEL_ATTRIBUTE_FORMAT = Code(
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
    "The format of the label attribute {name} is invalid.",
    "attribute",
)
INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT = Code(
    "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
    "The format of the label attribute metadata is invalid.",
    "metadata",
)
UNSUPPORTED_USE_CASE_TYPE = Code(
    "ERROR_UNSUPPORTED_USE_CASE_TYPE",
    "The use case type of the {name}-metadata label attribute metadata is unsupported."
    " Check the type field.",
    "metadata",
)
NO_VALID_LABEL_ATTRIBUTES = Code(
    "ERROR_NO_VALID_LABEL_ATTRIBUTES", "No valid label attributes found.", "line"
)
INVALID_LABEL_NAME_LENGTH = Code(
    "ERROR_INVALID_LABEL_NAME_LENGTH", "The label name length is invalid.", "attribute"
)
INVALID_BOUNDING_BOX = Code(
    "ERROR_INVALID_BOUNDING_BOX", "The bounding box has off frame values.", "annotation"
)
BOUNDING_BOX_TOO_SMALL = Code(
    "ERROR_BOUNDING_BOX_TOO_SMALL",
    "The height and width of the bounding box is too small.",
    "annotation",
)
MISSING_CLASS_MAP_ID = Code(
    "ERROR_MISSING_CLASS_MAP_ID",
    "One of more class ids is missing from the class map.",
    "annotation",
)
MISSING_BOUNDING_BOX_CONFIDENCE = Code(
    "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE",
    "One or more bounding boxes has a missing confidence value.",
    "metadata",
)
TOO_MANY_BOUNDING_BOXES = Code(
    "ERROR_TOO_MANY_BOUNDING_BOXES",
    "There are more bounding boxes than the allowed maximum.",
    "attribute",
)
NO_VALID_ANNOTATIONS = Code(
    "ERROR_NO_VALID_ANNOTATIONS", "No valid annotations found.", "attribute"
)
# The sides and aspect ratio an image may have (ERROR_INVALID_IMAGE_DIMENSION).
MIN_SIDE = 64
MAX_SIDE = 4096
MAX_ASPECT = 20
INVALID_IMAGE_DIMENSION = Code(
    "ERROR_INVALID_IMAGE_DIMENSION",
    "The image dimension(s) do not conform to allowed dimensions.",
    "line",
)
UNANNOTATED_RECORD = Code(
    "WARNING_UNANNOTATED_RECORD", "Record is unannotated.", "line", warning=True
)
NO_ANNOTATIONS = Code("WARNING_NO_ANNOTATIONS", "No annotations were found.", "line", warning=True)

NON_TERMINAL_CODES: tuple[Code, ...] = (
    NO_LABEL_ATTRIBUTES,
    INVALID_LABEL_ATTRIBUTE_FORMAT,
    INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
    UNSUPPORTED_USE_CASE_TYPE,
    NO_VALID_LABEL_ATTRIBUTES,
    INVALID_LABEL_NAME_LENGTH,
    INVALID_BOUNDING_BOX,
    BOUNDING_BOX_TOO_SMALL,
    MISSING_CLASS_MAP_ID,
    MISSING_BOUNDING_BOX_CONFIDENCE,
    TOO_MANY_BOUNDING_BOXES,
    NO_VALID_ANNOTATIONS,
    INVALID_IMAGE_DIMENSION,
    UNANNOTATED_RECORD,
    NO_ANNOTATIONS,
)


@dataclass(frozen=True, slots=True)
class DropReason:
    """Why a line is left out of a change: a code and manifestdb's message for it."""

    code: str
    message: str


JSON_LINE_TOO_LONG = "ERROR_JSON_LINE_TOO_LONG"
INVALID_JSON_LINE = "ERROR_INVALID_JSON_LINE"
MISSING_SOURCE_REF = "ERROR_MISSING_SOURCE_REF"
INVALID_SOURCE_REF_FORMAT = "ERROR_INVALID_SOURCE_REF_FORMAT"
DUPLICATE_SOURCE_REF = "ERROR_DUPLICATE_SOURCE_REF"

LINE_TOO_LONG = DropReason(JSON_LINE_TOO_LONG, "The line is longer than {limit} characters.")
LINE_NOT_UTF8 = DropReason(INVALID_JSON_LINE, "The line is not valid UTF-8 text.")
LINE_NOT_JSON = DropReason(INVALID_JSON_LINE, "The line is not valid JSON.")
LINE_NOT_OBJECT = DropReason(INVALID_JSON_LINE, "The line is not a JSON object.")
LINE_TOO_DEEP = DropReason(INVALID_JSON_LINE, "The line nests JSON values too deeply.")
SOURCE_REF_MISSING = DropReason(MISSING_SOURCE_REF, "The line has no source-ref.")
SOURCE_REF_NOT_STRING = DropReason(MISSING_SOURCE_REF, "The source-ref is not a string.")
SOURCE_REF_BAD_FORMAT = DropReason(
    INVALID_SOURCE_REF_FORMAT, "The source-ref is not an S3 URL of the form s3://bucket/key."
)
SOURCE_REF_DUPLICATE = DropReason(
    DUPLICATE_SOURCE_REF, "An earlier line of this change has the same source-ref."
)

# Terminal outcomes, messages exactly as AWS writes them.
MANIFEST_INACCESSIBLE = Terminal(
    "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
    "The manifest file extension or contents are invalid.",
)
MANIFEST_SIZE_TOO_LARGE = Terminal(
    "ERROR_MANIFEST_SIZE_TOO_LARGE",
    "The manifest file size exceeds the maximum supported size.",
)
MANIFEST_ROWS_EXCEEDS_MAXIMUM = Terminal(
    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", "The manifest file has too many rows."
)
TOO_MANY_RECORDS_IN_ERROR = Terminal(
    "ERROR_TOO_MANY_RECORDS_IN_ERROR", "The manifest file has too many terminal errors."
)
MANIFEST_TOO_MANY_LABELS = Terminal(
    "ERROR_MANIFEST_TOO_MANY_LABELS", "The manifest file has too many labels."
)
IMAGES_IN_MULTIPLE_S3_BUCKETS = Terminal(
    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS",
    "The manifest file contains images from multiple S3 buckets.",
)
INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE = Terminal(
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE",
    "The manifest file doesn't have enough labeled images to distribute the dataset.",
)
TERMINALS: tuple[Terminal, ...] = (
    MANIFEST_INACCESSIBLE,
    MANIFEST_SIZE_TOO_LARGE,
    MANIFEST_ROWS_EXCEEDS_MAXIMUM,
    TOO_MANY_RECORDS_IN_ERROR,
    MANIFEST_TOO_MANY_LABELS,
    IMAGES_IN_MULTIPLE_S3_BUCKETS,
    INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE,
)
