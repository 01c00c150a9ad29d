"""Running a plain Python program in a componentize-py component.

componentize-py snapshots the interpreter after running the app module's top
level at build time, and only what was imported then exists at run time.
The program's imports cannot run at build time (the socket module asks the
host for its constants), so `capture` reads, at build time, the source of
every pure-Python module the program may import (found by `modulefinder`,
in the component's own CPython), and `run`, at run time, serves them from
memory through an import hook, after installing the nativesock `_socket`
and the host's errno numbers. The program then runs as `__main__`, as
`python PROG.py ARGS` would run it.
"""

import encodings
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import modulefinder
import operator
import os
import pkgutil
import sys
import traceback
import types

from wit_world.imports import socket as _ns

from . import _select, _socket

#: Modules the binding supplies itself, never read from the stdlib.
_SUPPLIED = {"_socket", "select"}


class Program:
    """A program and the sources of what it imports, read at build time."""

    def __init__(self, path, source, modules):
        #: `sys.argv[0]`: the path as given to `python`.
        self.path = path
        #: `__file__` and the tracebacks' name: the absolute path.
        self.filename = path
        self.source = source
        #: name -> (origin, source, is_package)
        self.modules = modules


def capture(path, extra=()):
    """Reads the program at `path` and every module it (transitively) imports.

    Runs at build time, inside the component's interpreter, so the sources are
    the ones of the CPython the component embeds.
    """
    with open(path, encoding="utf-8") as f:
        source = f.read()
    finder = modulefinder.ModuleFinder(excludes=sorted(_SUPPLIED))
    finder.run_script(path)
    # Codecs are imported by name when first looked up (`'ascii'`, `'idna'`
    # for `getaddrinfo`), which no import statement shows.
    codecs = [f"encodings.{m.name}" for m in pkgutil.iter_modules(encodings.__path__)]
    # So is the build's configuration, which `sysconfig` reads.
    by_name = [*codecs, _sysconfigdata(), *extra]
    for name in by_name:
        try:
            finder.import_hook(name)
        except ImportError:
            pass
    modules = {}
    for name, module in finder.modules.items():
        origin = module.__file__
        if name == "__main__" or not origin or not origin.endswith(".py"):
            continue
        if name in sys.modules or name in _SUPPLIED:
            continue
        try:
            with open(origin, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        modules[name] = (origin, text, module.__path__ is not None)
    return Program(path, source, modules)


def _sysconfigdata():
    import sysconfig

    return sysconfig._get_sysconfigdata_name()


class _Loader(importlib.abc.Loader):
    def __init__(self, origin, source):
        self.origin = origin
        self.source = source

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        _remember(self.origin, self.source)
        code = compile(self.source, self.origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)
        if module.__name__ == "socket":
            _fix_socket_module(module)


def _fix_socket_module(module):
    """`Lib/socket.py` reads and sets the inheritable flag with
    `os.get_inheritable(fd)`, which the WASI `os` cannot do on a host fd:
    the socket object's own methods (`FD_CLOEXEC` on the host) take over."""
    module.socket.get_inheritable = _socket.socket.get_inheritable
    module.socket.set_inheritable = _socket.socket.set_inheritable


def _remember(filename, source):
    """Lets tracebacks show the lines of a file that exists only in memory."""
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, modules):
        self.modules = modules

    def find_spec(self, name, path=None, target=None):
        found = self.modules.get(name)
        if found is None:
            return None
        origin, source, is_package = found
        spec = importlib.util.spec_from_loader(
            name, _Loader(origin, source), origin=origin, is_package=is_package
        )
        spec.has_location = True
        return spec


def _errnomap(errno):
    """The interpreter's errno-to-class map, which `OSError(errno, msg)` uses
    to pick `ConnectionRefusedError`...: a dict that no Python name reaches,
    found among the objects the garbage collector tracks."""
    import gc

    for obj in gc.get_objects():
        if (
            type(obj) is dict
            and obj.get(errno.ECONNREFUSED) is ConnectionRefusedError
            and all(type(k) is int and issubclass(v, OSError) for k, v in obj.items())
        ):
            return obj
    return None


def _host_errno():
    """Gives the `errno` module the host's numbers (the interpreter's are
    WASI's, `ECONNREFUSED == 14`), as the exceptions carry the host's, and
    renumbers the map `OSError(errno, msg)` picks its subclass from, so that
    `OSError(errno.ECONNREFUSED, ...)` is a `ConnectionRefusedError`, as
    asyncio and other library code raise them."""
    import errno

    classes = _errnomap(errno)
    if classes is not None:
        # The interpreter's own file errors keep WASI's numbers, so WASI's
        # entries stay; where a host number is also a WASI one, the host's
        # meaning wins (WASI's EACCES is 2, the host's ENOENT).
        by_name = {errno.errorcode[k]: v for k, v in classes.items() if k in errno.errorcode}
        for name, cls in by_name.items():
            value = _ns.constant(name)
            if value is not None:
                classes[value] = cls
    codes = {}
    for name in list(errno.errorcode.values()):
        value = _ns.constant(name)
        if value is not None:
            setattr(errno, name, value)
            codes.setdefault(value, name)
    errno.errorcode.clear()
    errno.errorcode.update(codes)
    # `os.strerror` then speaks of the same numbers.
    os.strerror = _strerror


def _strerror(code, /):
    """`os.strerror(code)` with the host's text for the host's numbers."""
    code = operator.index(code)
    if not -(2**31) <= code < 2**31:
        raise OverflowError("Python int too large to convert to C int")
    return _ns.strerror(code)


def _exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


_PACKAGE = os.path.dirname(__file__)


def _program_frames(tb):
    """`tb` without this module's frame and the binding's own frames, which
    stand for CPython's C code (which shows none)."""
    frames = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_PACKAGE):
            frames.append(tb)
        tb = tb.tb_next
    out = None
    for frame in reversed(frames):
        out = types.TracebackType(out, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return out


def run(program):
    """Runs `program` as `__main__`; returns the exit status.

    An uncaught exception prints its traceback on stderr and gives 1, as
    the `python` command does.
    """
    sys.modules["_socket"] = _socket._install()
    sys.modules["select"] = _select._install()
    _host_errno()
    sys.meta_path.insert(0, _Finder(program.modules))
    sys.argv[0] = program.path
    main = type(sys)("__main__")
    main.__file__ = program.filename
    main.__builtins__ = __builtins__
    saved_main = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    status = 0
    try:
        _remember(program.filename, program.source)
        code = compile(program.source, program.filename, "exec", dont_inherit=True)
        exec(code, main.__dict__)
    except SystemExit as e:
        status = _exit_status(e.code)
    except BaseException as e:  # noqa: BLE001 - reported as `python` does
        traceback.print_exception(type(e), e, _program_frames(e.__traceback__))
        status = 1
    finally:
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        sys.stdout.flush()
        sys.stderr.flush()
    return status
