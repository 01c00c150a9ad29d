"""CPython's `_socket` module, over `nativesock:socket/socket`.

Installed as `sys.modules["_socket"]` before the interpreter's own
`socket.py` is imported, so that `socket.socket`, `create_connection`,
`makefile`, `fromfd`, `send_fds` and the enums are CPython's code on top of
the semantics component. Every argument crosses as a `value` (ints of any
size, other objects by their type's name), so the errors are the
component's, which are CPython's.

componentize-py runs module top levels at build time, when no import of
the component may be called: this module only binds them then, and asks the
host for its constants in `_install`, at run time.
"""

import builtins as _builtins
import operator as _operator
import os as _os
import sys as _sys
import warnings as _warnings

from componentize_py_types import Err as _Err
from wit_world.imports import socket as _ns

from . import _names

error = OSError
timeout = TimeoutError


class herror(OSError):
    """`socket.herror`."""


class gaierror(OSError):
    """`socket.gaierror`."""


has_ipv6 = True


# --- values -----------------------------------------------------------------


def _value(x):
    """A Python object as the interface's `value`."""
    if x is None:
        return _ns.Value_None_()
    if isinstance(x, bool):
        return _ns.Value_Boolean(x)
    if isinstance(x, int):
        # An int subclass (an IntEnum) crosses as its plain value.
        x = int(x)
        return _ns.Value_Int(x) if -(2**63) <= x < 2**63 else _ns.Value_BigInt(str(x))
    if isinstance(x, float):
        return _ns.Value_Float(x)
    if isinstance(x, str):
        # A WIT string is UTF-8: a lone surrogate cannot cross. CPython
        # fails on it too, encoding to UTF-8 (ports, service names) or IDNA
        # (host names; there its error is UnicodeError, here
        # UnicodeEncodeError).
        x.encode("utf-8")
        return _ns.Value_Str(x)
    if isinstance(x, (bytes, bytearray, memoryview)):
        return _ns.Value_Bytes(bytes(x))
    if hasattr(type(x), "__index__"):
        return _value(_operator.index(x))
    return _ns.Value_Object(type(x).__name__)


#: The default of an optional argument that was not passed: an explicit
#: `None` is a value (`recv(1, None)` is CPython's `TypeError`).
_MISSING = object()


def _opt(x):
    """An optional argument: absent crosses as none, anything else as a value."""
    return None if x is _MISSING else _value(x)


def _py(v):
    """A `value` as a Python object."""
    if isinstance(v, _ns.Value_None_):
        return None
    if isinstance(v, _ns.Value_BigInt):
        return int(v.value)
    if isinstance(v, _ns.Value_Object):
        raise TypeError(f"unexpected {v.value} object from the component")
    return v.value


def _address(a):
    if isinstance(a, tuple):
        return _ns.Address_Tuple([_value(x) for x in a])
    if isinstance(a, list):
        return _ns.Address_List([_value(x) for x in a])
    if isinstance(a, str):
        try:
            a.encode("utf-8")
        except UnicodeEncodeError:
            # `PyUnicode_EncodeFSDefault`, as CPython converts a unix path:
            # surrogateescape'd bytes cross as bytes, other surrogates fail.
            a = _os.fsencode(a)
    return _ns.Address_Scalar(_value(a))


def _py_address(a):
    if a is None:
        return None
    if isinstance(a, _ns.Address_Inet):
        # AF_INET crosses as four octets and a port, not as a str.
        return "%d.%d.%d.%d" % a.value.octets, a.value.port
    if isinstance(a, _ns.Address_Tuple):
        return tuple(_py(x) for x in a.value)
    if isinstance(a, _ns.Address_List):
        return [_py(x) for x in a.value]
    return _py(a.value)


def _bytes_like(data, what="a bytes-like object is required, not '{}'"):
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise TypeError(what.format(type(data).__name__)) from None


# --- errors -----------------------------------------------------------------

_CLASSES = {"herror": herror, "gaierror": gaierror, "timeout": TimeoutError}


