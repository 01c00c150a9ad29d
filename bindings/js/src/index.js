// nativesock for JavaScript components: CPython's socket semantics on the
// host's native sockets, as an idiomatic ES module over the bindings that
// componentize-js generates for `nativesock:socket/socket`.
//
// - Numbers are JS numbers (ints arrive as `s64`/`u64` BigInts from the
//   bindings and are converted; an fd, a port or a byte count never needs
//   more than 2**53).
// - Every failure is thrown as a JS error: `SocketError` (an `Error`) for
//   Python's `OSError` family and anything else the component raises,
//   `TypeError` or `RangeError` for Python's `TypeError` and
//   `ValueError`/`OverflowError`, `AggregateError` for an exception group.
//   Each carries `pythonClass` (`'ConnectionRefusedError'`), and an OS
//   error its `errno` (the host's number), `code` (`'ECONNREFUSED'`) and
//   `strerror`.
// - Two faults of the componentize-js 0.23 bindings are worked around: an
//   `s64` result is lifted as unsigned (`detach()` after `close()` gave
//   18446744073709551615n; it is -1 here), and a negative BigInt lowered to
//   an `s64` aborts the component (negative ints cross as the interface's
//   decimal `big-int` instead).
//
// The component's functions may only be called at run time, not while
// componentize-js initialises the module: this module asks the host for
// nothing until it is used (`constants` is read lazily).

import * as ns from 'nativesock:socket/socket@0.1.0';

// --- values ------------------------------------------------------------------

const S64_MAX = 2n ** 63n - 1n;

/** An `s64` from the bindings (lifted as unsigned) as a JS number. */
function s64(v) {
  return Number(BigInt.asIntN(64, BigInt(v)));
}

/** A `u64` from the bindings as a JS number. */
function u64(v) {
  return Number(v);
}

function intValue(big) {
  // A negative s64 aborts the component in the bindings' lowering: it
  // crosses as `big-int`, which the component accepts for any int.
  if (big >= 0n && big <= S64_MAX) {
    return { tag: 'int', val: big };
  }
  return { tag: 'big-int', val: big.toString() };
}

/** A JS value as the interface's `value`, as a Python program would pass it. */
function value(x) {
  if (x === null || x === undefined) return { tag: 'none' };
  switch (typeof x) {
    case 'boolean':
      return { tag: 'boolean', val: x };
    case 'bigint':
      return intValue(x);
    case 'number':
      return Number.isInteger(x) ? intValue(BigInt(x)) : { tag: 'float', val: x };
    case 'string':
      return { tag: 'str', val: x };
    default:
      break;
  }
  const bytes = asBytes(x);
  if (bytes !== undefined) return { tag: 'bytes', val: bytes };
  return { tag: 'object', val: typeName(x) };
}

/** An optional argument: `undefined` is "not passed" (CPython's default). */
function opt(x) {
  return x === undefined ? undefined : value(x);
}

function typeName(x) {
  if (Array.isArray(x)) return 'list';
  if (typeof x === 'function') return 'function';
  return x?.constructor?.name ?? 'object';
}

function asBytes(x) {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return undefined;
}

function bytesArg(data) {
  const bytes = asBytes(data);
  if (bytes === undefined) {
    throw pythonTypeError(`a bytes-like object is required, not '${typeName(data)}'`);
  }
  return bytes;
}

/** A `value` from the component as a JS value. */
function fromValue(v) {
  switch (v.tag) {
    case 'none':
      return null;
    case 'int':
      return s64(v.val);
    case 'big-int':
      return Number(v.val);
    default:
      return v.val;
  }
}

/**
 * An address as a Python program writes it: an array is a tuple
 * (`['127.0.0.1', 8080]`), a string or bytes a unix path.
 */
function address(a) {
  if (Array.isArray(a)) return { tag: 'tuple', val: a.map(value) };
  return { tag: 'scalar', val: value(a) };
}

function fromAddress(a) {
  if (a === undefined || a === null) return null;
  // AF_INET crosses as four octets and a port, not as a string.
  if (a.tag === 'inet') return [a.val.octets.join('.'), a.val.port];
  if (a.tag === 'scalar') return fromValue(a.val);
  return a.val.map(fromValue);
}

