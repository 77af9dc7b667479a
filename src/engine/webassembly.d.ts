// The slice of the WebAssembly JS API that larval uses. Node 20 provides it at
// runtime, but @types/node 20 does not declare it and lib.dom would bring the
// whole browser along.
declare namespace WebAssembly {
  interface Module {}
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  interface WebAssemblyInstantiatedSource {
    module: Module;
    instance: Instance;
  }
  type Imports = Record<string, Record<string, unknown>>;
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
  function instantiate(module: Module, imports?: Imports): Promise<Instance>;
  function instantiate(bytes: ArrayBufferView | ArrayBuffer, imports?: Imports): Promise<WebAssemblyInstantiatedSource>;
}