def _exception(name, errno, strerror, message):
    cls = _CLASSES.get(name) or getattr(_builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = RuntimeError
        message = f"{name}: {message}"
    if errno is not None and issubclass(cls, OSError):
        return cls(errno, strerror)
    return cls(message) if message else cls()


def _raise(e):
    """Raises the Python exception an interface `error` describes."""
    if e.exception == "ExceptionGroup":
        subs = [_exception(s.exception, s.errno, s.strerror, s.message) for s in e.exceptions]
        raise ExceptionGroup(e.message.split(" (")[0], subs)
    raise _exception(e.exception, e.errno, e.strerror, e.message)


def _call(f, *args):
    try:
        return f(*args)
    except _Err as err:
        error = err.value
    # Raised outside the `except`, so that the exception has no context, as
    # one CPython's C code raises: the bindings' `Err` is a frozen
    # dataclass, whose `__traceback__` unittest and others cannot set.
    _raise(error)


# --- the socket object ------------------------------------------------------


class socket:
    """`_socket.socket`: the C socket object, one component resource."""

    # As the C type: no `__dict__` or `__weakref__` (`socket.py`'s subclass
    # adds its own slots, `__weakref__` among them).
    __slots__ = ("_sock",)

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        self._sock = _call(
            _ns.Socket.create,
            _value(family),
            _value(type),
            _value(proto),
            None if fileno is None else _value(fileno),
        )

    @classmethod
    def _wrap(cls, sock):
        self = cls.__new__(cls)
        self._sock = sock
        return self

    family = property(lambda self: self._sock.family())
    type = property(lambda self: self._sock.type())
    proto = property(lambda self: self._sock.proto())
    timeout = property(lambda self: self._sock.timeout())

    def __repr__(self):
        # The C type's own repr; `Lib/socket.py`'s subclass has its own.
        sock = self._sock
        return (
            f"<socket object, fd={sock.fileno()}, family={sock.family()}, "
            f"type={sock.type()}, proto={sock.proto()}>"
        )

    def __del__(self):
        # `sock_finalize`: an unclosed socket warns, then closes (the
        # component closes it when its resource is dropped).
        # In a garbage cycle the resource's own finalizer (componentize-py's
        # `weakref.finalize`, which drops the handle) may have run first:
        # the handle is gone then, and so is the fd.
        sock = getattr(self, "_sock", None)
        finalizer = getattr(sock, "finalizer", None)
        if finalizer is not None and finalizer.alive and sock.fileno() != -1:
            _warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=1, source=self)

    def fileno(self):
        return self._sock.fileno()

    def close(self):
        _call(self._sock.close)

    def detach(self):
        return self._sock.detach()

    def dup(self):
        return socket._wrap(_call(self._sock.dup))

    def get_inheritable(self):
        return _call(self._sock.get_inheritable)

    def set_inheritable(self, inheritable):
        _call(self._sock.set_inheritable, bool(_operator.index(inheritable)))

    def settimeout(self, value):
        _call(self._sock.settimeout, _value(value))

    def gettimeout(self):
        return self._sock.gettimeout()

    def setblocking(self, flag):
        _call(self._sock.setblocking, _value(flag))

    def getblocking(self):
        return self._sock.getblocking()

    def bind(self, address):
        _call(self._sock.bind, _address(address))

    def connect(self, address):
        _call(self._sock.connect, _address(address))

    def connect_ex(self, address):
        return _call(self._sock.connect_ex, _address(address))

    def listen(self, *backlog):
        if len(backlog) > 1:
            raise TypeError(f"listen() takes at most 1 argument ({len(backlog)} given)")
        _call(self._sock.listen, _value(backlog[0]) if backlog else None)

    def _accept(self):
        conn, address = _call(self._sock.accept)
        return conn.detach(), _py_address(address)

    def getsockname(self):
        return _py_address(_call(self._sock.getsockname))

    def getpeername(self):
        return _py_address(_call(self._sock.getpeername))

    def send(self, data, flags=_MISSING):
        return _call(self._sock.send, _bytes_like(data), _opt(flags))

    def sendall(self, data, flags=_MISSING):
        _call(self._sock.sendall, _bytes_like(data), _opt(flags))

    def sendto(self, data, flags_or_address, *address):
        if len(address) > 1:
            raise TypeError(f"sendto() takes 2 or 3 arguments ({2 + len(address)} given)")
        if address:
            flags, address = _value(flags_or_address), address[0]
        else:
            flags, address = None, flags_or_address
        return _call(self._sock.sendto, _bytes_like(data), flags, _address(address))

    def recv(self, bufsize, flags=_MISSING):
        return bytes(_call(self._sock.recv, _value(bufsize), _opt(flags)))

    def recvfrom(self, bufsize, flags=_MISSING):
        data, address = _call(self._sock.recvfrom, _value(bufsize), _opt(flags))
        return bytes(data), _py_address(address)

    def _writable(self, buffer, method):
        try:
            view = memoryview(buffer)
        except TypeError:
            raise TypeError(
                f"{method}() argument 1 must be read-write bytes-like object, "
                f"not {type(buffer).__name__}"
            ) from None
        if view.readonly:
            raise TypeError(
                f"{method}() argument 1 must be read-write bytes-like object, "
                f"not {type(buffer).__name__}"
            )
        return view.cast("B")

    def recv_into(self, buffer, nbytes=_MISSING, flags=_MISSING):
        view = self._writable(buffer, "recv_into")
        got = _call(self._sock.recv_into, len(view), _opt(nbytes), _opt(flags))
        view[: len(got.data)] = got.data
        return got.nbytes

    def recvfrom_into(self, buffer, nbytes=_MISSING, flags=_MISSING):
        view = self._writable(buffer, "recvfrom_into")
        got, address = _call(self._sock.recvfrom_into, len(view), _opt(nbytes), _opt(flags))
        view[: len(got.data)] = got.data
        return got.nbytes, _py_address(address)

    def sendmsg(self, buffers, ancdata=(), flags=_MISSING, address=None):
        try:
            buffers = iter(buffers)
        except TypeError:
            raise TypeError("sendmsg() argument 1 must be an iterable") from None
        buffers = [_bytes_like(b) for b in buffers]
        items = []
        for item in ancdata:
            level, kind, data = item
            items.append(_ns.AncillaryItem(_value(level), _value(kind), _bytes_like(data)))
        return _call(
            self._sock.sendmsg,
            buffers,
            items,
            _opt(flags),
            None if address is None else _address(address),
        )

    @staticmethod
    def _message(msg):
        ancdata = [(a.level, a.kind, bytes(a.data)) for a in msg.ancdata]
        return ancdata, msg.msg_flags, _py_address(msg.address)

    def recvmsg(self, bufsize, ancbufsize=_MISSING, flags=_MISSING):
        msg = _call(self._sock.recvmsg, _value(bufsize), _opt(ancbufsize), _opt(flags))
        return (bytes(msg.data), *self._message(msg))

    def recvmsg_into(self, buffers, ancbufsize=_MISSING, flags=_MISSING):
        views = [self._writable(b, "recvmsg_into") for b in buffers]
        msg = _call(self._sock.recvmsg_into, [len(v) for v in views], _opt(ancbufsize), _opt(flags))
        data, at = bytes(msg.data), 0
        for v in views:
            chunk = data[at : at + len(v)]
            v[: len(chunk)] = chunk
            at += len(chunk)
        return (msg.nbytes, *self._message(msg))

    def shutdown(self, how):
        _call(self._sock.shutdown, _value(how))

    def getsockopt(self, level, optname, buflen=_MISSING):
        v = _call(self._sock.getsockopt, _value(level), _value(optname), _opt(buflen))
        return bytes(v.value) if isinstance(v, _ns.SockoptValue_Bytes) else v.value

    def setsockopt(self, level, optname, value, *optlen):
        if len(optlen) > 1:
            raise TypeError(f"setsockopt() takes exactly 3 arguments ({3 + len(optlen)} given)")
        _call(
            self._sock.setsockopt,
            _value(level),
            _value(optname),
            _value(value),
            _value(optlen[0]) if optlen else None,
        )


