"""Progress of a long import drawn as tqdm bars (one per stage), for commands and the bench."""

from tqdm import tqdm

from audit.imports.services import Progress


class BarProgress(Progress):
    """One tqdm bar per stage, written to `stream` (a command's stderr)."""

    def __init__(self, stream, *, disable: bool = False):
        self.stream = stream
        self.disable = disable
        self.bar: tqdm | None = None

    def start(self, stage: str, total: int | None) -> None:
        self.close()
        self.bar = tqdm(
            total=total,
            desc=stage.capitalize(),
            unit="row",
            unit_scale=True,
            file=self.stream,
            disable=self.disable,
            mininterval=0.5,
        )

    def advance(self, rows: int) -> None:
        if self.bar is not None:
            self.bar.update(rows)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
