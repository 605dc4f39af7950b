"""Forms of the search pages: result filters, photo upload, saving and renaming searches."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator

from faces.models import Appearance, Face, Person
from movies.models import Movie
from search import services
from search.models import Grouping, QueryPhoto, SavedSearch
from search.services import DEFAULT_K


def max_k() -> int:
    """The most results one search may ask for (the search engine's limit)."""
    return settings.FACEFINDER_SEARCH_MAX_K


class SearchFiltersForm(forms.Form):
    """How many results, which movie, how similar at least. Bound to the query string."""

    k = forms.IntegerField(
        label="Results",
        min_value=1,
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": str(DEFAULT_K)}),
    )
    movie = forms.ModelChoiceField(
        queryset=Movie.objects.only("id", "title"),
        required=False,
        empty_label="All movies",
    )
    min_score = forms.FloatField(
        label="Min. score",
        min_value=-1.0,
        max_value=1.0,
        required=False,
        help_text="Similarity from -1 to 1; 1 is the same face.",
        widget=forms.NumberInput(attrs={"step": "0.01", "placeholder": "any"}),
    )
    group = forms.ChoiceField(
        label="Group",
        choices=Grouping.choices,
        required=False,
        help_text="An appearance is one face followed through a shot.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _limit_k(self.fields["k"])
        if self.is_bound and not self.data.get("group"):
            # The select shows (and a resubmitted form keeps) the grouping actually used.
            self.data = self.data.copy()
            self.data["group"] = services.DEFAULT_GROUP

    def filters(self) -> dict:
        """Keyword arguments for the search service (call after ``is_valid()``)."""
        data = self.cleaned_data
        movie = data.get("movie")
        return {
            "k": data.get("k") or DEFAULT_K,
            "movie_id": movie.pk if movie else None,
            "min_score": data.get("min_score"),
            "group": data.get("group") or services.DEFAULT_GROUP,
        }


def _limit_k(field: forms.IntegerField) -> None:
    limit = max_k()
    field.max_value = limit
    field.validators.append(MaxValueValidator(limit))
    field.widget.attrs["max"] = str(limit)
    field.help_text = f"How many appearances (or faces, by near-duplicate) to find (1 to {limit})."


class PhotoUploadForm(forms.Form):
    photo = forms.FileField(
        label="Photo",
        help_text="A JPEG, PNG or WebP photo with a face in it.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )


class _UniqueNameMixin:
    """Names are unique per owner (checked here: SingleStoreDB cannot hold such a key)."""

    owner = None
    instance = None

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the search a name.")
        taken = SavedSearch.objects.filter(owner=self.owner, name=name)
        if self.instance is not None and self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"You already have a saved search named “{name}”.")
        return name


class SaveSearchForm(_UniqueNameMixin, forms.Form):
    """Save what the results page shows: a stored face, one face of the user's photo, an
    appearance or a person."""

    name = forms.CharField(max_length=120)
    face = forms.IntegerField(required=False, widget=forms.HiddenInput)
    photo = forms.IntegerField(required=False, widget=forms.HiddenInput)
    photo_face_index = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    appearance = forms.IntegerField(required=False, widget=forms.HiddenInput)
    person = forms.IntegerField(required=False, widget=forms.HiddenInput)
    k = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)
    movie = forms.ModelChoiceField(
        queryset=Movie.objects.only("id"), required=False, widget=forms.HiddenInput
    )
    min_score = forms.FloatField(
        min_value=-1.0, max_value=1.0, required=False, widget=forms.HiddenInput
    )
    group = forms.ChoiceField(choices=Grouping.choices, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        _limit_k(self.fields["k"])

    def clean(self):
        data = super().clean()
        limit = settings.FACEFINDER_MAX_SAVED_SEARCHES
        if SavedSearch.objects.filter(owner=self.owner).count() >= limit:
            raise forms.ValidationError(
                f"You have {limit} saved search{'es' if limit != 1 else ''}, the most one "
                "account may keep; delete some you no longer need first."
            )
        face_id, photo_id = data.get("face"), data.get("photo")
        appearance_id, person_id = data.get("appearance"), data.get("person")
        if sum(value is not None for value in (face_id, photo_id, appearance_id, person_id)) != 1:
            raise forms.ValidationError(
                "A saved search needs one face, one photo, one appearance or one person to "
                "search with."
            )
        if face_id is not None:
            face = Face.objects.without_embeddings().filter(pk=face_id).first()
            if face is None:
                raise forms.ValidationError("That face no longer exists.")
            data["face_obj"] = face
        elif appearance_id is not None:
            appearance = Appearance.objects.without_embeddings().filter(pk=appearance_id).first()
            if appearance is None:
                raise forms.ValidationError(
                    "That appearance no longer exists (its movie's appearances may have been "
                    "rebuilt); open the movie and search with one of its appearances again."
                )
            data["appearance_obj"] = appearance
        elif person_id is not None:
            person = Person.objects.filter(pk=person_id).first()
            if person is None:
                raise forms.ValidationError(
                    "That person no longer exists; open the people page and search with "
                    "someone again."
                )
            data["person_obj"] = person.survivor()
        else:
            photo = QueryPhoto.objects.filter(pk=photo_id, owner=self.owner).first()
            index = data.get("photo_face_index")
            if photo is None:
                raise forms.ValidationError("That photo no longer exists; upload it again.")
            if index is None or index >= photo.face_count:
                raise forms.ValidationError("Choose one of the faces in the photo.")
            data["photo_obj"] = photo
        return data

    def save(self) -> SavedSearch:
        data = self.cleaned_data
        return SavedSearch.objects.create(
            owner=self.owner,
            name=data["name"],
            face=data.get("face_obj"),
            photo=data.get("photo_obj"),
            photo_face_index=data.get("photo_face_index") if data.get("photo_obj") else None,
            appearance=data.get("appearance_obj"),
            person=data.get("person_obj"),
            k=data.get("k") or DEFAULT_K,
            movie=data.get("movie"),
            min_score=data.get("min_score"),
            group=data.get("group") or Grouping.APPEARANCE,
        )


class RenameSavedSearchForm(_UniqueNameMixin, forms.ModelForm):
    class Meta:
        model = SavedSearch
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = self.instance.owner
