// The TCP sink the namespaced transfer tests (TUN e2e, strongSwan interop, IPv6 through
// the tunnel) run on the host behind one gateway: it listens on `address`:`port` (IPv4
// or IPv6), prints "listening" when ready, and answers with the SHA-256 of everything
// it received on its one connection.

export function tcpSink(address = '10.2.0.1', port = 5001): string {
  return `
import socket, hashlib
s = socket.socket(socket.${address.includes(':') ? 'AF_INET6' : 'AF_INET'}); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('${address}', ${port})); s.listen(1)
print('listening', flush=True)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d)
c.sendall(h.hexdigest().encode()); c.close()
`;
}

/** The sink on 10.2.0.1:5001. */
export const SERVER = tcpSink();
