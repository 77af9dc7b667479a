// A small typed event emitter with the part of node:events' API the gateway and the
// key-manager session use (on/once/off/emit/listenerCount), so that they run in a
// browser as well as in Node (issue 18: the core imports no `node:` module).
// Like node:events, listeners run synchronously in registration order, and an
// 'error' event with no listener throws its argument.

type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly listenersByEvent = new Map<keyof E, Listener<never[]>[]>();

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.listenersByEvent.get(event) ?? [];
    list.push(listener as unknown as Listener<never[]>);
    this.listenersByEvent.set(event, list);
    return this;
  }

  addListener<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    return this.on(event, listener);
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const wrapper = ((...args: E[K]) => {
      this.off(event, wrapper);
      listener(...args);
    }) as Listener<E[K]> & { listener?: Listener<E[K]> };
    wrapper.listener = listener;
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.listenersByEvent.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l === (listener as unknown) || (l as { listener?: unknown }).listener === listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.listenersByEvent.delete(event);
    return this;
  }

  removeListener<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.listenersByEvent.clear();
    else this.listenersByEvent.delete(event);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.listenersByEvent.get(event)?.length ?? 0;
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.listenersByEvent.get(event);
    if (!list || list.length === 0) {
      if (event === 'error') throw args[0] instanceof Error ? args[0] : new Error(`unhandled 'error' event: ${String(args[0])}`);
      return false;
    }
    for (const l of [...list]) (l as unknown as Listener<E[K]>)(...args);
    return true;
  }
}
