// The TCP sink the namespaced transfer tests (TUN e2e, strongSwan interop) run on the
// host behind one gateway: it listens on 10.2.0.1:5001, prints "listening" when
// ready, and answers with the SHA-256 of everything it received.

export const SERVER = `
import socket, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.2.0.1', 5001)); s.listen(1)
print('listening', flush=True)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d)
c.sendall(h.hexdigest().encode()); c.close()
`;
