// The python3 helper that attaches a TUN device for Node (no native addon): it
// inherits /dev/net/tun as fd 3, does the TUNSETIFF and SIOCSIFMTU ioctls, and then
// wakes Node through a pipe when the device is readable (see device.ts and
// src/tun/README.md). Kept apart so that the device module reads as TypeScript.

// argv: name mtu wait multiqueue offload. IFF_TUN | IFF_NO_PI, plus IFF_MULTI_QUEUE (0x0100)
// when multiqueue is '1' (one queue of the device per descriptor), plus IFF_VNET_HDR
// (0x4000) and then TUNSETOFFLOAD with TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 (offload.ts
// TUN_OFFLOADS) when offload is '1'. Prints "ok NAME\n" or "err STEP ERRNAME MESSAGE\n" on
// stdout. With wait=1 it then loops: wait for a byte on stdin (EOF: exit),
// poll fd 3 and stdin, write b'r' when fd 3 is readable.
import { TUN_OFFLOADS } from './offload.js';

export const HELPER = String.raw`
import errno, fcntl, os, select, socket, struct, sys
def fail(step, e):
    os.write(1, ('err %s %s %s\n' % (step, errno.errorcode.get(e.errno, str(e.errno)), e.strerror)).encode())
    sys.exit(1)
name, mtu, wait = sys.argv[1].encode(), int(sys.argv[2]), sys.argv[3] == '1'
offload = len(sys.argv) > 5 and sys.argv[5] == '1'
flags = 0x0001 | 0x1000 | (0x0100 if len(sys.argv) > 4 and sys.argv[4] == '1' else 0) | (0x4000 if offload else 0)
try:
    r = fcntl.ioctl(3, 0x400454ca, struct.pack('16sH22x', name, flags))
except OSError as e:
    fail('TUNSETIFF', e)
if offload:
    try:
        fcntl.ioctl(3, 0x400454d0, 0x${TUN_OFFLOADS.toString(16).padStart(2, '0')})
    except OSError as e:
        fail('TUNSETOFFLOAD', e)
else:
    # A persistent device keeps the offloads of an earlier attachment: without the
    # header, the kernel must not hand over 64 KiB frames.
    try:
        fcntl.ioctl(3, 0x400454d0, 0)
    except OSError:
        pass
name = r[:16].split(b'\0', 1)[0]
if mtu:
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        fcntl.ioctl(s, 0x8922, struct.pack('16si20x', name, mtu))
        s.close()
    except OSError as e:
        fail('SIOCSIFMTU', e)
os.write(1, b'ok ' + name + b'\n')
if not wait:
    sys.exit(0)
p = select.poll()
p.register(3, select.POLLIN)
p.register(0, select.POLLIN)
while os.read(0, 1):
    if any(fd == 0 for fd, ev in p.poll()):
        break
    os.write(1, b'r')
`;
