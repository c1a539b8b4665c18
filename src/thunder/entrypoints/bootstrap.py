"""The one place a container is built: the CLI, the uvicorn worker factory and the Python API
all call `bootstrap`. Settings load first, so a bad config fails in a blink, before torch does."""

from thunder.app.container import Container
from thunder.app.settings import Settings, load_settings


def bootstrap(config: str | None = None, *, settings: Settings | None = None) -> Container:
    """The container for `config` (--config, else $THUNDER_CONFIG, else ./config.json), or for
    settings already loaded."""
    container = Container()
    container.settings.override(settings if settings is not None else load_settings(config))
    return container
