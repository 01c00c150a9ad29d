"""CPython's own `Lib/test/test_socket.py`: every test class that needs no
threads (no `ThreadableTest`), run with unittest. Built with `-p` pointing at
a copy of the native CPython's `test` package (`test_socket` and
`test.support`); argument 1 is a temporary directory, the working directory
of the run (some tests make files or unix sockets there). Prints one line
per test, `id ... outcome`, and unittest's summary."""

# platform, shutil, tempfile and the helpers are imported here, as the
# interpreter is (WASI), before the platform changes below.
import os
import platform  # noqa: F401
import shutil  # noqa: F401
import sys
import tempfile  # noqa: F401
import unittest

from test import support
from test.support import os_helper, socket_helper, threading_helper  # noqa: F401

# test.support assumes WASI's sockets ("WASI sockets have limitations",
# "WASI is missing these methods"): this interpreter has nativesock's,
# which are the Linux host's, so the tests' `skipUnless(sys.platform ==
# 'linux')` and `skipIf(support.is_wasi)` see Linux while they load.
support.has_socket_support = True
saved = sys.platform, support.is_wasi
sys.platform, support.is_wasi = "linux", False
try:
    from test import test_socket
finally:
    sys.platform, support.is_wasi = saved

os.chdir(sys.argv[1])
classes = sorted(
    (
        c
        for c in vars(test_socket).values()
        if isinstance(c, type)
        and issubclass(c, unittest.TestCase)
        and not issubclass(c, test_socket.ThreadableTest)
    ),
    key=lambda c: c.__name__,
)
suite = unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(c) for c in classes)
unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
