"""Domain errors of movies: each message is one line, fit for a user.

(VideoError, about a file that is no usable video, lives in movies.video, which raises it.)
"""

from __future__ import annotations


class IngestError(Exception):
    """A movie cannot be ingested as asked; the message is one line, fit for a user."""


class ImportPathError(IngestError):
    """A server path outside settings.FACEFINDER_IMPORT_DIRS, or not a file."""


class SettingsConflict(IngestError):
    """New sampling settings for a movie whose frames are stored with others."""


class QueueUnavailable(IngestError):
    """Redis did not take the job; nothing was queued."""


class AlreadyQueued(IngestError):
    """The movie already has a live job or is being ingested right now."""


class IngestJobFailed(IngestError):
    """Raised so that rq records the job as failed; the movie carries the same reason."""