// --- errors ------------------------------------------------------------------

let errnoNames;

/** The host's errno name for a number (`'ECONNREFUSED'`), asked for once. */
function errnoCode(errno) {
  if (errnoNames === undefined) {
    errnoNames = new Map();
    for (const name of ERRNO_NAMES) {
      const v = ns.constant(name);
      if (v !== undefined && !errnoNames.has(s64(v))) errnoNames.set(s64(v), name);
    }
  }
  return errnoNames.get(errno);
}

/** An error the component raised, as CPython would raise it. */
export class SocketError extends Error {
  constructor(info) {
    super(info.message);
    this.name = info.exception;
    /** The Python exception's class: `'ConnectionRefusedError'`, `'gaierror'`... */
    this.pythonClass = info.exception;
    /** `exc.errno`: the host's errno (or `EAI_*` code), else undefined. */
    this.errno = info.errno ?? undefined;
    /** The errno's name (`'ECONNREFUSED'`), for OS errors. */
    this.code =
      this.errno === undefined || info.exception === 'gaierror' || info.exception === 'herror'
        ? undefined
        : errnoCode(this.errno);
    /** `exc.strerror`. */
    this.strerror = info.strerror ?? undefined;
  }
}

function pythonTypeError(message) {
  const e = new TypeError(message);
  e.pythonClass = 'TypeError';
  return e;
}

function toError(info) {
  switch (info.exception) {
    case 'TypeError':
      return pythonTypeError(info.message);
    case 'ValueError':
    case 'OverflowError': {
      const e = new RangeError(info.message);
      e.pythonClass = info.exception;
      return e;
    }
    case 'ExceptionGroup': {
      const e = new AggregateError(info.exceptions.map(toError), info.message);
      e.pythonClass = 'ExceptionGroup';
      return e;
    }
    default:
      return new SocketError(info);
  }
}

/** Runs a call of the bindings, throwing a `result` error as a JS error. */
function call(f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e === 'object' && 'payload' in e && e.payload?.exception !== undefined) {
      throw toError(e.payload);
    }
    throw e;
  }
}

// --- the socket object ---------------------------------------------------------

const wrapKey = Symbol('nativesock.wrap');

/** `socket.socket`: CPython's socket object. */
export class Socket {
  #s;

  /**
   * `new Socket(family, type, proto, fileno)`: leave an argument out for
   * CPython's default (`AF_INET`, `SOCK_STREAM`, 0).
   */
  constructor(family, type, proto, fileno) {
    if (family === wrapKey) {
      this.#s = type;
      return;
    }
    this.#s = call(() => ns.Socket.create(opt(family), opt(type), opt(proto), opt(fileno)));
  }

