// The msh guest SDK for AssemblyScript. See guest-sdk/README.md.
export * from "./host";
export * from "./ring";
export * from "./stack";
