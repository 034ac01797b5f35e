"""The problems that make an export file unreadable, each tied to the line where it was found."""

from dataclasses import dataclass

# A badly broken file could hold a problem on every line; past this many the rest are counted.
MAX_LISTED_PROBLEMS = 500


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the file cannot be read: the line (1 = the first line of the file) and what."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class ProblemList:
    """Problems in the order found, the first MAX_LISTED_PROBLEMS kept and the rest counted."""

    def __init__(self, limit: int = MAX_LISTED_PROBLEMS):
        self.limit = limit
        self.listed: list[Problem] = []
        self.total = 0

    def add(self, line: int, message: str) -> None:
        self.total += 1
        if len(self.listed) < self.limit:
            self.listed.append(Problem(line, message))

    def __bool__(self) -> bool:
        return self.total > 0

    def __len__(self) -> int:
        return self.total

    @property
    def unlisted(self) -> int:
        return self.total - len(self.listed)


class ExportRefused(Exception):
    """The file cannot be imported as given; nothing of it was written.

    `problems` names each bad line (at most MAX_LISTED_PROBLEMS of them, `unlisted` counts the
    rest). The message is what a command prints and a page shows.
    """

    def __init__(self, problems: list[Problem], unlisted: int = 0):
        self.problems = problems
        self.unlisted = unlisted
        total = len(problems) + unlisted
        lines = [str(p) for p in problems]
        if unlisted:
            lines.append(f"... and {unlisted} more problems.")
        noun = "problem" if total == 1 else "problems"
        super().__init__(
            f"The file was refused ({total} {noun}); nothing was imported.\n" + "\n".join(lines)
        )

    @classmethod
    def single(cls, message: str, line: int = 0) -> "ExportRefused":
        return cls([Problem(line, message)])

    @classmethod
    def from_list(cls, problems: ProblemList) -> "ExportRefused":
        return cls(list(problems.listed), problems.unlisted)
