// The typed emitter that replaced node:events in the gateway and the key-manager
// session (issue 18): the same observable behaviour for what they use.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Emitter } from '../../src/common/emitter.js';

type Events = { a: [number]; error: [Error] };

describe('Emitter behaves as node:events for on/once/off/emit/listenerCount', () => {
  it('runs listeners in registration order, once only once, off by listener (once-wrapped too)', () => {
    for (const make of [() => new Emitter<Events>(), () => new EventEmitter<Events>()]) {
      const e = make() as Emitter<Events>;
      const log: string[] = [];
      const x = (n: number) => log.push(`x${n}`);
      const y = (n: number) => log.push(`y${n}`);
      e.on('a', x);
      e.once('a', y);
      e.on('a', (n) => log.push(`z${n}`));
      expect(e.listenerCount('a')).toBe(3);
      expect(e.emit('a', 1)).toBe(true);
      expect(e.emit('a', 2)).toBe(true);
      e.off('a', x);
      e.emit('a', 3);
      const w = (n: number) => log.push(`w${n}`);
      e.once('a', w);
      e.off('a', w);
      e.emit('a', 4);
      expect(log).toEqual(['x1', 'y1', 'z1', 'x2', 'z2', 'z3', 'z4']);
    }
  });

  it("throws an 'error' event nobody listens to, like node:events", () => {
    const e = new Emitter<Events>();
    const boom = new Error('boom');
    expect(() => e.emit('error', boom)).toThrow(boom);
    const n = new EventEmitter<Events>();
    expect(() => n.emit('error', boom)).toThrow(boom);
    expect(e.emit('a', 1)).toBe(false);
  });

  it('a listener removed during emit still runs for that emit (a snapshot), as in node:events', () => {
    const e = new Emitter<Events>();
    const log: string[] = [];
    const second = () => log.push('second');
    e.on('a', () => {
      log.push('first');
      e.off('a', second);
    });
    e.on('a', second);
    e.emit('a', 0);
    e.emit('a', 0);
    expect(log).toEqual(['first', 'second', 'first']);
  });
});
