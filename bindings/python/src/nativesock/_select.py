"""CPython's `select` module, over `nativesock:socket/socket`.

Installed as `sys.modules["select"]` so that `selectors`, `socketserver`,
`http.server` and `asyncio` wait on nativesock sockets (the interpreter's
own `select` knows only WASI's fds). It has `select.select` and
`select.poll`, whose waits, timeouts, signal retries (PEP 475) and error
messages are the semantics component's; without `epoll`,
`selectors.DefaultSelector` is `PollSelector`.

One order differs from CPython's: `select.select` calls every object's
`fileno()` before the component parses the timeout, so when both a
`fileno()` raises and the timeout is wrong, the `fileno()` exception wins.
"""

import sys as _sys

from wit_world.imports import socket as _ns

from ._socket import _MISSING, _call, _value

error = OSError

#: The `POLL*` names CPython's `select` has on Linux; the values are the host's.
_POLL_NAMES = (
    "POLLERR",
    "POLLHUP",
    "POLLIN",
    "POLLMSG",
    "POLLNVAL",
    "POLLOUT",
    "POLLPRI",
    "POLLRDBAND",
    "POLLRDHUP",
    "POLLRDNORM",
    "POLLWRBAND",
    "POLLWRNORM",
)


def _fd_value(obj):
    """The part of `PyObject_AsFileDescriptor` that needs the object: an int
    as it is, else what its `fileno()` returns (which must be an int); the
    component converts and checks the number."""
    if isinstance(obj, int):
        return _value(obj)
    meth = getattr(obj, "fileno", None)
    if meth is None:
        return _ns.Value_Object(type(obj).__name__)
    fd = meth()
    if not isinstance(fd, int):
        raise TypeError("fileno() returned a non-integer")
    return _value(fd)


def _as_fd(obj):
    """`PyObject_AsFileDescriptor(obj)`."""
    return _call(_ns.file_descriptor, _fd_value(obj))


def _sequence(seq):
    """`PySequence_Fast(seq, "arguments 1-3 must be sequences")`."""
    if isinstance(seq, (list, tuple)):
        return seq
    try:
        return list(seq)
    except TypeError:
        raise TypeError("arguments 1-3 must be sequences") from None


def select(rlist, wlist, xlist, timeout=None, /):
    """`select.select(rlist, wlist, xlist[, timeout])`."""
    lists = [_sequence(rlist), _sequence(wlist), _sequence(xlist)]
    fds = [[_fd_value(o) for o in objs] for objs in lists]
    ready = _call(_ns.select, fds[0], fds[1], fds[2], None if timeout is None else _value(timeout))
    return tuple([objs[i] for i in idx] for objs, idx in zip(lists, ready, strict=True))


def _unsigned_short(value):
    """The argument clinic's `unsigned_short` (`_PyLong_UnsignedShort_Converter`)."""
    if isinstance(value, int) and value < 0:
        raise ValueError("value must be positive")
    if not isinstance(value, int):
        raise TypeError("an integer is required")
    if value >= 2**64:
        raise OverflowError("Python int too large to convert to C unsigned long")
    if value > 0xFFFF:
        raise OverflowError("Python int too large for C unsigned short")
    return int(value)


class poll:
    """`select.poll()`: a poll object, the registered fds in registration order.

    A class rather than CPython's factory function, so that it does not bind
    as a method where `selectors` keeps it as `_selector_cls`."""

    __slots__ = ("_fds",)

    def __init__(self):
        self._fds = {}

    def register(self, fd, eventmask=_MISSING, /):
        """Registers `fd` (or updates its mask), as `dict[fd] = eventmask`."""
        fd = _as_fd(fd)
        if eventmask is _MISSING:
            eventmask = POLLIN | POLLPRI | POLLOUT  # noqa: F821 - set by _install
        self._fds[fd] = _unsigned_short(eventmask)

    def modify(self, fd, eventmask, /):
        """Changes the mask of a registered `fd`; `FileNotFoundError` (ENOENT) otherwise."""
        fd = _as_fd(fd)
        eventmask = _unsigned_short(eventmask)
        if fd not in self._fds:
            enoent = _ns.constant("ENOENT")
            raise FileNotFoundError(enoent, _ns.strerror(enoent))
        self._fds[fd] = eventmask

    def unregister(self, fd, /):
        """Forgets `fd`; `KeyError` when it is not registered."""
        del self._fds[_as_fd(fd)]

    def poll(self, timeout=None, /):
        """Waits at most `timeout` ms (`None` or negative: for ever) and
        returns the `(fd, revents)` of the fds with events."""
        return _call(
            _ns.poll,
            list(self._fds.items()),
            None if timeout is None else _value(timeout),
        )


poll.__module__ = "select"


def _install():
    """Fills in the host's `POLL*` values (run time only) and returns the module."""
    module = _sys.modules[__name__]
    for name in _POLL_NAMES:
        value = _ns.constant(name)
        if value is not None:
            setattr(module, name, value)
    module.__name__ = "select"
    return module
