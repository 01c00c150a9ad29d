S = socket
P, Q = int(ARGS[0]), int(ARGS[1])


def conn(s):
    r = (s.family, s.type, s.proto, s.gettimeout(), s.getsockname()[0], s.getpeername())
    s.close()
    return fmt(r)


def server(s):
    v6 = s.getsockopt(S.IPPROTO_IPV6, S.IPV6_V6ONLY) if s.family == S.AF_INET6 else None
    r = (
        s.family, s.type, s.gettimeout(), s.getsockname()[0],
        s.getsockopt(S.SOL_SOCKET, S.SO_REUSEADDR) != 0,
        s.getsockopt(S.SOL_SOCKET, S.SO_ACCEPTCONN),
        s.getsockopt(S.SOL_SOCKET, S.SO_REUSEPORT),
        v6,
    )
    s.close()
    return fmt(r)


show("create_connection(('127.0.0.1', P))", lambda: S.create_connection(("127.0.0.1", P)), conn)
show("create_connection(('127.0.0.1', P), 2.5)", lambda: S.create_connection(("127.0.0.1", P), 2.5), conn)
show("create_connection(('127.0.0.1', P), None)", lambda: S.create_connection(("127.0.0.1", P), None), conn)
show("create_connection(('127.0.0.1', P), 0)", lambda: S.create_connection(("127.0.0.1", P), 0), conn)
show("create_connection(['127.0.0.1', P], source_address=('127.0.0.2', 0))", lambda: S.create_connection(["127.0.0.1", P], source_address=("127.0.0.2", 0)), conn)
show("create_connection(('127.0.0.1', P), source_address=())", lambda: S.create_connection(("127.0.0.1", P), source_address=()), conn)
show("create_connection(('127.0.0.1', Q))", lambda: S.create_connection(("127.0.0.1", Q)), conn)
show("create_connection(('127.0.0.1', Q), all_errors=True)", lambda: S.create_connection(("127.0.0.1", Q), all_errors=True), conn)
show("create_connection(('localhost', Q), all_errors=True)", lambda: S.create_connection(("localhost", Q), all_errors=True), conn)
show("create_connection(('localhost', Q))", lambda: S.create_connection(("localhost", Q)), conn)
show("create_connection(('127.0.0.1',))", lambda: S.create_connection(("127.0.0.1",)), conn)
show("create_connection(('127.0.0.1', P, 0))", lambda: S.create_connection(("127.0.0.1", P, 0)), conn)
show("create_connection(5)", lambda: S.create_connection(5), conn)
show("create_connection(('127.0.0.1', 'nosuchservice'))", lambda: S.create_connection(("127.0.0.1", "nosuchservice")), conn)
show("create_connection(('127.0.0.1', P), -1)", lambda: S.create_connection(("127.0.0.1", P), -1), conn)
show("create_connection(('127.0.0.1', P), source_address=('::1', 0))", lambda: S.create_connection(("127.0.0.1", P), source_address=("::1", 0)), conn)
show("create_connection(('127.0.0.1', P), source_address=('::1', 0), all_errors=True)", lambda: S.create_connection(("127.0.0.1", P), source_address=("::1", 0), all_errors=True), conn)
show("create_connection(('127.0.0.1', P), source_address='x')", lambda: S.create_connection(("127.0.0.1", P), source_address="x"), conn)
show("create_server(('127.0.0.1', 0))", lambda: S.create_server(("127.0.0.1", 0)), server)
show("create_server(('127.0.0.1', P))", lambda: S.create_server(("127.0.0.1", P)), server)
show("create_server(('::1', 0), family=AF_INET6)", lambda: S.create_server(("::1", 0), family=S.AF_INET6), server)
show("create_server(('::1', 0), family=AF_INET6, dualstack_ipv6=True)", lambda: S.create_server(("::1", 0), family=S.AF_INET6, dualstack_ipv6=True), server)
show("create_server(('127.0.0.1', 0), dualstack_ipv6=True)", lambda: S.create_server(("127.0.0.1", 0), dualstack_ipv6=True), server)
show("create_server(('127.0.0.1', 0), family=AF_INET6)", lambda: S.create_server(("127.0.0.1", 0), family=S.AF_INET6), server)
show("create_server(('127.0.0.1', 0), backlog=5, reuse_port=True)", lambda: S.create_server(("127.0.0.1", 0), backlog=5, reuse_port=True), server)
show("create_server('x')", lambda: S.create_server("x"), server)
show("create_server(('127.0.0.1', 70000))", lambda: S.create_server(("127.0.0.1", 70000)), server)
show("create_server(('127.0.0.1', 0), family=12345)", lambda: S.create_server(("127.0.0.1", 0), family=12345), server)
show("has_dualstack_ipv6()", lambda: S.has_dualstack_ipv6())
