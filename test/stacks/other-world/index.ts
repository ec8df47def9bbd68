// A component for a world that is not msh's (test fixture for `msh inspect`/`msh run`).
export function hello(): u32 { return 42; }
