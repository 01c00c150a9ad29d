"""nativesock for Python programs built with componentize-py: `_socket`
over `nativesock:socket/socket` and the runtime that runs a plain program
(see the README, "Python programs")."""
