"""Admin forms for movies: add by upload or by a server path below the import folders, change
a movie's title and sampling settings. They only validate; the admin saves through the
services in movies.registration."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from faces.embedders import EMBEDDER_NAMES
from movies.errors import ImportPathError, SettingsConflict
from movies.models import Movie
from movies.registration import (
    SAMPLING_FIELDS,
    check_settings_change,
    import_dirs,
    resolve_import_path,
)


class MovieSettingsForm(forms.ModelForm):
    """A movie's title and sampling settings."""

    embedder = forms.ChoiceField(
        choices=[(name, name) for name in EMBEDDER_NAMES],
        initial=settings.FACEFINDER_EMBEDDER,
        help_text="Faces of different embedders are never compared with each other.",
    )

    class Meta:
        model = Movie
        fields = ["title", "sample_every", "embedder", "min_face"]

    def changes(self) -> dict[str, Any]:
        """The movie's fields this form changes, with their new values (the admin builds its
        own subclass, whose Meta.fields also name form-only fields)."""
        return {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name in MovieSettingsForm.Meta.fields and name in self.cleaned_data
        }


class MovieChangeForm(MovieSettingsForm):
    """Changing the sampling settings of a movie with stored frames needs a from-scratch run."""

    from_scratch = forms.BooleanField(
        required=False,
        label="Re-ingest from scratch",
        help_text="Delete the stored frames and faces and queue a new ingest with these "
        "settings. Needed to change the settings of a movie that has stored frames.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        sampling = {k: v for k, v in self.changes().items() if k in SAMPLING_FIELDS}
        try:
            check_settings_change(
                self.instance, sampling, from_scratch=cleaned.get("from_scratch", False)
            )
        except SettingsConflict as exc:
            # Staff who may not run ingests have no such box (the admin removes the field).
            hint = (
                " (tick “Re-ingest from scratch”)"
                if "from_scratch" in self.fields
                else "; someone who may run ingests can re-ingest it from scratch"
            )
            raise forms.ValidationError(f"{exc}{hint}.", code="settings_conflict") from exc
        return cleaned


class MovieAddForm(MovieSettingsForm):
    """Exactly one of an upload or a server path."""

    upload = forms.FileField(
        required=False,
        label="Upload a video",
        max_length=Movie._meta.get_field("file_name").max_length,
    )
    server_path = forms.CharField(
        required=False,
        label="…or a file on the server",
        max_length=1000,
        widget=forms.TextInput(attrs={"size": 80}),
    )
    ingest_now = forms.BooleanField(
        required=False, initial=True, label="Queue the ingest right away"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.fields["title"].help_text = "Leave empty to use the file name."
        self.fields["sample_every"].initial = settings.FACEFINDER_SAMPLE_EVERY
        self.fields["min_face"].initial = settings.FACEFINDER_MIN_FACE
        limit = filesizeformat(settings.FACEFINDER_MAX_UPLOAD_BYTES)
        self.fields["upload"].help_text = (
            f"At most {limit}. Large movies are better added by server path: the upload "
            "streams through the web server and is copied once more into media storage."
        )
        folders = ", ".join(str(folder) for folder in import_dirs())
        self.fields["server_path"].help_text = f"Only files below: {folders}."

    def clean_upload(self) -> Any:
        upload = self.cleaned_data.get("upload")
        limit = settings.FACEFINDER_MAX_UPLOAD_BYTES
        if upload and upload.size > limit:
            raise forms.ValidationError(
                f"This file is {filesizeformat(upload.size)}; uploads may be at most "
                f"{filesizeformat(limit)}. Put larger files in an import folder instead."
            )
        return upload

    def clean_server_path(self) -> str:
        raw = (self.cleaned_data.get("server_path") or "").strip()
        if not raw:
            return ""
        try:
            return str(resolve_import_path(raw))
        except ImportPathError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        has_upload = bool(cleaned.get("upload"))
        has_path = bool(cleaned.get("server_path"))
        if has_upload == has_path and not self.errors:
            raise forms.ValidationError("Upload a video or give a server path (one of the two).")
        return cleaned