SocketType = socket


# --- module functions -------------------------------------------------------


def socketpair(family=_MISSING, type=_MISSING, proto=_MISSING):
    a, b = _call(_ns.socketpair, _opt(family), _opt(type), _opt(proto))
    return socket._wrap(a), socket._wrap(b)


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    infos = _call(
        _ns.getaddrinfo,
        _value(host),
        _value(port),
        _value(family),
        _value(type),
        _value(proto),
        _value(flags),
    )
    return [
        (ai.family, ai.socket_type, ai.proto, ai.canonname, _py_address(ai.sockaddr))
        for ai in infos
    ]


def gethostbyname(hostname):
    return _call(_ns.gethostbyname, _value(hostname))


def _hostent(h):
    return h.hostname, list(h.aliaslist), list(h.ipaddrlist)


def gethostbyname_ex(hostname):
    return _hostent(_call(_ns.gethostbyname_ex, _value(hostname)))


def gethostbyaddr(ip_address):
    return _hostent(_call(_ns.gethostbyaddr, _value(ip_address)))


def getnameinfo(sockaddr, flags):
    return _call(_ns.getnameinfo, _address(sockaddr), _value(flags))


def gethostname():
    return _call(_ns.gethostname)


def _s(func, argnum, x):
    """`PyArg_ParseTuple`'s `"s"`: a str without NUL, as UTF-8."""
    if not isinstance(x, str):
        raise TypeError(f"{func}() argument {argnum} must be str, not {_type_name(x)}")
    x.encode("utf-8")
    if "\0" in x:
        raise ValueError("embedded null character")
    return x


