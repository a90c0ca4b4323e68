// Keep Node servers on loopback.
//
// Preload with NODE_OPTIONS=--import=/abs/path/to/testbed/loopback.mjs.
// server-everything's HTTP modes call `listen(port, cb)` without a host, which
// binds every interface. This patch inserts "127.0.0.1" as the host whenever
// `net.Server.prototype.listen` (also used by http.Server / express) receives a
// port but no host. Calls that name a host, a path (Unix socket) or a handle
// are left alone.
import net from "node:net";

const LOOPBACK = "127.0.0.1";
const originalListen = net.Server.prototype.listen;

function isPort(value) {
  return (
    (typeof value === "number" && Number.isInteger(value)) ||
    (typeof value === "string" && /^\d+$/.test(value))
  );
}

net.Server.prototype.listen = function listen(...args) {
  const first = args[0];
  if (first === undefined || first === null || typeof first === "function") {
    // listen() / listen(cb): random port on all interfaces -> loopback.
    args.unshift(0, LOOPBACK);
  } else if (isPort(first)) {
    // listen(port[, host][, backlog][, cb]): insert a host when none is given.
    if (typeof args[1] !== "string") {
      args.splice(1, 0, LOOPBACK);
    }
  } else if (typeof first === "object" && !(first instanceof net.Server) && !("fd" in first) && !("_handle" in first)) {
    // listen(options[, cb]) with a port but no host/path.
    if (first.path === undefined && first.host === undefined) {
      args[0] = { ...first, host: LOOPBACK };
    }
  }
  return originalListen.apply(this, args);
};
