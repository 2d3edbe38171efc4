"""faceau.Error and one subclass per faceau_status, carrying the library's message."""
from . import _lib


class Error(Exception):
    """A faceau library failure: .status is the faceau_status name (e.g. "VIDEO"), .message the
    library's one line naming the file or input and the problem."""
    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidArgument(Error, ValueError):
    status = "INVALID_ARG"


class OutOfMemory(Error, MemoryError):
    status = "NOMEM"


class FileError(Error, OSError):
    """A file could not be opened, read or written."""
    status = "IO"

    def __init__(self, message, status=None):
        Error.__init__(self, message, status)

    def __str__(self):
        return self.message


class ModelNotFound(Error):
    status = "MODEL_NOT_FOUND"


class ModelCorrupt(Error):
    status = "MODEL_CORRUPT"


class VideoError(Error):
    status = "VIDEO"


class ImageError(Error):
    status = "IMAGE"


class CSVError(Error):
    status = "CSV"


class NoInput(Error):
    status = "NO_INPUT"


class Truncated(Error):
    status = "TRUNCATED"


class StateError(Error):
    status = "STATE"


class NoFace(Error):
    status = "NO_FACE"


class InputFailed(Error):
    status = "INPUT_FAILED"


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgument, OutOfMemory, FileError, ModelNotFound, ModelCorrupt, VideoError, ImageError,
    CSVError, NoInput, Truncated, StateError, NoFace, InputFailed)}


def status_name(code):
    return _lib.STATUS_NAMES[code] if 0 <= code < len(_lib.STATUS_NAMES) else f"STATUS_{code}"


def error_for(code, message):
    """The exception for a faceau_status code and the library's message."""
    name = status_name(code)
    if not message:
        message = _lib.text(_lib.lib.faceau_status_string(code))
    return _BY_STATUS.get(name, Error)(message, name)


def check(code, message_fn):
    """Raises the Error subclass for code unless it is FACEAU_OK; message_fn() gives the message."""
    if code != _lib.OK:
        raise error_for(code, message_fn())
