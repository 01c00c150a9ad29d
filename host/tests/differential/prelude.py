# Shared by the differential snippets: prints results the way the paired
# test program (tests/programs/src/lib.rs, `py`) does, so stdout compares
# line by line.
import socket
import sys


def fmt(v):
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, int):
        return repr(int(v))
    if isinstance(v, (bytes, bytearray)):
        return repr(bytes(v))
    if isinstance(v, tuple):
        items = [fmt(x) for x in v]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(v, list):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return repr(v)


def exc(e):
    out = type(e).__name__ + ": " + str(e)
    if isinstance(e, BaseExceptionGroup):
        out += "".join(" | %s: %s" % (type(x).__name__, x) for x in e.exceptions)
    return out


def show(label, f, fmt=fmt):
    try:
        r = fmt(f())
    except Exception as e:
        r = exc(e)
    print(label, "->", r)


assert sys.version_info[:2] >= (3, 11), "the differential tests need CPython 3.11"
ARGS = sys.argv[1:]

# The socket audit events, one name a line on stderr at exit, for the host
# test to compare with the events the component raised.
AUDIT = []
sys.addaudithook(lambda event, args: AUDIT.append(event) if event.startswith("socket.") else None)
import atexit  # noqa: E402

atexit.register(lambda: print("\n".join(AUDIT), file=sys.stderr))
