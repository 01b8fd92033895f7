"""What the interop scripts share: how long a step may take and how a
failed check is reported (an AssertionError, which exits the script
non-zero with the check on stderr)."""

TIMEOUT = 20


def check(ok, what):
    if not ok:
        raise AssertionError(what)
