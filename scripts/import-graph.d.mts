// Types of scripts/import-graph.mjs, for the TypeScript tests that import it.

/** Rooms of src/ from the bottom up: a room may import only from rooms before it (and itself). */
export const ROOM_ORDER: readonly string[];

/** Map from each src/ module (repo-relative .ts path) to the src/ modules it imports. */
export function importGraph(root: string): Map<string, string[]>;

/** Every elementary cycle found by a depth-first search, each as a list of modules. */
export function findCycles(graph: Map<string, string[]>): string[][];

/** The room of a src/ module: its first directory under src/, or the file name at the top. */
export function roomOf(module: string): string;

/** Imports from a room to a room above it in ROOM_ORDER (or to a room not in the order), as "from -> to". */
export function upwardImports(graph: Map<string, string[]>): string[];
