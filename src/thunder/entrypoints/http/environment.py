"""What a serving process takes from its environment, read once by the app factory and handed
to what needs it: nothing else in http/ looks at os.environ."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

ADMIN_TOKEN_ENV = "THUNDER_ADMIN_TOKEN"
API_KEYS_ENV = "THUNDER_API_KEYS"
SUPERVISOR_ENV = "THUNDER_SUPERVISOR_PID"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class ServingEnv:
    admin_token: str = ""  # "" turns /admin/reload off (404)
    api_keys: str = ""  # comma-separated; when not blank it replaces serving_config.api_keys
    # set by `serve --workers N`: the pid of uvicorn's supervisor, whose SIGHUP rolls the workers
    supervisor: int = 0
    # prometheus multiprocess mode: each worker writes its metrics there and /metrics sums them
    multiprocess: bool = False

    @classmethod
    def read(cls, environ: Mapping[str, str] = os.environ) -> "ServingEnv":
        return cls(
            admin_token=environ.get(ADMIN_TOKEN_ENV, ""),
            api_keys=environ.get(API_KEYS_ENV, ""),
            supervisor=int(environ.get(SUPERVISOR_ENV, "0") or 0),
            multiprocess=MULTIPROC_ENV in environ,
        )