  get family() {
    return s64(this.#s.family());
  }
  get type() {
    return s64(this.#s.type());
  }
  get proto() {
    return s64(this.#s.proto());
  }
  /** The timeout in seconds, `null` for none (blocking). */
  get timeout() {
    return this.#s.timeout() ?? null;
  }

  toString() {
    return this.#s.repr();
  }
  fileno() {
    return s64(this.#s.fileno());
  }
  close() {
    call(() => this.#s.close());
  }
  [Symbol.dispose]() {
    this.close();
  }
  detach() {
    return s64(this.#s.detach());
  }
  dup() {
    return wrap(call(() => this.#s.dup()));
  }
  getInheritable() {
    return call(() => this.#s.getInheritable());
  }
  setInheritable(inheritable) {
    call(() => this.#s.setInheritable(Boolean(inheritable)));
  }
  /** Seconds (a number), or `null` for blocking mode. */
  settimeout(seconds) {
    call(() => this.#s.settimeout(value(seconds)));
  }
  gettimeout() {
    return this.#s.gettimeout() ?? null;
  }
  setblocking(flag) {
    call(() => this.#s.setblocking(value(flag)));
  }
  getblocking() {
    return this.#s.getblocking();
  }
  connect(addr) {
    call(() => this.#s.connect(address(addr)));
  }
  /** `connect_ex`: 0 or the errno, instead of throwing. */
  connectEx(addr) {
    return call(() => this.#s.connectEx(address(addr)));
  }
  bind(addr) {
    call(() => this.#s.bind(address(addr)));
  }
  listen(backlog) {
    call(() => this.#s.listen(opt(backlog)));
  }
  /** `[socket, address]`. */
  accept() {
    const [s, a] = call(() => this.#s.accept());
    return [wrap(s), fromAddress(a)];
  }
  getsockname() {
    return fromAddress(call(() => this.#s.getsockname()));
  }
  getpeername() {
    return fromAddress(call(() => this.#s.getpeername()));
  }
  /** Bytes or a string (sent as UTF-8); the number of bytes sent. */
  send(data, flags) {
    return u64(call(() => this.#s.send(outgoing(data), opt(flags))));
  }
  sendall(data, flags) {
    call(() => this.#s.sendall(outgoing(data), opt(flags)));
  }
  sendto(data, addr, flags) {
    return u64(call(() => this.#s.sendto(outgoing(data), opt(flags), address(addr))));
  }
  /** A `Uint8Array` of at most `bufsize` bytes; empty at end of stream. */
  recv(bufsize, flags) {
    return call(() => this.#s.recv(value(bufsize), opt(flags)));
  }
  /** `[data, address]`. */
  recvfrom(bufsize, flags) {
    const [data, a] = call(() => this.#s.recvfrom(value(bufsize), opt(flags)));
    return [data, fromAddress(a)];
  }
  /** Receives into `buffer` (a typed array); the number of bytes. */
  recvInto(buffer, nbytes, flags) {
    const target = bytesArg(buffer);
    const got = call(() => this.#s.recvInto(BigInt(target.length), opt(nbytes), opt(flags)));
    target.set(got.data);
    return u64(got.nbytes);
  }
  /**
   * `sendmsg(buffers, ancdata, flags, address)`: `ancdata` is an array of
   * `[level, type, data]`.
   */
  sendmsg(buffers, ancdata = [], flags, addr) {
    const items = ancdata.map(([level, kind, data]) => ({
      level: value(level),
      kind: value(kind),
      data: bytesArg(data),
    }));
    return u64(
      call(() =>
        this.#s.sendmsg(
          buffers.map((b) => outgoing(b)),
          items,
          opt(flags),
          addr === undefined ? undefined : address(addr),
        ),
      ),
    );
  }
  /** `{data, ancdata: [[level, type, data]], flags, address}`. */
  recvmsg(bufsize, ancbufsize, flags) {
    const m = call(() => this.#s.recvmsg(value(bufsize), opt(ancbufsize), opt(flags)));
    return {
      data: m.data,
      ancdata: m.ancdata.map((a) => [s64(a.level), s64(a.kind), a.data]),
      flags: s64(m.msgFlags),
      address: fromAddress(m.address),
    };
  }
  shutdown(how) {
    call(() => this.#s.shutdown(value(how)));
  }
  /** An int option, or with `buflen` the option's bytes. */
  getsockopt(level, optname, buflen) {
    const v = call(() => this.#s.getsockopt(value(level), value(optname), opt(buflen)));
    return v.tag === 'int' ? s64(v.val) : v.val;
  }
  setsockopt(level, optname, val, optlen) {
    call(() => this.#s.setsockopt(value(level), value(optname), value(val), opt(optlen)));
  }
}

function outgoing(data) {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  return bytesArg(data);
}

/** A socket resource the bindings returned, as a `Socket`. */
function wrap(s) {
  return new Socket(wrapKey, s);
}

// --- module functions -----------------------------------------------------------

/** `socket.socketpair(family, type, proto)`: `[a, b]`. */
export function socketpair(family, type, proto) {
  const [a, b] = call(() => ns.socketpair(opt(family), opt(type), opt(proto)));
  return [wrap(a), wrap(b)];
}

/**
 * `socket.create_connection(address, timeout, source_address, all_errors)`:
 * `createConnection(['localhost', 80], { timeout: 5 })`. Leave `timeout`
 * out for the default timeout; `null` is blocking.
 */
export function createConnection(addr, { timeout, sourceAddress, allErrors = false } = {}) {
  const s = call(() =>
    ns.createConnection(
      address(addr),
      opt(timeout),
      sourceAddress === undefined ? undefined : address(sourceAddress),
      Boolean(allErrors),
    ),
  );
  return wrap(s);
}

/** `socket.create_server(address, family, backlog, reuse_port, dualstack_ipv6)`. */
export function createServer(
  addr,
  { family, backlog, reusePort = false, dualstackIpv6 = false } = {},
) {
  const s = call(() =>
    ns.createServer(
      address(addr),
      opt(family),
      opt(backlog),
      Boolean(reusePort),
      Boolean(dualstackIpv6),
    ),
  );
  return wrap(s);
}

/** `socket.getaddrinfo(host, port, ...)`: `[{family, type, proto, canonname, address}]`. */
export function getaddrinfo(host, port, { family, type, proto, flags } = {}) {
  return call(() =>
    ns.getaddrinfo(value(host), value(port), opt(family), opt(type), opt(proto), opt(flags)),
  ).map((ai) => ({
    family: s64(ai.family),
    type: s64(ai.socketType),
    proto: s64(ai.proto),
    canonname: ai.canonname,
    address: fromAddress(ai.sockaddr),
  }));
}

export function gethostbyname(hostname) {
  return call(() => ns.gethostbyname(value(hostname)));
}

export function gethostname() {
  return call(() => ns.gethostname());
}

export function getservbyname(servicename, protocolname) {
  return s64(call(() => ns.getservbyname(String(servicename), protocolname)));
}

export function getservbyport(port, protocolname) {
  return call(() => ns.getservbyport(value(port), protocolname));
}

export function getdefaulttimeout() {
  return ns.getdefaulttimeout() ?? null;
}

export function setdefaulttimeout(seconds) {
  call(() => ns.setdefaulttimeout(value(seconds)));
}

function fdValue(x) {
  return x instanceof Socket ? value(x.fileno()) : value(x);
}

/**
 * `select.select(rlist, wlist, xlist, timeout)` over sockets or fds: the
 * ready entries of each list, `[r, w, x]`. `timeout` in seconds; leave it
 * out (or `null`) to wait until one is ready.
 */
export function select(rlist, wlist, xlist, timeout) {
  const lists = [rlist, wlist, xlist];
  const ready = call(() =>
    ns.select(...lists.map((l) => l.map(fdValue)), timeout == null ? undefined : value(timeout)),
  );
  return lists.map((l, k) => Array.from(ready[k], (i) => l[i]));
}

/**
 * `poll([[fdOrSocket, events]], timeoutMs)`: the `[fd, revents]` of the
 * entries with events (`constants.POLLIN`...). Leave `timeoutMs` out (or
 * `null`, or negative) to wait for ever.
 */
export function poll(fds, timeoutMs) {
  const entries = fds.map(([fd, events]) => [
    call(() => ns.fileDescriptor(fdValue(fd))),
    Number(events) & 0xffff,
  ]);
  return call(() => ns.poll(entries, timeoutMs == null ? undefined : value(timeoutMs)));
}

/** `os.strerror(errno)` with the host's text. */
export function strerror(errno) {
  return ns.strerror(errno);
}

/**
 * The host's constants by their C names, read when first used:
 * `constants.AF_UNIX`, `constants.SOL_SOCKET`, `constants.ECONNREFUSED`,
 * `constants.POLLIN`; `undefined` for a name the host lacks.
 */
export const constants = new Proxy(
  {},
  {
    get(cache, name) {
      if (typeof name !== 'string') return undefined;
      if (!(name in cache)) {
        const v = ns.constant(name);
        cache[name] = v === undefined ? undefined : s64(v);
      }
      return cache[name];
    },
  },
);

// The errno names of Linux (the component answers with the host's values).
const ERRNO_NAMES = `EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM
EACCES EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY
EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY
ELOOP ENOMSG EIDRM ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL
ENOANO EBADRQC EBADSLT EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT
ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN
ELIBMAX ELIBEXEC EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK EDESTADDRREQ EMSGSIZE EPROTOTYPE
ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE
EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN
ESHUTDOWN ETOOMANYREFS ETIMEDOUT ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE
EUCLEAN ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED
EKEYREVOKED EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON`.split(/\s+/);