def _type_name(x):
    return "None" if x is None else type(x).__name__


def getservbyname(servicename, protocolname=_MISSING, /):
    servicename = _s("getservbyname", 1, servicename)
    proto = None if protocolname is _MISSING else _s("getservbyname", 2, protocolname)
    return _call(_ns.getservbyname, servicename, proto)


def getservbyport(port, protocolname=_MISSING, /):
    proto = None if protocolname is _MISSING else _s("getservbyport", 2, protocolname)
    return _call(_ns.getservbyport, _value(port), proto)


def getdefaulttimeout():
    return _ns.getdefaulttimeout()


def setdefaulttimeout(value):
    _call(_ns.setdefaulttimeout, _value(value))


def dup(fd):
    return _call(_ns.dup_fd, _value(fd))


def close(fd):
    _call(_ns.close_fd, _value(fd))


#: `SOCKLEN_T_LIMIT` in `socketmodule.c`: `INT_MAX`.
_SOCKLEN_T_LIMIT = 2**31 - 1


def _ssize_t(x):
    """`PyArg_ParseTuple`'s `"n"`."""
    x = _operator.index(x)
    if not -(2**63) <= x < 2**63:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return x


def _c_int(x):
    """`PyArg_ParseTuple`'s `"i"`."""
    x = _operator.index(x)
    if not -(2**63) <= x < 2**63:
        raise OverflowError("Python int too large to convert to C long")
    if x > 2**31 - 1:
        raise OverflowError("signed integer is greater than maximum")
    if x < -(2**31):
        raise OverflowError("signed integer is less than minimum")
    return x


def CMSG_LEN(length, /):
    """`CMSG_LEN` on Linux x86-64 and aarch64: a 16-byte header."""
    length = _ssize_t(length)
    if not 0 <= length <= _SOCKLEN_T_LIMIT - 16:
        raise OverflowError("CMSG_LEN() argument out of range")
    return 16 + length


