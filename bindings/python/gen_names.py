"""Writes src/nativesock/_names.py from the native CPython's `_socket`."""

import _socket
import pathlib

names = sorted(n for n in dir(_socket) if n.isupper() and isinstance(getattr(_socket, n), int))
out = pathlib.Path(__file__).parent / "src" / "nativesock" / "_names.py"
out.write_text(
    '"""The int constants of CPython 3.11\'s `_socket` on Linux, by name: the\n'
    "binding asks the host for each at run time (`constant(name)`), so the values\n"
    'are the host\'s. Regenerate with `python3 bindings/python/gen_names.py`."""\n\n'
    "NAMES = (\n" + "".join(f'    "{n}",\n' for n in names) + ")\n"
)
