"""Library exceptions as the one line thunder's own errors quote them in."""


def first_line(error: BaseException, limit: int | None = 200) -> str:
    """The first line of `error`'s message (cut to `limit` characters), or its type's name
    when the message is empty."""
    text = str(error).strip().splitlines()
    return text[0][:limit] if text else type(error).__name__