def CMSG_SPACE(length, /):
    """`CMSG_SPACE`: the data padded to 8 bytes, plus the header."""
    length = _ssize_t(length)
    if not 0 <= length <= _SOCKLEN_T_LIMIT - 24:
        raise OverflowError("CMSG_SPACE() argument out of range")
    space = 16 + (length + 7) // 8 * 8
    if space > _SOCKLEN_T_LIMIT:
        raise OverflowError("CMSG_SPACE() argument out of range")
    return space


def _swap16(name, x):
    x = _c_int(x)
    if x < 0:
        raise OverflowError(
            f"{name}: can't convert negative Python int to C 16-bit unsigned integer"
        )
    if x > 0xFFFF:
        raise OverflowError(f"{name}: Python int too large to convert to C 16-bit unsigned integer")
    return int.from_bytes(x.to_bytes(2, _sys.byteorder), "big")


def htons(x, /):
    return _swap16("htons", x)


def ntohs(x, /):
    return _swap16("ntohs", x)


def _swap32(x):
    if not isinstance(x, int):
        raise TypeError(f"expected int, {type(x).__name__} found")
    if x < 0:
        raise OverflowError("can't convert negative value to unsigned int")
    if x >= 2**64:
        raise OverflowError("Python int too large to convert to C unsigned long")
    if x >= 2**32:
        raise OverflowError("int larger than 32 bits")
    return int.from_bytes(x.to_bytes(4, _sys.byteorder), "big")


def htonl(x, /):
    return _swap32(x)


def ntohl(x, /):
    return _swap32(x)


def _install():
    """Fills in the host's constants (run time only) and returns the module."""
    module = _sys.modules[__name__]
    for name in _names.NAMES:
        value = _ns.constant(name)
        if value is not None:
            setattr(module, name, value)
    return module


# --- address conversions (pure functions in CPython too) --------------------


def inet_aton(ip_string):
    """glibc's `inet_aton`: 1 to 4 parts, each decimal, octal (`0...`) or
    hex (`0x...`), the last filling the remaining bytes."""
    if not isinstance(ip_string, str):
        raise TypeError(f"inet_aton() argument 1 must be str, not {type(ip_string).__name__}")
    bad = OSError("illegal IP address string passed to inet_aton")
    text = ip_string.split(" ", 1)[0] if " " in ip_string else ip_string
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        raise bad
    values = []
    for part in parts:
        low = part.lower()
        if not (low.isascii() and low.isalnum()):
            raise bad
        try:
            if low.startswith("0x"):
                value = int(low[2:], 16)
            elif len(low) > 1 and low.startswith("0"):
                value = int(low, 8)
            else:
                value = int(low, 10) if low.isdigit() else int("x")
        except ValueError:
            raise bad from None
        values.append(value)
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        raise bad
    return bytes(head) + last.to_bytes(4 - len(head), "big")


def inet_ntoa(packed_ip):
    packed = bytes(memoryview(packed_ip))
    if len(packed) != 4:
        raise OSError("packed IP wrong length for inet_ntoa")
    return ".".join(str(b) for b in packed)


def inet_pton(address_family, ip_string):
    import ipaddress

    family = _operator.index(address_family)
    kind = {AF_INET: ipaddress.IPv4Address, AF_INET6: ipaddress.IPv6Address}.get(family)  # noqa: F821
    if kind is None:
        code = _ns.constant("EAFNOSUPPORT")
        raise OSError(code, _ns.strerror(code))
    try:
        return kind(ip_string).packed
    except ValueError:
        raise OSError("illegal IP address string passed to inet_pton") from None


def inet_ntop(address_family, packed_ip):
    import ipaddress

    family = _operator.index(address_family)
    packed = bytes(memoryview(packed_ip))
    if family == AF_INET:  # noqa: F821
        if len(packed) != 4:
            raise ValueError("invalid length of packed IP address string")
        return str(ipaddress.IPv4Address(packed))
    if family == AF_INET6:  # noqa: F821
        if len(packed) != 16:
            raise ValueError("invalid length of packed IP address string")
        return str(ipaddress.IPv6Address(packed))
    raise ValueError(f"unknown address family {family}")
