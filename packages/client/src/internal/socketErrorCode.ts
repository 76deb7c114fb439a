/**
 * Node (libuv / getaddrinfo) error codes mapped to the values of .NET's
 * `System.Net.Sockets.SocketError`, because the documented `socket.error`
 * attribute uses those numbers and dashboards built for MailKit expect them.
 * Source of truth: shared/spec/socket-errors.md.
 */
const table: Record<string, number> = {
  ECONNREFUSED: 10061,
  ECONNRESET: 10054,
  ETIMEDOUT: 10060,
  EHOSTUNREACH: 10065,
  EHOSTDOWN: 10064,
  ENETUNREACH: 10051,
  ENETDOWN: 10050,
  ENETRESET: 10052,
  ECONNABORTED: 10053,
  EADDRINUSE: 10048,
  EADDRNOTAVAIL: 10049,
  EAFNOSUPPORT: 10047,
  EPROTONOSUPPORT: 10043,
  ENOTCONN: 10057,
  EISCONN: 10056,
  EPIPE: 10058,
  ESHUTDOWN: 10058,
  EACCES: 10013,
  EPERM: 10013,
  EINVAL: 10022,
  EMFILE: 10024,
  ENFILE: 10024,
  EAGAIN: 10035,
  EWOULDBLOCK: 10035,
  EINPROGRESS: 10036,
  EALREADY: 10037,
  EMSGSIZE: 10040,
  ENOBUFS: 10055,
  EINTR: 10004,
  ECANCELED: 995,
  ENOTFOUND: 11001,
  EAI_NONAME: 11001,
  EAI_AGAIN: 11002,
  EAI_FAIL: 11003,
  ENODATA: 11004,
  EAI_NODATA: 11004
}

/** The SocketError value for "any other code". */
export const unspecified = -1

/** @internal */
export const fromNodeCode = (code: string): number => Object.hasOwn(table, code) ? table[code] : unspecified

/** @internal */
export const knownCodes: ReadonlyArray<string> = Object.keys(table)
