"""Use case: export the current model version to ONNX, for `serve --backend onnx` or elsewhere."""

from collections.abc import Callable
from dataclasses import dataclass

from thunder.app import paths
from thunder.app.settings import Settings
from thunder.domain.ports import ArtifactStore

# model checkpoint bytes, where they came from, int8 quantisation or not -> ONNX bytes
OnnxExporter = Callable[[bytes, str, bool], bytes]


@dataclass(frozen=True)
class Exported:
    source: str  # the version exported from
    path: str  # where the ONNX file is
    version: str | None  # the version published with it (None with --output)
    size: int


class ExportModel:
    def __init__(self, settings: Settings, store: ArtifactStore, to_onnx: OnnxExporter) -> None:
        self._settings = settings
        self._store = store
        self._to_onnx = to_onnx

    def __call__(self, output: str | None = None, int8: bool = False) -> Exported:
        """Without `output`, the ONNX file joins the current version's files in a new version
        (so serving it gets the same checksums and the same card and preprocessor); with it,
        the file is written there alone."""
        s = self._settings
        files = [s.model_path, s.preprocessor_path, paths.card_path(s)]
        current = self._store.load(files)
        onnx = self._to_onnx(current.files[s.model_path], s.model_path, int8)
        if output is not None:
            self._store.write_file(output, onnx)
            return Exported(current.version, output, None, len(onnx))
        version = self._store.publish({**current.files, paths.onnx_path(s): onnx})
        return Exported(current.version, paths.onnx_path(s), version, len(onnx))
