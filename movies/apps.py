from django.apps import AppConfig


class MoviesConfig(AppConfig):
    name = "movies"
    verbose_name = "Movies"

    def ready(self) -> None:
        # Registers the start-up checks and connects the delete handler.
        from movies import checks, signals  # noqa: F401
